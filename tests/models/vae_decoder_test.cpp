#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor_metrics.h"
#include "io/safetensors_file.h"
#include "models/vae/vae_bfl_source.h"
#include "models/vae/vae_decoder.h"
#include "models/vae/vae_image.h"
#include "models/vae/vae_layers.h"
#include "models/vae/vae_memory.h"
#include "tests/support/error_message.h"
#include "tests/support/golden_models.h"
#include "worker/golden/golden_check.h"

namespace baton::models {
namespace {

using test::error_of;

using GoldenVae = test::VaeGolden;

}  // namespace

TEST(VaeDecoder, GoldenVaeAWithin1e4InFloat32) {
  GoldenVae g;
  VaeDecoder decoder(g.config, g.weights, at::kFloat);
  auto image = decoder.decode_latent(g.latent);
  ASSERT_EQ(image.sizes(), (at::IntArrayRef{1, 3, 48, 64}));
  EXPECT_EQ(image.scalar_type(), at::kFloat);
  const double err = relative_l2_error(image, g.expected);
  EXPECT_LT(err, 1e-4) << "relative L2 " << err;
  // The raw decoder on z = latent / 0.3611 + 0.1159 is the same computation.
  auto raw = decoder.decode(g.latent / 0.3611 + 0.1159);
  EXPECT_LT(relative_l2_error(raw, g.expected), 1e-4);
  // ...and without the shift/scale it is not (the entry point really applies it).
  EXPECT_GT(relative_l2_error(decoder.decode(g.latent), g.expected), 1e-2);
}

TEST(VaeDecoder, GoldenVaeAInBfloat16WithinBf16Tolerance) {
  GoldenVae g;
  VaeDecoder decoder(g.config, g.weights, at::kBFloat16);
  EXPECT_EQ(decoder.dtype(), at::kBFloat16);
  auto image = decoder.decode_latent(g.latent);
  EXPECT_EQ(image.scalar_type(), at::kFloat);
  const double err = relative_l2_error(image, g.expected);
  EXPECT_LT(err, worker::default_rel_l2_tolerance(at::kBFloat16)) << err;
  EXPECT_GT(err, 1e-5);  // it really ran in bf16
}

TEST(VaeDecoder, VerifyRecognisesAndChecksVaeGoldenFiles) {
  auto report = worker::check_golden_file(test::test_data("vae_a.safetensors"), {});
  EXPECT_EQ(report.kind, "vae");
  ASSERT_EQ(report.outputs.size(), 1u);
  EXPECT_EQ(report.outputs[0].name, "out.image");
  EXPECT_EQ(report.outputs[0].tolerance, 1e-4);
  EXPECT_LT(report.outputs[0].error, 1e-4);
  EXPECT_TRUE(report.ok());
  // Other golden files are not taken for VAE files.
  EXPECT_EQ(worker::check_golden_file(test::test_data("scheduler_a.safetensors"), {}).kind, "scheduler");
}

TEST(VaeDecoder, RefusesWrongLatentsWithClearErrors) {
  GoldenVae g;
  VaeDecoder decoder(g.config, g.weights, at::kFloat);
  auto msg = error_of([&] { decoder.decode_latent(at::zeros({16, 6, 8})); });
  EXPECT_NE(msg.find("DiT latent has shape [16, 6, 8] (rank 3); expected rank 4, [B, 16, h, w]"), std::string::npos)
      << msg;
  msg = error_of([&] { decoder.decode_latent(at::zeros({1, 4, 6, 8})); });
  EXPECT_NE(msg.find("DiT latent has 4 channels (shape [1, 4, 6, 8]); the VAE config expects 16"), std::string::npos)
      << msg;
  msg = error_of([&] { decoder.decode_latent(at::zeros({1, 16, 7, 8})); });
  EXPECT_NE(msg.find("DiT latent has shape [1, 16, 7, 8]: its height and width must be even"), std::string::npos)
      << msg;
  msg = error_of([&] { decoder.decode_latent(at::zeros({1, 16, 0, 8})); });
  EXPECT_NE(msg.find("with an empty dimension"), std::string::npos) << msg;
  msg = error_of([&] { decoder.decode_latent(at::zeros({1, 16, 6, 8}, at::kLong)); });
  EXPECT_NE(msg.find("expected a floating-point tensor"), std::string::npos) << msg;
  msg = error_of([&] { decoder.decode_latent(at::Tensor()); });
  EXPECT_NE(msg.find("undefined"), std::string::npos) << msg;
  msg = error_of([&] { decoder.decode(at::zeros({1, 8, 5, 5})); });
  EXPECT_NE(msg.find("VAE input z has 8 channels"), std::string::npos) << msg;
  // The raw decoder takes odd sizes (tiles can be odd); the DiT entry point does not.
  EXPECT_EQ(decoder.decode(at::zeros({2, 16, 5, 3})).sizes(), (at::IntArrayRef{2, 3, 40, 24}));
}

TEST(VaeDecoder, RefusesFloat16AndMismatchedWeights) {
  GoldenVae g;
  auto msg = error_of([&] { VaeDecoder(g.config, g.weights, at::kHalf); });
  EXPECT_NE(msg.find("not supported; expected float32 or bfloat16"), std::string::npos) << msg;
  auto wide = g.config;
  wide.block_out_channels = {32, 64, 64, 128};  // the golden file holds a 64-channel top block
  msg = error_of([&] { VaeDecoder(wide, g.weights, at::kFloat); });
  EXPECT_NE(msg.find("conv_in.weight"), std::string::npos) << msg;
}

TEST(VaeDecoder, WeightBytesMatchTheEstimate) {
  GoldenVae g;
  VaeDecoder f32(g.config, g.weights, at::kFloat);
  VaeDecoder bf16(g.config, g.weights, at::kBFloat16);
  EXPECT_EQ(f32.weight_bytes(), vae_decoder_weight_bytes(g.config, at::kFloat));
  EXPECT_EQ(bf16.weight_bytes(), vae_decoder_weight_bytes(g.config, at::kBFloat16));
  EXPECT_LT(bf16.weight_bytes(), f32.weight_bytes());
  // Released decoder: 49.5 M parameters, counted from spec E.3 (the encoder is not loaded).
  const int64_t released = vae_decoder_weight_bytes(VaeConfig::released(), at::kFloat);
  EXPECT_EQ(released / 4, 49545475);
}

TEST(VaeDecoder, ReadsTheBflAutoencoderLayout) {
  GoldenVae g;
  // The golden decoder renamed to BFL's ae.safetensors names, attention weights as 1x1 convs.
  TensorMap ae({}, "ae.safetensors");
  TensorMap probe;
  BflVaeDecoderSource names(probe, g.config);
  for (const auto& n : g.weights.names()) {
    auto t = g.weights.load(n, at::kFloat);
    if (n.find(".to_") != std::string::npos && t.dim() == 2) t = t.view({t.size(0), t.size(1), 1, 1});
    ae.insert(names.bfl_name(n), t);
  }
  ae.insert("encoder.conv_in.weight", at::zeros({1}));  // encoder tensors are ignored
  EXPECT_EQ(names.bfl_name("up_blocks.0.resnets.2.conv2.weight"), "decoder.up.3.block.2.conv2.weight");
  EXPECT_EQ(names.bfl_name("up_blocks.3.resnets.0.conv_shortcut.bias"), "decoder.up.0.block.0.nin_shortcut.bias");
  EXPECT_EQ(names.bfl_name("up_blocks.1.upsamplers.0.conv.weight"), "decoder.up.2.upsample.conv.weight");
  EXPECT_EQ(names.bfl_name("mid_block.attentions.0.to_out.0.weight"), "decoder.mid.attn_1.proj_out.weight");
  EXPECT_EQ(names.bfl_name("mid_block.attentions.0.group_norm.bias"), "decoder.mid.attn_1.norm.bias");
  EXPECT_EQ(names.bfl_name("mid_block.resnets.1.norm2.weight"), "decoder.mid.block_2.norm2.weight");
  EXPECT_EQ(names.bfl_name("conv_norm_out.weight"), "decoder.norm_out.weight");
  EXPECT_EQ(names.bfl_name("encoder.conv_in.weight"), "");

  ASSERT_TRUE(BflVaeDecoderSource::recognises(ae));
  EXPECT_FALSE(BflVaeDecoderSource::recognises(g.weights));
  BflVaeDecoderSource bfl(ae, g.config);
  EXPECT_EQ(bfl.shape("mid_block.attentions.0.to_q.weight"), (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(bfl.names().size(), vae_decoder_tensor_shapes(g.config).size());
  VaeDecoder decoder(g.config, bfl, at::kFloat);
  EXPECT_LT(relative_l2_error(decoder.decode_latent(g.latent), g.expected), 1e-4);
}

// Below float32, GroupNorm's statistics and normalisation are float32: on a
// bf16 input with a large offset (where bf16 arithmetic would lose the
// variance) it equals float32 GroupNorm of the same values, rounded once.
TEST(VaeLayers, Bfloat16GroupNormMatchesFloat32OnTheSameValues) {
  auto x = (at::randn({2, 64, 5, 7}) + 300.0).to(at::kBFloat16);
  vae::Norm norm{at::randn({64}) * 0.1 + 1.0, at::randn({64}) * 0.1};
  for (bool silu : {false, true}) {
    auto expected = at::group_norm(x.to(at::kFloat), 32, norm.weight, norm.bias, vae::kGroupNormEps);
    if (silu) expected = at::silu(expected);
    auto y = vae::group_norm(x, norm, 32, silu);
    ASSERT_EQ(y.scalar_type(), at::kBFloat16);
    // One bf16 rounding of values of size ~3: at most 2^-8 relative.
    EXPECT_LT(max_abs_error(y.to(at::kFloat), expected), 4.0 * std::pow(2.0, -8)) << silu;
    EXPECT_LT(relative_l2_error(y.to(at::kFloat), expected), 3e-3) << silu;
  }
}

TEST(VaeImage, ConvertsToUnitRangeAndRoundedRgb8) {
  auto image = at::tensor({-1.0f, 1.0f, 0.0f, 0.5f, 2.0f, -3.0f}).view({1, 3, 1, 2});
  auto unit = image_to_unit(image);
  EXPECT_TRUE(at::allclose(unit, at::tensor({0.0f, 1.0f, 0.5f, 0.75f, 1.0f, 0.0f}).view({1, 3, 1, 2})));
  auto rgb = image_to_rgb8(image);
  ASSERT_EQ(rgb.sizes(), (at::IntArrayRef{1, 1, 2, 3}));
  EXPECT_EQ(rgb.scalar_type(), at::kByte);
  // Pixel 0 = (R, G, B) = (-1, 0, 2) -> (0, 128, 255); pixel 1 = (1, 0.5, -3) -> (255, 191, 0).
  const auto* p = rgb.data_ptr<uint8_t>();
  EXPECT_EQ(std::vector<int>(p, p + 6), (std::vector<int>{0, 128, 255, 255, 191, 0}));
  EXPECT_THROW(image_to_rgb8(at::zeros({1, 4, 2, 2})), Error);
}

}  // namespace baton::models
