#pragma once
// The first DiT stage piece ("embed"): everything before the main blocks.
//  - caption path (once per request, independent of t): cap_embedder (A.6) and
//    the context refiner on the real caption rows of each sample (A.11.2);
//  - per step: the conditioning vector c (A.5), patchify (A.7) + x_embedder and
//    the noise refiner on the image tokens (A.11.3), and the joint sequence
//    (A.11.4: caption rows then image tokens, padding dropped).
#include <ATen/ATen.h>

#include <vector>

#include "core/tensor_source.h"
#include "models/nextdit/joint_sequence.h"
#include "models/nextdit/nextdit_block.h"
#include "models/nextdit/nextdit_config.h"
#include "models/nextdit/nextdit_rope.h"

namespace baton::models {

class DitEmbed {
 public:
  // Loads t_embedder, clip_text_pooled_proj, time_text_embed, cap_embedder,
  // x_embedder, noise_refiner.* and context_refiner.*; nothing else. An 8-bit
  // `weight_format` applies to the refiner blocks' linear layers; the small
  // embedders stay dense (docs/quantization.md).
  DitEmbed(const NextDitConfig& config, const TensorSource& weights, const at::TensorOptions& options,
           WeightFormat weight_format = WeightFormat::kFp32);

  // cap_feats [B, L, cap_feat_dim] (Gemma hidden_states[-2], right padded),
  // cap_mask [B, L] (1 = real token; 1s then 0s, at least one 1 per row).
  // Reads the mask on the host (once per request).
  CaptionTokens encode_captions(const at::Tensor& cap_feats, const at::Tensor& cap_mask) const;

  // c [B, adaln] from the data time t [B] (0 = noise) and the pooled CLIP
  // text embedding clip_pooled [B, clip_text_dim].
  at::Tensor conditioning(const at::Tensor& t, const at::Tensor& clip_pooled) const;

  // One step: latent x [B, C, Hl, Wl] (Hl, Wl multiples of the patch size),
  // t [B], clip_pooled [B, clip_text_dim], and the request's captions (B samples).
  JointSequence forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& clip_pooled,
                        const CaptionTokens& captions) const;

  const NextDitConfig& config() const { return config_; }
  const at::TensorOptions& options() const { return options_; }
  // Bytes of the weights this piece holds.
  int64_t weight_bytes() const;

 private:
  NextDitConfig config_;
  at::TensorOptions options_;
  NextDitRope rope_;
  at::Tensor timestep_freqs_;  // float32 [128] on the device
  at::Tensor t_w0_, t_b0_, t_w2_, t_b2_;
  at::Tensor clip_norm_, clip_w_, clip_b_;
  at::Tensor tt_w_, tt_b_;
  at::Tensor cap_norm_, cap_w_, cap_b_;
  at::Tensor x_w_, x_b_;
  std::vector<NextDitBlock> noise_refiner_;
  std::vector<NextDitBlock> context_refiner_;
};

}  // namespace baton::models
