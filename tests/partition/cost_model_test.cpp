#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/byte_size.h"
#include "core/error.h"
#include "core/random_tensor_source.h"
#include "models/gemma3/gemma3_text_model.h"
#include "models/jina/jina_text_model.h"
#include "models/nextdit/dit_blocks.h"
#include "models/nextdit/next_dit.h"
#include "models/vae/vae_memory.h"
#include "partition/activation_model.h"
#include "partition/device_speeds.h"
#include "partition/flop_model.h"
#include "partition/stage_cost.h"
#include "tests/support/temp_dir.h"

namespace baton::partition {
namespace {

const ModelConfigs& released() {
  static const ModelConfigs m = model_from_preset("newbie-exp0.1");
  return m;
}

InventoryDevice gpu(const std::string& name = "cuda:0", const std::string& model = "") {
  InventoryDevice d;
  d.name = name;
  d.kind = DeviceKind::kCuda;
  d.budget = 80 * kGiB;
  d.model = model;
  return d;
}

DeviceProfile gpu_profile(WeightFormat f = WeightFormat::kBf16, AttentionKind a = AttentionKind::kFlash) {
  return make_profile(gpu(), f, WeightFormat::kFp32, a, DeviceSpeeds());
}

StageContent whole_dit() {
  StageContent c;
  c.kind = StageKind::kDit;
  c.dit_end = 36;
  c.prologue = c.final = true;
  return c;
}

StageContent whole_text() {
  StageContent c;
  c.kind = StageKind::kText;
  c.jina = c.gemma_embed = true;
  c.gemma_end = 33;
  return c;
}

Workload baseline_1024() {
  Workload w;
  w.caption_tokens = 128;  // baselines.md: captions padded to 128 tokens, CFG batch of 2
  w.microbatch_samples = 2;
  return w;
}

TEST(FlopModel, DitCallMatchesBaselinesWithinOnePercent) {
  auto w = baseline_1024();
  const double tflop_1024 = dit_call_flops(released(), w, 2) / 1e12;
  w.width = w.height = 512;
  const double tflop_512 = dit_call_flops(released(), w, 2) / 1e12;
  std::printf("DiT CFG call: 1024^2 %.2f TFLOP (baselines 62.1), 512^2 %.2f TFLOP (baselines 14.5)\n", tflop_1024,
              tflop_512);
  EXPECT_NEAR(tflop_1024, 62.1, 0.62);
  EXPECT_NEAR(tflop_512, 14.5, 0.145);
}

TEST(FlopModel, PerImageWorkIsStepsTimesBranches) {
  Workload w;
  w.steps = 10;
  const auto f = dit_flops_per_image(released(), w);
  const auto g = geometry(w, released());
  EXPECT_DOUBLE_EQ(f.block, 10 * 2 * dit_block_flops(released().dit, g.joint_tokens, true));
  w.steps = 20;
  EXPECT_DOUBLE_EQ(dit_flops_per_image(released(), w).block, 2 * f.block);
}

TEST(CostModel, WeightBytesFollowTheTensorTables) {
  const CostModel cost(released(), Workload{});
  const auto bf16 = cost.stage_cost(whole_dit(), gpu_profile());
  // 3,486,636,096 parameters minus the unused norm_final (2304), 2 bytes each.
  EXPECT_EQ(bf16.weights, (3486636096LL - 2304) * 2);
  EXPECT_NEAR(static_cast<double>(bf16.weights) / kGiB, 6.49, 0.01);  // baselines.md
  const auto fp32 = cost.stage_cost(whole_dit(), gpu_profile(WeightFormat::kFp32));
  EXPECT_EQ(fp32.weights, 2 * bf16.weights);
  // 8-bit: the blocks and refiners one byte per matrix element, a float32
  // scale per row, 16-bit vectors; the embedders and final layer stay bf16.
  const auto int8 = cost.stage_cost(whole_dit(), gpu_profile(WeightFormat::kInt8));
  const auto p = cost.dit_block_params() * 36 + cost.dit_refiner_params();
  const auto dense = cost.dit_prologue_params() - cost.dit_refiner_params() + cost.dit_final_params();
  EXPECT_EQ(int8.weights, p.matrix + 4 * p.matrix_rows + 2 * p.vector + 2 * dense.total());
  EXPECT_NEAR(static_cast<double>(int8.weights) / kGiB, 3.26, 0.01);  // docs/quantization.md
  EXPECT_GT(int8.weights, bf16.weights / 2);
  EXPECT_LT(int8.weights, bf16.weights * 0.51);
  EXPECT_EQ(cost.stage_cost(whole_dit(), gpu_profile(WeightFormat::kFp8)).weights, int8.weights);

  // Gemma: embedding + the 33 layers that run (spec C.3); Jina: the merged text tower.
  const int64_t gemma_layer = 2048 * 2560 + 2 * 1024 * 2560 + 2560 * 2048 + 3 * 10240 * 2560 + 4 * 2560 + 2 * 256;
  const int64_t gemma = 262208LL * 2560 + 33 * gemma_layer;
  const auto text = cost.stage_cost(whole_text(), gpu_profile());
  EXPECT_EQ(text.weights, 2 * (gemma + cost.jina_params().total()));
  EXPECT_NEAR(static_cast<double>(2 * cost.jina_params().total()) / kGiB, 1.04, 0.01);
  // 8-bit: Gemma in 8 bits (3.53 GiB, docs/quantization.md), Jina stays bf16.
  const auto text8 = cost.stage_cost(whole_text(), gpu_profile(WeightFormat::kInt8));
  const auto gemma8 = text8.weights - 2 * cost.jina_params().total();
  EXPECT_NEAR(static_cast<double>(gemma8) / kGiB, 3.53, 0.01);
  // On a CPU 8-bit weights compute in float32: vectors and Jina in fp32.
  auto cpu8 = make_profile(gpu(), WeightFormat::kInt8, WeightFormat::kInt8, AttentionKind::kFlash, DeviceSpeeds());
  cpu8.device.name = "cpu";
  cpu8.device.kind = DeviceKind::kCpu;
  EXPECT_GT(cost.stage_cost(whole_text(), cpu8).weights, text8.weights + 2 * cost.jina_params().total());

  // The VAE stays 16-bit under 8-bit formats, and fp32 under fp16 (force_upcast), as
  // VaeDecoder loads it: its GroupNorm parameters in float32.
  StageContent vae{StageKind::kVae};
  const auto vae_bf16 = cost.stage_cost(vae, gpu_profile(WeightFormat::kInt8)).weights;
  EXPECT_EQ(vae_bf16, models::vae_decoder_weight_bytes(released().vae, at::kBFloat16));
  EXPECT_GT(vae_bf16, 2 * cost.vae_params().total());
  EXPECT_LT(vae_bf16, 2 * cost.vae_params().total() + 2 * kMiB);
  EXPECT_EQ(cost.stage_cost(vae, gpu_profile(WeightFormat::kFp16)).weights, 4 * cost.vae_params().total());
}

// What the planner counts for 8-bit weights is what the models hold (8-bit
// matrices with their scales, vectors in the compute dtype; Jina, the DiT's
// embedders and final layer dense): the tiny model whole, and one released
// DiT block and Gemma layer (the bulk of the released model's bytes).
TEST(CostModel, EightBitWeightBytesAreWhatTheModelsHold) {
  const auto tiny = model_from_preset("tiny");
  const CostModel tiny_cost(tiny, Workload{});
  const CostModel released_cost(released(), Workload{});
  auto profile = [](WeightFormat f, bool cpu) {
    auto p = make_profile(gpu(), f, f, AttentionKind::kFlash, DeviceSpeeds());
    if (cpu) {
      p.device.name = "cpu";
      p.device.kind = DeviceKind::kCpu;
    }
    return p;
  };
  auto near = [](int64_t held, int64_t estimate, double tolerance, const std::string& what) {
    const double ratio = static_cast<double>(estimate) / static_cast<double>(held);
    std::printf("%-34s held %10lld B, estimated %10lld B (%+.2f%%)\n", what.c_str(), static_cast<long long>(held),
                static_cast<long long>(estimate), 100 * (ratio - 1));
    EXPECT_NEAR(ratio, 1.0, tolerance) << what;
  };
  for (const auto format : {WeightFormat::kInt8, WeightFormat::kFp8}) {
    for (const bool cpu : {false, true}) {
      // The GPU layout (bf16 compute) is built on the CPU in bf16: the same tensors.
      const auto options = at::TensorOptions().dtype(cpu ? at::kFloat : at::kBFloat16);
      const std::string tag = weight_format_name(format) + (cpu ? " on a CPU" : " on a GPU");

      RandomTensorSource tiny_dit(models::nextdit_tensor_shapes(tiny.dit), 1);
      StageContent dit{StageKind::kDit};
      dit.dit_end = static_cast<int>(tiny.dit.n_layers);
      dit.prologue = dit.final = true;
      near(models::NextDit(tiny.dit, tiny_dit, options, format).weight_bytes(),
           tiny_cost.stage_cost(dit, profile(format, cpu)).weights, 0.015, "tiny DiT, " + tag);

      RandomTensorSource tiny_gemma(models::gemma3_tensor_shapes(tiny.gemma), 2, 0.0);
      RandomTensorSource tiny_jina(models::jina_tensor_shapes(tiny.jina), 3);
      StageContent text{StageKind::kText};
      text.jina = text.gemma_embed = true;
      text.gemma_end = static_cast<int>(tiny.gemma.used_layers());
      near(models::Gemma3TextModel(tiny.gemma, tiny_gemma, options, {}, format).weight_bytes() +
               models::JinaTextModel(tiny.jina, tiny_jina, options).weight_bytes(),
           tiny_cost.stage_cost(text, profile(format, cpu)).weights, 0.015, "tiny text stage, " + tag);

      if (cpu) continue;  // the released pieces once per format
      RandomTensorSource block(models::nextdit_tensor_shapes(released().dit), 4);
      StageContent one_block{StageKind::kDit};
      one_block.dit_begin = 3;
      one_block.dit_end = 4;
      near(models::DitBlocks(released().dit, block, 3, 4, options, format).weight_bytes(),
           released_cost.stage_cost(one_block, profile(format, cpu)).weights, 0.001, "released DiT block, " + tag);
      auto gemma_shapes = models::gemma3_tensor_shapes(released().gemma);
      gemma_shapes.erase("embed_tokens.weight");  // 671 M parameters: not needed for one layer
      RandomTensorSource layer(gemma_shapes, 5, 0.0);
      StageContent one_layer{StageKind::kText};
      one_layer.gemma_begin = 3;
      one_layer.gemma_end = 4;
      near(models::Gemma3TextModel(released().gemma, layer, options, {3, 4}, format).weight_bytes(),
           released_cost.stage_cost(one_layer, profile(format, cpu)).weights, 0.001, "released Gemma layer, " + tag);
    }
  }
}

TEST(CostModel, DitEstimateIsNearThePyTorchPeakOfBaselines) {
  // baselines.md: eager PyTorch peaks at 7.28 GiB for the released DiT, 1024^2 CFG call.
  const CostModel cost(released(), baseline_1024());
  const auto s = cost.stage_cost(whole_dit(), gpu_profile());
  const double gib = static_cast<double>(s.weights + s.activations) / kGiB;
  std::printf("DiT 1024^2 CFG batch: weights + activations %.2f GiB (PyTorch measured 7.28 GiB)\n", gib);
  EXPECT_NEAR(gib, 7.28, 0.73);
}

TEST(CostModel, ActivationsGrowWithMicrobatchSizeAndAttentionKind) {
  StageContent middle{StageKind::kDit};
  middle.dit_begin = 10;
  middle.dit_end = 20;
  Workload one;
  Workload two;
  two.microbatch_samples = 2;
  const auto a1 = CostModel(released(), one).stage_cost(middle, gpu_profile()).activations;
  const auto a2 = CostModel(released(), two).stage_cost(middle, gpu_profile()).activations;
  EXPECT_EQ(a2, 2 * a1);
  // math attention holds [H, S, S] float32 scores: 24 x 4608^2 x 4 x 3 > 5 GiB.
  const auto math = CostModel(released(), one).stage_cost(middle, gpu_profile(WeightFormat::kBf16, AttentionKind::kMath));
  EXPECT_GT(math.activations, 5 * kGiB);
  EXPECT_LT(a1, kGiB / 2);
  // Quadratic in the image tokens with math attention, linear with flash.
  Workload small = one;
  small.width = small.height = 512;
  small.caption_tokens = 1;
  Workload large = small;
  large.width = large.height = 1024;
  const auto flash_ratio = static_cast<double>(CostModel(released(), large).stage_cost(middle, gpu_profile()).activations) /
                           static_cast<double>(CostModel(released(), small).stage_cost(middle, gpu_profile()).activations);
  EXPECT_NEAR(flash_ratio, 4.0, 0.1);
}

TEST(CostModel, DeviceTotalAddsWeightsAndTakesTheLargestActivation) {
  const CostModel cost(released(), Workload{});
  const auto p = gpu_profile();
  StageCost parts[2] = {cost.stage_cost(whole_text(), p), cost.stage_cost(StageContent{StageKind::kVae}, p)};
  const auto d = cost.device_cost(parts, 2, p);
  EXPECT_EQ(d.weights, parts[0].weights + parts[1].weights);
  EXPECT_EQ(d.activations, std::max(parts[0].activations, parts[1].activations));
  EXPECT_EQ(d.context, kDefaultCudaContextBytes);
  EXPECT_EQ(d.total, d.weights + d.activations + d.workspace + d.context + d.margin);
  EXPECT_GE(d.margin, kMinMargin);
  // Time-shared stages count as their own phase: the larger phase, not the sum.
  parts[0].time_shared = true;
  const auto shared = cost.device_cost(parts, 2, p);
  EXPECT_LT(shared.total, d.total);
  EXPECT_EQ(shared.weights, parts[0].weights);
  EXPECT_DOUBLE_EQ(shared.time_shared_ms, parts[0].ms_per_image);
}

// Issue 8's VAE measurements on an H200 (FLUX VAE, released size, random
// weights, bf16, libtorch 2.x; `bash bench/vae_gpu.sh`): peak bytes allocated,
// weights included. The estimate is what `baton bench memory` compares:
// weights + activations + the GPU library workspace.
TEST(VaeModel, MatchesTheH200Measurements) {
  const auto& vae = released().vae;
  const int64_t weights = models::vae_decoder_weight_bytes(vae, at::kBFloat16);
  auto within_10_percent = [](double measured_gib, int64_t estimate) {
    const double ratio = measured_gib * double(kGiB) / double(estimate);
    std::printf("measured %.2f GiB, estimate %.3f GiB, ratio %.3f\n", measured_gib, double(estimate) / double(kGiB),
                ratio);
    return ratio > 0.9 && ratio < 1.1;
  };
  // Untiled 1024x1024: 2.13 GiB (the activation model without cuDNN's copies said 1.41, ratio 1.51).
  Workload w;
  const CostModel cost(released(), w);
  const auto stage = cost.stage_cost(StageContent{StageKind::kVae}, gpu_profile());
  EXPECT_EQ(stage.weights, weights);
  EXPECT_TRUE(within_10_percent(2.13, stage.weights + stage.activations + kGpuLibraryWorkspace));
  // 2048x2048 in 64x64 latent tiles: 0.72 GiB.
  const auto tiles64 = models::VaeTiling::square(64);
  EXPECT_TRUE(within_10_percent(
      0.72, weights + models::vae_tiled_decode_peak_bytes(vae, 256, 256, at::kBFloat16, tiles64) + kGpuLibraryWorkspace));
  // Under a 2 GiB allocator cap cuDNN gives its copies up when refused: a decode
  // whose estimate exceeds the cap peaks between the least (no copies) and the cap.
  const int64_t cap = 2 * kGiB;
  // 2048x2048 in 136x136 tiles (what the estimate without copies chose): 1.61 GiB, at the least.
  const auto tiles136 = models::VaeTiling::square(136);
  EXPECT_GT(weights + models::vae_tiled_decode_peak_bytes(vae, 256, 256, at::kBFloat16, tiles136), cap);
  EXPECT_TRUE(within_10_percent(
      1.61, weights + models::vae_tiled_decode_least_bytes(vae, 256, 256, at::kBFloat16, tiles136) + kGpuLibraryWorkspace));
  // 1024x1024 whole (the old choice under that cap): 1.63 GiB, some copies granted.
  const int64_t least = weights + models::vae_tiled_decode_least_bytes(vae, 128, 128, at::kBFloat16, models::VaeTiling::whole());
  EXPECT_LT(least + kGpuLibraryWorkspace, 1.63 * double(kGiB));
  EXPECT_GT(weights + models::vae_decode_peak_bytes(vae, 128, 128, at::kBFloat16), cap);
  // Now the bench's budget under that cap (cap - weights - 256 MiB margin) tiles both sizes
  // with tiles whose estimate, copies included, stays under the cap.
  const int64_t budget = cap - weights - 256 * kMiB;
  for (int64_t side : {128, 256}) {
    const auto t = models::choose_vae_tile(vae, side, side, at::kBFloat16, budget);
    EXPECT_FALSE(t.covers(side, side)) << side;
    EXPECT_LE(weights + models::vae_tiled_decode_peak_bytes(vae, side, side, at::kBFloat16, t) + kGpuLibraryWorkspace,
              cap)
        << side;
  }
}

TEST(VaeModel, IsTheVaeHelpersEstimateWholeOrTiled) {
  const auto& vae = released().vae;
  const auto whole = vae_activations(vae, 1024, 1024, 2, false, models::VaeTiling::whole()).total;
  EXPECT_EQ(whole, models::vae_decode_peak_bytes(vae, 128, 128, at::kBFloat16));
  EXPECT_GT(whole, kGiB);
  const auto tiles = models::VaeTiling::square(64);
  const auto tiled = vae_activations(vae, 1024, 1024, 2, false, tiles).total;
  EXPECT_EQ(tiled, models::vae_tiled_decode_peak_bytes(vae, 128, 128, at::kBFloat16, tiles));
  EXPECT_LT(tiled, whole / 2);
  // On a CPU in float32: the CPU estimate (oneDNN copies), float32 elements.
  EXPECT_EQ(vae_activations(vae, 512, 512, 4, true, models::VaeTiling::whole()).total,
            models::vae_decode_peak_bytes(vae, 64, 64, at::kFloat, 1, c10::DeviceType::CPU));
  // The stage's weights as VaeDecoder loads them.
  const CostModel cost(released(), Workload{});
  StageContent c{StageKind::kVae};
  EXPECT_EQ(cost.stage_cost(c, gpu_profile()).weights, models::vae_decoder_weight_bytes(vae, at::kBFloat16));
  EXPECT_EQ(cost.stage_cost(c, gpu_profile()).activations, whole);
  c.vae_tiling = tiles;
  EXPECT_EQ(cost.stage_cost(c, gpu_profile()).activations, tiled);
  // Tiles decode their overlaps too: more work than one decode (3 x 3 tiles of 64 with overlap 16).
  EXPECT_GT(vae_flops_per_image(vae, 1024, 1024, tiles), vae_flops_per_image(vae, 1024, 1024, models::VaeTiling::whole()));
}

TEST(CostModel, ActivationRoomIsTheLargestThatKeepsTheDeviceInBudget) {
  const CostModel cost(released(), Workload{});
  auto p = gpu_profile();
  p.device.budget = 8 * kGiB;
  std::vector<StageCost> parts = {cost.stage_cost(whole_dit(), p), cost.stage_cost(StageContent{StageKind::kVae}, p)};
  const int64_t room = cost.activation_room(parts, 1, p);
  ASSERT_GT(room, 0);
  auto total_with = [&](int64_t activations) {
    auto q = parts;
    q[1].activations = activations;
    q[1].workspace = CostModel::workspace_bytes(activations, p);
    return cost.device_cost(q.data(), q.size(), p).total;
  };
  EXPECT_LE(total_with(room), p.device.budget);
  EXPECT_GT(total_with(room + 1), p.device.budget);
  p.device.budget = 4 * kGiB;  // not even the DiT's weights
  EXPECT_EQ(cost.activation_room(parts, 1, p), -1);
}

TEST(Workload, BadSizesAreRefusedWithTheRule) {
  Workload w;
  w.width = 1000;
  try {
    validate_workload(w, released());
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.hint()).find("multiples of 16"), std::string::npos) << e.hint();
  }
  w.width = 1024;
  w.caption_tokens = 2000;
  EXPECT_THROW(validate_workload(w, released()), UsageError);
  w.caption_tokens = 128;
  w.microbatch_samples = 3;
  EXPECT_THROW(validate_workload(w, released()), UsageError);
}

TEST(DeviceSpeeds, DefaultTableAndCalibrationOverrides) {
  DeviceSpeeds defaults;
  EXPECT_EQ(defaults.speed(gpu("cuda:0", "NVIDIA H100 80GB HBM3"), WeightFormat::kBf16).tflops, 350);
  EXPECT_EQ(defaults.speed(gpu("cuda:0", "NVIDIA GeForce RTX 4060"), WeightFormat::kBf16).tflops, 100);
  InventoryDevice cpu;
  cpu.name = "cpu";
  EXPECT_EQ(defaults.speed(cpu, WeightFormat::kFp32).tflops, 0.5);
  EXPECT_EQ(defaults.speed(cpu, WeightFormat::kFp32).context_bytes, kDefaultCpuRuntimeBytes);

  test::TempDir dir;
  {
    std::ofstream f(dir.file("cal.json"));
    f << R"({"format_version": 1, "entries": [
      {"match": "cuda", "dtype": "bf16", "tflops": 80},
      {"match": "RTX 4060", "dtype": "bf16", "tflops": 70, "context_bytes": "400000000"},
      {"match": "cuda:1", "tflops": 55}]})";
  }
  DeviceSpeeds calibrated(load_calibration(dir.file("cal.json")));
  EXPECT_EQ(calibrated.speed(gpu("cuda:0"), WeightFormat::kBf16).tflops, 80);
  EXPECT_EQ(calibrated.speed(gpu("cuda:0", "NVIDIA GeForce RTX 4060"), WeightFormat::kBf16).tflops, 70);
  EXPECT_EQ(calibrated.speed(gpu("cuda:0", "NVIDIA GeForce RTX 4060"), WeightFormat::kBf16).context_bytes, 400000000);
  EXPECT_EQ(calibrated.speed(gpu("cuda:1", "NVIDIA GeForce RTX 4060"), WeightFormat::kBf16).tflops, 55);
  EXPECT_EQ(calibrated.speed(gpu("cuda:0"), WeightFormat::kFp32).tflops, 20);  // no fp32 entry: the default
  calibrated.override_cuda_context(300 * kMiB);
  EXPECT_EQ(calibrated.speed(gpu("cuda:0", "RTX 4060"), WeightFormat::kBf16).context_bytes, 300 * kMiB);

  // What `baton bench --calibrate` will write reads back.
  save_calibration(dir.file("out.json"), calibrated.calibration());
  EXPECT_EQ(load_calibration(dir.file("out.json")).entries_size(), 3);
  {
    std::ofstream f(dir.file("bad.json"));
    f << R"({"format_version": 1, "entries": [{"match": "cuda", "tflops": -1}]})";
  }
  EXPECT_THROW(load_calibration(dir.file("bad.json")), UsageError);
  {
    std::ofstream f(dir.file("typo.json"));
    f << R"({"format_version": 1, "entries": [{"mach": "cuda"}]})";
  }
  EXPECT_THROW(load_calibration(dir.file("typo.json")), UsageError);
}

}  // namespace
}  // namespace baton::partition
