#include <gtest/gtest.h>

#include <cmath>

#include "core/torch_compat.h"

namespace baton {

// Attention against a direct per-head loop, with GQA and a key mask.
TEST(TorchCompat, GroupedAttentionMatchesPerHeadLoop) {
  at::manual_seed(3);
  const int64_t B = 2, Hq = 6, Hkv = 2, S = 5, D = 8;
  auto q = at::randn({B, Hq, S, D});
  auto k = at::randn({B, Hkv, S, D});
  auto v = at::randn({B, Hkv, S, D});
  auto mask = at::ones({B, S}, at::kBool);
  mask[1][3] = false;
  mask[1][4] = false;
  const double scale = 1.0 / std::sqrt(double(D));
  auto out = compat::attention(q, k, v, mask, scale);
  ASSERT_EQ(out.sizes(), q.sizes());
  for (int64_t b = 0; b < B; ++b) {
    const int64_t valid = b == 0 ? S : 3;
    for (int64_t h = 0; h < Hq; ++h) {
      auto kh = k[b][h / 3].slice(0, 0, valid);
      auto vh = v[b][h / 3].slice(0, 0, valid);
      auto ref = at::softmax(at::matmul(q[b][h], kh.t()) * scale, -1).matmul(vh);
      EXPECT_TRUE(at::allclose(out[b][h], ref, 1e-5, 1e-6)) << "b=" << b << " h=" << h;
    }
  }
}

TEST(TorchCompat, RmsNormComputesInFloatAndRoundsOnce) {
  auto x = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 4});
  auto w = at::tensor({1.0f, 0.5f, 2.0f, 1.0f});
  auto y = compat::rms_norm(x, w, 1e-5);
  const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
  EXPECT_NEAR(y[0][0].item<float>(), 1.0 / rms, 1e-6);
  EXPECT_NEAR(y[0][1].item<float>(), 1.0 / rms, 1e-6);
  EXPECT_NEAR(y[0][2].item<float>(), 6.0 / rms, 1e-6);
  auto yb = compat::rms_norm(x.to(at::kBFloat16), w.to(at::kBFloat16), 1e-5);
  EXPECT_EQ(yb.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::allclose(yb.to(at::kFloat), y, 1e-2, 1e-2));
}

}  // namespace baton
