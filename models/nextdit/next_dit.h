#pragma once
// The Next-DiT of NewBie-image-Exp0.1 (`NextDiT_CLIP`, spec section A) in
// libtorch, cut into stage pieces that compose:
//
//   DitEmbed   caption path (once per request):  encode_captions(cap_feats, cap_mask) -> CaptionTokens
//              per step:  forward(x, t, clip_pooled, captions) -> JointSequence
//   DitBlocks  layers [begin, end):  forward(JointSequence) -> JointSequence
//   DitHead    final layer + unpatchify:  forward(JointSequence) -> velocity [B, C, Hl, Wl] float32
//
// embed -> blocks [0, a) -> blocks [a, b) -> ... -> head equals the whole model
// bit for bit. Each piece loads only its own tensors from the TensorSource
// (canonical names, spec A.3), in the dtype and on the device of `options`;
// with an 8-bit WeightFormat the big linear layers of every block (refiners
// included) are stored in 8 bits (models/quantization, docs/quantization.md).
// What crosses a boundary is a JointSequence (models/nextdit/joint_sequence.h):
// the samples' caption rows + image tokens packed without padding [S_total, D],
// the conditioning vectors [B, adaln], the caption lengths and the latent grid;
// `to_message()`/`from_message()` give it as tensors and metadata for a transport.
//
// Samples of different caption lengths (cond and uncond) are packed: linear
// layers and FFNs run on all rows at once, attention per sample (no padding,
// no mask), through compat::attention (SDPA on libtorch 2.x CUDA).
// Precision: float32 on the CPU; on CUDA bf16/fp16 weights and activations with
// timestep features, RoPE and norm statistics in float32. A step with its
// inputs on the device makes no host sync (caption lengths are host values;
// RoPE tables are built once per shape and cached on the device).
//
// Guidance (forward_with_cfg, A.12) is sampling/classifier_free_guidance.h.
#include <ATen/ATen.h>

#include "core/tensor_source.h"
#include "models/nextdit/dit_blocks.h"
#include "models/nextdit/dit_embed.h"
#include "models/nextdit/dit_head.h"
#include "models/nextdit/joint_sequence.h"
#include "models/nextdit/nextdit_config.h"

namespace baton::models {

// The whole model on one device: embed, blocks [0, n_layers), head.
class NextDit {
 public:
  NextDit(const NextDitConfig& config, const TensorSource& weights, const at::TensorOptions& options,
          WeightFormat weight_format = WeightFormat::kFp32);

  // The reference forward (A.11): x [B, C, Hl, Wl], t [B] data time,
  // cap_feats [B, L, cap_feat_dim], cap_mask [B, L], clip_pooled [B, clip_text_dim]
  // -> velocity [B, C, Hl, Wl] float32.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& cap_feats, const at::Tensor& cap_mask,
                     const at::Tensor& clip_pooled) const;
  // One step with the request's captions already encoded (embed().encode_captions).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& clip_pooled,
                     const CaptionTokens& captions) const;

  // CUDA graphs for the main blocks (DitBlocks::capture_cuda_graphs).
  void capture_cuda_graphs(size_t graphs) { blocks_.capture_cuda_graphs(graphs); }

  const DitEmbed& embed() const { return embed_; }
  const DitBlocks& blocks() const { return blocks_; }
  const DitHead& head() const { return head_; }
  // Bytes of all weights held.
  int64_t weight_bytes() const { return embed_.weight_bytes() + blocks_.weight_bytes() + head_.weight_bytes(); }

 private:
  DitEmbed embed_;
  DitBlocks blocks_;
  DitHead head_;
};

}  // namespace baton::models
