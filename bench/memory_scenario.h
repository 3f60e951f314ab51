#pragma once
// `baton bench memory`: the planner's estimate against the measured peak, one
// stage at a time (issue 8: "estimate vs measured within 10 %"). Each stage of
// a plan (a saved one, or the plan for the bench device alone) is loaded on the
// bench device with its weights, runs one microbatch as the pipeline does
// (worker::DitStage for DiT stages; the Gemma layer range, Gemma's embedding
// and Jina for a text stage; VaeDecoder with the plan's tiling), and its peak
// (the CUDA caching allocator's, or a counting allocator's on a CPU) is set
// against the cost model's weights + activations (+ the GPU library workspace).
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
