#pragma once
// `baton bench throughput`: --prompts requests queued at once through the
// generate pipeline (bench/pipeline_session.h), after --warmup images: images
// per minute from the first submit to the last image, each stage's busy
// fraction of that time (the bottleneck is the busiest), the plan's estimate,
// and the peak memory of every device (every rank under mpirun).
#include <optional>

#include "bench/bench_report.h"
#include "bench/pipeline_session.h"

namespace baton::bench {

// nullopt on the ranks other than 0 of an mpirun job (rank 0 reports).
std::optional<BenchReport> run_throughput_bench(const PipelineBenchSettings& settings);

}  // namespace baton::bench
