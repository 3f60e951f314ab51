#include "models/nextdit/dit_blocks.h"

#include "core/error.h"

namespace baton::models {

DitBlocks::DitBlocks(const NextDitConfig& config, const TensorSource& weights, int64_t begin, int64_t end,
                     const at::TensorOptions& options, WeightFormat weight_format)
    : config_(config), options_(options), begin_(begin), end_(end), rope_(config) {
  config_.validate();
  require_dit_compute_options(options_);
  require(0 <= begin && begin <= end && end <= config_.n_layers,
          "DiT block range [" + std::to_string(begin) + ", " + std::to_string(end) + ") is outside [0, " +
              std::to_string(config_.n_layers) + "]");
  for (int64_t i = begin; i < end; ++i)
    layers_.emplace_back(config_, weights, "layers." + std::to_string(i) + ".", true, options_, weight_format);
}

int64_t DitBlocks::weight_bytes() const {
  int64_t n = 0;
  for (const auto& layer : layers_) n += layer.weight_bytes();
  return n;
}

void DitBlocks::capture_cuda_graphs(size_t graphs) {
  graphs_ = graphs == 0 ? nullptr : std::make_unique<CapturedCalls>(graphs);
}

void DitBlocks::run_layers(const JointSequence& shape, at::Tensor& tokens, const at::Tensor& conditioning) const {
  const auto layout = shape.layout();
  const auto rope = rope_.joint(shape.caption_lengths, shape.grid_h, shape.grid_w, options_.device());
  const auto silu_c = at::silu(conditioning);
  for (const auto& layer : layers_) layer.forward(tokens, layout, rope, silu_c);
}

JointSequence DitBlocks::forward(const JointSequence& in) const {
  in.validate(config_);
  JointSequence seq = in;
  seq.conditioning = in.conditioning.to(options_);
  auto tokens = in.tokens.to(options_);
  if (graphs_ && tokens.is_cuda() && !layers_.empty()) {
    std::string key = "grid " + std::to_string(in.grid_h) + "x" + std::to_string(in.grid_w) + " captions";
    for (auto lc : in.caption_lengths) key += " " + std::to_string(lc);
    seq.tokens = graphs_->run(key, {tokens, seq.conditioning}, [&](const std::vector<at::Tensor>& inputs) {
      auto residual = inputs[0].clone();  // the graph's input stays as it was
      run_layers(in, residual, inputs[1]);
      return std::vector<at::Tensor>{residual};
    })[0];
    return seq;
  }
  // A copy that the blocks update in place (the residual stream).
  seq.tokens = tokens.is_same(in.tokens) ? tokens.clone() : tokens;
  if (!layers_.empty()) run_layers(in, seq.tokens, seq.conditioning);
  return seq;
}

}  // namespace baton::models
