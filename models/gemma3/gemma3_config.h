#pragma once
// Gemma3 text model hyperparameters (spec C.1) and its tensors (spec C.5,
// canonical names: "embed_tokens.weight", "layers.{i}....", "norm.weight").
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/nextdit/nextdit_config.h"  // TensorShapes

namespace baton::models {

struct Gemma3Config {
  int64_t hidden_size = 2560;
  int64_t num_hidden_layers = 34;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 4;
  int64_t head_dim = 256;
  int64_t intermediate_size = 10240;
  int64_t vocab_size = 262208;
  double rms_norm_eps = 1e-6;
  double query_pre_attn_scalar = 256;
  int64_t sliding_window = 1024;
  // One entry per layer: true = global (full) attention, false = sliding window.
  std::vector<bool> global_layers;
  double rope_theta = 1e6;             // global layers
  double rope_scaling_factor = 8.0;    // linear scaling of the global table
  double rope_local_base_freq = 1e4;   // local layers
  int64_t pad_token_id = 0;
  int64_t bos_token_id = 2;

  // NewBie uses hidden_states[-2]: the output of layer num_hidden_layers - 2.
  // Layers [0, used_layers()) run and load; the last layer and the norm never do.
  int64_t used_layers() const { return num_hidden_layers - 1; }
  bool is_global(int64_t layer) const { return global_layers.at(static_cast<size_t>(layer)); }

  // Gemma-3-4B-it's text model.
  static Gemma3Config released();
  // Reads a Gemma3 config.json: a multimodal one (text_config inside) or a text one.
  // Layer kinds come from `layer_types` or else `sliding_window_pattern` (6).
  static Gemma3Config from_json(const nlohmann::json& j, std::vector<std::string>* defaulted = nullptr);
  nlohmann::json to_json() const;
  void validate() const;
};

// Tensors of layers [0, used_layers()) and the embedding; with `include_unused`
// also the last layer and the final norm (what a full checkpoint holds).
TensorShapes gemma3_tensor_shapes(const Gemma3Config& config, bool include_unused = false);

}  // namespace baton::models
