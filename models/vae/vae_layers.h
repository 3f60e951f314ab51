#pragma once
// The VAE decoder's building blocks (spec E.2), free functions over weights so
// the decoder and the memory estimate (vae_memory.cpp) describe the same steps.
#include <ATen/ATen.h>

#include <optional>
#include <vector>

namespace baton::models::vae {

constexpr double kGroupNormEps = 1e-6;  // every GroupNorm of the FLUX VAE (spec E.1)
// Below float32, GroupNorm runs over this many slices of its groups, each
// normalised in a float32 copy: the float temporary is 1/8 of the input.
constexpr int64_t kGroupNormSlices = 8;
// The mid attention handles its queries in blocks of at most this many scores
// (B x queries x keys) so the float32 score matrix stays bounded.
constexpr int64_t kAttentionScoreBlock = int64_t(1) << 23;

struct Conv {
  at::Tensor weight, bias;
  at::Tensor operator()(const at::Tensor& x) const;  // stride 1, "same" padding
};

struct Norm {
  at::Tensor weight, bias;  // float32
};

struct Resnet {
  Norm norm1, norm2;
  Conv conv1, conv2;
  std::optional<Conv> shortcut;  // 1x1 conv when channels change
};

struct Attention {
  Norm norm;
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b;
};

struct UpBlock {
  std::vector<Resnet> resnets;
  std::optional<Conv> upsample;  // nearest x2 then this 3x3 conv
};

// GroupNorm (eps 1e-6) with statistics and normalisation in float32, then
// SiLU if `silu`; result in x's dtype (rounded once).
at::Tensor group_norm(const at::Tensor& x, const Norm& norm, int64_t groups, bool silu);
// h = conv1(SiLU(GN1(x))), h = conv2(SiLU(GN2(h))), out = shortcut(x) + h.
at::Tensor resnet(const at::Tensor& x, const Resnet& block, int64_t groups);
// Single-head self-attention over the h*w positions with a residual;
// scores and softmax in float32, 1/sqrt(C) scale.
at::Tensor attention(const at::Tensor& x, const Attention& block, int64_t groups);
// Nearest-neighbour x2 in both spatial dimensions.
at::Tensor upsample_nearest2x(const at::Tensor& x);

}  // namespace baton::models::vae
