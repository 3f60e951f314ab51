#include "models/jina/jina_config.h"

#include <nlohmann/json.hpp>

#include "core/config_field.h"
#include "core/error.h"

namespace baton::models {
JinaConfig JinaConfig::released() { return JinaConfig{}; }

JinaConfig JinaConfig::from_json(const nlohmann::json& root, std::vector<std::string>* defaulted) {
  if (!root.is_object()) throw Error("clip config is not a JSON object");
  JinaConfig c;
  // jina-clip-v2 keeps the backbone numbers in jina-embeddings-v3's config, which
  // a save does not copy; the kwargs it does copy override them.
  const nlohmann::json* j = &root;
  nlohmann::json merged = nlohmann::json::object();
  if (root.contains("text_config") && root["text_config"].is_object()) {
    const auto& tc = root["text_config"];
    if (tc.contains("hf_model_config_kwargs") && tc["hf_model_config_kwargs"].is_object())
      merged = tc["hf_model_config_kwargs"];
    for (auto it = tc.begin(); it != tc.end(); ++it)
      if (!merged.contains(it.key())) merged[it.key()] = it.value();
    j = &merged;
  }
  read_config_field(*j, "hidden_size", c.hidden_size, defaulted, "clip");
  read_config_field(*j, "num_hidden_layers", c.num_hidden_layers, defaulted, "clip");
  read_config_field(*j, "num_attention_heads", c.num_attention_heads, defaulted, "clip");
  read_config_field(*j, "intermediate_size", c.intermediate_size, defaulted, "clip");
  read_config_field(*j, "vocab_size", c.vocab_size, defaulted, "clip");
  read_config_field(*j, "type_vocab_size", c.type_vocab_size, defaulted, "clip");
  read_config_field(*j, "rotary_emb_base", c.rotary_emb_base, defaulted, "clip");
  read_config_field(*j, "layer_norm_eps", c.layer_norm_eps, defaulted, "clip");
  read_config_field(*j, "pad_token_id", c.pad_token_id, defaulted, "clip");
  read_config_field(*j, "lora_rank", c.lora_rank, defaulted, "clip");
  read_config_field(*j, "lora_alpha", c.lora_alpha, defaulted, "clip");
  c.validate();
  return c;
}

nlohmann::json JinaConfig::to_json() const {
  return {{"model_type", "jina_clip_text"},
          {"hidden_size", hidden_size},
          {"num_hidden_layers", num_hidden_layers},
          {"num_attention_heads", num_attention_heads},
          {"intermediate_size", intermediate_size},
          {"vocab_size", vocab_size},
          {"type_vocab_size", type_vocab_size},
          {"rotary_emb_base", rotary_emb_base},
          {"layer_norm_eps", layer_norm_eps},
          {"pad_token_id", pad_token_id},
          {"lora_rank", lora_rank},
          {"lora_alpha", lora_alpha},
          {"hidden_act", "gelu"}};
}

void JinaConfig::validate() const {
  if (hidden_size <= 0 || num_hidden_layers <= 0 || num_attention_heads <= 0 || intermediate_size <= 0 ||
      vocab_size <= 0 || type_vocab_size <= 0 || hidden_size % num_attention_heads || head_dim() % 2)
    throw Error("clip config: sizes must be positive, hidden_size a multiple of the heads, head_dim even");
}

std::vector<std::string> jina_lora_targets(const JinaConfig& c) {
  std::vector<std::string> t = {"embeddings.word_embeddings", "embeddings.token_type_embeddings"};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    for (const char* n : {"mixer.Wqkv", "mixer.out_proj", "mlp.fc1", "mlp.fc2"}) t.push_back(p + n);
  }
  return t;
}

TensorShapes jina_tensor_shapes(const JinaConfig& c) {
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  TensorShapes s;
  s["embeddings.word_embeddings.weight"] = {c.vocab_size, H};
  s["embeddings.token_type_embeddings.weight"] = {c.type_vocab_size, H};
  s["emb_ln.weight"] = {H};
  s["emb_ln.bias"] = {H};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    s[p + "mixer.Wqkv.weight"] = {3 * H, H};
    s[p + "mixer.Wqkv.bias"] = {3 * H};
    s[p + "mixer.out_proj.weight"] = {H, H};
    s[p + "mixer.out_proj.bias"] = {H};
    s[p + "mlp.fc1.weight"] = {I, H};
    s[p + "mlp.fc1.bias"] = {I};
    s[p + "mlp.fc2.weight"] = {H, I};
    s[p + "mlp.fc2.bias"] = {H};
    for (const char* n : {"norm1", "norm2"}) {
      s[p + n + ".weight"] = {H};
      s[p + n + ".bias"] = {H};
    }
  }
  return s;
}

}  // namespace baton::models
