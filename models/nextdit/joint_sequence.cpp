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

JointSequence::Message JointSequence::to_message() const {
  return {{{"tokens", tokens}, {"conditioning", conditioning}},
          {{"caption_lengths", caption_lengths}, {"grid", {grid_h, grid_w}}}};
}

JointSequence JointSequence::from_message(const std::map<std::string, at::Tensor>& tensors,
                                          const nlohmann::json& layout) {
  const std::string what = "DiT joint sequence: ";
  auto get = [&](const std::string& name) {
    auto it = tensors.find(name);
    require(it != tensors.end() && it->second.defined(), what + "tensor '" + name + "' is missing");
    return it->second;
  };
  // A few small integers: anything else is a malformed message.
  constexpr size_t kMaxSamples = 64;
  auto integers = [&](const char* key, size_t min_count, size_t max_count) {
    require(layout.is_object() && layout.contains(key) && layout[key].is_array(),
            what + "the message's layout has no '" + key + "' list");
    const auto& list = layout[key];
    require(list.size() >= min_count && list.size() <= max_count,
            what + "'" + key + "' has " + std::to_string(list.size()) + " entries, expected " +
                std::to_string(min_count) + (min_count == max_count ? "" : " to " + std::to_string(max_count)));
    std::vector<int64_t> values;
    for (const auto& v : list) {
      require(v.is_number_integer() && v.get<int64_t>() >= 1, what + "'" + key + "' holds " + v.dump() +
                                                                   ", expected positive integers");
      values.push_back(v.get<int64_t>());
    }
    return values;
  };
  JointSequence seq;
  seq.caption_lengths = integers("caption_lengths", 1, kMaxSamples);
  const auto grid = integers("grid", 2, 2);
  seq.grid_h = grid[0];
  seq.grid_w = grid[1];
  seq.tokens = get("tokens");
  seq.conditioning = get("conditioning");
  return seq;
}

}  // namespace baton::models
