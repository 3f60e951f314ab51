#include "models/nextdit/dit_embed.h"

#include <cmath>

#include "core/error.h"
#include "core/torch_compat.h"

namespace baton::models {
namespace {

constexpr int64_t kTimestepFeatures = 256;  // sinusoidal width of t_embedder (A.5)

std::string shape_of(const at::Tensor& t) { return t.defined() ? format_shape(t.sizes().vec()) : "(none)"; }

}  // namespace

DitEmbed::DitEmbed(const NextDitConfig& config, const TensorSource& weights, const at::TensorOptions& options,
                   WeightFormat weight_format)
    : config_(config), options_(options), rope_(config) {
  config_.validate();
  require_dit_compute_options(options_);
  const auto shapes = nextdit_tensor_shapes(config_);
  auto load = [&](const std::string& name) { return weights.load_checked(name, shapes.at(name), options_); };
  t_w0_ = load("t_embedder.mlp.0.weight");
  t_b0_ = load("t_embedder.mlp.0.bias");
  t_w2_ = load("t_embedder.mlp.2.weight");
  t_b2_ = load("t_embedder.mlp.2.bias");
  clip_norm_ = load("clip_text_pooled_proj.0.weight");
  clip_w_ = load("clip_text_pooled_proj.1.weight");
  clip_b_ = load("clip_text_pooled_proj.1.bias");
  tt_w_ = load("time_text_embed.1.weight");
  tt_b_ = load("time_text_embed.1.bias");
  cap_norm_ = load("cap_embedder.0.weight");
  cap_w_ = load("cap_embedder.1.weight");
  cap_b_ = load("cap_embedder.1.bias");
  x_w_ = load("x_embedder.weight");
  x_b_ = load("x_embedder.bias");
  for (int64_t i = 0; i < config_.n_refiner_layers; ++i) {
    noise_refiner_.emplace_back(config_, weights, "noise_refiner." + std::to_string(i) + ".", true, options_,
                                weight_format);
    context_refiner_.emplace_back(config_, weights, "context_refiner." + std::to_string(i) + ".", false, options_,
                                  weight_format);
  }
  // f_i = exp(-ln(10000) i / 128) in float32, as the reference computes it.
  const int64_t half = kTimestepFeatures / 2;
  timestep_freqs_ = at::arange(0, half, at::kFloat).mul(-std::log(10000.0)).div(half).exp().to(options_.device());
}

CaptionTokens DitEmbed::encode_captions(const at::Tensor& cap_feats, const at::Tensor& cap_mask) const {
  require(cap_feats.defined() && cap_feats.dim() == 3 && cap_feats.size(0) >= 1 && cap_feats.size(1) >= 1 &&
              cap_feats.size(2) == config_.cap_feat_dim,
          "DiT input cap_feats has shape " + shape_of(cap_feats) + ", expected [batch, length, " +
              std::to_string(config_.cap_feat_dim) + "]",
          "cap_feats are the caption encoder's hidden states; their width must match the DiT's cap_feat_dim");
  require(cap_mask.defined() && cap_mask.dim() == 2 && cap_mask.size(0) == cap_feats.size(0) &&
              cap_mask.size(1) == cap_feats.size(1),
          "DiT input cap_mask has shape " + shape_of(cap_mask) + ", expected [" + std::to_string(cap_feats.size(0)) +
              ", " + std::to_string(cap_feats.size(1)) + "] like cap_feats");
  auto mask = cap_mask.to(at::kCPU, at::kLong).contiguous();
  const int64_t batch = mask.size(0), width = mask.size(1);
  const int64_t* m = mask.data_ptr<int64_t>();
  CaptionTokens out;
  std::vector<at::Tensor> rows;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t length = 0;
    while (length < width && m[b * width + length] == 1) ++length;
    for (int64_t k = length; k < width; ++k)
      require(m[b * width + k] == 0, "DiT input cap_mask row " + std::to_string(b) +
                                         " is not 1s followed by 0s (right padding)",
              "the caption mask must mark real tokens with 1 and right padding with 0");
    require(length >= 1, "DiT input cap_mask row " + std::to_string(b) + " has no real token");
    out.lengths.push_back(length);
    rows.push_back(cap_feats[b].narrow(0, 0, length));
  }
  auto h = at::cat(rows, 0).to(options_);
  h = at::linear(compat::rms_norm(h, cap_norm_, config_.norm_eps), cap_w_, cap_b_);
  const auto layout = out.layout();
  const auto rope = rope_.captions(out.lengths, options_.device());
  for (const auto& block : context_refiner_) block.forward(h, layout, rope, at::Tensor());
  out.tokens = h;
  return out;
}

at::Tensor DitEmbed::conditioning(const at::Tensor& t, const at::Tensor& clip_pooled) const {
  require(t.defined() && t.dim() == 1 && t.size(0) >= 1,
          "DiT input t has shape " + shape_of(t) + ", expected [batch] (one data time per sample)");
  require(clip_pooled.defined() && clip_pooled.dim() == 2 && clip_pooled.size(0) == t.size(0) &&
              clip_pooled.size(1) == config_.clip_text_dim,
          "DiT input clip_text_pooled has shape " + shape_of(clip_pooled) + ", expected [" +
              std::to_string(t.size(0)) + ", " + std::to_string(config_.clip_text_dim) + "]");
  // A.5: features cos then sin of t * f_i in float32 (t is not scaled by 1000).
  auto args = t.to(options_.device(), at::kFloat).unsqueeze(1) * timestep_freqs_.unsqueeze(0);
  auto features = at::cat({args.cos(), args.sin()}, 1).to(options_.dtype());
  auto t_emb = at::linear(at::silu(at::linear(features, t_w0_, t_b0_)), t_w2_, t_b2_);
  // clip_text_pooled_proj RMSNorm eps is not passed in the reference: 1e-5 [I, spec A.2].
  auto clip = compat::rms_norm(clip_pooled.to(options_), clip_norm_, config_.norm_eps);
  auto clip_emb = at::linear(clip, clip_w_, clip_b_);
  return at::linear(at::silu(at::cat({t_emb, clip_emb}, 1)), tt_w_, tt_b_);
}

JointSequence DitEmbed::forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& clip_pooled,
                                const CaptionTokens& captions) const {
  const int64_t p = config_.patch_size, channels = config_.in_channels;
  require(x.defined() && x.dim() == 4 && x.size(1) == channels && x.size(2) >= p && x.size(3) >= p &&
              x.size(2) % p == 0 && x.size(3) % p == 0,
          "DiT input x has shape " + shape_of(x) + ", expected [batch, " + std::to_string(channels) +
              ", H, W] with H and W positive multiples of " + std::to_string(p),
          "the latent is 16 x height/8 x width/8; height and width must be multiples of 16");
  const int64_t batch = x.size(0);
  require(t.defined() && t.dim() == 1 && t.size(0) == batch,
          "DiT input t has shape " + shape_of(t) + ", expected [" + std::to_string(batch) + "] like x");
  require(captions.batch() == batch, "DiT step has " + std::to_string(batch) + " latents but captions for " +
                                         std::to_string(captions.batch()) + " samples");
  require(captions.tokens.defined() && captions.tokens.dim() == 2 &&
              captions.tokens.size(0) == captions.layout().total_rows() && captions.tokens.size(1) == config_.dim,
          "DiT caption tokens have shape " + shape_of(captions.tokens) + ", expected [" +
              std::to_string(captions.layout().total_rows()) + ", " + std::to_string(config_.dim) + "]");
  JointSequence seq;
  seq.conditioning = conditioning(t, clip_pooled);
  seq.caption_lengths = captions.lengths;
  seq.grid_h = x.size(2) / p;
  seq.grid_w = x.size(3) / p;
  const int64_t n = seq.image_tokens();

  // A.7: token n = i*Wt + j, feature k = (dh*p + dw)*C + c (channel fastest).
  auto patches = x.to(options_)
                     .view({batch, channels, seq.grid_h, p, seq.grid_w, p})
                     .permute({0, 2, 4, 3, 5, 1})
                     .reshape({batch * n, p * p * channels});
  auto img = at::linear(patches, x_w_, x_b_);
  const auto img_layout = TokenLayout::packed(std::vector<int64_t>(batch, n));
  const auto img_rope = rope_.image(seq.caption_lengths, seq.grid_h, seq.grid_w, options_.device());
  const auto silu_c = at::silu(seq.conditioning);
  for (const auto& block : noise_refiner_) block.forward(img, img_layout, img_rope, silu_c);

  const auto caption_tokens = captions.tokens.to(options_);
  const auto cap_layout = captions.layout();
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < batch; ++b) {
    parts.push_back(caption_tokens.narrow(0, cap_layout.offsets[b], cap_layout.lengths[b]));
    parts.push_back(img.narrow(0, b * n, n));
  }
  seq.tokens = at::cat(parts, 0);
  return seq;
}

int64_t DitEmbed::weight_bytes() const {
  int64_t n = 0;
  for (const auto* t : {&t_w0_, &t_b0_, &t_w2_, &t_b2_, &clip_norm_, &clip_w_, &clip_b_, &tt_w_, &tt_b_, &cap_norm_,
                        &cap_w_, &cap_b_, &x_w_, &x_b_})
    n += static_cast<int64_t>(t->nbytes());
  for (const auto& b : noise_refiner_) n += b.weight_bytes();
  for (const auto& b : context_refiner_) n += b.weight_bytes();
  return n;
}

}  // namespace baton::models
