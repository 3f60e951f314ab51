#pragma once
// `baton bench memory`: the planner's estimate against the measured peak, one
// stage at a time (issue 8: "estimate vs measured within 10 %"). Each stage of
// a plan (a saved one, or the plan for the bench device alone) is loaded on the
// bench device and run (bench/stage_memory.h), and its peak (the CUDA caching
// allocator's, or a counting allocator's on a CPU) is set against the cost
// model's weights + activations (+ the GPU library workspace) for one request
// in flight.
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/bench_settings.h"

namespace baton::bench {

struct MemoryBenchOptions {
  std::string plan_file;          // a saved plan (its model, size and placement); empty: plan for the bench device
  int64_t caption_tokens = 512;   // without a plan: the workload the estimate is made for
  int64_t microbatch = 1;
  std::string attention = "flash";
  std::vector<std::string> stages;  // kinds to measure: text, dit, vae; empty: every stage
};

BenchReport run_memory_bench(const BenchSettings& settings, const MemoryBenchOptions& options);

}  // namespace baton::bench
