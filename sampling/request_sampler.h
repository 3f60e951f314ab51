#pragma once
// The denoising loop of one request (spec B.5) as a small state machine, so a
// pipeline can spread a step over stages: whoever runs the DiT asks what the
// current step needs (t, whether the unconditional branch runs), and whoever
// ends the DiT hands back the velocities; guidance and the Euler step happen here.
#include <ATen/ATen.h>

#include "sampling/classifier_free_guidance.h"
#include "sampling/flow_match_schedule.h"
#include "sampling/generation_request.h"

namespace baton::sampling {

class RequestSampler {
 public:
  // Starts from the request's seeded noise (float32, CPU), latent_channels wide;
  // the first advance() moves the state to the velocities' device for good.
  RequestSampler(const GenerationRequest& request, int64_t latent_channels = 16);

  bool done() const { return step_ >= schedule_.steps(); }
  int64_t step() const { return step_; }
  int64_t steps() const { return schedule_.steps(); }
  // Data time fed to the DiT at the current step (1 - sigma).
  double model_time() const { return schedule_.model_time(step_); }
  // The unconditional branch runs at this step (t < cfg_trunc).
  bool with_uncond() const { return guidance_active(guidance_, model_time()); }
  // The state [1, C, h, w], float32, on the CPU until the first step and then
  // on the device that computes the velocities.
  const at::Tensor& latent() const { return latent_; }
  const GuidanceParams& guidance() const { return guidance_; }

  // velocities: [1, ...] (cond only) or [2, ...] (cond, uncond) as with_uncond()
  // said; any device/dtype. Applies guidance, takes the Euler step, moves on.
  void advance(const at::Tensor& velocities);

 private:
  FlowMatchSchedule schedule_;
  GuidanceParams guidance_;
  at::Tensor latent_;
  int64_t step_ = 0;
};

}  // namespace baton::sampling
