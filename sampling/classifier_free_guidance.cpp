#include "sampling/classifier_free_guidance.h"

#include "core/error.h"
#include "core/tensor_source.h"

namespace baton::sampling {
namespace {

// L2 norm of each sample, shaped to broadcast over it: [B, 1, ..., 1].
at::Tensor sample_norms(const at::Tensor& v) {
  std::vector<int64_t> shape(v.dim(), 1);
  shape[0] = v.size(0);
  return v.reshape({v.size(0), -1}).pow(2).sum(1).sqrt().view(shape);
}

}  // namespace

bool guidance_active(const GuidanceParams& params, double t) { return t < params.trunc; }

at::Tensor combine_guidance(const at::Tensor& v_cond, const at::Tensor& v_uncond, const GuidanceParams& params) {
  require(v_cond.sizes() == v_uncond.sizes(), "guidance: conditional velocity " + format_shape(v_cond.sizes().vec()) +
                                                  " and unconditional " + format_shape(v_uncond.sizes().vec()) +
                                                  " differ in shape");
  const auto vc = v_cond.to(at::kFloat);
  const auto vu = v_uncond.to(at::kFloat);
  auto v = vu + (vc - vu) * params.scale;
  if (params.renorm > 0.0) {
    const auto max_norm = sample_norms(vc) * params.renorm;
    const auto norm = sample_norms(v);
    // Scale down only where the guided norm reaches the cap (and is not 0).
    const auto over = norm.ge(max_norm).logical_and(norm.gt(0));
    v = v * at::where(over, max_norm / norm, at::ones_like(norm));
  }
  return v;
}

at::Tensor guided_velocity(double t, const GuidanceParams& params,
                           const std::function<at::Tensor(bool with_uncond)>& velocities) {
  if (!guidance_active(params, t)) return velocities(false).to(at::kFloat);
  const auto both = velocities(true);
  require(both.dim() >= 1 && both.size(0) % 2 == 0,
          "guidance: expected conditional and unconditional velocities, got a batch of " +
              std::to_string(both.dim() ? both.size(0) : 0));
  const int64_t half = both.size(0) / 2;
  return combine_guidance(both.narrow(0, 0, half), both.narrow(0, half, half), params);
}

}  // namespace baton::sampling
