#pragma once
// Timing for the benchmarks: warm-up calls first, then each timed call alone:
// CUDA events around it on a CUDA device (the GPU's own clock, after the
// previous work finished), a steady clock around a synchronised call elsewhere.
// The median is what the benchmarks report.
#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace baton::bench {

struct Timing {
  std::vector<double> ms;  // one per timed call, in order
  double median_ms() const;
  double min_ms() const;
  double max_ms() const;
};

double median(std::vector<double> values);

// Runs `call` `warmup` times untimed, then `after_warmup` (e.g. a reset of the
// peak memory counter), then `iters` timed calls.
Timing time_calls(const at::Device& device, int warmup, int iters, const std::function<void()>& call,
                  const std::function<void()>& after_warmup = {});

// One timed call (no warm-up).
double time_one_call_ms(const at::Device& device, const std::function<void()>& call);

}  // namespace baton::bench
