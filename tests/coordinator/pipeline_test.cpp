#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "coordinator/request_runner.h"
#include "core/tensor_metrics.h"
#include "tests/coordinator/golden_pipeline.h"

namespace baton::coordinator {

TEST(Pipeline, OneWorkerMakesTheReferenceLatent) {
  Fixture f;
  auto net = f.network({{0, 3}});
  RequestRunner runner(*net, 2);
  const auto id = runner.submit(f.request());
  auto r = drain(runner);
  ASSERT_EQ(r.latents.count(id), 1u) << (r.errors.count(id) ? r.errors[id] : "");
  EXPECT_LT(relative_l2_error(r.latents[id], f.e2e.load("out.latent", at::kFloat)), 1e-4);
  EXPECT_EQ(r.last_step[id], 6);
}

// Three workers, four requests in flight at once: every image equals the one-worker image.
TEST(Pipeline, ThreeStagesWithRequestsInFlightMatchOneStageBitForBit) {
  Fixture f;
  auto one = f.network({{0, 3}});
  RequestRunner single(*one, 1);
  std::vector<uint64_t> seeds = {51, 52, 53, 54};
  for (auto s : seeds) single.submit(f.request(s));
  auto reference = drain(single);
  auto three = f.network({{0, 1}, {1, 2}, {2, 3}});
  RequestRunner piped(*three, 4);
  for (auto s : seeds) piped.submit(f.request(s));
  auto got = drain(piped);
  ASSERT_EQ(got.latents.size(), 4u);
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_TRUE(at::equal(got.latents[id], reference.latents[id])) << id;
}

TEST(Pipeline, SplitBranchMicrobatchesStayWithinFloatNoise) {
  Fixture f;
  auto net = f.network({{0, 2}, {2, 3}}, /*split_branches=*/true);
  RequestRunner runner(*net, 2);
  const auto id = runner.submit(f.request());
  auto r = drain(runner);
  ASSERT_EQ(r.latents.count(id), 1u);
  EXPECT_LT(relative_l2_error(r.latents[id], f.e2e.load("out.latent", at::kFloat)), 1e-4);
}

TEST(Pipeline, AFailedRequestDoesNotStopTheOthers) {
  Fixture f;
  auto net = f.network({{0, 1}, {1, 3}});
  RequestRunner runner(*net, 3);
  auto ok1 = runner.submit(f.request());
  auto bad_request = f.request();
  bad_request.prompt = "fail";
  auto bad = runner.submit(bad_request);
  auto ok2 = runner.submit(f.request(52));
  auto r = drain(runner);
  EXPECT_EQ(r.latents.count(ok1), 1u);
  EXPECT_EQ(r.latents.count(ok2), 1u);
  ASSERT_EQ(r.errors.count(bad), 1u);
  EXPECT_NE(r.errors[bad].find("text: cannot encode this prompt"), std::string::npos) << r.errors[bad];
}

TEST(Pipeline, CancelDropsQueuedAndRunningRequests) {
  Fixture f;
  auto net = f.network({{0, 3}});
  RequestRunner runner(*net, 1);
  auto running = runner.submit(f.request());
  auto queued = runner.submit(f.request(52));
  auto kept = runner.submit(f.request(53));
  EXPECT_TRUE(runner.cancel(queued));
  runner.poll(std::chrono::milliseconds(0));  // admits the first
  EXPECT_TRUE(runner.cancel(running));
  EXPECT_FALSE(runner.cancel(running));
  EXPECT_FALSE(runner.cancel(999));
  auto r = drain(runner);
  EXPECT_EQ(r.latents.size(), 1u);
  EXPECT_EQ(r.latents.count(kept), 1u);
}

}  // namespace baton::coordinator
