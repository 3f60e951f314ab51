#pragma once
// One stage of a plan, loaded on a device with its weights and run as the
// pipeline runs it, its memory measured (bench/peak_memory_meter.h): what
// `baton bench memory` sets against the planner's estimate. DiT stages run
// through worker::DitStage; a text stage runs Gemma's embedding and/or layer
// range and the Jina tower on the request's two prompts; the VAE decodes with
// the stage's tiling.
#include <ATen/ATen.h>

#include <cstdint>

#include "bench/bench_settings.h"
#include "partition/stage_cost.h"
#include "partition/workload.h"

namespace baton::bench {

struct StageMemory {
  int64_t weights = 0;        // allocated by loading the stage
  int64_t peak = 0;           // the largest allocation while it ran, weights included
  int64_t peak_reserved = 0;  // the caching allocator's reserve at its peak (CUDA)
  double median_ms = 0;       // one microbatch
};

// Loads `stage` of `model` on `device` computing in `dtype`, runs `warmup`
// then `iters` microbatches of `workload` (one request in flight) and measures.
StageMemory measure_stage_memory(const BenchModel& model, const partition::StageContent& stage,
                                 const partition::Workload& workload, const at::Device& device, at::ScalarType dtype,
                                 int warmup, int iters, uint64_t seed);

}  // namespace baton::bench
