#pragma once
// The Jina CLIP v2 text tower as NewBie uses it (spec D.2): XLM-RoBERTa with
// rotate-half rotary, post-LayerNorm blocks, exact GELU, and the mean of the
// last hidden state over non-pad tokens; no projection, no normalisation.
#include <ATen/ATen.h>

#include <vector>

#include "core/tensor_source.h"
#include "models/jina/jina_config.h"

namespace baton::models {

class JinaTextModel {
 public:
  // Loads every tensor of the tower from `weights` (canonical names; LoRA-
  // parametrized names are merged at load, spec D.3) onto options' device in
  // options' dtype. Throws Error for a missing or misshapen tensor.
  JinaTextModel(const JinaConfig& config, const TensorSource& weights, const at::TensorOptions& options);
  ~JinaTextModel();
  JinaTextModel(JinaTextModel&&) noexcept;
  JinaTextModel& operator=(JinaTextModel&&) noexcept;

  const JinaConfig& config() const { return config_; }
  at::Device device() const { return options_.device(); }
  at::ScalarType dtype() const { return options_.dtype().toScalarType(); }
  int64_t weight_bytes() const;

  // input_ids [B, L] (XLM-R ids; pad id = config.pad_token_id marks padding,
  // whatever the tokenizer's mask said) -> last hidden state [B, L, hidden].
  at::Tensor last_hidden_state(const at::Tensor& input_ids) const;
  // Mean of the last hidden state over non-pad tokens: [B, hidden], float32.
  at::Tensor pooled(const at::Tensor& input_ids) const;

 private:
  struct Layer;
  JinaConfig config_;
  at::TensorOptions options_;
  at::Tensor word_embeddings_, token_type_row_, emb_ln_w_, emb_ln_b_;
  std::vector<Layer> layers_;
};

}  // namespace baton::models
