#pragma once
// One Next-DiT transformer block (spec A.9 attention, A.10 block) over packed
// samples: linear layers and the FFN run on all rows of all samples at once,
// attention runs per sample (no padding anywhere).
#include <ATen/ATen.h>

#include <string>

#include "core/tensor_source.h"
#include "core/weight_format.h"
#include "models/nextdit/nextdit_config.h"
#include "models/nextdit/token_layout.h"
#include "models/quantization/linear_weight.h"

namespace baton::models {

// Throws Error when a DiT piece cannot compute in `options` (dtype/device).
void require_dit_compute_options(const at::TensorOptions& options);

class NextDitBlock {
 public:
  // Loads the tensors under `prefix` ("layers.7.", "noise_refiner.0.",
  // "context_refiner.1."); `modulated` blocks have adaLN_modulation. The
  // linear layers (qkv, out, w1/w2/w3, adaLN) are stored in `weights` when it
  // is 8-bit (models/quantization); dense formats keep options' dtype.
  NextDitBlock(const NextDitConfig& config, const TensorSource& weights, const std::string& prefix, bool modulated,
               const at::TensorOptions& options, WeightFormat weight_format = WeightFormat::kFp32);

  // x [S, D] (rows of the samples in `layout`) is updated in place.
  // rope: complex64 [S, head_dim / 2]; silu_c: SiLU of the conditioning
  // vectors [B, adaln] (modulated blocks only, else undefined).
  void forward(at::Tensor& x, const TokenLayout& layout, const at::Tensor& rope, const at::Tensor& silu_c) const;

  // Bytes of the weights this block holds.
  int64_t weight_bytes() const;

 private:
  at::Tensor attention(const at::Tensor& h, const TokenLayout& layout, const at::Tensor& rope) const;
  at::Tensor feed_forward(const at::Tensor& h) const;

  int64_t heads_, kv_heads_, head_dim_;
  double eps_;
  bool modulated_;
  at::ScalarType dtype_;
  LinearWeight w_qk_;        // rows of qkv for q and k: [(H + Hkv) * hd, D] (a view of the loaded qkv)
  LinearWeight w_v_;         // rows for v: [Hkv * hd, D]
  LinearWeight w_out_;       // [D, D]
  at::Tensor qk_norm_;       // float32 [H + Hkv, hd]: q_norm for the q heads, k_norm for the k heads
  LinearWeight w1_, w3_;     // [F, D]: gate (SiLU) and linear branch
  LinearWeight w2_;          // [D, F]
  at::Tensor norms_;         // unmodulated: [2, 2, D] (attn, ffn) x (pre, post) in the activation dtype
  at::Tensor norms_f32_;     // modulated: the same in float32, combined with scale/gate per call
  LinearWeight ada_w_;       // adaLN_modulation.1: [4D, adaln]
  at::Tensor ada_b_;         // [4D]
};

}  // namespace baton::models
