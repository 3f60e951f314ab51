// 8-bit weights on the tiny goldens (docs/quantization.md): the Next-DiT
// (dit_a) and Gemma3 (gemma3_a) with int8 and fp8 weights against the float32
// reference outputs, on the CPU in float32 (so the error is the weights'
// alone), the bytes they hold, and the properties the stages rely on.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "core/tensor_metrics.h"
#include "io/safetensors_file.h"
#include "models/gemma3/gemma3_text_model.h"
#include "models/nextdit/next_dit.h"
#include "sampling/classifier_free_guidance.h"
#include "tests/support/golden_models.h"

namespace baton::models {
namespace {

const auto kF32 = at::TensorOptions().dtype(at::kFloat);

using test::DitGolden;
using test::GemmaGolden;

at::Tensor velocity(const DitGolden& g, const NextDit& dit) {
  return dit.forward(g.x, g.t, g.cap_feats, g.cap_mask, g.clip);
}

double error(const GemmaGolden& g, const Gemma3TextModel& model) {
  const auto real = g.mask.to(at::kBool);  // rows past the mask are don't-care
  return relative_l2_error(model.forward(g.ids, g.mask).index({real}), g.ref.index({real}));
}

// Elements of the matrices an 8-bit DiT stores in 8 bits, and their rows.
std::pair<int64_t, int64_t> dit_quantised_elements(const NextDitConfig& c) {
  int64_t elements = 0, rows = 0;
  for (const auto& kv : nextdit_tensor_shapes(c)) {
    const auto& name = kv.first;
    const bool block =
        name.rfind("layers.", 0) == 0 || name.rfind("noise_refiner.", 0) == 0 || name.rfind("context_refiner.", 0) == 0;
    if (!block || kv.second.size() != 2) continue;
    elements += kv.second[0] * kv.second[1];
    rows += kv.second[0];
  }
  return {elements, rows};
}

}  // namespace

// Measured (x86-64, libtorch 1.13, float32): int8 5.0e-3, fp8 2.1e-2 (docs/quantization.md).
TEST(QuantizedNextDit, VelocityErrorAgainstTheFloat32Reference) {
  DitGolden g;
  const NextDit dense(g.config, g.weights, kF32);
  const double dense_err = relative_l2_error(velocity(g, dense), g.ref);
  const NextDit int8(g.config, g.weights, kF32, WeightFormat::kInt8);
  const NextDit fp8(g.config, g.weights, kF32, WeightFormat::kFp8);
  const double int8_err = relative_l2_error(velocity(g, int8), g.ref);
  const double fp8_err = relative_l2_error(velocity(g, fp8), g.ref);
  std::cout << "dit_a velocity rel L2: dense " << dense_err << ", int8 " << int8_err << ", fp8 " << fp8_err << "\n";
  RecordProperty("int8_rel_l2", std::to_string(int8_err));
  RecordProperty("fp8_rel_l2", std::to_string(fp8_err));
  EXPECT_LT(dense_err, 1e-4);
  EXPECT_LT(int8_err, 1e-2);
  EXPECT_LT(fp8_err, 4e-2);
  // The error is the quantisation's, not noise: it is far above the dense one,
  // and e4m3's 3 mantissa bits lose more than int8 with a scale per row.
  EXPECT_GT(int8_err, 1000 * dense_err);
  EXPECT_GT(fp8_err, 2 * int8_err);
}

// Measured (cfg_a, cfg_b, cfg_trunc): int8 8.1e-3, 7.2e-3, 5.1e-3; fp8 3.8e-2, 3.4e-2, 2.3e-2.
TEST(QuantizedNextDit, GuidedVelocitiesStayCloseToTheReference) {
  DitGolden g;
  for (auto format : {WeightFormat::kInt8, WeightFormat::kFp8}) {
    const NextDit dit(g.config, g.weights, kF32, format);
    const auto captions = dit.embed().encode_captions(g.cap_feats, g.cap_mask);
    const auto latent = g.x.narrow(0, 0, 1);
    for (const std::string name : {"cfg_a", "cfg_b", "cfg_trunc"}) {
      const auto p = g.file.load(name + ".params", kF32);
      const sampling::GuidanceParams params{p[0].item<double>(), p[1].item<double>(), p[2].item<double>()};
      const double t = p[3].item<double>();
      auto velocities = [&](bool with_uncond) {
        const int64_t n = with_uncond ? 2 : 1;
        return dit.forward(latent.expand({n, -1, -1, -1}), at::full({n}, t, kF32), g.clip.narrow(0, 0, n),
                           with_uncond ? captions : captions.select({0}));
      };
      const auto guided = sampling::guided_velocity(t, params, velocities).squeeze(0);
      const double err = relative_l2_error(guided, g.file.load(name + ".out", kF32));
      std::cout << name << " " << weight_format_name(format) << " rel L2 " << err << "\n";
      EXPECT_LT(err, format == WeightFormat::kInt8 ? 2e-2 : 8e-2) << name;
    }
  }
}

TEST(QuantizedNextDit, HoldsOneBytePerBlockMatrixElementPlusRowScales) {
  DitGolden g;
  const NextDit dense(g.config, g.weights, kF32);
  const auto [elements, rows] = dit_quantised_elements(g.config);
  for (auto format : {WeightFormat::kInt8, WeightFormat::kFp8}) {
    const NextDit q(g.config, g.weights, kF32, format);
    EXPECT_EQ(q.weight_bytes(), dense.weight_bytes() - 3 * elements + 4 * rows) << weight_format_name(format);
  }
}

TEST(QuantizedNextDit, StagePiecesComposeBitForBitAndDenseIsUnchanged) {
  DitGolden g;
  const NextDit whole(g.config, g.weights, kF32, WeightFormat::kInt8);
  const auto captions = whole.embed().encode_captions(g.cap_feats, g.cap_mask);
  const auto expected = whole.forward(g.x, g.t, g.clip, captions);
  const DitEmbed embed(g.config, g.weights, kF32, WeightFormat::kInt8);
  const DitBlocks first(g.config, g.weights, 0, 1, kF32, WeightFormat::kInt8);
  const DitBlocks rest(g.config, g.weights, 1, g.config.n_layers, kF32, WeightFormat::kInt8);
  const auto seq = embed.forward(g.x, g.t, g.clip, embed.encode_captions(g.cap_feats, g.cap_mask));
  EXPECT_TRUE(at::equal(whole.head().forward(rest.forward(first.forward(seq))), expected));
  // A dense format is the dense model whatever its name: the same tensors, the same result.
  const NextDit plain(g.config, g.weights, kF32);
  const NextDit named(g.config, g.weights, kF32, WeightFormat::kBf16);
  EXPECT_TRUE(at::equal(velocity(g, plain), velocity(g, named)));
  EXPECT_EQ(plain.weight_bytes(), named.weight_bytes());
}

// Measured: int8 2.5e-2, fp8 0.114: Gemma's layer outputs are large next to its
// residual stream, so the weights' error shows more than in the DiT.
TEST(QuantizedGemma3, HiddenStatesErrorAgainstTheFloat32Reference) {
  GemmaGolden g;
  const Gemma3TextModel dense(g.config, g.weights, kF32);
  const Gemma3TextModel int8(g.config, g.weights, kF32, {}, WeightFormat::kInt8);
  const Gemma3TextModel fp8(g.config, g.weights, kF32, {}, WeightFormat::kFp8);
  const double dense_err = error(g, dense), int8_err = error(g, int8), fp8_err = error(g, fp8);
  std::cout << "gemma3_a hidden_states[-2] rel L2: dense " << dense_err << ", int8 " << int8_err << ", fp8 " << fp8_err
            << "\n";
  RecordProperty("int8_rel_l2", std::to_string(int8_err));
  RecordProperty("fp8_rel_l2", std::to_string(fp8_err));
  EXPECT_LT(dense_err, 1e-4);
  EXPECT_LT(int8_err, 4e-2);
  EXPECT_LT(fp8_err, 0.18);
  EXPECT_GT(int8_err, 1000 * dense_err);
  EXPECT_GT(fp8_err, 2 * int8_err);
  // Embedding and layer matrices in one byte per element plus a float32 scale per row.
  int64_t elements = 0, rows = 0;
  for (const auto& kv : gemma3_tensor_shapes(g.config))
    if (kv.second.size() == 2) {
      elements += kv.second[0] * kv.second[1];
      rows += kv.second[0];
    }
  EXPECT_EQ(int8.weight_bytes(), dense.weight_bytes() - 3 * elements + 4 * rows);
}

TEST(QuantizedGemma3, LayerRangesComposeBitForBit) {
  GemmaGolden g;
  const Gemma3TextModel whole(g.config, g.weights, kF32, {}, WeightFormat::kFp8);
  const auto expected = whole.forward(g.ids, g.mask);
  const Gemma3TextModel first(g.config, g.weights, kF32, {0, 3}, WeightFormat::kFp8);
  const Gemma3TextModel second(g.config, g.weights, kF32, {3, -1}, WeightFormat::kFp8);
  EXPECT_TRUE(at::equal(second.run_layers(first.forward(g.ids, g.mask), g.mask), expected));
}

}  // namespace baton::models
