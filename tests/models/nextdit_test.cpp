// The Next-DiT against the official NextDiT_CLIP (tests/data/dit_a.safetensors,
// float32 on the CPU), and the properties the stage runtime relies on.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/fused_ops.h"
#include "core/runtime_kernels.h"
#include "core/tensor_metrics.h"
#include "io/safetensors_file.h"
#include "models/nextdit/next_dit.h"
#include "sampling/classifier_free_guidance.h"
#include "tests/models/recording_source.h"
#include "tests/support/error_message.h"
#include "tests/support/golden_models.h"

namespace baton::models {
namespace {

using test::error_of;

const auto kF32 = at::TensorOptions().dtype(at::kFloat);

using CountingSource = test::RecordingSource;

using Golden = test::DitGolden;

TEST(NextDit, VelocityMatchesReferenceWithin1e4) {
  Golden g;
  const NextDit dit(g.config, g.weights, kF32);
  const auto v = dit.forward(g.x, g.t, g.cap_feats, g.cap_mask, g.clip);
  EXPECT_EQ(v.scalar_type(), at::kFloat);
  const double err = relative_l2_error(v, g.ref);
  EXPECT_LT(err, 1e-4);
  RecordProperty("rel_l2", std::to_string(err));
}

TEST(NextDit, GuidedVelocitiesMatchForwardWithCfgWithin1e4) {
  Golden g;
  const NextDit dit(g.config, g.weights, kF32);
  const auto captions = dit.embed().encode_captions(g.cap_feats, g.cap_mask);
  const auto latent = g.x.narrow(0, 0, 1);
  for (const std::string name : {"cfg_a", "cfg_b", "cfg_trunc"}) {
    const auto p = g.file.load(name + ".params", kF32);
    const sampling::GuidanceParams params{p[0].item<double>(), p[1].item<double>(), p[2].item<double>()};
    const double t = p[3].item<double>();
    int uncond_runs = 0;
    auto velocities = [&](bool with_uncond) {
      uncond_runs += with_uncond;
      const int64_t n = with_uncond ? 2 : 1;
      return dit.forward(latent.expand({n, -1, -1, -1}), at::full({n}, t, kF32), g.clip.narrow(0, 0, n),
                         with_uncond ? captions : captions.select({0}));
    };
    const auto v = sampling::guided_velocity(t, params, velocities).squeeze(0);
    EXPECT_LT(relative_l2_error(v, g.file.load(name + ".out", kF32)), 1e-4) << name;
    // cfg_trunc guides only while t < 0.25; at t = 0.6 the uncond branch is skipped.
    EXPECT_EQ(uncond_runs, name == "cfg_trunc" ? 0 : 1) << name;
  }
}

TEST(NextDit, StagesComposeBitForBit) {
  Golden g;
  const NextDit whole(g.config, g.weights, kF32);
  const DitEmbed embed(g.config, g.weights, kF32);
  const DitBlocks first(g.config, g.weights, 0, 1, kF32);
  const DitBlocks rest(g.config, g.weights, 1, 3, kF32);
  const DitHead head(g.config, g.weights, kF32);
  const auto captions = embed.encode_captions(g.cap_feats, g.cap_mask);
  const auto in = embed.forward(g.x, g.t, g.clip, captions);
  const auto tokens_before = in.tokens.clone();
  const auto staged = head.forward(rest.forward(first.forward(in)));
  EXPECT_TRUE(at::equal(staged, whole.forward(g.x, g.t, g.cap_feats, g.cap_mask, g.clip)));
  EXPECT_TRUE(at::equal(in.tokens, tokens_before)) << "a stage changed its input";
}

TEST(NextDit, BlockStageLoadsOnlyItsBlocks) {
  Golden g;
  CountingSource counting(g.weights);
  const uint64_t before = g.file.bytes_read();
  const DitBlocks blocks(g.config, counting, 1, 3, kF32);
  std::set<std::string> expected;
  uint64_t expected_bytes = 0;
  for (const auto& name : g.weights.names())
    if (name.rfind("layers.1.", 0) == 0 || name.rfind("layers.2.", 0) == 0) {
      expected.insert(name);
      expected_bytes += g.file.info("weights." + name).nbytes();
    }
  EXPECT_EQ(expected.size(), 26u);
  EXPECT_EQ(counting.loaded(), expected);
  EXPECT_EQ(g.file.bytes_read() - before, expected_bytes);

  CountingSource head_source(g.weights);
  const DitHead head(g.config, head_source, kF32);
  for (const auto& name : head_source.loaded()) EXPECT_EQ(name.rfind("final_layer.", 0), 0u) << name;
  CountingSource embed_source(g.weights);
  const DitEmbed embed(g.config, embed_source, kF32);
  for (const auto& name : embed_source.loaded()) {
    EXPECT_NE(name.rfind("layers.", 0), 0u) << name;
    EXPECT_NE(name.rfind("final_layer.", 0), 0u) << name;
  }
}

TEST(NextDit, PackedSamplesEqualEachSampleAlone) {
  Golden g;  // captions of 7 and 3 tokens
  const NextDit dit(g.config, g.weights, kF32);
  const auto both = dit.forward(g.x, g.t, g.cap_feats, g.cap_mask, g.clip);
  for (int64_t b = 0; b < 2; ++b) {
    const auto alone = dit.forward(g.x.narrow(0, b, 1), g.t.narrow(0, b, 1), g.cap_feats.narrow(0, b, 1),
                                   g.cap_mask.narrow(0, b, 1), g.clip.narrow(0, b, 1));
    EXPECT_LT(max_abs_error(both.narrow(0, b, 1), alone), 1e-6) << "sample " << b;
  }
}

TEST(NextDit, CaptionPaddingChangesNothing) {
  Golden g;
  const NextDit dit(g.config, g.weights, kF32);
  const auto ref = dit.forward(g.x, g.t, g.cap_feats, g.cap_mask, g.clip);
  // Five more padding columns holding garbage: masked out, so never computed on.
  auto feats = at::cat({g.cap_feats, at::randn({2, 5, g.config.cap_feat_dim}) * 100}, 1);
  auto mask = at::cat({g.cap_mask, at::zeros({2, 5}, at::kLong)}, 1);
  const auto padded = dit.embed().encode_captions(feats, mask);
  EXPECT_EQ(padded.lengths, (std::vector<int64_t>{7, 3}));
  EXPECT_TRUE(at::equal(dit.forward(g.x, g.t, g.clip, padded), ref));
}

TEST(NextDit, CudaGraphsGiveTheSameVelocitiesBitForBit) {
  if (!CapturedCalls::supported(at::Device(at::kCUDA, 0)) || !at::hasCUDA())
    GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  Golden g;
  const auto bf16 = at::TensorOptions().device(at::kCUDA, 0).dtype(at::kBFloat16);
  const NextDit eager(g.config, g.weights, bf16);
  NextDit graphed(g.config, g.weights, bf16);
  graphed.capture_cuda_graphs(2);
  auto on_gpu = [](const at::Tensor& t) { return t.to(at::kCUDA); };
  const auto captions = eager.embed().encode_captions(on_gpu(g.cap_feats), on_gpu(g.cap_mask));
  for (const double t : {0.2, 0.7, 0.9}) {  // the first call captures, the others replay with new inputs
    const auto x = on_gpu(g.x) * (1.0 - t);
    const auto tt = at::full({g.x.size(0)}, t, at::TensorOptions().device(at::kCUDA, 0).dtype(at::kFloat));
    const auto want = eager.forward(x, tt, on_gpu(g.clip), captions);
    const auto got = graphed.forward(x, tt, on_gpu(g.clip), captions);
    EXPECT_TRUE(got.equal(want)) << "t = " << t << ": relative L2 " << relative_l2_error(got, want);
  }
  ASSERT_NE(graphed.blocks().cuda_graphs(), nullptr);
  EXPECT_EQ(graphed.blocks().cuda_graphs()->captures(), 1);
  EXPECT_EQ(graphed.blocks().cuda_graphs()->replays(), 2);
}

TEST(NextDit, FusedKernelsKeepTheVelocityOnCuda) {
  if (!RuntimeKernels::compiled_in() || !at::hasCUDA()) GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  Golden g;
  const auto bf16 = at::TensorOptions().device(at::kCUDA, 0).dtype(at::kBFloat16);
  const NextDit dit(g.config, g.weights, bf16);
  auto on_gpu = [](const at::Tensor& t) { return t.to(at::kCUDA); };
  const auto captions = dit.embed().encode_captions(on_gpu(g.cap_feats), on_gpu(g.cap_mask));
  auto velocity = [&](bool fused_on) {
    fused::set_enabled(fused_on);
    return dit.forward(on_gpu(g.x), on_gpu(g.t), on_gpu(g.clip), captions).to(at::kFloat);
  };
  const auto unfused = velocity(false);
  const int64_t before = fused::launches();
  const auto with_kernels = velocity(true);
  ASSERT_TRUE(fused::enabled()) << "a fused kernel failed and turned itself off";
  // Each main and noise-refiner block: q/k norm + RoPE, the SwiGLU gate, two
  // modulated norms and two norm + residual adds (the context refiner ran in
  // encode_captions, before).
  EXPECT_EQ(fused::launches() - before, 6 * (g.config.n_layers + g.config.n_refiner_layers));
  // bf16 everywhere: the kernels move single ulps, far inside bf16's own error against the float32 golden.
  EXPECT_LT(relative_l2_error(with_kernels, unfused), 5e-3);
  EXPECT_LT(relative_l2_error(with_kernels.cpu(), g.ref), relative_l2_error(unfused.cpu(), g.ref) * 1.5 + 1e-3);
}

TEST(NextDit, RefusesWrongInputShapesWithClearErrors) {
  Golden g;
  const NextDit dit(g.config, g.weights, kF32);
  auto forward = [&](const at::Tensor& x, const at::Tensor& t, const at::Tensor& feats, const at::Tensor& mask,
                     const at::Tensor& clip) { return error_of([&] { dit.forward(x, t, feats, mask, clip); }); };
  EXPECT_NE(forward(g.x.narrow(1, 0, 15), g.t, g.cap_feats, g.cap_mask, g.clip)
                .find("DiT input x has shape [2, 15, 8, 12], expected [batch, 16, H, W]"),
            std::string::npos);
  EXPECT_NE(forward(g.x.narrow(3, 0, 11), g.t, g.cap_feats, g.cap_mask, g.clip).find("multiples of 2"),
            std::string::npos);
  EXPECT_NE(forward(g.x, g.t.narrow(0, 0, 1), g.cap_feats, g.cap_mask, g.clip)
                .find("DiT input t has shape [1], expected [2]"),
            std::string::npos);
  EXPECT_NE(forward(g.x, g.t, g.cap_feats.narrow(2, 0, 39), g.cap_mask, g.clip)
                .find("cap_feats has shape [2, 8, 39], expected [batch, length, 40]"),
            std::string::npos);
  auto holes = g.cap_mask.clone();
  holes[0][1] = 0;
  EXPECT_NE(forward(g.x, g.t, g.cap_feats, holes, g.clip).find("cap_mask row 0 is not 1s followed by 0s"),
            std::string::npos);
  EXPECT_NE(forward(g.x, g.t, g.cap_feats, at::zeros_like(g.cap_mask), g.clip).find("has no real token"),
            std::string::npos);
  EXPECT_NE(forward(g.x, g.t, g.cap_feats, g.cap_mask, g.clip.narrow(1, 0, 31))
                .find("clip_text_pooled has shape [2, 31], expected [2, 32]"),
            std::string::npos);
  const auto captions = dit.embed().encode_captions(g.cap_feats, g.cap_mask);
  EXPECT_NE(error_of([&] { dit.forward(g.x.narrow(0, 0, 1), g.t.narrow(0, 0, 1), g.clip.narrow(0, 0, 1), captions); })
                .find("1 latents but captions for 2 samples"),
            std::string::npos);
  // A caption at the RoPE table limit (axes_lens[0] = 64 here) is refused.
  const auto long_feats = at::randn({1, 64, g.config.cap_feat_dim});
  EXPECT_NE(error_of([&] { dit.embed().encode_captions(long_feats, at::ones({1, 64}, at::kLong)); })
                .find("caption length 64 is outside [1, 63]"),
            std::string::npos);
}

TEST(NextDit, RefusesABlockRangeOutsideTheModel) {
  Golden g;
  EXPECT_NE(error_of([&] { DitBlocks(g.config, g.weights, 2, 4, kF32); }).find("[2, 4) is outside [0, 3]"),
            std::string::npos);
}

TEST(JointSequence, RoundTripsThroughAMessageAndIsValidated) {
  Golden g;
  const DitEmbed embed(g.config, g.weights, kF32);
  const auto seq = embed.forward(g.x, g.t, g.clip, embed.encode_captions(g.cap_feats, g.cap_mask));
  EXPECT_EQ(seq.tokens.sizes(), (at::IntArrayRef{7 + 24 + 3 + 24, 96}));
  EXPECT_EQ(seq.conditioning.sizes(), (at::IntArrayRef{2, 96}));
  const auto message = seq.to_message();
  // Only the activations are tensors (a device transport moves them); the integers are metadata.
  EXPECT_EQ(message.tensors.size(), 2u);
  EXPECT_EQ(message.layout, nlohmann::json::parse(R"({"caption_lengths": [7, 3], "grid": [4, 6]})"));
  const auto back = JointSequence::from_message(message.tensors, message.layout);
  EXPECT_TRUE(at::equal(back.tokens, seq.tokens));
  EXPECT_TRUE(at::equal(back.conditioning, seq.conditioning));
  EXPECT_EQ(back.caption_lengths, (std::vector<int64_t>{7, 3}));
  EXPECT_EQ(back.grid_h, 4);
  EXPECT_EQ(back.grid_w, 6);
  EXPECT_NO_THROW(back.validate(g.config));

  auto named = message.tensors;
  named.erase("conditioning");
  EXPECT_NE(error_of([&] { JointSequence::from_message(named, message.layout); }).find("'conditioning' is missing"),
            std::string::npos);
  // Malformed layouts from the network: clear errors, nothing built.
  auto from = [&](const std::string& layout) {
    return error_of([&] { JointSequence::from_message(message.tensors, nlohmann::json::parse(layout)); });
  };
  EXPECT_NE(from("null").find("has no 'caption_lengths' list"), std::string::npos);
  EXPECT_NE(from(R"({"caption_lengths": [7, 3]})").find("has no 'grid' list"), std::string::npos);
  EXPECT_NE(from(R"({"caption_lengths": [7, 3], "grid": [4]})").find("'grid' has 1 entries, expected 2"),
            std::string::npos);
  EXPECT_NE(from(R"({"caption_lengths": [], "grid": [4, 6]})").find("expected 1 to 64"), std::string::npos);
  EXPECT_NE(from(R"({"caption_lengths": [7, -3], "grid": [4, 6]})").find("holds -3, expected positive integers"),
            std::string::npos);
  EXPECT_NE(from(R"({"caption_lengths": [7, 3], "grid": [4, "6"]})").find("holds \"6\""), std::string::npos);
  auto short_seq = seq;
  short_seq.tokens = seq.tokens.narrow(0, 0, 57);
  EXPECT_NE(error_of([&] { short_seq.validate(g.config); }).find("tokens have 57 rows"), std::string::npos);
  const DitBlocks blocks(g.config, g.weights, 0, 1, kF32);
  EXPECT_THROW(blocks.forward(short_seq), Error);
}

TEST(ClassifierFreeGuidance, RenormCapsEachSampleAtItsConditionalNorm) {
  // Sample 0: v_c = (3, 4), v_u = 0, scale 2 -> (6, 8), norm 10 > 1 * 5: capped to (3, 4).
  // Sample 1: v_c = (1, 0), v_u = (1, 0) -> (1, 0), norm 1 = cap: unchanged.
  const auto vc = at::tensor({3.f, 4.f, 1.f, 0.f}).view({2, 2});
  const auto vu = at::tensor({0.f, 0.f, 1.f, 0.f}).view({2, 2});
  const auto capped = sampling::combine_guidance(vc, vu, {2.0, 1.0, 1.0});
  EXPECT_TRUE(at::allclose(capped, at::tensor({3.f, 4.f, 1.f, 0.f}).view({2, 2})));
  const auto free = sampling::combine_guidance(vc, vu, {2.0, 1.0, 0.0});
  EXPECT_TRUE(at::allclose(free, at::tensor({6.f, 8.f, 1.f, 0.f}).view({2, 2})));
  EXPECT_TRUE(sampling::guidance_active({2.0, 0.25, 0.0}, 0.2));
  EXPECT_FALSE(sampling::guidance_active({2.0, 0.25, 0.0}, 0.25));
}

}  // namespace
}  // namespace baton::models
