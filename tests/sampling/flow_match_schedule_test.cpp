#include <gtest/gtest.h>

#include <cstdio>

#include "core/error.h"
#include "io/safetensors_file.h"
#include "sampling/flow_match_schedule.h"
#include "tests/support/temp_dir.h"

namespace baton::sampling {

// scheduler_a: diffusers' sigmas and timesteps for four (shift, steps) pairs, within 1e-6.
TEST(FlowMatchSchedule, MatchesDiffusersGolden) {
  io::SafetensorsFile golden(test::test_data("scheduler_a.safetensors"));
  const std::pair<int, int> cases[] = {{6, 28}, {6, 10}, {3, 20}, {1, 8}};
  for (auto [shift, steps] : cases) {
    const std::string key = "shift" + std::to_string(shift) + "_steps" + std::to_string(steps);
    FlowMatchSchedule s(steps, shift);
    auto ref_sigmas = golden.load(key + ".sigmas", at::kDouble);
    auto ref_t = golden.load(key + ".timesteps", at::kDouble);
    ASSERT_EQ(ref_sigmas.numel(), steps + 1) << key;
    ASSERT_EQ(ref_t.numel(), steps) << key;
    auto t = s.timesteps();
    for (int k = 0; k <= steps; ++k)
      EXPECT_NEAR(s.sigmas()[k], ref_sigmas[k].item<double>(), 1e-6) << key << " sigma " << k;
    for (int k = 0; k < steps; ++k)
      EXPECT_NEAR(t[k] / 1000.0, ref_t[k].item<double>() / 1000.0, 1e-6) << key << " timestep " << k;
  }
}

TEST(FlowMatchSchedule, SpecExampleAndModelTime) {
  FlowMatchSchedule s(28, 6.0);
  EXPECT_NEAR(s.sigmas()[0], 1.0, 1e-7);
  EXPECT_NEAR(s.sigmas()[1], 0.99367, 1e-5);
  EXPECT_NEAR(s.sigmas()[27], 0.03478, 1e-5);
  EXPECT_EQ(s.sigmas()[28], 0.0);
  EXPECT_NEAR(s.model_time(0), 0.0, 1e-7);
  EXPECT_THROW(s.model_time(28), Error);
}

TEST(FlowMatchSchedule, EulerStepMovesAlongVelocity) {
  FlowMatchSchedule s(2, 1.0);
  auto x = at::ones({1, 2, 2, 2});
  auto v = at::full({1, 2, 2, 2}, 2.0);
  auto y = s.step(x, v, 0);
  const double dt = s.sigmas()[1] - s.sigmas()[0];
  EXPECT_NEAR(y[0][0][0][0].item<double>(), 1.0 - 2.0 * dt, 1e-6);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
}

TEST(FlowMatchSchedule, RefusesBadParameters) {
  EXPECT_THROW(FlowMatchSchedule(0, 6.0), UsageError);
  EXPECT_THROW(FlowMatchSchedule(10, 0.0), UsageError);
  EXPECT_THROW(FlowMatchSchedule(10, -1.0), UsageError);
}

// e2e_a's noise is torch.manual_seed(51); torch.randn(1,16,8,12) on the CPU.
TEST(SeededNoise, MatchesPyTorchForTheSameSeed) {
  io::SafetensorsFile golden(test::test_data("e2e_a.safetensors"));
  auto ref = golden.load("in.noise", at::kFloat);
  auto noise = seeded_noise(51, 16, 8, 12);
  EXPECT_TRUE(at::equal(noise, ref));
  EXPECT_FALSE(at::equal(seeded_noise(52, 16, 8, 12), ref));
}

}  // namespace baton::sampling
