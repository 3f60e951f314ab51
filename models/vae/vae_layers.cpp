#include "models/vae/vae_layers.h"

#include <algorithm>
#include <cmath>

#include "core/torch_compat.h"

namespace baton::models::vae {

at::Tensor Conv::operator()(const at::Tensor& x) const {
  const int64_t pad = weight.size(2) / 2;
  return at::conv2d(x, weight, bias, /*stride=*/{1, 1}, /*padding=*/{pad, pad});
}

at::Tensor group_norm(const at::Tensor& x, const Norm& norm, int64_t groups, bool silu) {
  if (x.scalar_type() == at::kFloat) {
    auto y = at::group_norm(x, groups, norm.weight, norm.bias, kGroupNormEps);
    if (silu) at::silu_(y);
    return y;
  }
  // Reduced precision: normalise a few groups at a time in a float32 copy and
  // write the result once in x's dtype, so statistics, normalisation and the
  // affine map are all float32 while the float temporary stays small.
  const int64_t batch = x.size(0), channels = x.size(1), per_group = channels / groups;
  auto xc = x.contiguous();
  auto out = at::empty_like(xc, at::MemoryFormat::Contiguous);
  auto xg = xc.view({batch, groups, -1});
  auto og = out.view({batch, groups, -1});
  const int64_t step = std::max<int64_t>(1, groups / kGroupNormSlices);
  for (int64_t g0 = 0; g0 < groups; g0 += step) {
    const int64_t ng = std::min(step, groups - g0);
    auto xf = xg.narrow(1, g0, ng).to(at::kFloat).contiguous();  // [B, ng, per_group * H * W]
    const int64_t reduce_dim[] = {2};
    auto stats = at::var_mean(xf, at::IntArrayRef(reduce_dim), /*unbiased=*/false, /*keepdim=*/true);
    // y = x * a + b per channel, a = rstd * weight, b = bias - mean * a (two passes over the slice).
    const auto& mean = std::get<1>(stats);
    auto a = at::rsqrt(std::get<0>(stats).add_(kGroupNormEps)) *
             norm.weight.narrow(0, g0 * per_group, ng * per_group).view({1, ng, per_group});  // [B, ng, pg]
    auto b = norm.bias.narrow(0, g0 * per_group, ng * per_group).view({1, ng, per_group}) - mean * a;
    xf.view({batch, ng, per_group, -1}).mul_(a.unsqueeze(-1)).add_(b.unsqueeze(-1));
    if (silu) at::silu_(xf);
    og.narrow(1, g0, ng).copy_(xf);
  }
  return out.view(x.sizes());
}

at::Tensor resnet(const at::Tensor& x, const Resnet& block, int64_t groups) {
  // Intermediates are released as soon as the next one exists: the memory
  // estimate (vae_memory.cpp) counts on at most x and two activations alive.
  at::Tensor normed = group_norm(x, block.norm1, groups, /*silu=*/true);
  at::Tensor h = block.conv1(normed);
  normed.reset();
  normed = group_norm(h, block.norm2, groups, /*silu=*/true);
  h.reset();
  h = block.conv2(normed);
  normed.reset();
  if (block.shortcut) return h.add_((*block.shortcut)(x));
  return h.add_(x);
}

at::Tensor attention(const at::Tensor& x, const Attention& block, int64_t groups) {
  const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t positions = height * width;
  at::Tensor q, k, v;  // [B, 1, N, C] float32 (one head)
  {
    auto tokens = group_norm(x, block.norm, groups, /*silu=*/false).flatten(2).transpose(1, 2);  // [B, N, C]
    q = at::linear(tokens, block.q_w, block.q_b).to(at::kFloat).unsqueeze(1);
    k = at::linear(tokens, block.k_w, block.k_b).to(at::kFloat).unsqueeze(1);
    v = at::linear(tokens, block.v_w, block.v_b).to(at::kFloat).unsqueeze(1);
  }
  // Softmax rows are independent, so query blocks give the exact result while
  // the float32 score matrix stays at most kAttentionScoreBlock entries.
  auto o = at::empty({batch, 1, positions, channels}, q.options());
  const int64_t rows = std::max<int64_t>(1, std::min(positions, kAttentionScoreBlock / (batch * positions)));
  const double scale = 1.0 / std::sqrt(static_cast<double>(channels));
  for (int64_t start = 0; start < positions; start += rows) {
    const int64_t n = std::min(rows, positions - start);
    o.narrow(2, start, n).copy_(compat::attention(q.narrow(2, start, n), k, v, at::Tensor(), scale));
  }
  q.reset();
  k.reset();
  v.reset();
  auto y = at::linear(o.squeeze(1).to(x.scalar_type()), block.out_w, block.out_b);  // [B, N, C]
  o.reset();
  return y.transpose(1, 2).reshape({batch, channels, height, width}).add_(x);
}

at::Tensor upsample_nearest2x(const at::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.reshape({b, c, h, 1, w, 1}).expand({b, c, h, 2, w, 2}).reshape({b, c, 2 * h, 2 * w});
}

}  // namespace baton::models::vae
