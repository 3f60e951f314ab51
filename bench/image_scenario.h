#pragma once
// `baton bench image`: whole images (text stage, the DiT over every step,
// VAE, PNG) through the generate pipeline (bench/pipeline_session.h), one at
// a time: seconds per image (median of --iters after --warmup), each stage's
// busy seconds per image, and the peak memory of every device (every rank
// under mpirun) against its plan budget.
#include <optional>

#include "bench/bench_report.h"
#include "bench/pipeline_session.h"

namespace baton::bench {

// nullopt on the ranks other than 0 of an mpirun job (rank 0 reports).
std::optional<BenchReport> run_image_bench(const PipelineBenchSettings& settings);

}  // namespace baton::bench
