#include "worker/dit_stage.h"

#include "core/error.h"
#include "core/tensor_source.h"

namespace baton::worker {

DitStage::DitStage(const models::NextDitConfig& config, const TensorSource& weights, DitStageRange range,
                   const at::TensorOptions& options, WeightFormat weight_format)
    : config_(config), range_(range), options_(options), weight_format_(weight_format) {
  require(range.begin >= 0 && range.begin <= range.end && range.end <= config.n_layers,
          "DiT stage: block range [" + std::to_string(range.begin) + ", " + std::to_string(range.end) +
              ") is outside the model's " + std::to_string(config.n_layers) + " blocks");
  load_weights(weights);
}

void DitStage::load_weights(const TensorSource& weights) {
  if (loaded_) return;
  if (range_.embed) embed_.emplace(config_, weights, options_, weight_format_);
  if (range_.end > range_.begin) {
    blocks_.emplace(config_, weights, range_.begin, range_.end, options_, weight_format_);
    blocks_->capture_cuda_graphs(cuda_graphs_);
  }
  if (range_.head) head_.emplace(config_, weights, options_);
  loaded_ = true;
}

void DitStage::capture_cuda_graphs(size_t graphs) {
  cuda_graphs_ = graphs;
  if (blocks_) blocks_->capture_cuda_graphs(graphs);
}

void DitStage::drop_weights() {
  embed_.reset();
  blocks_.reset();
  head_.reset();
  loaded_ = false;
}

void DitStage::require_loaded() const {
  require(loaded_, "DiT stage: its weights are not loaded (the device is encoding prompts)");
}

void DitStage::start_request(uint64_t request_id, const CaptionInput& cond, const CaptionInput& uncond) {
  require_loaded();
  require(embed_.has_value(), "DiT stage: only the first stage encodes captions");
  const int64_t width = config_.cap_feat_dim;
  for (const auto* in : {&cond, &uncond}) {
    require(in->features.dim() == 2 && in->features.size(1) == width && in->features.size(0) >= 1,
            "DiT stage: caption features must be [Lc >= 1, " + std::to_string(width) + "], got " +
                format_shape(in->features.sizes().vec()));
    require(in->pooled.dim() == 1 && in->pooled.size(0) == config_.clip_text_dim,
            "DiT stage: pooled text vector must be [" + std::to_string(config_.clip_text_dim) + "], got " +
                format_shape(in->pooled.sizes().vec()));
  }
  // Right-pad both branches to one [2, L, width] batch with a mask: the embed
  // piece drops the padding again (it packs real rows only).
  const int64_t lc = cond.features.size(0), lu = uncond.features.size(0), L = std::max(lc, lu);
  auto feats = at::zeros({2, L, width}, options_);
  auto mask = at::zeros({2, L}, at::TensorOptions().dtype(at::kLong).device(options_.device()));
  feats[0].narrow(0, 0, lc).copy_(cond.features);
  feats[1].narrow(0, 0, lu).copy_(uncond.features);
  mask[0].narrow(0, 0, lc).fill_(1);
  mask[1].narrow(0, 0, lu).fill_(1);
  RequestCaptions rc{embed_->encode_captions(feats, mask),
                     at::stack({cond.pooled, uncond.pooled}).to(options_)};
  captions_[request_id] = std::move(rc);
}

models::JointSequence DitStage::embed_step(uint64_t request_id, const at::Tensor& latent, double t,
                                           const std::vector<int64_t>& branches) const {
  require_loaded();
  require(embed_.has_value(), "DiT stage: only the first stage starts a step");
  auto it = captions_.find(request_id);
  require(it != captions_.end(), "DiT stage: request " + std::to_string(request_id) + " was never started");
  require(!branches.empty() && branches.size() <= 2, "DiT stage: a step runs one or two branches");
  for (auto b : branches) require(b == 0 || b == 1, "DiT stage: branch must be 0 (cond) or 1 (uncond)");
  const int64_t batch = static_cast<int64_t>(branches.size());
  require(latent.dim() == 4 && latent.size(0) == 1, "DiT stage: latent must be [1, C, h, w], got " +
                                                        format_shape(latent.sizes().vec()));
  auto x = latent.to(options_).expand({batch, latent.size(1), latent.size(2), latent.size(3)}).contiguous();
  auto tt = at::full({batch}, t, at::TensorOptions().dtype(at::kFloat).device(options_.device()));
  const auto& rc = it->second;
  // Narrow views, not an index tensor: an index would be copied from the host,
  // a wait for the GPU in every step.
  std::vector<at::Tensor> pooled;
  for (auto b : branches) pooled.push_back(rc.pooled.narrow(0, b, 1));
  return embed_->forward(x, tt, pooled.size() == 1 ? pooled[0] : at::cat(pooled, 0), rc.tokens.select(branches));
}

models::JointSequence DitStage::run_blocks(const models::JointSequence& in) const {
  require_loaded();
  if (!blocks_) return in;
  return blocks_->forward(in);
}

at::Tensor DitStage::finish_step(const models::JointSequence& seq) const {
  require_loaded();
  require(head_.has_value(), "DiT stage: only the last stage computes velocities");
  return head_->forward(seq);
}

void DitStage::end_request(uint64_t request_id) { captions_.erase(request_id); }

}  // namespace baton::worker
