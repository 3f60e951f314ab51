#pragma once
// The last DiT stage piece ("head"): final layer (LayerNorm without affine,
// eps 1e-6, scale modulation, linear; spec A.11.6) on the image tokens only,
// then unpatchify (A.11.7) to the velocity.
#include <ATen/ATen.h>

#include "core/tensor_source.h"
#include "models/nextdit/joint_sequence.h"
#include "models/nextdit/nextdit_config.h"

namespace baton::models {

class DitHead {
 public:
  // Loads final_layer.* only.
  DitHead(const NextDitConfig& config, const TensorSource& weights, const at::TensorOptions& options);

  // The velocity v = x_data - x_noise [B, C, Ht*p, Wt*p] in float32.
  at::Tensor forward(const JointSequence& seq) const;

  // Bytes of the weights this piece holds (always dense: the final layer is small).
  int64_t weight_bytes() const;

 private:
  NextDitConfig config_;
  at::TensorOptions options_;
  at::Tensor ada_w_, ada_b_, w_, b_;
};

}  // namespace baton::models
