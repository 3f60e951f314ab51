#pragma once
// `baton bench text`: the caption encoders at their size: Gemma3 up to
// hidden_states[-2] (spec C.3) and the Jina CLIP v2 text tower (spec D.2).
// Time to encode a 2x128-, 1x128- and 1x8-token batch, weight bytes and peak
// memory, next to ../shared/baselines.md (H200, PyTorch bf16: 37 ms for 2x128
// tokens, 7.46 GiB peak), and the memory saved by never loading Gemma's last
// layer and final norm.
#include <string>

#include "bench/bench_report.h"
#include "bench/bench_settings.h"

namespace baton::bench {

struct TextBenchOptions {
  bool gemma = true;
  bool jina = true;
};

BenchReport run_text_bench(const BenchSettings& settings, const TextBenchOptions& options);

}  // namespace baton::bench
