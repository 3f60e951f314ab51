#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor_metrics.h"
#include "io/safetensors_file.h"
#include "sampling/request_sampler.h"
#include "tests/support/temp_dir.h"
#include "worker/dit_stage.h"

namespace baton::worker {
namespace {

struct E2eFixture {
  io::SafetensorsFile dit{test::test_data("dit_a.safetensors")};
  io::SafetensorsFile e2e{test::test_data("e2e_a.safetensors")};
  PrefixedSource weights{dit, "weights."};
  models::NextDitConfig config =
      models::NextDitConfig::from_json(nlohmann::json::parse(dit.metadata().at("config")));
  sampling::GenerationRequest request() const {
    auto c = nlohmann::json::parse(e2e.metadata().at("config"));
    sampling::GenerationRequest r;
    r.steps = c["steps"];
    r.shift = c["shift"];
    r.cfg_scale = c["cfg_scale"];
    r.cfg_trunc = c["cfg_trunc"];
    r.renorm_cfg = c["renorm_cfg"];
    r.seed = c["seed"];
    r.height = c["latent_hw"][0].get<int64_t>() * 8;
    r.width = c["latent_hw"][1].get<int64_t>() * 8;
    return r;
  }
  CaptionInput branch(int64_t row) const {
    auto feats = e2e.load("in.cap_feats", at::kFloat)[row];
    auto mask = e2e.load("in.cap_mask", at::kLong)[row];
    const int64_t len = mask.sum().item<int64_t>();
    return {feats.narrow(0, 0, len), e2e.load("in.clip_text_pooled", at::kFloat)[row]};
  }
};

// Runs a whole request through a chain of stages, as the pipeline does.
at::Tensor sample(std::vector<DitStage*> stages, const E2eFixture& f) {
  sampling::RequestSampler sampler(f.request());
  stages.front()->start_request(7, f.branch(0), f.branch(1));
  while (!sampler.done()) {
    const auto branches = sampler.with_uncond() ? std::vector<int64_t>{0, 1} : std::vector<int64_t>{0};
    auto seq = stages.front()->embed_step(7, sampler.latent(), sampler.model_time(), branches);
    for (auto* s : stages) seq = s->run_blocks(seq);
    sampler.advance(stages.back()->finish_step(seq));
  }
  stages.front()->end_request(7);
  return sampler.latent();
}

}  // namespace

// e2e_a: six guided steps of the reference sampler, final latent within 1e-4.
TEST(DitStage, WholeRequestMatchesReferenceSamplerLatent) {
  E2eFixture f;
  DitStage whole(f.config, f.weights, {0, f.config.n_layers, true, true}, at::kFloat);
  auto latent = sample({&whole}, f);
  auto ref = f.e2e.load("out.latent", at::kFloat);
  EXPECT_LT(relative_l2_error(latent, ref.view(latent.sizes())), 1e-4);
  EXPECT_EQ(whole.requests_in_flight(), 0u);
}

// Embed + blocks [0,1) on one stage, [1,3) + head on another: bit for bit the same.
TEST(DitStage, SplitStagesEqualOneStageBitForBit) {
  E2eFixture f;
  DitStage whole(f.config, f.weights, {0, f.config.n_layers, true, true}, at::kFloat);
  DitStage first(f.config, f.weights, {0, 1, true, false}, at::kFloat);
  DitStage last(f.config, f.weights, {1, f.config.n_layers, false, true}, at::kFloat);
  EXPECT_TRUE(at::equal(sample({&whole}, f), sample({&first, &last}, f)));
}

TEST(DitStage, RefusesMisuse) {
  E2eFixture f;
  DitStage middle(f.config, f.weights, {1, 2, false, false}, at::kFloat);
  EXPECT_THROW(middle.start_request(1, f.branch(0), f.branch(1)), Error);
  EXPECT_THROW(DitStage(f.config, f.weights, {2, 9, false, false}, at::kFloat), Error);
  DitStage first(f.config, f.weights, {0, 1, true, false}, at::kFloat);
  EXPECT_THROW(first.embed_step(99, at::zeros({1, 16, 8, 12}), 0.5, {0, 1}), Error);
  auto bad = f.branch(0);
  bad.features = at::zeros({3, 7});
  EXPECT_THROW(first.start_request(1, bad, f.branch(1)), Error);
}

}  // namespace baton::worker
