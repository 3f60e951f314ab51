#pragma once
// `baton bench dit`: one guided Next-DiT call (spec A.12: the CFG pair of a
// long and a short caption, both branches, then the guidance) at each image
// size; median time, FLOP rate and peak memory, next to ../shared/baselines.md
// (PyTorch eager on an H200: 193.8 ms at 1024x1024, 69.2 ms at 512x512). The
// caption path (caption embedder + context refiner) runs once per request, so
// it is timed on its own and not inside the call. `attention_only` times one
// main-block attention call per SDPA kernel family instead (which one
// compat::attention should use). `weights` adds 8-bit formats (int8, fp8;
// docs/quantization.md): each loads in turn after the dense model, with its
// weight bytes, peak while loading, the same timings, and the relative L2
// error of one velocity (CFG pair, t = 0.5, the first size) against the
// dense model's.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "bench/bench_report.h"
#include "bench/bench_settings.h"
#include "models/nextdit/next_dit.h"

namespace baton::bench {

struct DitBenchOptions {
  std::vector<ImageSize> sizes;               // empty: the settings' width x height
  std::vector<int64_t> captions{128, 8};      // cond, uncond caption tokens
  std::vector<std::string> sdpa{"auto"};      // SDPA kernel families to compare (libtorch 2.5+ for all but auto)
  bool attention_only = false;
  bool breakdown = false;                     // one block's parts instead (bench/dit_block_breakdown.h)
  int64_t layers = -1;                        // main blocks to run; -1: the model's
  std::vector<std::string> weights;           // --weights: bf16,int8,fp8 (the dense entry is the compute dtype)
  bool fp8_matmul = true;                     // fp8 on the FP8 matrix units where available, else dequantised
  std::vector<std::string> cuda_graphs{"off"};  // --cuda-graphs off,on: the blocks replayed from CUDA graphs or not
  bool profile = false;                       // --profile: the call's kernels instead (bench/dit_profile.h)
  int top = 20;                               // --top: kernels listed by --profile
  std::string trace;                          // --trace: Chrome trace file of the profiled calls
};

// The inputs of the benchmarks' guided call: caption features of the CFG pair
// (cond, uncond lengths), their mask, the CLIP vectors and t = 0.5 for both.
struct GuidedCallInputs {
  at::Tensor cap_feats, cap_mask, clip, t_pair;
};
GuidedCallInputs make_guided_call_inputs(const models::NextDitConfig& config, const std::vector<int64_t>& captions,
                                         const at::TensorOptions& options, at::Generator& gen);
// One random latent at `size`, shared by both samples of the pair.
at::Tensor guided_call_latent(const models::NextDitConfig& config, const ImageSize& size, const at::Device& device,
                              at::Generator& gen);
// The guided velocity at t = 0.5, guidance 4.5 (both branches in one DiT call).
at::Tensor run_guided_call(const models::NextDit& dit, const at::Tensor& latent, const GuidedCallInputs& inputs,
                           const models::CaptionTokens& captions);

// Throws Error unless --captions names two positive lengths (cond, uncond).
void require_caption_pair(const DitBenchOptions& options);
// Throws UsageError unless every --cuda-graphs mode is on or off, and "on" has a CUDA device.
void require_cuda_graph_modes(const DitBenchOptions& options, const at::Device& device);

// auto, flash, efficient, cudnn, math.
const std::vector<std::string>& sdpa_families();

BenchReport run_dit_bench(const BenchSettings& settings, const DitBenchOptions& options);

}  // namespace baton::bench
