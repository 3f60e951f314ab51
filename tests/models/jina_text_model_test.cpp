#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor_metrics.h"
#include "io/safetensors_file.h"
#include "models/jina/jina_text_model.h"
#include "tests/models/recording_source.h"
#include "tests/support/error_message.h"
#include "tests/support/golden_models.h"

namespace baton::models {
namespace {

using test::error_of;

const at::TensorOptions kF32 = at::TensorOptions().dtype(at::kFloat);

using Golden = test::JinaGolden;

// The golden weights with every LoRA pair folded in by hand (spec D.3), under
// the plain names of a merged checkpoint.
TensorMap merged_by_hand(const Golden& g) {
  TensorMap out;
  for (const auto& name : g.weights.names()) {
    const auto cut = name.find(".parametrizations.weight.");
    if (cut == std::string::npos) {
      out.insert(name, g.weights.load(name, kF32));
      continue;
    }
    if (name.compare(name.size() - 9, 9, ".original") != 0) continue;
    const std::string module = name.substr(0, cut);
    auto w = g.weights.load(name, kF32);
    auto a = g.weights.load(module + ".parametrizations.weight.0.lora_A", kF32)[0];
    auto b = g.weights.load(module + ".parametrizations.weight.0.lora_B", kF32)[0];
    const bool embedding = module.rfind("embeddings.", 0) == 0;
    out.insert(module + ".weight", embedding ? w + at::matmul(a, b) : w + at::matmul(b, a));
  }
  return out;
}

}  // namespace

TEST(JinaTextModel, GoldenPooledFromLoraParametrizedWeights) {
  Golden g;
  EXPECT_EQ(g.config.hidden_size, 64);
  JinaTextModel model(g.config, g.weights, kF32);
  auto pooled = model.pooled(g.ids);
  ASSERT_EQ(pooled.sizes(), g.ref.sizes());
  EXPECT_EQ(pooled.scalar_type(), at::kFloat);
  EXPECT_LT(relative_l2_error(pooled, g.ref), 1e-4);
  // The adapters matter: without them the result is far off.
  TensorMap no_lora;
  for (const auto& name : g.weights.names()) {
    const auto cut = name.find(".parametrizations.weight.original");
    if (cut != std::string::npos)
      no_lora.insert(name.substr(0, cut) + ".weight", g.weights.load(name, kF32));
    else if (name.find(".parametrizations.") == std::string::npos)
      no_lora.insert(name, g.weights.load(name, kF32));
  }
  EXPECT_GT(relative_l2_error(JinaTextModel(g.config, no_lora, kF32).pooled(g.ids), g.ref), 1e-3);
}

TEST(JinaTextModel, MergedCheckpointGivesTheSameVector) {
  Golden g;
  TensorMap merged = merged_by_hand(g);
  test::RecordingSource rec(merged);
  JinaTextModel model(g.config, rec, kF32);
  EXPECT_EQ(rec.loaded().size(), jina_tensor_shapes(g.config).size());
  EXPECT_LT(relative_l2_error(model.pooled(g.ids), g.ref), 1e-4);
}

TEST(JinaTextModel, PaddingComesFromThePadIdOnly) {
  Golden g;
  JinaTextModel model(g.config, g.weights, kF32);
  // More pad tokens on the right change nothing; the pooled mean skips them.
  auto longer = at::cat({g.ids, at::full({2, 5}, 1, at::kLong)}, 1);
  EXPECT_LT(relative_l2_error(model.pooled(longer), g.ref), 1e-5);
  // Row by row gives the same as the batch.
  for (int64_t b = 0; b < 2; ++b)
    EXPECT_LT(relative_l2_error(model.pooled(g.ids.narrow(0, b, 1)), g.ref.narrow(0, b, 1)), 1e-5);
}

TEST(JinaTextModel, RefusesBadInputsWithAClearError) {
  Golden g;
  JinaTextModel model(g.config, g.weights, kF32);
  auto ids = g.ids.clone();
  ids[1][0] = 200;
  EXPECT_NE(error_of([&] { model.pooled(ids); }).find("token ids must be in [0, 200)"), std::string::npos);
  EXPECT_NE(error_of([&] { model.pooled(at::zeros({0, 3}, at::kLong)); }).find("empty batch"), std::string::npos);
  EXPECT_NE(error_of([&] { model.pooled(at::ones({1, 4}, at::kLong)); }).find("only of pad tokens"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.pooled(at::zeros({4}, at::kLong)); }).find("[batch, length]"), std::string::npos);
}

TEST(JinaTextModel, MisshapenLoraFactorNamesTheTensor) {
  Golden g;
  auto cfg = g.config;
  cfg.lora_rank = 8;
  const std::string msg = error_of([&] { JinaTextModel(cfg, g.weights, kF32); });
  EXPECT_NE(msg.find("embeddings.word_embeddings.parametrizations.weight.0.lora_A has shape [1, 200, 4], expected "
                     "[1, 200, 8]"),
            std::string::npos)
      << msg;
}

}  // namespace baton::models
