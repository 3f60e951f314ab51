#include "models/nextdit/nextdit_config.h"

#include <nlohmann/json.hpp>

#include "core/config_field.h"
#include "core/error.h"

namespace baton::models {

int64_t NextDitConfig::ffn_hidden() const {
  int64_t hidden = 4 * dim;
  if (ffn_dim_multiplier) hidden = static_cast<int64_t>(*ffn_dim_multiplier * hidden);
  return multiple_of * ((hidden + multiple_of - 1) / multiple_of);
}

NextDitConfig NextDitConfig::released() { return NextDitConfig{}; }

NextDitConfig NextDitConfig::from_json(const nlohmann::json& j, std::vector<std::string>* defaulted) {
  if (!j.is_object()) throw Error("transformer config is not a JSON object");
  NextDitConfig c;
  read_config_field(j, "patch_size", c.patch_size, defaulted, "transformer");
  read_config_field(j, "in_channels", c.in_channels, defaulted, "transformer");
  read_config_field(j, "dim", c.dim, defaulted, "transformer");
  read_config_field(j, "n_layers", c.n_layers, defaulted, "transformer");
  read_config_field(j, "n_refiner_layers", c.n_refiner_layers, defaulted, "transformer");
  read_config_field(j, "n_heads", c.n_heads, defaulted, "transformer");
  read_config_field(j, "n_kv_heads", c.n_kv_heads, defaulted, "transformer");
  read_config_field(j, "multiple_of", c.multiple_of, defaulted, "transformer");
  if (j.contains("ffn_dim_multiplier") && !j["ffn_dim_multiplier"].is_null())
    c.ffn_dim_multiplier = j["ffn_dim_multiplier"].get<double>();
  read_config_field(j, "norm_eps", c.norm_eps, defaulted, "transformer");
  // The released config.json has no qk_norm/cap_feat_dim: loaders hard-code
  // qk_norm=True and take cap_feat_dim from the text encoder (spec F.1).
  read_config_field(j, "qk_norm", c.qk_norm, defaulted, "transformer");
  read_config_field(j, "cap_feat_dim", c.cap_feat_dim, defaulted, "transformer");
  read_config_field(j, "axes_dims", c.axes_dims, defaulted, "transformer");
  read_config_field(j, "axes_lens", c.axes_lens, defaulted, "transformer");
  read_config_field(j, "rope_theta", c.rope_theta, defaulted, "transformer");
  read_config_field(j, "clip_text_dim", c.clip_text_dim, defaulted, "transformer");
  c.validate();
  return c;
}

nlohmann::json NextDitConfig::to_json() const {
  nlohmann::json j = {{"patch_size", patch_size},       {"in_channels", in_channels},
                      {"dim", dim},                     {"n_layers", n_layers},
                      {"n_refiner_layers", n_refiner_layers}, {"n_heads", n_heads},
                      {"n_kv_heads", n_kv_heads},       {"multiple_of", multiple_of},
                      {"norm_eps", norm_eps},           {"qk_norm", qk_norm},
                      {"cap_feat_dim", cap_feat_dim},   {"axes_dims", axes_dims},
                      {"axes_lens", axes_lens},         {"rope_theta", rope_theta},
                      {"clip_text_dim", clip_text_dim}};
  j["ffn_dim_multiplier"] = ffn_dim_multiplier ? nlohmann::json(*ffn_dim_multiplier) : nlohmann::json(nullptr);
  return j;
}

void NextDitConfig::validate() const {
  auto bad = [](const std::string& what) { throw Error("transformer config: " + what); };
  if (dim <= 0 || n_heads <= 0 || n_kv_heads <= 0 || n_layers < 0 || patch_size <= 0 || in_channels <= 0)
    bad("sizes must be positive");
  if (dim % n_heads) bad("dim " + std::to_string(dim) + " is not a multiple of n_heads " + std::to_string(n_heads));
  if (n_heads % n_kv_heads) bad("n_heads is not a multiple of n_kv_heads");
  int64_t axes = 0;
  for (auto a : axes_dims) axes += a;
  if (axes_dims.size() != 3 || axes_lens.size() != 3) bad("axes_dims and axes_lens need 3 entries");
  if (axes != head_dim()) bad("axes_dims must add up to head_dim " + std::to_string(head_dim()));
  for (auto a : axes_dims)
    if (a % 2) bad("every axes_dims entry must be even");
  if (multiple_of <= 0) bad("multiple_of must be positive");
}

TensorShapes nextdit_block_shapes(const NextDitConfig& c, const std::string& p, bool modulated) {
  const int64_t D = c.dim, hd = c.head_dim(), F = c.ffn_hidden();
  TensorShapes s;
  s[p + "attention.qkv.weight"] = {(c.n_heads + 2 * c.n_kv_heads) * hd, D};
  s[p + "attention.out.weight"] = {D, D};
  if (c.qk_norm) {
    s[p + "attention.q_norm.weight"] = {hd};
    s[p + "attention.k_norm.weight"] = {hd};
  }
  s[p + "feed_forward.w1.weight"] = {F, D};
  s[p + "feed_forward.w3.weight"] = {F, D};
  s[p + "feed_forward.w2.weight"] = {D, F};
  for (const char* n : {"attention_norm1", "attention_norm2", "ffn_norm1", "ffn_norm2"})
    s[p + n + ".weight"] = {D};
  if (modulated) {
    s[p + "adaLN_modulation.1.weight"] = {4 * D, c.adaln_dim()};
    s[p + "adaLN_modulation.1.bias"] = {4 * D};
  }
  return s;
}

TensorShapes nextdit_tensor_shapes(const NextDitConfig& c) {
  const int64_t D = c.dim, A = c.adaln_dim();
  TensorShapes s;
  auto merge = [&s](const TensorShapes& b) { s.insert(b.begin(), b.end()); };
  for (int64_t i = 0; i < c.n_layers; ++i) merge(nextdit_block_shapes(c, "layers." + std::to_string(i) + ".", true));
  for (int64_t i = 0; i < c.n_refiner_layers; ++i) {
    merge(nextdit_block_shapes(c, "noise_refiner." + std::to_string(i) + ".", true));
    merge(nextdit_block_shapes(c, "context_refiner." + std::to_string(i) + ".", false));
  }
  s["x_embedder.weight"] = {D, c.patch_features()};
  s["x_embedder.bias"] = {D};
  s["t_embedder.mlp.0.weight"] = {A, 256};
  s["t_embedder.mlp.0.bias"] = {A};
  s["t_embedder.mlp.2.weight"] = {A, A};
  s["t_embedder.mlp.2.bias"] = {A};
  s["cap_embedder.0.weight"] = {c.cap_feat_dim};
  s["cap_embedder.1.weight"] = {D, c.cap_feat_dim};
  s["cap_embedder.1.bias"] = {D};
  s["clip_text_pooled_proj.0.weight"] = {c.clip_text_dim};
  s["clip_text_pooled_proj.1.weight"] = {c.clip_text_dim, c.clip_text_dim};
  s["clip_text_pooled_proj.1.bias"] = {c.clip_text_dim};
  s["time_text_embed.1.weight"] = {A, A + c.clip_text_dim};
  s["time_text_embed.1.bias"] = {A};
  s["final_layer.linear.weight"] = {c.patch_features(), D};
  s["final_layer.linear.bias"] = {c.patch_features()};
  s["final_layer.adaLN_modulation.1.weight"] = {D, A};
  s["final_layer.adaLN_modulation.1.bias"] = {D};
  s["norm_final.weight"] = {D};
  return s;
}

}  // namespace baton::models
