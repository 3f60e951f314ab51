#pragma once
// `baton bench dit --profile`: one guided Next-DiT call at the first size under
// the kernel profiler (bench/kernel_profile.h): the kernels that take its time,
// longest first, and the time per category (matrix products, attention,
// normalization, copies and casts, other elementwise work), next to the wall
// time of the call. `--weights` picks the format profiled (its first 8-bit
// entry, else the dense model); `--cuda-graphs on` profiles the replayed blocks.
#include "bench/bench_report.h"
#include "bench/bench_settings.h"
#include "bench/dit_scenario.h"

namespace baton::bench {

BenchReport run_dit_profile(const BenchSettings& settings, const DitBenchOptions& options);

}  // namespace baton::bench
