#include "models/nextdit/nextdit_rope.h"

#include "core/error.h"

namespace baton::models {
namespace {

constexpr size_t kCachedShapes = 8;

std::string cache_key(int part, const std::vector<int64_t>& lengths, int64_t h, int64_t w, const at::Device& device) {
  std::string key = std::to_string(part) + "|" + device.str() + "|" + std::to_string(h) + "x" + std::to_string(w) + "|";
  for (auto n : lengths) key += std::to_string(n) + ",";
  return key;
}

}  // namespace

NextDitRope::NextDitRope(const NextDitConfig& config) : axes_lens_(config.axes_lens) {
  for (size_t a = 0; a < config.axes_dims.size(); ++a) {
    const int64_t d = config.axes_dims[a];
    auto freqs = at::pow(config.rope_theta, at::arange(0, d, 2, at::kDouble).div(d)).reciprocal();
    auto positions = at::arange(config.axes_lens[a], at::kDouble);
    auto angles = at::outer(positions, freqs).to(at::kFloat);
    axes_.push_back(at::polar(at::ones_like(angles), angles));
  }
}

at::Tensor NextDitRope::build(Part part, const std::vector<int64_t>& caption_lengths, int64_t grid_h,
                              int64_t grid_w) const {
  const bool with_image = part != Part::kCaptions;
  if (with_image) {
    require(grid_h >= 1 && grid_w >= 1, "latent grid " + std::to_string(grid_h) + "x" + std::to_string(grid_w) +
                                            " is empty");
    require(grid_h <= axes_lens_[1] && grid_w <= axes_lens_[2],
            "latent grid " + std::to_string(grid_h) + "x" + std::to_string(grid_w) +
                " exceeds the RoPE tables of the model (" + std::to_string(axes_lens_[1]) + "x" +
                std::to_string(axes_lens_[2]) + " patches)",
            "generate a smaller image");
  }
  std::vector<int64_t> pos;  // (axis0, axis1, axis2) per row
  for (auto lc : caption_lengths) {
    require(lc >= 1 && lc < axes_lens_[0], "caption length " + std::to_string(lc) + " is outside [1, " +
                                               std::to_string(axes_lens_[0] - 1) + "] that the RoPE tables cover",
            "shorten the prompt");
    if (part != Part::kImage)
      for (int64_t k = 0; k < lc; ++k) pos.insert(pos.end(), {k, 0, 0});
    if (with_image)
      for (int64_t i = 0; i < grid_h; ++i)
        for (int64_t j = 0; j < grid_w; ++j) pos.insert(pos.end(), {lc, i, j});
  }
  const int64_t rows = static_cast<int64_t>(pos.size() / 3);
  auto ids = at::from_blob(pos.data(), {rows, 3}, at::kLong).clone();
  std::vector<at::Tensor> parts;
  for (size_t a = 0; a < axes_.size(); ++a) parts.push_back(axes_[a].index_select(0, ids.select(1, a)));
  return at::cat(parts, 1);
}

at::Tensor NextDitRope::tables(Part part, const std::vector<int64_t>& caption_lengths, int64_t grid_h, int64_t grid_w,
                               const at::Device& device) const {
  const auto key = cache_key(static_cast<int>(part), caption_lengths, grid_h, grid_w, device);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->first != key) continue;
    cache_.splice(cache_.begin(), cache_, it);
    return cache_.front().second;
  }
  auto built = build(part, caption_lengths, grid_h, grid_w).to(device);
  cache_.emplace_front(key, built);
  if (cache_.size() > kCachedShapes) cache_.pop_back();
  return built;
}

at::Tensor NextDitRope::captions(const std::vector<int64_t>& caption_lengths, const at::Device& device) const {
  return tables(Part::kCaptions, caption_lengths, 0, 0, device);
}

at::Tensor NextDitRope::image(const std::vector<int64_t>& caption_lengths, int64_t grid_h, int64_t grid_w,
                              const at::Device& device) const {
  return tables(Part::kImage, caption_lengths, grid_h, grid_w, device);
}

at::Tensor NextDitRope::joint(const std::vector<int64_t>& caption_lengths, int64_t grid_h, int64_t grid_w,
                              const at::Device& device) const {
  return tables(Part::kJoint, caption_lengths, grid_h, grid_w, device);
}

void apply_rope_(at::Tensor& x, const at::Tensor& cis) {
  // Interleaved pairs as complex numbers (GPT-J style, not rotate-half).
  auto pairs = at::view_as_complex(x.view({x.size(0), x.size(1), x.size(2) / 2, 2}));
  pairs.mul_(cis.unsqueeze(1));
}

}  // namespace baton::models
