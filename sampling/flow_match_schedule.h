#pragma once
// The flow-matching Euler schedule of diffusers' FlowMatchEulerDiscreteScheduler
// (spec B.3, non-dynamic shift), driven as spec B.5 recommends: the DiT sees
// data time t = 1 - sigma and the update is x += (sigma_{k+1} - sigma_k) * (-v).
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace baton::sampling {

class FlowMatchSchedule {
 public:
  // `steps` >= 1; `shift` > 0 (6.0 for NewBie); `train_timesteps` T (1000).
  FlowMatchSchedule(int64_t steps, double shift = 6.0, int64_t train_timesteps = 1000);

  int64_t steps() const { return static_cast<int64_t>(sigmas_.size()) - 1; }
  // steps + 1 values from 1.0 down to the last shifted sigma, then 0.
  const std::vector<double>& sigmas() const { return sigmas_; }
  // sigma_k * T for k < steps (what diffusers calls timesteps).
  std::vector<double> timesteps() const;
  // Data time fed to the DiT at step k: 1 - sigma_k.
  double model_time(int64_t step) const;
  // One Euler step on the float32 state: x + (sigma_{k+1} - sigma_k) * (-velocity).
  at::Tensor step(const at::Tensor& latent, const at::Tensor& velocity, int64_t step) const;

 private:
  std::vector<double> sigmas_;
  int64_t train_timesteps_;
};

// Standard normal noise [1, channels, h, w] from a CPU generator seeded with
// `seed`: the same numbers as torch.manual_seed(seed); torch.randn(...) on the
// CPU, so the same seed gives the same image on any device or partition.
at::Tensor seeded_noise(uint64_t seed, int64_t channels, int64_t height, int64_t width);

}  // namespace baton::sampling
