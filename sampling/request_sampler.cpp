#include "sampling/request_sampler.h"

#include "core/error.h"
#include "core/tensor_source.h"

namespace baton::sampling {

RequestSampler::RequestSampler(const GenerationRequest& request, int64_t latent_channels)
    : schedule_(request.steps, request.shift),
      guidance_{request.cfg_scale, request.cfg_trunc, request.renorm_cfg},
      latent_(seeded_noise(request.seed, latent_channels, request.latent_height(), request.latent_width())) {}

void RequestSampler::advance(const at::Tensor& velocities) {
  if (done()) throw Error("request sampler: every step has already been taken");
  const int64_t expected = with_uncond() ? 2 : 1;
  require(velocities.dim() == latent_.dim() && velocities.size(0) == expected &&
              velocities.sizes().slice(1) == latent_.sizes().slice(1),
          "request sampler: step " + std::to_string(step_) + " expected velocities of " + std::to_string(expected) +
              " sample(s) shaped like " + format_shape(latent_.sizes().vec()) + ", got " +
              format_shape(velocities.sizes().vec()));
  // The state follows the velocities to their device and stays there: no copy
  // to the host (and so no wait for the GPU) between steps.
  const auto v = velocities.to(at::kFloat);
  if (latent_.device() != v.device()) latent_ = latent_.to(v.device());
  const auto guided = expected == 2 ? combine_guidance(v.narrow(0, 0, 1), v.narrow(0, 1, 1), guidance_) : v;
  latent_ = schedule_.step(latent_, guided, step_);
  ++step_;
}

}  // namespace baton::sampling
