#pragma once
// Bytes held by tensors on one device, for comparing the planner's estimates
// with reality: the CUDA caching allocator's statistics on a GPU; on a CPU a
// CpuAllocationCounter while the meter lives (libtorch keeps no statistics
// for CPU tensors).
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

#include "core/cpu_allocation_counter.h"

namespace baton::bench {

class PeakMemoryMeter {
 public:
  explicit PeakMemoryMeter(const at::Device& device);
  ~PeakMemoryMeter();
  PeakMemoryMeter(const PeakMemoryMeter&) = delete;
  PeakMemoryMeter& operator=(const PeakMemoryMeter&) = delete;

  // Bytes allocated now.
  int64_t current() const;
  // The largest current() since the last reset (or since the meter started).
  int64_t peak() const;
  void reset_peak();
  // Bytes reserved from the driver at the peak and now (CUDA; on a CPU the
  // allocated bytes: nothing is cached).
  int64_t peak_reserved() const;
  int64_t reserved() const;
  // Gives cached blocks back to the driver (CUDA), so the next stage starts clean.
  void release_cache();

 private:
  at::Device device_;
  std::optional<CpuAllocationCounter> cpu_;  // on a CPU
};

}  // namespace baton::bench
