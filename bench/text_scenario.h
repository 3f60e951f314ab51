#pragma once
// `baton bench text`: the caption encoders at their size: Gemma3 up to
// hidden_states[-2] (spec C.3) and the Jina CLIP v2 text tower (spec D.2).
// Time to encode a 2x128-, 1x128- and 1x8-token batch, weight bytes and peak
// memory, next to ../shared/baselines.md (H200, PyTorch bf16: 37 ms for 2x128
// tokens, 7.46 GiB peak), and the memory saved by never loading Gemma's last
// layer and final norm. `weights` adds Gemma3 with 8-bit matrices (int8, fp8;
// docs/quantization.md; Jina stays dense): its weight bytes, timings, peaks
// and the relative L2 error of its features (2x128 tokens) against the dense
// model's.
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/bench_settings.h"

namespace baton::bench {

struct TextBenchOptions {
  bool gemma = true;
  bool jina = true;
  std::vector<std::string> weights;  // --weights: bf16,int8,fp8 (the dense entry is the compute dtype)
  bool fp8_matmul = true;            // fp8 on the FP8 matrix units where available, else dequantised
};

BenchReport run_text_bench(const BenchSettings& settings, const TextBenchOptions& options);

}  // namespace baton::bench
