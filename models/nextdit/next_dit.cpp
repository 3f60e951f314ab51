#include "models/nextdit/next_dit.h"

namespace baton::models {

NextDit::NextDit(const NextDitConfig& config, const TensorSource& weights, const at::TensorOptions& options,
                 WeightFormat weight_format)
    : embed_(config, weights, options, weight_format),
      blocks_(config, weights, 0, config.n_layers, options, weight_format),
      head_(config, weights, options) {}

at::Tensor NextDit::forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& cap_feats,
                            const at::Tensor& cap_mask, const at::Tensor& clip_pooled) const {
  return forward(x, t, clip_pooled, embed_.encode_captions(cap_feats, cap_mask));
}

at::Tensor NextDit::forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& clip_pooled,
                            const CaptionTokens& captions) const {
  return head_.forward(blocks_.forward(embed_.forward(x, t, clip_pooled, captions)));
}

}  // namespace baton::models
