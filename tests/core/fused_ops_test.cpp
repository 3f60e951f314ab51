// core/fused_ops: on CUDA (the GPU host's ctest) each kernel against the
// libtorch ops it replaces, in bf16 and float32; on the CPU it is never used.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/fused_ops.h"
#include "core/tensor_metrics.h"
#include "core/torch_compat.h"

namespace baton {
namespace {

bool kernels_here() { return fused::compiled_in() && at::hasCUDA(); }

// The unfused reference: float32 statistics and weight, one rounding.
at::Tensor norm_ref(const at::Tensor& x, const at::Tensor& w, double eps) {
  auto xf = x.to(at::kFloat);
  return (xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps) * w.to(at::kFloat)).to(x.scalar_type());
}

// Tolerance of a comparison in `dtype`: bf16 results may differ in the last bit.
double tolerance(at::ScalarType dtype) { return dtype == at::kFloat ? 1e-6 : 4e-3; }

TEST(FusedOps, AreNeverUsedForCpuTensors) {
  const auto x = at::ones({4, 8});
  EXPECT_FALSE(fused::available(x));
  EXPECT_FALSE(fused::available(at::Tensor()));
  const bool before = fused::enabled();
  fused::set_enabled(false);
  EXPECT_FALSE(fused::enabled());
  fused::set_enabled(before);
  if (!fused::compiled_in()) {
    auto y = x.clone();
    EXPECT_THROW(fused::silu_mul_(y, x), Error);
  }
}

class FusedOnCuda : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override {
    if (!kernels_here()) GTEST_SKIP() << "needs CUDA and baton's kernels (runs in the GPU host's ctest)";
    fused::set_enabled(true);
  }
  at::TensorOptions opts() const { return at::TensorOptions().device(at::kCUDA, 0).dtype(GetParam()); }
};

TEST_P(FusedOnCuda, RmsNormRowsUsesEachSamplesWeight) {
  const double eps = 1e-5;
  const auto x = at::randn({300, 2304}, opts()) * 3;
  const auto w = at::randn({2, 2304}, opts());
  const auto got = fused::rms_norm_rows(x, {200, 300}, w, eps);
  const auto want = at::cat({norm_ref(x.narrow(0, 0, 200), w[0], eps), norm_ref(x.narrow(0, 200, 100), w[1], eps)});
  EXPECT_LT(relative_l2_error(got, want), tolerance(GetParam()));
  // One weight for all rows, and a weight row taken from a wider tensor (strided).
  const auto shared = at::randn({2304}, opts());
  EXPECT_LT(relative_l2_error(fused::rms_norm_rows(x, {300}, shared, eps), norm_ref(x, shared, eps)),
            tolerance(GetParam()));
  const auto wide = at::randn({2, 4, 2304}, opts());
  const auto strided = wide.select(1, 2);
  EXPECT_LT(relative_l2_error(fused::rms_norm_rows(x, {100, 300}, strided, eps),
                              at::cat({norm_ref(x.narrow(0, 0, 100), strided[0], eps),
                                       norm_ref(x.narrow(0, 100, 200), strided[1], eps)})),
            tolerance(GetParam()));
  EXPECT_THROW(fused::rms_norm_rows(x, {100, 200}, w, eps), Error);  // the rows must end at 300
}

TEST_P(FusedOnCuda, AddRmsNormRowsAddsTheRoundedNorm) {
  const double eps = 1e-5;
  auto x = at::randn({257, 768}, opts());
  const auto y = at::randn({257, 768}, opts()) * 5;
  const auto w = at::randn({2, 768}, opts());
  auto want = x.clone();
  want.narrow(0, 0, 57).add_(norm_ref(y.narrow(0, 0, 57), w[0], eps));
  want.narrow(0, 57, 200).add_(norm_ref(y.narrow(0, 57, 200), w[1], eps));
  fused::add_rms_norm_rows_(x, y, {57, 257}, w, eps);
  EXPECT_LT(relative_l2_error(x, want), tolerance(GetParam()));
}

TEST_P(FusedOnCuda, SiluMulGatesInPlace) {
  auto a = at::randn({1000, 613}, opts()) * 4;
  const auto b = at::randn({1000, 613}, opts());
  auto want = at::silu(a) * b;
  fused::silu_mul_(a, b);
  EXPECT_LT(relative_l2_error(a, want), tolerance(GetParam()));
}

TEST_P(FusedOnCuda, QkNormRopeNormsWeightsAndRotatesEveryHead) {
  const int64_t rows = 77, q_heads = 6, k_heads = 2, hd = 96;
  const double eps = 1e-5;
  const auto qk = at::randn({rows, q_heads + k_heads, hd}, opts()) * 2;
  const auto weight = at::randn({q_heads + k_heads, hd}, opts().dtype(at::kFloat));
  const auto angles = at::randn({rows, hd / 2}, opts().dtype(at::kFloat)) * 3;
  const auto cis = at::polar(at::ones_like(angles), angles);
  const auto [q, k] = fused::qk_norm_rope(qk, q_heads, weight, cis, eps);
  // The unfused path: norm rounded to the dtype, weight and rotation in float32, rounded again.
  auto qf = norm_ref(qk, at::ones({hd}, opts()), eps).to(at::kFloat) * weight;
  auto pairs = at::view_as_complex(qf.view({rows, q_heads + k_heads, hd / 2, 2}));
  pairs.mul_(cis.unsqueeze(1));
  const auto want = qf.to(GetParam());
  EXPECT_EQ(q.sizes(), (std::vector<int64_t>{rows, q_heads, hd}));
  EXPECT_EQ(k.sizes(), (std::vector<int64_t>{rows, k_heads, hd}));
  EXPECT_LT(relative_l2_error(q, want.narrow(1, 0, q_heads)), tolerance(GetParam()));
  EXPECT_LT(relative_l2_error(k, want.narrow(1, q_heads, k_heads)), tolerance(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedOnCuda, ::testing::Values(at::kBFloat16, at::kFloat),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

}  // namespace
}  // namespace baton
