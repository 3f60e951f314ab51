#include "sampling/flow_match_schedule.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"

namespace baton::sampling {
namespace {
double shifted(double sigma, double shift) { return shift * sigma / (1.0 + (shift - 1.0) * sigma); }
}  // namespace

FlowMatchSchedule::FlowMatchSchedule(int64_t steps, double shift, int64_t train_timesteps)
    : train_timesteps_(train_timesteps) {
  if (steps < 1) throw UsageError("steps must be at least 1 (got " + std::to_string(steps) + ")");
  if (steps > 10000) throw UsageError("steps must be at most 10000 (got " + std::to_string(steps) + ")");
  if (!(shift > 0)) throw UsageError("shift must be positive (got " + std::to_string(shift) + ")");
  if (train_timesteps < 2) throw Error("train_timesteps must be at least 2");
  const double T = static_cast<double>(train_timesteps);
  // Training sigmas j/T for j = T..1, shifted once: their ends bound the grid.
  // diffusers builds them in float32; round the same way.
  const double sigma_max = static_cast<float>(shifted(static_cast<float>(T / T), shift));
  const double sigma_min = static_cast<float>(shifted(static_cast<float>(1.0 / T), shift));
  sigmas_.reserve(static_cast<size_t>(steps) + 1);
  for (int64_t k = 0; k < steps; ++k) {
    // linspace(sigma_max*T, sigma_min*T, n) / T, then shifted again (spec B.3).
    const double a = sigma_max * T, b = sigma_min * T;
    const double tau = steps == 1 ? a : a + (b - a) * static_cast<double>(k) / static_cast<double>(steps - 1);
    sigmas_.push_back(shifted(tau / T, shift));
  }
  sigmas_.push_back(0.0);
}

std::vector<double> FlowMatchSchedule::timesteps() const {
  std::vector<double> t;
  for (int64_t k = 0; k < steps(); ++k) t.push_back(sigmas_[static_cast<size_t>(k)] * static_cast<double>(train_timesteps_));
  return t;
}

double FlowMatchSchedule::model_time(int64_t step) const {
  if (step < 0 || step >= steps()) throw Error("step " + std::to_string(step) + " is outside the schedule");
  return 1.0 - sigmas_[static_cast<size_t>(step)];
}

at::Tensor FlowMatchSchedule::step(const at::Tensor& latent, const at::Tensor& velocity, int64_t step) const {
  if (step < 0 || step >= steps()) throw Error("step " + std::to_string(step) + " is outside the schedule");
  const double dt = sigmas_[static_cast<size_t>(step) + 1] - sigmas_[static_cast<size_t>(step)];
  return latent.to(at::kFloat) - velocity.to(latent.device(), at::kFloat) * dt;
}

at::Tensor seeded_noise(uint64_t seed, int64_t channels, int64_t height, int64_t width) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({1, channels, height, width}, gen, at::TensorOptions().dtype(at::kFloat));
}

}  // namespace baton::sampling
