#pragma once
// The golden pipeline of the coordinator tests: DiT stages with the dit_a
// weights, a text stage that hands out the e2e_a captions, and a "VAE" that
// returns the final latent's bytes, so a run's images are latents to compare.
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/local_stage_network.h"
#include "coordinator/request_runner.h"
#include "core/error.h"
#include "io/safetensors_file.h"
#include "tests/support/temp_dir.h"

namespace baton::coordinator {

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
  std::vector<std::unique_ptr<worker::StageWorker>> workers(const std::vector<std::pair<int64_t, int64_t>>& splits,
                                                            bool split_branches = false) {
    std::vector<std::unique_ptr<worker::StageWorker>> out;
    const int64_t n = static_cast<int64_t>(splits.size());
    for (int64_t i = 0; i < n; ++i) {
      auto w = std::make_unique<worker::StageWorker>(worker::PipelineShape{n, split_branches});
      worker::DitStageRange range{splits[i].first, splits[i].second, i == 0, i == n - 1};
      w->host_dit(i, std::make_shared<worker::DitStage>(config, weights, range, at::kFloat));
      if (i == 0) w->host_text(std::make_shared<GoldenText>(e2e));
      if (i == n - 1) w->host_vae(std::make_shared<LatentKeeper>());
      out.push_back(std::move(w));
    }
    return out;
  }
  std::unique_ptr<LocalStageNetwork> network(const std::vector<std::pair<int64_t, int64_t>>& splits,
                                             bool split_branches = false) {
    return std::make_unique<LocalStageNetwork>(workers(splits, split_branches));
  }
};

struct Results {
  std::map<uint64_t, at::Tensor> latents;
  std::map<uint64_t, std::string> errors;
  std::map<uint64_t, int64_t> last_step;
};

// Runs the runner dry; the "PNG" of a Done event is the [1, 16, 8, 12] latent.
inline Results drain(RequestRunner& runner) {
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

}  // namespace baton::coordinator
