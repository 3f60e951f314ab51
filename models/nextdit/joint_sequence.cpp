#include "models/nextdit/joint_sequence.h"

#include "core/error.h"
#include "core/tensor_source.h"

namespace baton::models {

CaptionTokens CaptionTokens::select(const std::vector<int64_t>& which) const {
  const auto spans = layout();
  CaptionTokens out;
  std::vector<at::Tensor> parts;
  for (auto b : which) {
    require(b >= 0 && b < batch(), "caption sample " + std::to_string(b) + " does not exist (batch of " +
                                       std::to_string(batch()) + ")");
    parts.push_back(tokens.narrow(0, spans.offsets[b], spans.lengths[b]));
    out.lengths.push_back(lengths[b]);
  }
  require(!parts.empty(), "selecting no caption samples");
  out.tokens = parts.size() == 1 ? parts.front() : at::cat(parts, 0);
  return out;
}

TokenLayout JointSequence::layout() const {
  std::vector<int64_t> rows;
  for (auto lc : caption_lengths) rows.push_back(lc + image_tokens());
  return TokenLayout::packed(rows);
}

void JointSequence::validate(const NextDitConfig& config) const {
  const std::string what = "DiT joint sequence: ";
  require(batch() >= 1, what + "no samples");
  require(grid_h >= 1 && grid_w >= 1, what + "latent grid " + std::to_string(grid_h) + "x" + std::to_string(grid_w) +
                                          " is empty");
  for (auto lc : caption_lengths) require(lc >= 1, what + "a caption length is " + std::to_string(lc) + ", expected >= 1");
  require(tokens.defined() && tokens.dim() == 2 && tokens.size(1) == config.dim,
          what + "tokens have shape " + (tokens.defined() ? format_shape(tokens.sizes().vec()) : "(none)") +
              ", expected [rows, " + std::to_string(config.dim) + "]");
  require(tokens.size(0) == layout().total_rows(),
          what + "tokens have " + std::to_string(tokens.size(0)) + " rows, but the caption lengths and the " +
              std::to_string(grid_h) + "x" + std::to_string(grid_w) + " grid make " +
              std::to_string(layout().total_rows()));
  require(conditioning.defined() && conditioning.dim() == 2 && conditioning.size(0) == batch() &&
              conditioning.size(1) == config.adaln_dim(),
          what + "conditioning has shape " +
              (conditioning.defined() ? format_shape(conditioning.sizes().vec()) : "(none)") + ", expected [" +
              std::to_string(batch()) + ", " + std::to_string(config.adaln_dim()) + "]");
}

std::map<std::string, at::Tensor> JointSequence::to_tensors() const {
  auto lengths = at::tensor(caption_lengths, at::kLong);
  auto grid = at::tensor(std::vector<int64_t>{grid_h, grid_w}, at::kLong);
  return {{"tokens", tokens}, {"conditioning", conditioning}, {"caption_lengths", lengths}, {"grid", grid}};
}

JointSequence JointSequence::from_tensors(const std::map<std::string, at::Tensor>& tensors) {
  auto get = [&](const std::string& name) {
    auto it = tensors.find(name);
    require(it != tensors.end() && it->second.defined(), "DiT joint sequence: tensor '" + name + "' is missing");
    return it->second;
  };
  JointSequence seq;
  seq.tokens = get("tokens");
  seq.conditioning = get("conditioning");
  auto lengths = get("caption_lengths").to(at::kCPU, at::kLong).contiguous();
  auto grid = get("grid").to(at::kCPU, at::kLong).contiguous();
  require(lengths.dim() == 1, "DiT joint sequence: caption_lengths must be a vector");
  require(grid.dim() == 1 && grid.numel() == 2, "DiT joint sequence: grid must hold 2 values (Ht, Wt)");
  seq.caption_lengths.assign(lengths.data_ptr<int64_t>(), lengths.data_ptr<int64_t>() + lengths.numel());
  seq.grid_h = grid.data_ptr<int64_t>()[0];
  seq.grid_w = grid.data_ptr<int64_t>()[1];
  return seq;
}

}  // namespace baton::models
