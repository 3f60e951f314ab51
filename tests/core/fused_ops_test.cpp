// The fused Next-DiT kernels (core/fused_ops.h) against the libtorch ops they
// replace, on CUDA (the GPU host's ctest); on a CPU they must decline, so the
// callers run the libtorch ops.
#include "core/fused_ops.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/runtime_kernels.h"
#include "core/torch_compat.h"

namespace baton {
namespace {

bool has_cuda() { return RuntimeKernels::compiled_in() && at::hasCUDA(); }

// Every element within 1/64 relative (two bf16 ulps) plus `absolute`, and most
// identical: the fused kernels round where libtorch rounds and differ only in
// the order of a sum of squares. A rotation (RoPE) can cancel an operand's
// ulp into a result near 0, hence the absolute part there.
void expect_bf16_close(const at::Tensor& got, const at::Tensor& want, double identical_at_least,
                       double absolute = 1e-3) {
  ASSERT_EQ(got.sizes(), want.sizes());
  ASSERT_EQ(got.scalar_type(), at::kBFloat16);
  const auto g = got.to(at::kCPU, at::kFloat), w = want.to(at::kCPU, at::kFloat);
  const auto diff = (g - w).abs();
  const auto bound = w.abs() / 64.0 + absolute;
  EXPECT_TRUE(diff.le(bound).all().item<bool>()) << "max difference " << diff.max().item<float>();
  const double identical = g.eq(w).to(at::kDouble).mean().item<double>();
  EXPECT_GE(identical, identical_at_least);
}

TEST(FusedOps, DeclineOnTheCpuAndWhenTurnedOff) {
  const auto qk = at::randn({5, 3, 8}).to(at::kBFloat16);
  EXPECT_FALSE(fused::available(qk));
  EXPECT_FALSE(fused::qk_norm_rope(qk, at::ones({3, 8}), at::ones({5, 4}, at::kComplexFloat), 2, 1e-5).has_value());
  auto a = at::randn({4, 8}).to(at::kBFloat16);
  const auto before = a.clone();
  EXPECT_FALSE(fused::silu_mul_(a, a.clone()));
  EXPECT_TRUE(a.equal(before));  // untouched: the caller runs silu_ and mul_
  EXPECT_FALSE(fused::rms_norm_rows(a, at::ones({1, 8}, at::kBFloat16), {4}, 1e-6).has_value());
  EXPECT_FALSE(fused::add_rms_norm_rows_(a, a.clone(), at::ones({1, 8}, at::kBFloat16), {4}, 1e-6));
  EXPECT_TRUE(a.equal(before));
  if (has_cuda()) {
    fused::set_enabled(false);
    EXPECT_FALSE(fused::available(qk.to(at::kCUDA)));
    fused::set_enabled(true);
    EXPECT_TRUE(fused::available(qk.to(at::kCUDA)));
  }
}

TEST(RuntimeKernels, RefuseToLaunchOnTheCpuWithAClearError) {
  const RuntimeKernels kernels("test_kernels", "extern \"C\" __global__ void noop() {}", {"noop"});
  try {
    kernels.launch(at::Device(at::kCPU), "noop", 1, 1, {});
    FAIL() << "launched on the CPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runtime kernels run on CUDA devices, not cpu"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(kernels.launches(), 0);
}

TEST(FusedOps, QkNormRopeMatchesTheLibtorchOpsOnCuda) {
  if (!has_cuda()) GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  const int64_t rows = 301, q_heads = 24, k_heads = 8, hd = 96;
  const auto cuda = at::TensorOptions().device(at::kCUDA, 0);
  const auto qk = (at::randn({rows, q_heads + k_heads, hd}, cuda) * 3.0).to(at::kBFloat16);
  const auto weight = at::rand({q_heads + k_heads, hd}, cuda) + 0.5;
  const auto cis = at::polar(at::ones({rows, hd / 2}, cuda), at::rand({rows, hd / 2}, cuda) * 6.3);
  const double eps = 1e-5;
  const auto fused = fused::qk_norm_rope(qk, weight, cis, q_heads, eps);
  ASSERT_TRUE(fused.has_value());
  // What NextDitBlock::attention runs without the kernel.
  auto ref = compat::rms_norm(qk, at::Tensor(), eps) * weight;
  at::view_as_complex(ref.view({rows, q_heads + k_heads, hd / 2, 2})).mul_(cis.unsqueeze(1));
  // Normalised values are O(1) (bf16 ulp 1/128 near 1) times weights below 1.5.
  expect_bf16_close(fused->first, ref.narrow(1, 0, q_heads).to(at::kBFloat16), 0.95, 0.03);
  expect_bf16_close(fused->second, ref.narrow(1, q_heads, k_heads).to(at::kBFloat16), 0.95, 0.03);
  EXPECT_TRUE(fused->first.is_contiguous() && fused->second.is_contiguous());
  // A head dim the kernel does not take: declined, not wrong.
  EXPECT_FALSE(fused::qk_norm_rope(at::zeros({2, 3, 512}, cuda.dtype(at::kBFloat16)), at::ones({3, 512}, cuda),
                                   at::ones({2, 256}, cuda.dtype(at::kComplexFloat)), 2, eps)
                   .has_value());
}

TEST(FusedOps, SiluMulMatchesSiluThenMulOnCuda) {
  if (!has_cuda()) GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  const auto cuda = at::TensorOptions().device(at::kCUDA, 0).dtype(at::kBFloat16);
  auto a = (at::randn({517, 96}, cuda.dtype(at::kFloat)) * 4.0).to(at::kBFloat16);
  const auto b = at::randn({517, 96}, cuda);
  auto want = a.clone();
  at::silu_(want);
  want.mul_(b);
  ASSERT_TRUE(fused::silu_mul_(a, b));
  expect_bf16_close(a, want, 0.999);
  auto odd = at::randn({7}, cuda);
  EXPECT_FALSE(fused::silu_mul_(odd, odd.clone()));  // not a multiple of 8: the caller's ops
}

TEST(FusedOps, RowNormsWithAWeightPerSampleMatchTheLibtorchOpsOnCuda) {
  if (!has_cuda()) GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  const auto cuda = at::TensorOptions().device(at::kCUDA, 0);
  const int64_t d = 2304;
  const std::vector<int64_t> lengths{137, 64};
  const std::vector<int64_t> ends{137, 201};
  const auto x = (at::randn({201, d}, cuda) * 2.0).to(at::kBFloat16);
  const auto y = at::randn({201, d}, cuda).to(at::kBFloat16);
  // Per-sample weight rows with a stride between samples, as the block's [B, 2, 2, D] modulation gives them.
  const auto all = (at::rand({2, 2, 2, d}, cuda) + 0.5).to(at::kBFloat16);
  const auto w = all.select(1, 1).select(1, 0);
  const double eps = 1e-6;
  auto per_sample = [&](const at::Tensor& in, int64_t b) {
    return compat::rms_norm(in.narrow(0, b == 0 ? 0 : ends[0], lengths[b]), w.select(0, b), eps);
  };
  const auto normed = fused::rms_norm_rows(x, w, ends, eps);
  ASSERT_TRUE(normed.has_value());
  expect_bf16_close(*normed, at::cat({per_sample(x, 0), per_sample(x, 1)}), 0.95);
  auto sum = x.clone();
  ASSERT_TRUE(fused::add_rms_norm_rows_(sum, y, w, ends, eps));
  const auto want = x + at::cat({per_sample(y, 0), per_sample(y, 1)});
  expect_bf16_close(sum, want, 0.95);
  // Rows that do not add up to the samples: declined.
  EXPECT_FALSE(fused::rms_norm_rows(x, w, {137, 200}, eps).has_value());
}

}  // namespace
}  // namespace baton
