#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors_file.h"
#include "models/gemma3/gemma3_config.h"
#include "models/jina/jina_config.h"
#include "models/nextdit/nextdit_config.h"
#include "models/vae/vae_config.h"
#include "tests/support/temp_dir.h"

namespace baton::models {
namespace {

// Every golden "weights.<prefix>*" tensor against the shapes the config predicts.
void expect_golden_shapes(const std::string& file, const std::string& prefix, const TensorShapes& expected) {
  io::SafetensorsFile f(test::test_data(file));
  size_t seen = 0;
  for (const auto& name : f.names()) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string canon = name.substr(prefix.size());
    auto it = expected.find(canon);
    ASSERT_NE(it, expected.end()) << file << ": unexpected tensor " << canon;
    EXPECT_EQ(f.shape(name), it->second) << canon;
    ++seen;
  }
  EXPECT_EQ(seen, expected.size()) << file;
}

}  // namespace

TEST(NextDitConfig, ReleasedModelHas535TensorsAnd3_49BParameters) {
  auto shapes = nextdit_tensor_shapes(NextDitConfig::released());
  EXPECT_EQ(shapes.size(), 535u);
  int64_t params = 0;
  for (const auto& kv : shapes) {
    int64_t n = 1;
    for (auto d : kv.second) n *= d;
    params += n;
  }
  EXPECT_EQ(params, 3486636096);
  EXPECT_EQ(NextDitConfig::released().ffn_hidden(), 9216);
}

TEST(NextDitConfig, GoldenConfigPredictsGoldenShapes) {
  io::SafetensorsFile f(test::test_data("dit_a.safetensors"));
  std::vector<std::string> defaulted;
  auto cfg = NextDitConfig::from_json(nlohmann::json::parse(f.metadata().at("config")), &defaulted);
  EXPECT_EQ(cfg.dim, 96);
  EXPECT_EQ(cfg.ffn_hidden(), 384);
  expect_golden_shapes("dit_a.safetensors", "weights.", nextdit_tensor_shapes(cfg));
}

TEST(NextDitConfig, RefusesInconsistentNumbers) {
  EXPECT_THROW(NextDitConfig::from_json(nlohmann::json{{"dim", 100}, {"n_heads", 24}}), Error);
  EXPECT_THROW(NextDitConfig::from_json(nlohmann::json{{"dim", "big"}}), Error);
}

TEST(Gemma3Config, ReleasedLayerPatternAndGoldenShapes) {
  auto rel = Gemma3Config::released();
  EXPECT_TRUE(rel.is_global(5));
  EXPECT_FALSE(rel.is_global(6));
  EXPECT_EQ(rel.used_layers(), 33);
  io::SafetensorsFile f(test::test_data("gemma3_a.safetensors"));
  auto cfg = Gemma3Config::from_json(nlohmann::json::parse(f.metadata().at("config")));
  EXPECT_TRUE(cfg.is_global(5));
  EXPECT_EQ(cfg.sliding_window, 6);
  expect_golden_shapes("gemma3_a.safetensors", "weights.language_model.model.", gemma3_tensor_shapes(cfg, true));
}

TEST(JinaConfig, LoraTargetsCoverEveryLinearAndEmbedding) {
  auto cfg = JinaConfig::released();
  EXPECT_EQ(jina_lora_targets(cfg).size(), 2u + 4u * 24u);
  EXPECT_EQ(jina_tensor_shapes(cfg).at("embeddings.word_embeddings.weight"), (std::vector<int64_t>{250002, 1024}));
}

TEST(VaeConfig, GoldenConfigPredictsGoldenDecoderShapes) {
  io::SafetensorsFile f(test::test_data("vae_a.safetensors"));
  auto cfg = VaeConfig::from_json(nlohmann::json::parse(f.metadata().at("config")));
  EXPECT_EQ(cfg.upscale(), 8);
  expect_golden_shapes("vae_a.safetensors", "weights.decoder.", vae_decoder_tensor_shapes(cfg));
}

}  // namespace baton::models
