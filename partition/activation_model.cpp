#include "partition/activation_model.h"

#include <algorithm>

#include "models/vae/vae_memory.h"

namespace baton::partition {
namespace {

// Bytes alive while a forward runs, walked along its code: `hold` what a
// local or an argument keeps, `drop` it when it goes out of scope, `moment`
// for temporaries that exist only inside one statement. The peak is the
// largest sum seen and `where` names the step it happened at.
class LiveBytes {
 public:
  void hold(int64_t bytes, const char* what) { now_ += bytes; see(now_, what); }
  void drop(int64_t bytes) { now_ -= bytes; }
  void moment(int64_t extra, const char* what) { see(now_ + extra, what); }
  int64_t peak() const { return peak_; }
  const std::string& where() const { return where_; }

 private:
  void see(int64_t bytes, const char* what) {
    if (bytes > peak_) {
      peak_ = bytes;
      where_ = what;
    }
  }
  int64_t now_ = 0, peak_ = 0;
  std::string where_;
};

// Bytes compat::rms_norm (core/torch_compat.cpp) holds on n elements besides
// its input and its output: nothing when it is one fused kernel (CUDA,
// libtorch 2.5+, the weight in x's dtype); otherwise the float32 path: a
// float copy of x, x^2 and the normalised rows (12 n below float32), or x^2
// next to the normalised rows (4 n more than the output in float32).
int64_t rms_norm_temporaries(int64_t n, int64_t e, bool fused) {
  if (fused) return 0;
  return e < 4 ? 12 * n : 4 * n;
}

// Bytes inside compat::attention over b samples of s tokens besides q, k, v
// and its output (core/torch_compat.cpp). Fused SDPA kernels keep a float32
// log-sum-exp per head and row (and turn a boolean mask into an additive one
// in q's dtype). The exact fallback holds k and v repeated to every head in
// float32 (2 "rows": [b, H, s, hd] float32 each) throughout; at its peak either
// the float32 copy of q (below float32) and two [b, H, s, s] float32 score
// tensors (the product and its scaled copy), or three of those (scores,
// softmax, its NaN-cleared copy), or the float32 output (below float32) and
// two; plus the float32 additive mask. `mask`: mask elements per sample (0
// none, s for a key mask, s^2 for a causal one).
int64_t attention_temporaries(AttentionKind kind, int64_t b, int64_t heads, int64_t s, int64_t hd, int64_t e,
                              int64_t mask = 0) {
  if (kind == AttentionKind::kFlash) return 4 * b * heads * s + e * b * mask;
  const int64_t rows = 4 * b * heads * s * hd, scores = 4 * b * heads * s * s;
  const int64_t upcast = e < 4 ? rows : 0;  // q before the product, the output after it
  return 2 * rows + std::max(upcast + 2 * scores, 3 * scores) + 4 * b * mask;
}

// One Next-DiT block (models/nextdit/nextdit_block.cpp) over b samples of s
// rows, the residual x itself not counted: attention() keeps its normed input,
// qk, v, the float32 normed-and-rotated qk, the q/k casts, the output and its
// row-major copy until it returns; the FFN keeps its normed input, SiLU(W1 h)
// and W3 h, multiplied in place.
void walk_dit_block(LiveBytes& m, const models::NextDitConfig& c, int64_t b, int64_t s, int64_t e,
                    AttentionKind kind, bool cpu) {
  const int64_t R = b * s, D = c.dim, F = c.ffn_hidden(), hd = c.head_dim();
  const int64_t q = c.n_heads * hd, kv = c.n_kv_heads * hd, qk = q + kv;
  const bool fused = !cpu;  // norm weights are in x's dtype: fused on CUDA
  // Per-sample norm weights (adaLN): one norm per sample, then concatenated.
  const int64_t normed = (b > 1 ? 2 : 1) * e * R * D;
  m.moment(normed + rms_norm_temporaries(R * D, e, fused), "attention norm");
  m.hold(e * R * D, "attention norm");
  m.hold(e * R * (qk + kv), "qk and v projections");
  m.moment(e * R * qk + std::max(rms_norm_temporaries(R * qk, e, fused), 4 * R * qk), "q/k RMSNorm");
  m.hold(4 * R * qk, "float32 q/k for RoPE");
  const int64_t casts = e < 4 ? e * R * qk : 0;  // in float32, q and k are views of it
  m.hold(casts, "q/k cast back");
  m.moment(e * R * q + attention_temporaries(kind, b, c.n_heads, s, hd, e), "attention kernel");
  m.hold(2 * e * R * q, "attention output and its row-major copy");
  m.drop(e * R * q);
  m.hold(e * R * D, "attention out projection");
  m.drop(e * R * (D + qk + kv + q) + 4 * R * qk + casts);  // attention() returns its output only
  m.moment(e * R * D + rms_norm_temporaries(R * D, e, fused), "attention post-norm");
  m.drop(e * R * D);
  m.moment(normed + rms_norm_temporaries(R * D, e, fused), "FFN norm");
  m.hold(e * R * D, "FFN norm");
  m.hold(e * R * F, "FFN SiLU(W1 h)");
  m.moment(e * R * F, "FFN W3 h");
  m.hold(e * R * D, "FFN W2 out");
  m.drop(e * R * (D + F));
  m.moment(e * R * D + rms_norm_temporaries(R * D, e, fused), "FFN post-norm");
  m.drop(e * R * D);
}

// One Gemma3 decoder layer (models/gemma3/gemma3_text_model.cpp) over t
// tokens, the residual h not counted. Every local (normed x, qkv, q, k, v,
// the attention output, gate|up, the GELU product) lives to the end of the
// layer; the norms run in float32 (their weights are float32 1 + w).
void walk_gemma_layer(LiveBytes& m, const models::Gemma3Config& c, int64_t p, int64_t L, int64_t e,
                      AttentionKind kind) {
  const int64_t T = p * L, H = c.hidden_size, I = c.intermediate_size;
  const int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  auto norm = [e](int64_t n) { return rms_norm_temporaries(n, e, false); };
  m.moment(norm(T * H), "Gemma input norm");
  m.hold(e * T * H, "Gemma input norm");
  m.hold(e * T * (q + 2 * kv), "Gemma qkv");
  // q and k: RMSNorm, then x cos + rotate_half(x) sin (three temporaries).
  m.moment(norm(T * q) + 4 * e * T * q, "Gemma q norm and RoPE");
  m.hold(e * T * q, "Gemma q");
  m.moment(norm(T * kv) + 4 * e * T * kv, "Gemma k norm and RoPE");
  m.hold(2 * e * T * kv, "Gemma k, contiguous v");
  m.moment(e * T * q + attention_temporaries(kind, p, c.num_attention_heads, L, c.head_dim, e, L * L),
           "Gemma attention kernel");
  m.hold(2 * e * T * q, "Gemma attention output and its rows");
  m.hold(e * T * H, "Gemma o projection");
  m.drop(2 * e * T * q);
  m.moment(norm(T * H) + 2 * e * T * H, "Gemma post-attention norm and residual");
  m.moment(norm(T * H) + e * T * H, "Gemma pre-MLP norm");
  m.hold(e * T * H + 2 * e * T * I, "Gemma gate|up");
  m.drop(e * T * H);
  m.moment(2 * e * T * I, "Gemma GELU(gate) * up");
  m.hold(e * T * I, "Gemma GELU(gate) * up");
  m.hold(e * T * H, "Gemma down projection");
  m.moment(norm(T * H) + 2 * e * T * H, "Gemma post-MLP norm and residual");
  m.drop(e * T * (H + (q + 2 * kv) + q + 2 * kv + H + 2 * I + I + H));
}

// One Jina layer (models/jina/jina_text_model.cpp): qkv, the rotated q and k,
// v and the attention rows live to the end of the layer; the FFN's W1 output
// and its GELU live until its W2 output exists.
void walk_jina_layer(LiveBytes& m, const models::JinaConfig& c, int64_t p, int64_t L, int64_t e, AttentionKind kind) {
  const int64_t T = p * L, H = c.hidden_size, I = c.intermediate_size;
  m.hold(3 * e * T * H, "Jina qkv");
  m.moment(3 * e * T * H, "Jina RoPE");
  m.hold(3 * e * T * H, "Jina q, k, contiguous v");
  m.moment(e * T * H + attention_temporaries(kind, p, c.num_attention_heads, L, c.head_dim(), e, L),
           "Jina attention kernel");
  m.hold(2 * e * T * H, "Jina attention output and its rows");
  m.drop(e * T * H);
  m.moment(3 * e * T * H, "Jina out projection, residual, LayerNorm");
  m.moment(2 * e * T * I + e * T * H, "Jina FFN");
  m.hold(e * T * H, "Jina FFN output");
  m.moment(2 * e * T * H, "Jina FFN residual and LayerNorm");
  m.drop(8 * e * T * H);
}

}  // namespace

void MemoryBreakdown::add(const std::string& what, int64_t bytes) {
  parts.emplace_back(what, bytes);
  total += bytes;
}

MemoryBreakdown dit_activations(const ModelConfigs& m, const Workload& w, int64_t e, AttentionKind attention, bool cpu,
                                bool prologue, bool final) {
  const auto& c = m.dit;
  const auto g = geometry(w, m);
  const int64_t b = w.microbatch_samples, S = g.joint_tokens, R = b * S, D = c.dim;
  MemoryBreakdown mb;
  mb.add("RoPE table of the joint sequence (complex64, cached)", 4 * R * c.head_dim());
  // The blocks: the inbox (joint sequence received), the residual stream they
  // update (DitBlocks copies its input) and the outbox (sent while the next
  // microbatch runs), and one block's working set.
  const int64_t sequences = 3 * e * R * D;
  LiveBytes block;
  walk_dit_block(block, c, b, S, e, attention, cpu);
  int64_t embed = 0, head = 0;
  LiveBytes refiner;
  if (prologue) {
    // Per step: patchify, x_embedder and the noise refiner on the image rows,
    // next to the previous microbatch's outbox.
    walk_dit_block(refiner, c, b, g.image_tokens, e, attention, cpu);
    embed = e * R * D + 2 * e * b * g.image_tokens * D + refiner.peak();
  }
  if (final) {
    // The final layer on the image rows, next to its input: the gathered rows,
    // LayerNorm, modulation, the linear output, its unpatchified copy and the
    // float32 velocity.
    const int64_t n = b * g.image_tokens, pf = c.patch_features();
    head = 2 * e * R * D + 3 * e * n * D + n * pf * (2 * e + 4);
  }
  const std::string rows = " (" + std::to_string(b) + " x " + std::to_string(S) + " rows)";
  if (sequences + block.peak() >= std::max(embed, head)) {
    mb.add("joint sequence in, residual, out: 3 x [S, D]", sequences);
    mb.add("block peak at " + block.where() + rows, block.peak());
  } else if (embed >= head) {
    mb.add("noise refiner peak at " + refiner.where() + ", with the image tokens and the last outbox", embed);
  } else {
    mb.add("final layer on the image rows, with its input" + rows, head);
  }
  const int64_t latent = 4 * c.in_channels * g.latent_h * g.latent_w;
  if (prologue) {
    mb.add("caption features in [L, cap_feat_dim]", e * b * w.caption_tokens * c.cap_feat_dim);
    mb.add("latent in (float32)", b * latent);
    mb.add("caption rows cached for " + std::to_string(w.requests_in_flight) + " request(s) in flight",
           e * w.requests_in_flight * Workload::kBranchesPerStep * w.caption_tokens * D);
  }
  if (final)
    mb.add("sampler state of " + std::to_string(w.requests_in_flight) + " request(s) in flight (float32 latents)",
           3 * w.requests_in_flight * latent);
  return mb;
}

MemoryBreakdown text_activations(const ModelConfigs& m, const Workload& w, int64_t e, AttentionKind attention,
                                 bool jina, bool gemma_embed, bool gemma) {
  const int64_t p = Workload::kPromptsPerRequest, L = w.caption_tokens, T = p * L;
  const int64_t Hg = m.gemma.hidden_size, Hj = m.jina.hidden_size;
  LiveBytes walk;
  // Gemma: the embedding (looked up, then scaled: a second copy for a moment)
  // or the hidden states received; the residual; a layer.
  if (gemma_embed) walk.moment(2 * e * T * Hg, "Gemma embedding");
  if (gemma_embed || gemma) walk.hold(e * T * Hg, "Gemma input");
  if (gemma) {
    // Masks built once for all layers: i - j (int64), causal and window [L, L],
    // the global and the sliding-window masks [p, L, L] (booleans).
    walk.hold(10 * L * L + 2 * p * L * L, "Gemma attention masks");
    walk.hold(e * T * Hg, "Gemma residual");
    walk_gemma_layer(walk, m.gemma, p, L, e, attention);
    walk.drop(e * T * Hg + 10 * L * L + 2 * p * L * L);  // the input and masks go; the output is kept for the DiT
  }
  if (jina) {
    // The Jina tower runs after Gemma, whose output is kept meanwhile: its
    // embedding sum and LayerNorm, the hidden state, a layer, the float32 mean.
    walk.moment(3 * e * T * Hj, "Jina embeddings");
    walk.hold(e * T * Hj, "Jina hidden state");
    walk_jina_layer(walk, m.jina, p, L, e, attention);
    walk.moment(2 * 4 * T * Hj, "Jina mean pooling");
  }
  MemoryBreakdown mb;
  const std::string tokens = "2 prompts x " + std::to_string(L) + " tokens";
  const std::string& where = walk.where();
  const std::string what = where.rfind("Jina", 0) == 0 ? "Jina layer peak" : gemma ? "Gemma layer peak" : "Gemma embedding output";
  mb.add(what + ", " + tokens + " (at " + where + ")", walk.peak());
  return mb;
}

MemoryBreakdown vae_activations(const models::VaeConfig& c, int64_t width, int64_t height, int64_t e, bool cpu,
                                const models::VaeTiling& tiling) {
  const int64_t up = c.upscale(), lh = height / up, lw = width / up;
  const auto dtype = e >= 4 ? at::kFloat : at::kBFloat16;  // the VAE never computes in fp16 (force_upcast)
  const auto device = cpu ? c10::DeviceType::CPU : c10::DeviceType::CUDA;
  MemoryBreakdown mb;
  if (tiling.covers(lh, lw))
    mb.add("decoder peak, whole image (models::vae_decode_peak_bytes)",
           models::vae_decode_peak_bytes(c, lh, lw, dtype, 1, device));
  else
    mb.add("decoder peak, " + tiling.describe() + " + float32 image and weight sums (models::vae_tiled_decode_peak_bytes)",
           models::vae_tiled_decode_peak_bytes(c, lh, lw, dtype, tiling, 1, device));
  return mb;
}

}  // namespace baton::partition
