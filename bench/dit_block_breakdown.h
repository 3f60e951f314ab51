#pragma once
// `baton bench dit --breakdown`: where one main Next-DiT block's time goes at a
// size (the CFG pair packed, as in a step): the whole block, then its matrix
// products alone (q|k, v, out, w1, w3, w2 on the same shapes), then its
// attention alone (flash, per sample), and the rest (RMSNorms with the
// modulation folded in, q/k norm + RoPE, SiLU-gate, residual adds). The rest
// is what fused norm/RoPE kernels could save at most: it shows whether they pay.
#include "bench/bench_report.h"
#include "bench/bench_settings.h"
#include "bench/dit_scenario.h"

namespace baton::bench {

BenchReport run_dit_block_breakdown(const BenchSettings& settings, const DitBenchOptions& options);

}  // namespace baton::bench
