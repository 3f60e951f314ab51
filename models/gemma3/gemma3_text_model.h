#pragma once
// The Gemma3 text model as NewBie uses it (spec C.2, C.3): embedding and
// decoder layers up to hidden_states[-2], i.e. the raw output of layer
// used_layers() - 1. The last layer and the final norm are never loaded.
// A model holds one contiguous range of layers, so the encoder can be split
// over devices: [0, a) (with the embedding) then [a, used_layers()).
#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "core/tensor_source.h"
#include "core/weight_format.h"
#include "models/gemma3/gemma3_config.h"
#include "models/quantization/linear_weight.h"

namespace baton::models {

// Layers [begin, end) of the text model; end = -1 means used_layers().
struct Gemma3LayerRange {
  int64_t begin = 0;
  int64_t end = -1;
};

class Gemma3TextModel {
 public:
  // Loads the layers of `range` (and the embedding when range.begin == 0) from
  // `weights` (canonical names: "embed_tokens.weight", "layers.{i}....") onto
  // options' device in options' dtype (the compute dtype). An 8-bit
  // `weight_format` stores the embedding and the layers' q/k/v, o, gate/up and
  // down matrices in 8 bits (models/quantization). Throws Error for a range
  // outside [0, used_layers()] or a missing/misshapen tensor.
  Gemma3TextModel(const Gemma3Config& config, const TensorSource& weights, const at::TensorOptions& options,
                  Gemma3LayerRange range = {}, WeightFormat weight_format = WeightFormat::kFp32);
  ~Gemma3TextModel();
  Gemma3TextModel(Gemma3TextModel&&) noexcept;
  Gemma3TextModel& operator=(Gemma3TextModel&&) noexcept;

  const Gemma3Config& config() const { return config_; }
  int64_t begin_layer() const { return begin_; }
  int64_t end_layer() const { return end_; }
  bool has_embedding() const { return begin_ == 0; }
  at::Device device() const { return options_.device(); }
  at::ScalarType dtype() const { return options_.dtype().toScalarType(); }
  // Bytes of the weights this piece holds.
  int64_t weight_bytes() const;

  // input_ids [B, L] int64 -> the scaled embedding [B, L, hidden] in the compute
  // dtype. Only the piece that starts at layer 0 has it.
  at::Tensor embed(const at::Tensor& input_ids) const;
  // Runs this piece's layers over hidden [B, L, hidden]; attention_mask [B, L]
  // is 1 for real tokens, 0 for padding, right padded (positions are 0..L-1).
  at::Tensor run_layers(const at::Tensor& hidden, const at::Tensor& attention_mask) const;
  // embed + run_layers; for the whole range this is hidden_states[-2].
  // Rows past a sequence's mask are don't-care.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) const;

 private:
  struct Layer;
  Gemma3Config config_;
  at::TensorOptions options_;
  int64_t begin_ = 0, end_ = 0;
  LinearWeight embed_tokens_;
  double embed_scale_ = 1.0;
  std::vector<Layer> layers_;
};

}  // namespace baton::models
