#include "core/torch_compat.h"

#include <ATen/Context.h>

#include <cmath>

namespace baton::compat {
namespace {

// [B, Sk] or [B, Sq, Sk] -> broadcastable to [B, H, Sq, Sk].
at::Tensor mask_for_heads(const at::Tensor& key_mask) {
  if (key_mask.dim() == 3) return key_mask.unsqueeze(1);
  return key_mask.view({key_mask.size(0), 1, 1, key_mask.size(1)});
}

// Repeats kv heads so they line up with query heads; only the fallback and the
// 2.x paths without native GQA need it.
at::Tensor expand_kv(const at::Tensor& kv, int64_t groups) {
  if (groups == 1) return kv;
  return kv.repeat_interleave(groups, /*dim=*/1);
}

at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& key_mask, double scale) {
  const int64_t groups = q.size(1) / k.size(1);
  auto kf = expand_kv(k, groups).to(at::kFloat);
  auto vf = expand_kv(v, groups).to(at::kFloat);
  auto scores = at::matmul(q.to(at::kFloat), kf.transpose(-2, -1)) * scale;
  if (key_mask.defined()) {
    auto bias = at::zeros(key_mask.sizes(), scores.options())
                    .masked_fill(key_mask.logical_not(), -std::numeric_limits<float>::infinity());
    scores = scores + mask_for_heads(bias);
  }
  auto probs = at::softmax(scores, -1);
  // A query whose keys are all masked gives NaN; its output is don't-care, make it 0.
  probs = at::nan_to_num(probs, 0.0);
  return at::matmul(probs, vf).to(q.scalar_type());
}

}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& key_mask, double scale) {
#if BATON_TORCH_AT_LEAST(2, 1)
  if (q.is_cuda()) {
    std::optional<at::Tensor> mask;
    if (key_mask.defined())
      mask = mask_for_heads(key_mask);
    const int64_t groups = q.size(1) / k.size(1);
#if BATON_TORCH_AT_LEAST(2, 5)
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, scale, groups > 1);
#else
    return at::scaled_dot_product_attention(q, expand_kv(k, groups), expand_kv(v, groups), mask,
                                            0.0, false, scale);
#endif
  }
#endif
  return attention_reference(q, k, v, key_mask, scale);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
#if BATON_TORCH_AT_LEAST(2, 5)
  // One fused kernel on CUDA (float32 statistics and weight multiply, one
  // rounding); it needs the weight in x's dtype.
  if (x.is_cuda() && (!weight.defined() || weight.scalar_type() == x.scalar_type())) {
    if (weight.defined()) return at::rms_norm(x, {x.size(-1)}, weight, eps);
    return at::rms_norm(x, {x.size(-1)}, {}, eps);
  }
#endif
  auto xf = x.to(at::kFloat);
  auto y = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  if (weight.defined()) y = y * weight.to(at::kFloat);
  return y.to(x.scalar_type());
}

bool supports_compute_dtype(const at::Device& device, at::ScalarType dtype) {
  if (dtype == at::kFloat || dtype == at::kBFloat16) return true;
  if (dtype != at::kHalf) return false;
  if (device.is_cuda()) return true;
#if BATON_TORCH_AT_LEAST(2, 2)
  return device.is_cpu();
#else
  return false;
#endif
}

void set_exact_float32(bool exact) {
  // Matmuls already default to IEEE float32 ("highest"); cuDNN convolutions
  // default to TF32.
  at::globalContext().setAllowTF32CuDNN(!exact);
}

const char* torch_version() { return TORCH_VERSION; }

}  // namespace baton::compat
