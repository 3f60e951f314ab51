#pragma once
// Classifier-free guidance as the reference's forward_with_cfg does it (spec
// A.12), on the two velocities in float32:
//   t <  trunc: v = v_u + scale (v_c - v_u), and with renorm > 0 the guided
//               norm is capped at renorm * ||v_c|| (L2 over each sample);
//   t >= trunc: v = v_c, the unconditional branch is not run at all.
// t is the data time (0 = noise), so guidance acts on the noisy part.
#include <ATen/ATen.h>

#include <functional>

namespace baton::sampling {

struct GuidanceParams {
  double scale = 1.0;   // cfg_scale
  double trunc = 1.0;   // cfg_trunc: guide only while t < trunc (1.0 = always)
  double renorm = 0.0;  // renorm_cfg: 0 = off
};

// True when the unconditional branch runs at data time t (t < trunc).
bool guidance_active(const GuidanceParams& params, double t);

// The guided velocity [B, ...] float32 from v_cond and v_uncond [B, ...]
// (renorm per sample, without host syncs).
at::Tensor combine_guidance(const at::Tensor& v_cond, const at::Tensor& v_uncond, const GuidanceParams& params);

// forward_with_cfg over a model: `velocities(with_uncond)` returns the
// velocities of the B conditional samples, followed by the B unconditional
// ones when with_uncond is true ([2B, ...] or [B, ...]). Returns v [B, ...] float32.
at::Tensor guided_velocity(double t, const GuidanceParams& params,
                           const std::function<at::Tensor(bool with_uncond)>& velocities);

}  // namespace baton::sampling
