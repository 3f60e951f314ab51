#include "partition/flop_model.h"

#include <algorithm>
#include <vector>


namespace baton::partition {

double dit_block_flops(const models::NextDitConfig& c, int64_t tokens, bool modulated) {
  const double s = static_cast<double>(tokens), D = c.dim, hd = c.head_dim();
  const double q = c.n_heads * hd, kv = c.n_kv_heads * hd, F = c.ffn_hidden();
  double flops = 2 * s * (D * (q + 2 * kv) + q * D + 3 * D * F);  // qkv, out, w1/w3/w2
  flops += 4 * s * s * q;                                         // q k^T and p v
  if (modulated) flops += 2.0 * c.adaln_dim() * 4 * D;
  return flops;
}

namespace {

// Per sample and step: noise refiner, patch embed, timestep/CLIP conditioning.
double dit_step_prologue(const ModelConfigs& m, const Geometry& g) {
  const auto& c = m.dit;
  const double A = c.adaln_dim(), D = c.dim;
  double f = c.n_refiner_layers * dit_block_flops(c, g.image_tokens, true);
  f += 2.0 * g.image_tokens * c.patch_features() * D;
  f += 2.0 * (256 * A + A * A) + 2.0 * c.clip_text_dim * c.clip_text_dim + 2.0 * (A + c.clip_text_dim) * A;
  return f;
}

// Per sample and request: caption embed and the context refiner.
double dit_caption_path(const ModelConfigs& m, const Workload& w) {
  const auto& c = m.dit;
  return c.n_refiner_layers * dit_block_flops(c, w.caption_tokens, false) +
         2.0 * w.caption_tokens * c.cap_feat_dim * c.dim;
}

double dit_final(const ModelConfigs& m, const Geometry& g) {
  const auto& c = m.dit;
  return 2.0 * c.adaln_dim() * c.dim + 2.0 * g.joint_tokens * c.dim * c.patch_features();
}

}  // namespace

double dit_call_flops(const ModelConfigs& m, const Workload& w, int64_t samples) {
  const auto g = geometry(w, m);
  const double per_sample = m.dit.n_layers * dit_block_flops(m.dit, g.joint_tokens, true) + dit_step_prologue(m, g) +
                            dit_caption_path(m, w) + dit_final(m, g);
  return samples * per_sample;
}

DitImageFlops dit_flops_per_image(const ModelConfigs& m, const Workload& w) {
  const auto g = geometry(w, m);
  const double calls = static_cast<double>(w.steps) * Workload::kBranchesPerStep;
  DitImageFlops f;
  f.block = calls * dit_block_flops(m.dit, g.joint_tokens, true);
  f.prologue = calls * dit_step_prologue(m, g) + Workload::kBranchesPerStep * dit_caption_path(m, w);
  f.final = calls * dit_final(m, g);
  return f;
}

double gemma_layer_flops_per_image(const ModelConfigs& m, const Workload& w) {
  const auto& c = m.gemma;
  const double L = w.caption_tokens, H = c.hidden_size, I = c.intermediate_size;
  const double q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  const double linear = 2 * L * (H * (q + 2 * kv) + q * H + 3 * H * I);
  const double attention = 2 * L * L * q;  // causal: half of 4 L^2 q
  return Workload::kPromptsPerRequest * (linear + attention);
}

double jina_flops_per_image(const ModelConfigs& m, const Workload& w) {
  const auto& c = m.jina;
  const double L = w.caption_tokens, H = c.hidden_size, I = c.intermediate_size;
  const double layer = 2 * L * (4 * H * H + 2 * H * I) + 4 * L * L * H;
  return Workload::kPromptsPerRequest * c.num_hidden_layers * layer;
}

namespace {

// One decode of an h x w latent (spec E.2): its convolutions and the mid attention.
double vae_decode_flops(const models::VaeConfig& c, double h, double w) {
  std::vector<int64_t> rev(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  auto conv = [](double in, double out, double k, double hw) { return 2 * k * k * in * out * hw; };
  auto resnet = [&](double in, double out, double hw) {
    return conv(in, out, 3, hw) + conv(out, out, 3, hw) + (in != out ? conv(in, out, 1, hw) : 0);
  };
  const double top = rev.front();
  double f = conv(c.latent_channels, top, 3, h * w) + 2 * resnet(top, top, h * w);
  if (c.mid_block_add_attention) f += 8 * h * w * top * top + 4 * (h * w) * (h * w) * top;
  double in = top;
  for (size_t b = 0; b < rev.size(); ++b) {
    const double out = rev[b];
    for (int64_t r = 0; r <= c.layers_per_block; ++r) f += resnet(r == 0 ? in : out, out, h * w);
    if (b + 1 < rev.size()) {
      h *= 2;
      w *= 2;
      f += conv(out, out, 3, h * w);
    }
    in = out;
  }
  return f + conv(rev.back(), c.out_channels, 3, h * w);
}

}  // namespace

double vae_flops_per_image(const models::VaeConfig& c, int64_t width, int64_t height, const models::VaeTiling& tiling) {
  const int64_t lh = height / c.upscale(), lw = width / c.upscale();
  if (tiling.covers(lh, lw)) return vae_decode_flops(c, static_cast<double>(lh), static_cast<double>(lw));
  // Every tile is a decode of its own, overlaps included (models/vae/vae_tiling.h).
  const int64_t th = tiling.tile_h > 0 ? std::min(tiling.tile_h, lh) : lh;
  const int64_t tw = tiling.tile_w > 0 ? std::min(tiling.tile_w, lw) : lw;
  const double tiles = static_cast<double>(models::vae_tile_starts(lh, th, tiling.overlap).size() *
                                           models::vae_tile_starts(lw, tw, tiling.overlap).size());
  return tiles * vae_decode_flops(c, static_cast<double>(th), static_cast<double>(tw));
}

}  // namespace baton::partition
