#include "models/gemma3/gemma3_config.h"

#include <nlohmann/json.hpp>

#include "core/config_field.h"
#include "core/error.h"

namespace baton::models {
namespace {

std::vector<bool> pattern_layers(int64_t n, int64_t pattern) {
  std::vector<bool> g(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) g[static_cast<size_t>(i)] = pattern > 0 && (i + 1) % pattern == 0;
  return g;
}


}  // namespace

Gemma3Config Gemma3Config::released() {
  Gemma3Config c;
  c.global_layers = pattern_layers(c.num_hidden_layers, 6);
  return c;
}

Gemma3Config Gemma3Config::from_json(const nlohmann::json& root, std::vector<std::string>* defaulted) {
  if (!root.is_object()) throw Error("text encoder config is not a JSON object");
  const nlohmann::json& j = root.contains("text_config") ? root["text_config"] : root;
  Gemma3Config c;
  read_config_field(j, "hidden_size", c.hidden_size, defaulted, "text encoder");
  read_config_field(j, "num_hidden_layers", c.num_hidden_layers, defaulted, "text encoder");
  read_config_field(j, "num_attention_heads", c.num_attention_heads, defaulted, "text encoder");
  read_config_field(j, "num_key_value_heads", c.num_key_value_heads, defaulted, "text encoder");
  read_config_field(j, "head_dim", c.head_dim, defaulted, "text encoder");
  read_config_field(j, "intermediate_size", c.intermediate_size, defaulted, "text encoder");
  read_config_field(j, "vocab_size", c.vocab_size, defaulted, "text encoder");
  read_config_field(j, "rms_norm_eps", c.rms_norm_eps, defaulted, "text encoder");
  read_config_field(j, "query_pre_attn_scalar", c.query_pre_attn_scalar, defaulted, "text encoder");
  read_config_field(j, "sliding_window", c.sliding_window, defaulted, "text encoder");
  read_config_field(j, "pad_token_id", c.pad_token_id, defaulted, "text encoder");
  read_config_field(j, "bos_token_id", c.bos_token_id, defaulted, "text encoder");
  // The RoPE tables come as rope_theta/rope_scaling/rope_local_base_freq (transformers
  // 4.x), as rope_parameters per layer type (5.x) or as rope_global/rope_local (golden files).
  auto rope_block = [&](const char* key, const char* v5_key) -> const nlohmann::json* {
    if (j.contains(key) && j[key].is_object()) return &j[key];
    if (j.contains("rope_parameters") && j["rope_parameters"].is_object() && j["rope_parameters"].contains(v5_key) &&
        j["rope_parameters"][v5_key].is_object())
      return &j["rope_parameters"][v5_key];
    return nullptr;
  };
  const nlohmann::json* rope_global = rope_block("rope_global", "full_attention");
  const nlohmann::json* rope_local = rope_block("rope_local", "sliding_attention");
  if (rope_global) {
    read_config_field(*rope_global, "rope_theta", c.rope_theta, defaulted, "text encoder");
    c.rope_scaling_factor = rope_global->value("factor", 1.0);
  } else {
    read_config_field(j, "rope_theta", c.rope_theta, defaulted, "text encoder");
    if (j.contains("rope_scaling") && j["rope_scaling"].is_object() && j["rope_scaling"].contains("factor"))
      c.rope_scaling_factor = j["rope_scaling"]["factor"].get<double>();
    else if (defaulted)
      defaulted->push_back("rope_scaling");
  }
  read_config_field(rope_local ? *rope_local : j, rope_local ? "rope_theta" : "rope_local_base_freq", c.rope_local_base_freq,
       defaulted, "text encoder");
  if (j.contains("layer_types") && j["layer_types"].is_array()) {
    for (const auto& t : j["layer_types"]) c.global_layers.push_back(t.get<std::string>() == "full_attention");
  } else {
    int64_t pattern = 6;
    read_config_field(j, "sliding_window_pattern", pattern, defaulted, "text encoder");
    c.global_layers = pattern_layers(c.num_hidden_layers, pattern);
  }
  c.validate();
  return c;
}

nlohmann::json Gemma3Config::to_json() const {
  nlohmann::json types = nlohmann::json::array();
  for (bool g : global_layers) types.push_back(g ? "full_attention" : "sliding_attention");
  return {{"model_type", "gemma3_text"},
          {"hidden_size", hidden_size},
          {"num_hidden_layers", num_hidden_layers},
          {"num_attention_heads", num_attention_heads},
          {"num_key_value_heads", num_key_value_heads},
          {"head_dim", head_dim},
          {"intermediate_size", intermediate_size},
          {"vocab_size", vocab_size},
          {"rms_norm_eps", rms_norm_eps},
          {"query_pre_attn_scalar", query_pre_attn_scalar},
          {"sliding_window", sliding_window},
          {"layer_types", types},
          {"rope_theta", rope_theta},
          {"rope_scaling", {{"rope_type", "linear"}, {"factor", rope_scaling_factor}}},
          {"rope_local_base_freq", rope_local_base_freq},
          {"pad_token_id", pad_token_id},
          {"bos_token_id", bos_token_id},
          {"hidden_activation", "gelu_pytorch_tanh"}};
}

void Gemma3Config::validate() const {
  auto bad = [](const std::string& what) { throw Error("text encoder config: " + what); };
  if (hidden_size <= 0 || num_hidden_layers < 2 || num_attention_heads <= 0 || num_key_value_heads <= 0 ||
      head_dim <= 0 || intermediate_size <= 0 || vocab_size <= 0)
    bad("sizes must be positive and there must be at least 2 layers");
  if (num_attention_heads % num_key_value_heads) bad("num_attention_heads is not a multiple of num_key_value_heads");
  if (head_dim % 2) bad("head_dim must be even");
  if (static_cast<int64_t>(global_layers.size()) != num_hidden_layers)
    bad("layer_types has " + std::to_string(global_layers.size()) + " entries for " +
        std::to_string(num_hidden_layers) + " layers");
}

TensorShapes gemma3_tensor_shapes(const Gemma3Config& c, bool include_unused) {
  TensorShapes s;
  const int64_t H = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  s["embed_tokens.weight"] = {c.vocab_size, H};
  const int64_t layers = include_unused ? c.num_hidden_layers : c.used_layers();
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    for (const char* n : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                          "post_feedforward_layernorm"})
      s[p + n + ".weight"] = {H};
    s[p + "self_attn.q_proj.weight"] = {q, H};
    s[p + "self_attn.k_proj.weight"] = {kv, H};
    s[p + "self_attn.v_proj.weight"] = {kv, H};
    s[p + "self_attn.o_proj.weight"] = {H, q};
    s[p + "self_attn.q_norm.weight"] = {c.head_dim};
    s[p + "self_attn.k_norm.weight"] = {c.head_dim};
    s[p + "mlp.gate_proj.weight"] = {c.intermediate_size, H};
    s[p + "mlp.up_proj.weight"] = {c.intermediate_size, H};
    s[p + "mlp.down_proj.weight"] = {H, c.intermediate_size};
  }
  if (include_unused) s["norm.weight"] = {H};
  return s;
}

}  // namespace baton::models
