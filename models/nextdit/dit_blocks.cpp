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

JointSequence DitBlocks::forward(const JointSequence& in) const {
  in.validate(config_);
  JointSequence seq = in;
  // A copy that the blocks update in place (the residual stream).
  seq.tokens = in.tokens.to(options_, /*non_blocking=*/false, /*copy=*/true);
  seq.conditioning = in.conditioning.to(options_);
  if (layers_.empty()) return seq;
  const auto layout = seq.layout();
  const auto rope = rope_.joint(seq.caption_lengths, seq.grid_h, seq.grid_w, options_.device());
  const auto silu_c = at::silu(seq.conditioning);
  for (const auto& layer : layers_) layer.forward(seq.tokens, layout, rope, silu_c);
  return seq;
}

}  // namespace baton::models
