#pragma once
// A DiT stage piece: the main blocks [begin, end) (spec A.11.5) on a joint sequence.
#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "core/captured_calls.h"
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

  // From now on a CUDA forward replays a CUDA graph per sequence shape (caption
  // lengths, grid), up to `graphs` of them: the first forward of a shape runs
  // and is captured, later ones replay it (core/captured_calls.h). The results
  // do not change; memory grows by one forward's intermediates (shared by the
  // graphs) plus each graph's input and output. 0 turns graphs off again.
  void capture_cuda_graphs(size_t graphs);
  // The cache in use, or nullptr when graphs are off.
  const CapturedCalls* cuda_graphs() const { return graphs_.get(); }

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
  std::unique_ptr<CapturedCalls> graphs_;

  // The layers on `tokens` (updated in place) for the sequence shape of `shape`.
  void run_layers(const JointSequence& shape, at::Tensor& tokens, const at::Tensor& conditioning) const;
};

}  // namespace baton::models
