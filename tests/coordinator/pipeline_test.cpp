#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "coordinator/local_stage_network.h"
#include "coordinator/request_runner.h"
#include "core/error.h"
#include "core/tensor_metrics.h"
#include "io/safetensors_file.h"
#include "tests/support/temp_dir.h"

namespace baton::coordinator {
namespace {

// The e2e_a captions for every prompt; "fail" makes the text stage fail.
class GoldenText : public worker::TextEncoding {
 public:
  explicit GoldenText(const io::SafetensorsFile& e2e) : e2e_(e2e) {}
  std::pair<worker::CaptionInput, worker::CaptionInput> encode(const sampling::GenerationRequest& r) override {
    if (r.prompt == "fail") throw Error("cannot encode this prompt");
    return {branch(0), branch(1)};
  }

 private:
  worker::CaptionInput branch(int64_t row) const {
    auto feats = e2e_.load("in.cap_feats", at::kFloat)[row];
    const int64_t len = e2e_.load("in.cap_mask", at::kLong)[row].sum().item<int64_t>();
    return {feats.narrow(0, 0, len), e2e_.load("in.clip_text_pooled", at::kFloat)[row]};
  }
  const io::SafetensorsFile& e2e_;
};

// Keeps the final latents; the "PNG" is the latent's bytes.
class LatentKeeper : public worker::ImageDecoding {
 public:
  std::vector<uint8_t> decode_png(const at::Tensor& latent, const sampling::GenerationRequest&) override {
    auto c = latent.contiguous();
    return std::vector<uint8_t>(static_cast<const uint8_t*>(c.data_ptr()),
                                static_cast<const uint8_t*>(c.data_ptr()) + c.nbytes());
  }
};

struct Fixture {
  io::SafetensorsFile dit{test::test_data("dit_a.safetensors")};
  io::SafetensorsFile e2e{test::test_data("e2e_a.safetensors")};
  PrefixedSource weights{dit, "weights."};
  models::NextDitConfig config = models::NextDitConfig::from_json(nlohmann::json::parse(dit.metadata().at("config")));

  sampling::GenerationRequest request(uint64_t seed = 51) const {
    sampling::GenerationRequest r;
    r.prompt = "a golden prompt";
    r.steps = 6;
    r.seed = seed;
    r.height = 64;
    r.width = 96;
    return r;
  }
  // Splits: list of block ranges, one worker each; the text stage goes with
  // the first, the VAE with the last.
  std::unique_ptr<LocalStageNetwork> network(const std::vector<std::pair<int64_t, int64_t>>& splits,
                                             bool split_branches = false) {
    std::vector<std::unique_ptr<worker::StageWorker>> workers;
    const int64_t n = static_cast<int64_t>(splits.size());
    for (int64_t i = 0; i < n; ++i) {
      auto w = std::make_unique<worker::StageWorker>(worker::PipelineShape{n, split_branches});
      worker::DitStageRange range{splits[i].first, splits[i].second, i == 0, i == n - 1};
      w->host_dit(i, std::make_shared<worker::DitStage>(config, weights, range, at::kFloat));
      if (i == 0) w->host_text(std::make_shared<GoldenText>(e2e));
      if (i == n - 1) w->host_vae(std::make_shared<LatentKeeper>());
      workers.push_back(std::move(w));
    }
    return std::make_unique<LocalStageNetwork>(std::move(workers));
  }
};

struct Results {
  std::map<uint64_t, at::Tensor> latents;
  std::map<uint64_t, std::string> errors;
  std::map<uint64_t, int64_t> last_step;
};

Results drain(RequestRunner& runner) {
  Results r;
  while (!runner.idle()) {
    auto e = runner.poll(std::chrono::seconds(60));
    if (!e) continue;
    if (e->kind == RunEvent::Kind::Progress) r.last_step[e->id] = e->step;
    if (e->kind == RunEvent::Kind::Done)
      r.latents[e->id] = at::from_blob(e->png.data(), {1, 16, 8, 12}, at::kFloat).clone();
    if (e->kind == RunEvent::Kind::Failed) r.errors[e->id] = e->error;
  }
  return r;
}

}  // namespace

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
