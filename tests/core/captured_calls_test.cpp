// CapturedCalls: on the CPU a plain call; on CUDA (the GPU host's ctest) the
// first call of a shape captures a graph and later ones replay it with their
// own inputs, giving what the call itself gives.
#include <gtest/gtest.h>

#include "core/captured_calls.h"
#include "core/error.h"

namespace baton {
namespace {

std::vector<at::Tensor> affine_relu(const std::vector<at::Tensor>& in) {
  return {at::relu(at::matmul(in[0], in[1])) + 1.0};
}

bool cuda_here() { return CapturedCalls::supported(at::Device(at::kCUDA, 0)) && at::hasCUDA(); }

TEST(CapturedCalls, OnTheCpuRunsTheCallAndCapturesNothing) {
  CapturedCalls graphs(2);
  const auto x = at::arange(6, at::kFloat).view({2, 3}) - 2.0;
  const auto w = at::eye(3, at::kFloat);
  for (int i = 0; i < 3; ++i) {
    const auto out = graphs.run("affine", {x, w}, affine_relu);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].equal(at::relu(x) + 1.0));
  }
  EXPECT_EQ(graphs.captures(), 0);
  EXPECT_EQ(graphs.replays(), 0);
  EXPECT_EQ(graphs.graphs(), 0u);
}

TEST(CapturedCalls, RefusesARoomForNoGraph) { EXPECT_THROW(CapturedCalls(0), Error); }

TEST(CapturedCalls, OnCudaReplaysTheCapturedCallWithNewInputs) {
  if (!cuda_here()) GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  const auto f32 = at::TensorOptions().device(at::kCUDA, 0).dtype(at::kFloat);
  CapturedCalls graphs(4);
  const auto w = at::randn({64, 32}, f32);
  const auto x1 = at::randn({16, 64}, f32), x2 = at::randn({16, 64}, f32);
  const auto first = graphs.run("affine", {x1, w}, affine_relu)[0];
  EXPECT_EQ(graphs.captures(), 1);
  EXPECT_EQ(graphs.replays(), 0);
  EXPECT_TRUE(first.equal(affine_relu({x1, w})[0]));

  auto second = graphs.run("affine", {x2, w}, affine_relu)[0];
  EXPECT_EQ(graphs.replays(), 1);
  EXPECT_TRUE(second.equal(affine_relu({x2, w})[0])) << "a replay computes from the new inputs";
  second.fill_(-7);  // a replay's output is the caller's: changing it changes no later replay
  EXPECT_TRUE(graphs.run("affine", {x1, w}, affine_relu)[0].equal(affine_relu({x1, w})[0]));
  EXPECT_EQ(graphs.replays(), 2);

  // Another shape or another key is another graph.
  const auto x3 = at::randn({8, 64}, f32);
  EXPECT_TRUE(graphs.run("affine", {x3, w}, affine_relu)[0].equal(affine_relu({x3, w})[0]));
  graphs.run("other", {x1, w}, affine_relu);
  EXPECT_EQ(graphs.captures(), 3);
  EXPECT_EQ(graphs.graphs(), 3u);
  EXPECT_FALSE(graphs.disabled());
}

TEST(CapturedCalls, OnCudaKeepsOnlyTheMostRecentGraphs) {
  if (!cuda_here()) GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  const auto f32 = at::TensorOptions().device(at::kCUDA, 0).dtype(at::kFloat);
  CapturedCalls graphs(1);
  const auto w = at::randn({32, 32}, f32);
  const auto a = at::randn({4, 32}, f32), b = at::randn({8, 32}, f32);
  for (const auto& x : {a, b, a}) EXPECT_TRUE(graphs.run("f", {x, w}, affine_relu)[0].equal(affine_relu({x, w})[0]));
  EXPECT_EQ(graphs.captures(), 3);  // b pushed a out, a pushed b out
  EXPECT_EQ(graphs.replays(), 0);
  EXPECT_EQ(graphs.graphs(), 1u);
}

TEST(CapturedCalls, OnCudaACallThatSynchronisesTurnsGraphsOff) {
  if (!cuda_here()) GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  const auto f32 = at::TensorOptions().device(at::kCUDA, 0).dtype(at::kFloat);
  CapturedCalls graphs(2);
  auto syncing = [](const std::vector<at::Tensor>& in) {
    const double total = in[0].sum().item<double>();  // a host read: not capturable
    return std::vector<at::Tensor>{in[0] * total};
  };
  const auto x = at::ones({4}, f32);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(graphs.run("sync", {x}, syncing)[0].equal(at::full({4}, 4.0, f32)));
  EXPECT_TRUE(graphs.disabled());
  EXPECT_EQ(graphs.captures(), 0);
}

}  // namespace
}  // namespace baton
