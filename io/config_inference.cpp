#include "io/config_inference.h"

#include <numeric>
#include <set>

#include "core/error.h"

namespace baton::io {
namespace {

std::vector<int64_t> need(const TensorSource& w, const std::string& name, size_t rank) {
  if (!w.contains(name))
    throw Error(w.describe() + ": cannot infer the config: tensor " + name + " is missing",
                "add a config (see docs/model-folders.md)");
  auto s = w.shape(name);
  if (s.size() != rank)
    throw Error(w.describe() + ": tensor " + name + " has shape " + format_shape(s) + ", expected rank " +
                std::to_string(rank));
  return s;
}

// Number of blocks "<prefix>{i}." present (highest index + 1).
int64_t count_blocks(const TensorSource& w, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& name : w.names()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const auto dot = name.find('.', prefix.size());
    if (dot == std::string::npos) continue;
    try {
      n = std::max<int64_t>(n, std::stoll(name.substr(prefix.size(), dot - prefix.size())) + 1);
    } catch (const std::exception&) {
    }
  }
  return n;
}

std::string list(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

models::NextDitConfig infer_nextdit_config(const TensorSource& w, std::vector<std::string>& notes) {
  models::NextDitConfig c;
  const auto x = need(w, "x_embedder.weight", 2);
  c.dim = x[0];
  c.n_layers = count_blocks(w, "layers.");
  c.n_refiner_layers = count_blocks(w, "noise_refiner.");
  c.qk_norm = w.contains("layers.0.attention.q_norm.weight");
  const int64_t hd = c.qk_norm ? need(w, "layers.0.attention.q_norm.weight", 1)[0] : 96;
  c.n_heads = c.dim / hd;
  c.n_kv_heads = (need(w, "layers.0.attention.qkv.weight", 2)[0] / hd - c.n_heads) / 2;
  c.cap_feat_dim = need(w, "cap_embedder.0.weight", 1)[0];
  c.clip_text_dim = need(w, "clip_text_pooled_proj.0.weight", 1)[0];
  const int64_t pf = x[1];
  c.patch_size = 2;
  c.in_channels = pf / 4;
  const int64_t ffn = need(w, "layers.0.feed_forward.w1.weight", 2)[0];
  if (ffn != c.ffn_hidden()) {
    // multiple_of = ffn makes the rounding land exactly on ffn whatever the
    // float error of the multiplier.
    c.multiple_of = ffn;
    c.ffn_dim_multiplier = static_cast<double>(ffn) / static_cast<double>(4 * c.dim);
  }
  if (c.head_dim() != 96) {
    // Released: [32, 32, 32] for head_dim 96. Otherwise thirds, rounded to even.
    const int64_t third = (c.head_dim() / 3) / 2 * 2;
    c.axes_dims = {c.head_dim() - 2 * third, third, third};
  }
  notes.push_back("inferred from tensor shapes: dim, n_layers, n_refiner_layers, n_heads, n_kv_heads, qk_norm, "
                  "cap_feat_dim, clip_text_dim, in_channels (patch_size 2 assumed)");
  notes.push_back(std::string("released values assumed: ") +
                  (c.head_dim() == 96 ? "axes_dims" : "axes_dims split in thirds of head_dim") +
                  ", axes_lens, rope_theta, norm_eps");
  c.validate();
  return c;
}

models::Gemma3Config infer_gemma3_config(const TensorSource& w, std::vector<std::string>& notes) {
  models::Gemma3Config c = models::Gemma3Config::released();
  const auto e = need(w, "embed_tokens.weight", 2);
  c.vocab_size = e[0];
  c.hidden_size = e[1];
  c.num_hidden_layers = count_blocks(w, "layers.");
  c.head_dim = need(w, "layers.0.self_attn.q_norm.weight", 1)[0];
  c.num_attention_heads = need(w, "layers.0.self_attn.q_proj.weight", 2)[0] / c.head_dim;
  c.num_key_value_heads = need(w, "layers.0.self_attn.k_proj.weight", 2)[0] / c.head_dim;
  c.intermediate_size = need(w, "layers.0.mlp.gate_proj.weight", 2)[0];
  c.query_pre_attn_scalar = static_cast<double>(c.head_dim);
  c.global_layers.assign(static_cast<size_t>(c.num_hidden_layers), false);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) c.global_layers[static_cast<size_t>(i)] = (i + 1) % 6 == 0;
  notes.push_back("inferred from tensor shapes: vocab_size, hidden_size, num_hidden_layers, head_dim, "
                  "num_attention_heads, num_key_value_heads, intermediate_size (query_pre_attn_scalar = head_dim)");
  notes.push_back("released values assumed: layer kinds (every 6th global), sliding_window, RoPE bases and scaling");
  c.validate();
  return c;
}

models::JinaConfig infer_jina_config(const TensorSource& w, std::vector<std::string>& notes) {
  models::JinaConfig c;
  const std::string word = w.contains("embeddings.word_embeddings.weight")
                               ? "embeddings.word_embeddings.weight"
                               : "embeddings.word_embeddings.parametrizations.weight.original";
  const auto e = need(w, word, 2);
  c.vocab_size = e[0];
  c.hidden_size = e[1];
  const std::string type = w.contains("embeddings.token_type_embeddings.weight")
                               ? "embeddings.token_type_embeddings.weight"
                               : "embeddings.token_type_embeddings.parametrizations.weight.original";
  c.type_vocab_size = need(w, type, 2)[0];
  c.num_hidden_layers = count_blocks(w, "encoder.layers.");
  c.intermediate_size = need(w, "encoder.layers.0.mlp.fc1.bias", 1)[0];
  c.num_attention_heads = std::max<int64_t>(1, c.hidden_size / 64);
  if (w.contains("encoder.layers.0.mixer.Wqkv.parametrizations.weight.0.lora_A"))
    c.lora_rank = need(w, "encoder.layers.0.mixer.Wqkv.parametrizations.weight.0.lora_A", 3)[1];
  notes.push_back("inferred from tensor shapes: vocab_size, hidden_size, type_vocab_size, num_hidden_layers, "
                  "intermediate_size, lora_rank");
  notes.push_back("assumed: head_dim 64 (num_attention_heads = hidden_size / 64), rotary base 20000, lora_alpha = 4");
  c.validate();
  return c;
}

models::VaeConfig infer_vae_config(const TensorSource& w, std::vector<std::string>& notes) {
  models::VaeConfig c;
  const auto in = need(w, "conv_in.weight", 4);
  c.latent_channels = in[1];
  c.out_channels = need(w, "conv_out.weight", 4)[0];
  const int64_t blocks = count_blocks(w, "up_blocks.");
  if (blocks < 1) throw Error(w.describe() + ": cannot infer the VAE config: no up_blocks");
  c.block_out_channels.assign(static_cast<size_t>(blocks), 0);
  for (int64_t b = 0; b < blocks; ++b)
    c.block_out_channels[static_cast<size_t>(blocks - 1 - b)] =
        need(w, "up_blocks." + std::to_string(b) + ".resnets.0.conv1.weight", 4)[0];
  c.layers_per_block = count_blocks(w, "up_blocks.0.resnets.") - 1;
  c.mid_block_add_attention = w.contains("mid_block.attentions.0.to_q.weight");
  int64_t groups = 32;
  for (auto ch : c.block_out_channels) groups = std::gcd(groups, ch);
  std::vector<std::string> assumed{"scaling_factor", "shift_factor"};
  if (groups != 32) notes.push_back("norm_num_groups = " + std::to_string(groups) + " (largest divisor of the channels up to 32)");
  else assumed.push_back("norm_num_groups 32");
  c.norm_num_groups = groups;
  notes.push_back("inferred from tensor shapes: latent_channels, out_channels, block_out_channels, layers_per_block, "
                  "mid_block_add_attention");
  notes.push_back("released values assumed: " + list(assumed));
  c.validate();
  return c;
}

}  // namespace baton::io
