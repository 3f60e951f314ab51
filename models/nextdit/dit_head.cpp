#include "models/nextdit/dit_head.h"

#include <vector>

#include "models/nextdit/nextdit_block.h"

namespace baton::models {

DitHead::DitHead(const NextDitConfig& config, const TensorSource& weights, const at::TensorOptions& options)
    : config_(config), options_(options) {
  config_.validate();
  require_dit_compute_options(options_);
  const auto shapes = nextdit_tensor_shapes(config_);
  auto load = [&](const std::string& name) { return weights.load_checked(name, shapes.at(name), options_); };
  ada_w_ = load("final_layer.adaLN_modulation.1.weight");
  ada_b_ = load("final_layer.adaLN_modulation.1.bias");
  w_ = load("final_layer.linear.weight");
  b_ = load("final_layer.linear.bias");
}

at::Tensor DitHead::forward(const JointSequence& seq) const {
  seq.validate(config_);
  const int64_t batch = seq.batch(), n = seq.image_tokens(), p = config_.patch_size, channels = config_.in_channels;
  const auto tokens = seq.tokens.to(options_);
  const auto layout = seq.layout();
  // Only the image rows reach the output; caption rows are skipped here.
  std::vector<at::Tensor> rows;
  for (int64_t b = 0; b < batch; ++b) rows.push_back(tokens.narrow(0, layout.offsets[b] + seq.caption_lengths[b], n));
  auto img = (batch == 1 ? rows.front() : at::cat(rows, 0)).view({batch, n, config_.dim});
  auto scale = at::linear(at::silu(seq.conditioning.to(options_)), ada_w_, ada_b_);
  auto y = at::layer_norm(img, {config_.dim}, {}, {}, 1e-6) * (scale + 1.0).unsqueeze(1);
  auto out = at::linear(y, w_, b_);  // [B, N, p*p*C]
  // out[b, c, i*p + dh, j*p + dw] = y[b, i*Wt + j, (dh*p + dw)*C + c]
  return out.view({batch, seq.grid_h, seq.grid_w, p, p, channels})
      .permute({0, 5, 1, 3, 2, 4})
      .reshape({batch, channels, seq.grid_h * p, seq.grid_w * p})
      .to(at::kFloat);
}

int64_t DitHead::weight_bytes() const {
  return static_cast<int64_t>(ada_w_.nbytes() + ada_b_.nbytes() + w_.nbytes() + b_.nbytes());
}

}  // namespace baton::models
