#include "partition/activation_model.h"

#include <algorithm>

namespace baton::partition {
namespace {

// Attention over S tokens with H query heads of head_dim hd (batch `b`):
// fused kernels keep one float32 log-sum-exp per head and row; the math path
// upcasts q/k/v to float32, repeats kv heads and holds the scores, the masked
// scores and the probabilities (3 x [b, H, S, S] float32, core/torch_compat.cpp).
int64_t attention_scores_bytes(AttentionKind kind, int64_t b, int64_t heads, int64_t s, int64_t hd) {
  if (kind == AttentionKind::kFlash) return 4 * b * heads * s;
  return 4 * b * (3 * heads * s * s + 3 * heads * s * hd);
}

struct AttentionShape {
  int64_t width;  // model width (input and output of the block)
  int64_t q;      // query features (heads x head_dim)
  int64_t kv;     // key (= value) features
  int64_t heads;
  int64_t head_dim;
};

// Live bytes inside the attention half of a pre-norm block (batch b, s tokens):
// the normed input, the fused qkv projection and its split / normed / rotated
// copies, then either the float32 RoPE working set of q (input and output) or
// the attention output + out projection + scores, whichever is larger.
int64_t attention_phase(const AttentionShape& a, int64_t b, int64_t s, int64_t e, AttentionKind kind) {
  const int64_t qkv = a.q + 2 * a.kv;
  const int64_t held = e * b * s * (a.width + 2 * qkv);
  const int64_t rope = 2 * 4 * b * s * a.q;
  const int64_t output = e * b * s * (a.q + a.width) + attention_scores_bytes(kind, b, a.heads, s, a.head_dim);
  return held + std::max(rope, output);
}

}  // namespace

void MemoryBreakdown::add(const std::string& what, int64_t bytes) {
  parts.emplace_back(what, bytes);
  total += bytes;
}

MemoryBreakdown dit_activations(const ModelConfigs& m, const Workload& w, int64_t e, AttentionKind attention,
                                bool prologue, bool final) {
  const auto& c = m.dit;
  const auto g = geometry(w, m);
  const int64_t b = w.microbatch_samples, S = g.joint_tokens, D = c.dim, F = c.ffn_hidden();
  const AttentionShape shape{D, c.n_heads * c.head_dim(), c.n_kv_heads * c.head_dim(), c.n_heads, c.head_dim()};
  MemoryBreakdown mb;
  // The inbox (joint sequence received), the residual stream being updated and
  // the outbox (sent while the next microbatch runs).
  mb.add("joint sequence in, residual, out: 3 x [S, D]", 3 * e * b * S * D);
  const int64_t attn = attention_phase(shape, b, S, e, attention);
  // FFN: normed input, SiLU(W1 x) (in place) and W3 x, multiplied in place: 2 x [S, F].
  const int64_t ffn = e * b * S * (D + 2 * F);
  if (attn > ffn) mb.add("block peak in attention (normed x, qkv and copies, RoPE/out)", attn);
  else mb.add("block peak in the FFN (normed x, 2 x [S, ffn_hidden])", ffn);
  const int64_t latent = 4 * c.in_channels * g.latent_h * g.latent_w;
  if (prologue) {
    mb.add("caption features in [L, cap_feat_dim]", e * b * w.caption_tokens * c.cap_feat_dim);
    mb.add("latent in (float32)", b * latent);
    mb.add("caption rows cached for requests in flight", e * kRequestsInFlight * Workload::kBranchesPerStep *
                                                             w.caption_tokens * D);
  }
  if (final) {
    mb.add("final layer norm out [S, D] and velocity", e * b * S * D + 4 * b * S * c.patch_features());
    mb.add("sampler state of requests in flight (float32 latents)", 3 * kRequestsInFlight * latent);
  }
  return mb;
}

MemoryBreakdown text_activations(const ModelConfigs& m, const Workload& w, int64_t e, AttentionKind attention,
                                 bool jina, bool gemma_embed, bool gemma) {
  const int64_t p = Workload::kPromptsPerRequest, L = w.caption_tokens;
  MemoryBreakdown mb;
  int64_t gemma_peak = 0, jina_peak = 0;
  if (gemma) {
    const auto& c = m.gemma;
    const int64_t H = c.hidden_size;
    const AttentionShape shape{H, c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim,
                               c.num_attention_heads, c.head_dim};
    // Residual, normed input and the layer output, then attention or the MLP
    // (gate, up and the GELU(gate) temporary).
    const int64_t mlp = e * p * L * (H + 3 * c.intermediate_size);
    gemma_peak = 3 * e * p * L * H + std::max(attention_phase(shape, p, L, e, attention), mlp) +
                 e * p * L * H;  // cap_feats kept for the DiT
  }
  if (jina) {
    const auto& c = m.jina;
    const int64_t H = c.hidden_size;
    const AttentionShape shape{H, H, H, c.num_attention_heads, c.head_dim()};
    const int64_t mlp = e * p * L * (H + 2 * c.intermediate_size);
    jina_peak = 3 * e * p * L * H + std::max(attention_phase(shape, p, L, e, attention), mlp);
  }
  // The embedding lookup's output and the copy sent on when the layers live elsewhere.
  const int64_t embed_peak = gemma_embed ? 2 * e * p * L * m.gemma.hidden_size : 0;
  const std::string tokens = "2 prompts x " + std::to_string(L) + " tokens";
  if (gemma_peak >= std::max(jina_peak, embed_peak) && gemma) mb.add("Gemma layer peak, " + tokens, gemma_peak);
  else if (jina_peak >= embed_peak && jina) mb.add("Jina layer peak, " + tokens, jina_peak);
  else if (gemma_embed) mb.add("Gemma embedding output, " + tokens, embed_peak);
  return mb;
}

namespace {

// Largest live set of the decoder (spec E.2) on an h x w latent.
MemoryBreakdown vae_walk(const models::VaeConfig& c, int64_t h, int64_t w, int64_t e, AttentionKind attention) {
  std::vector<int64_t> rev(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  int64_t peak = 0;
  std::string where;
  auto consider = [&](int64_t bytes, const std::string& what) {
    if (bytes > peak) {
      peak = bytes;
      where = what;
    }
  };
  // ResnetBlock2D: input kept for the shortcut, GN+SiLU of it, conv1 out,
  // GN+SiLU of that, conv2 out, shortcut out.
  auto resnet = [&](int64_t in, int64_t out, int64_t hh, int64_t ww, const std::string& what) {
    consider(e * hh * ww * (2 * in + 3 * out), what);
  };
  const int64_t top = rev.front();
  consider(4 * c.latent_channels * h * w + e * h * w * (c.latent_channels + top), "conv_in");
  resnet(top, top, h, w, "mid_block resnet");
  if (c.mid_block_add_attention) {
    const int64_t s = h * w;
    // input, group norm, q, k, v, output; one head of `top` channels.
    consider(e * s * top * 6 + attention_scores_bytes(attention, 1, 1, s, top), "mid_block attention");
  }
  int64_t in = top, hh = h, ww = w;
  for (size_t b = 0; b < rev.size(); ++b) {
    const int64_t out = rev[b];
    resnet(in, out, hh, ww, "up_blocks." + std::to_string(b) + " resnet");
    if (b + 1 < rev.size()) {
      // nearest x2 then a 3x3 conv: input, upsampled, conv out.
      consider(e * out * hh * ww * (1 + 4 + 4), "up_blocks." + std::to_string(b) + " upsampler");
      hh *= 2;
      ww *= 2;
    }
    in = out;
  }
  consider(e * hh * ww * (2 * rev.back() + c.out_channels) + 4 * c.out_channels * hh * ww, "conv_out");
  MemoryBreakdown mb;
  mb.add("decoder peak at " + where, peak);
  return mb;
}

}  // namespace

MemoryBreakdown vae_activations(const models::VaeConfig& c, int64_t width, int64_t height, int64_t e,
                                AttentionKind attention, int64_t tile_px) {
  const int64_t up = c.upscale();
  const int64_t latent_bytes = 4 * c.latent_channels * (height / up) * (width / up);
  if (tile_px <= 0) {
    auto mb = vae_walk(c, height / up, width / up, e, attention);
    mb.add("latent in (float32)", latent_bytes);
    return mb;
  }
  const int64_t span = (std::min(tile_px, std::max(width, height)) + 2 * kVaeTileHaloPx) / up;
  auto mb = vae_walk(c, std::min(span, height / up), std::min(span, width / up), e, attention);
  mb.parts.front().first += " (one " + std::to_string(tile_px) + " px tile + halo)";
  mb.add("latent in (float32)", latent_bytes);
  // Blended output and its weight map, float32, for the whole image.
  mb.add("image accumulator and blend weights (float32)", 4 * (c.out_channels + 1) * width * height);
  return mb;
}

std::vector<int64_t> vae_tile_candidates(int64_t width, int64_t height) {
  std::vector<int64_t> tiles;
  for (int64_t t : {1024, 768, 512, 384, 256})
    if (t < std::max(width, height)) tiles.push_back(t);
  return tiles;
}

int64_t choose_vae_tile(const models::VaeConfig& c, int64_t width, int64_t height, int64_t e, AttentionKind attention,
                        int64_t available) {
  if (vae_activations(c, width, height, e, attention, 0).total <= available) return 0;
  for (int64_t t : vae_tile_candidates(width, height))
    if (vae_activations(c, width, height, e, attention, t).total <= available) return t;
  return -1;
}

}  // namespace baton::partition
