#pragma once
// A DiT stage of the pipeline (design.md, Flow of one request): a contiguous
// range of the main blocks, plus the embed piece on the first stage and the
// head on the last. It owns only its slice of the weights and keeps, per
// request in flight, what the first stage computes once per request (the
// encoded captions, spec A.11.2).
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "models/nextdit/dit_blocks.h"
#include "models/nextdit/dit_embed.h"
#include "models/nextdit/dit_head.h"
#include "models/nextdit/nextdit_config.h"

namespace baton::worker {

// Which part of the DiT a stage holds.
struct DitStageRange {
  int64_t begin = 0;  // main blocks [begin, end)
  int64_t end = 0;
  bool embed = false;  // first stage: conditioning, captions, patchify, refiners
  bool head = false;   // last stage: final layer, unpatchify
};

// One branch's caption input: Gemma features of the real tokens [Lc, cap_feat_dim]
// and the pooled Jina vector [clip_text_dim].
struct CaptionInput {
  at::Tensor features;
  at::Tensor pooled;
};

class DitStage {
 public:
  // An 8-bit `weight_format` stores the blocks' linear layers (refiners
  // included) in 8 bits (models/quantization); dense formats keep options' dtype.
  DitStage(const models::NextDitConfig& config, const TensorSource& weights, DitStageRange range,
           const at::TensorOptions& options, WeightFormat weight_format = WeightFormat::kFp32);

  // A device that time-shares its text stage (docs/planning.md) drops the
  // weights while it encodes and loads them again after: the requests'
  // encoded captions stay. The model's math does not change, so the images do not.
  void drop_weights();
  void load_weights(const TensorSource& weights);  // no-op when loaded
  bool weights_loaded() const { return loaded_; }

  // CUDA graphs for this stage's blocks (models::DitBlocks::capture_cuda_graphs),
  // kept across drop_weights/load_weights.
  void capture_cuda_graphs(size_t graphs);

  const DitStageRange& range() const { return range_; }
  const at::TensorOptions& options() const { return options_; }

  // First stage: encodes the request's captions once (cond, uncond).
  void start_request(uint64_t request_id, const CaptionInput& cond, const CaptionInput& uncond);
  // First stage: one step's joint sequence for latent [1, C, h, w] at data time
  // t, for the given branches of the request (0 = cond, 1 = uncond), batched
  // in that order.
  models::JointSequence embed_step(uint64_t request_id, const at::Tensor& latent, double t,
                                   const std::vector<int64_t>& branches) const;
  // Every stage: its blocks.
  models::JointSequence run_blocks(const models::JointSequence& in) const;
  // Last stage: the velocities [B, C, h, w] float32.
  at::Tensor finish_step(const models::JointSequence& seq) const;
  // First stage: forgets the request's captions.
  void end_request(uint64_t request_id);
  size_t requests_in_flight() const { return captions_.size(); }

 private:
  void require_loaded() const;

  models::NextDitConfig config_;
  DitStageRange range_;
  at::TensorOptions options_;
  WeightFormat weight_format_;
  bool loaded_ = false;
  size_t cuda_graphs_ = 0;
  std::optional<models::DitEmbed> embed_;
  std::optional<models::DitBlocks> blocks_;
  std::optional<models::DitHead> head_;
  struct RequestCaptions {
    models::CaptionTokens tokens;  // both branches, cond first
    at::Tensor pooled;             // [2, clip_text_dim]
  };
  std::map<uint64_t, RequestCaptions> captions_;
};

}  // namespace baton::worker
