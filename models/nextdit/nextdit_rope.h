#pragma once
// Three-axis rotary position embedding of the Next-DiT (spec A.8).
// Positions: caption token k -> (k, 0, 0); image token (i, j) -> (Lc, i, j),
// Lc = that sample's caption length. Angles are computed in float64, rounded to
// float32, and turned into complex64 factors, like the reference's tables.
#include <ATen/ATen.h>

#include <list>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "models/nextdit/nextdit_config.h"

namespace baton::models {

class NextDitRope {
 public:
  explicit NextDitRope(const NextDitConfig& config);

  // complex64 factors [rows, head_dim / 2] on `device`, one row per token of a
  // packed layout (samples one after the other):
  // the caption rows of every sample (context refiner),
  at::Tensor captions(const std::vector<int64_t>& caption_lengths, const at::Device& device) const;
  // the image tokens of every sample (noise refiner),
  at::Tensor image(const std::vector<int64_t>& caption_lengths, int64_t grid_h, int64_t grid_w,
                   const at::Device& device) const;
  // caption rows then image tokens of every sample (the joint sequence).
  at::Tensor joint(const std::vector<int64_t>& caption_lengths, int64_t grid_h, int64_t grid_w,
                   const at::Device& device) const;

 private:
  enum class Part { kCaptions, kImage, kJoint };
  at::Tensor tables(Part part, const std::vector<int64_t>& caption_lengths, int64_t grid_h, int64_t grid_w,
                    const at::Device& device) const;
  at::Tensor build(Part part, const std::vector<int64_t>& caption_lengths, int64_t grid_h, int64_t grid_w) const;

  std::vector<int64_t> axes_lens_;
  std::vector<at::Tensor> axes_;  // per axis: complex64 [axes_lens[a], axes_dims[a] / 2] on the CPU
  // A few recent shapes (cond+uncond pair, each branch alone) stay on the device,
  // so a denoising step builds and uploads nothing.
  mutable std::mutex mutex_;
  mutable std::list<std::pair<std::string, at::Tensor>> cache_;
};

// Rotates the adjacent pairs (x[2m], x[2m+1]) of the last dimension of the
// float32 tensor `x` [S, heads, head_dim] in place by `cis` [S, head_dim / 2].
void apply_rope_(at::Tensor& x, const at::Tensor& cis);

}  // namespace baton::models
