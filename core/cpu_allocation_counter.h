#pragma once
// Bytes of CPU tensors alive, for comparing memory estimates with reality
// (libtorch keeps no statistics for CPU tensors). While a counter lives, a
// counting allocator wraps libtorch's CPU allocator; counters may nest and
// share one count (bench::PeakMemoryMeter uses one on a CPU).
#include <cstdint>

namespace baton {

class CpuAllocationCounter {
 public:
  CpuAllocationCounter();  // installs the counting allocator (once for nested counters)
  ~CpuAllocationCounter();  // restores the previous allocator when the last counter goes
  CpuAllocationCounter(const CpuAllocationCounter&) = delete;
  CpuAllocationCounter& operator=(const CpuAllocationCounter&) = delete;

  // Bytes allocated through the counter and not yet freed.
  int64_t current() const;
  // The largest current() since the last reset_peak().
  int64_t peak() const;
  void reset_peak();
};

}  // namespace baton
