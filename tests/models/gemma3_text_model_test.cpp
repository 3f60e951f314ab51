#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor_metrics.h"
#include "io/safetensors_file.h"
#include "models/gemma3/gemma3_text_model.h"
#include "tests/models/recording_source.h"
#include "tests/support/error_message.h"
#include "tests/support/golden_models.h"

namespace baton::models {
namespace {

using test::error_of;

const at::TensorOptions kF32 = at::TensorOptions().dtype(at::kFloat);

using Golden = test::GemmaGolden;

}  // namespace

TEST(Gemma3TextModel, GoldenHiddenStatesM2OnRealRows) {
  Golden g;
  EXPECT_EQ(g.config.sliding_window, 6);
  EXPECT_DOUBLE_EQ(g.config.rope_scaling_factor, 8.0);
  Gemma3TextModel model(g.config, g.weights, kF32);
  EXPECT_EQ(model.end_layer(), 6);
  auto out = model.forward(g.ids, g.mask);
  ASSERT_EQ(out.sizes(), g.ref.sizes());
  auto real = g.mask.to(at::kBool);
  EXPECT_EQ(real.sum().item<int64_t>(), 13 + 5);
  const double err = relative_l2_error(out.index({real}), g.ref.index({real}));
  EXPECT_LT(err, 1e-4);
  // The short row really depends on its own tokens only: its 5 real rows match too.
  EXPECT_LT(relative_l2_error(out[1].narrow(0, 0, 5), g.ref[1].narrow(0, 0, 5)), 1e-4);
}

TEST(Gemma3TextModel, TwoLayerRangesComposeToTheWholeBitForBit) {
  Golden g;
  Gemma3TextModel whole(g.config, g.weights, kF32);
  auto expected = whole.forward(g.ids, g.mask);
  for (int64_t split : {1, 3, 5}) {
    Gemma3TextModel first(g.config, g.weights, kF32, {0, split});
    Gemma3TextModel second(g.config, g.weights, kF32, {split, -1});
    EXPECT_TRUE(first.has_embedding());
    EXPECT_FALSE(second.has_embedding());
    auto h = second.run_layers(first.forward(g.ids, g.mask), g.mask);
    EXPECT_TRUE(at::equal(h, expected)) << "split at layer " << split;
    EXPECT_EQ(first.weight_bytes() + second.weight_bytes(), whole.weight_bytes());
  }
}

TEST(Gemma3TextModel, NeverLoadsTheLastLayerOrTheFinalNorm) {
  Golden g;
  test::RecordingSource rec(g.weights);
  Gemma3TextModel model(g.config, rec, kF32);
  const auto expected = gemma3_tensor_shapes(g.config);  // embedding + layers 0..5
  EXPECT_EQ(rec.loaded().size(), expected.size());
  for (const auto& kv : expected) EXPECT_EQ(rec.loaded().count(kv.first), 1u) << kv.first;
  for (const auto& name : rec.loaded()) {
    EXPECT_NE(name.rfind("layers.6.", 0), 0u) << name;
    EXPECT_NE(name, "norm.weight");
  }
  // A piece loads only its own layers, and the embedding only if it starts at 0.
  test::RecordingSource rec2(g.weights);
  Gemma3TextModel piece(g.config, rec2, kF32, {2, 4});
  for (const auto& name : rec2.loaded())
    EXPECT_TRUE(name.rfind("layers.2.", 0) == 0 || name.rfind("layers.3.", 0) == 0) << name;
  EXPECT_EQ(rec2.loaded().size(), 2u * 13u);
}

TEST(Gemma3TextModel, EmbeddingScaleIsRoundedInTheWeightDtype) {
  auto cfg = Gemma3Config::released();
  cfg.vocab_size = 4;
  TensorMap w;
  w.insert("embed_tokens.weight", at::ones({4, cfg.hidden_size}));
  auto ids = at::tensor(std::vector<int64_t>{3}).view({1, 1});
  Gemma3TextModel bf16(cfg, w, kF32.dtype(at::kBFloat16), {0, 0});
  EXPECT_EQ(bf16.embed(ids)[0][0][0].item<float>(), 50.5f);  // sqrt(2560) in bf16
  Gemma3TextModel f32(cfg, w, kF32, {0, 0});
  EXPECT_FLOAT_EQ(f32.embed(ids)[0][0][0].item<float>(), 50.596443f);
}

TEST(Gemma3TextModel, RefusesBadInputsWithAClearError) {
  Golden g;
  Gemma3TextModel model(g.config, g.weights, kF32);
  auto ids = g.ids.clone();
  ids[0][0] = 300;
  EXPECT_NE(error_of([&] { model.forward(ids, g.mask); }).find("token ids must be in [0, 300)"), std::string::npos);
  ids[0][0] = -1;
  EXPECT_NE(error_of([&] { model.forward(ids, g.mask); }).find("token ids must be in [0, 300)"), std::string::npos);
  auto empty = at::zeros({0, 4}, at::kLong);
  EXPECT_NE(error_of([&] { model.forward(empty, empty); }).find("empty batch"), std::string::npos);
  auto left = g.mask.flip({1});
  EXPECT_NE(error_of([&] { model.forward(g.ids, left); }).find("not right padded"), std::string::npos);
  auto none = g.mask.clone();
  none[1].zero_();
  EXPECT_NE(error_of([&] { model.forward(g.ids, none); }).find("no real token"), std::string::npos);
  EXPECT_NE(error_of([&] { model.forward(g.ids, g.mask.narrow(1, 0, 5)); }).find("attention mask has shape"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.forward(g.ids.to(at::kFloat), g.mask); }).find("must be integers"),
            std::string::npos);
  // The last layer is not part of any range.
  EXPECT_NE(error_of([&] { Gemma3TextModel(g.config, g.weights, kF32, {0, 7}); }).find("outside [0, 6]"),
            std::string::npos);
  Gemma3TextModel tail(g.config, g.weights, kF32, {3, -1});
  EXPECT_NE(error_of([&] { tail.embed(g.ids); }).find("has no embedding"), std::string::npos);
  EXPECT_NE(error_of([&] { tail.run_layers(at::zeros({2, 13, 32}), g.mask); }).find("hidden states must be"),
            std::string::npos);
}

TEST(Gemma3TextModel, MisshapenWeightNamesTheTensor) {
  Golden g;
  auto cfg = g.config;
  cfg.intermediate_size = 128;
  const std::string msg = error_of([&] { Gemma3TextModel(cfg, g.weights, kF32); });
  EXPECT_NE(msg.find("layers.0.mlp.gate_proj.weight has shape [96, 64], expected [128, 64]"), std::string::npos) << msg;
}

}  // namespace baton::models
