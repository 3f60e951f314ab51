#pragma once
// Jina CLIP v2 text tower (XLM-RoBERTa with rotary, spec D.1) and its tensors
// (spec D.5, canonical names = checkpoint names without the
// "text_model.transformer.roberta." prefix, in merged form: "...Wqkv.weight").
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/nextdit/nextdit_config.h"  // TensorShapes

namespace baton::models {

struct JinaConfig {
  int64_t hidden_size = 1024;
  int64_t num_hidden_layers = 24;
  int64_t num_attention_heads = 16;
  int64_t intermediate_size = 4096;
  int64_t vocab_size = 250002;
  int64_t type_vocab_size = 1;
  double rotary_emb_base = 20000.0;  // [I] spec D.1 caveat: 20000, not the vendored copy's 10000
  double layer_norm_eps = 1e-5;
  int64_t pad_token_id = 1;
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 2;
  int64_t lora_rank = 4;
  double lora_alpha = 4;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }

  static JinaConfig released();
  // Reads a jina-clip-v2 config.json (text_config.hf_model_config_kwargs for
  // the LoRA numbers) or a flat XLM-RoBERTa config.
  static JinaConfig from_json(const nlohmann::json& j, std::vector<std::string>* defaulted = nullptr);
  nlohmann::json to_json() const;
  void validate() const;
};

// The weights that carry LoRA adapters (spec D.3), canonical names without ".weight".
std::vector<std::string> jina_lora_targets(const JinaConfig& config);

// Every tensor of the text tower in merged form.
TensorShapes jina_tensor_shapes(const JinaConfig& config);

}  // namespace baton::models
