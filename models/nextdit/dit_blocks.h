#pragma once
// A DiT stage piece: the main blocks [begin, end) (spec A.11.5) on a joint sequence.
#include <ATen/ATen.h>

#include <vector>

#include "core/tensor_source.h"
#include "models/nextdit/joint_sequence.h"
#include "models/nextdit/nextdit_block.h"
#include "models/nextdit/nextdit_config.h"
#include "models/nextdit/nextdit_rope.h"

namespace baton::models {

class DitBlocks {
 public:
  // Loads layers.{begin..end-1}.* only. 0 <= begin <= end <= n_layers. The
  // blocks' linear layers are stored in `weight_format` when it is 8-bit.
  DitBlocks(const NextDitConfig& config, const TensorSource& weights, int64_t begin, int64_t end,
            const at::TensorOptions& options, WeightFormat weight_format = WeightFormat::kFp32);

  // Runs the blocks on a copy of `in` (moved to this piece's device and dtype);
  // `in` itself is left as it was.
  JointSequence forward(const JointSequence& in) const;

  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  // Bytes of the weights this piece holds.
  int64_t weight_bytes() const;

 private:
  NextDitConfig config_;
  at::TensorOptions options_;
  int64_t begin_, end_;
  NextDitRope rope_;
  std::vector<NextDitBlock> layers_;
};

}  // namespace baton::models
