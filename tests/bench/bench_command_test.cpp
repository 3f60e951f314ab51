// `baton bench` end to end on the tiny model and the CPU: each scenario runs in
// seconds and reports real measurements; --calibrate writes the file that
// `baton plan --calibration` reads.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "bench/kernel_profile.h"
#include "partition/device_speeds.h"
#include "partition/plan_file.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {

bool has(const CommandResult& r, const std::string& text) { return r.output.find(text) != std::string::npos; }

// Runs `baton bench ARGS --json-out FILE` and returns the JSON it wrote.
nlohmann::json bench_json(const TempDir& dir, const std::string& args) {
  const auto file = dir.file("out.json");
  const auto r = run_command(baton_command() + " bench " + args + " --json-out " + file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(file);
  if (!in) return {};
  return nlohmann::json::parse(in);
}

const std::string kTinyCpu = " --preset tiny --device cpu --iters 2 --warmup 1";

TEST(BenchCommand, DitTimesTheGuidedCallOfTheTinyModel) {
  TempDir dir;
  const auto j = bench_json(dir, "dit" + kTinyCpu + " --width 64 --height 64");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["benchmark"], "nextdit_guided_call");
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["dtype"], "fp32");
  ASSERT_EQ(j["results"].size(), 1u);
  const auto& row = j["results"][0];
  EXPECT_EQ(row["size"], "64x64");
  EXPECT_EQ(row["image_tokens"], 16);  // (64 / 16)^2
  EXPECT_EQ(row["tokens"], 128 + 16);
  EXPECT_GT(row["median_ms"].get<double>(), 0);
  EXPECT_LE(row["min_ms"].get<double>(), row["median_ms"].get<double>());
  EXPECT_GT(row["tflop"].get<double>(), 0);
  EXPECT_GT(row["caption_median_ms"].get<double>(), 0);
  // The table, and two sizes in one run.
  const auto r = run_command(baton_command() + " bench dit" + kTinyCpu + " --size 64x64 --size 32x64");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* text : {"median_ms", "TFLOP/s", "64x64", "32x64", "baselines.md"})
    EXPECT_TRUE(has(r, text)) << text << "\n" << r.output;
}

TEST(BenchCommand, DitBreakdownSplitsOneBlockIntoItsParts) {
  TempDir dir;
  const auto j = bench_json(dir, "dit --breakdown" + kTinyCpu + " --size 64x64");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["benchmark"], "nextdit_block_breakdown");
  EXPECT_EQ(j["rows"], (128 + 16) + (8 + 16));  // both CFG samples: captions + (64 / 16)^2 image tokens each
  ASSERT_EQ(j["results"].size(), 4u);
  EXPECT_EQ(j["results"][0]["part"], "whole block");
  EXPECT_EQ(j["results"][0]["share"], 1.0);
  double parts = 0;
  for (size_t i = 1; i < 4; ++i) {
    if (i < 3) {
      EXPECT_GT(j["results"][i]["median_ms"].get<double>(), 0) << j["results"][i]["part"];
    }
    parts += j["results"][i]["median_ms"].get<double>();
  }
  EXPECT_NEAR(parts, j["results"][0]["median_ms"].get<double>(), 1e-9);
  EXPECT_GT(j["rest_min_bytes"].get<double>(), 0);
}

TEST(BenchCommand, DitProfileListsTheOperatorsOfTheCall) {
  TempDir dir;
  const auto trace = dir.file("trace.json");
  const auto j = bench_json(dir, "dit --profile --top 5 --trace " + trace + kTinyCpu + " --size 64x64");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["benchmark"], "nextdit_profile");
  EXPECT_EQ(j["runs"], 2);
  EXPECT_EQ(j["size"], "64x64");
  const double busy = j["busy_ms_per_call"].get<double>();
  EXPECT_GT(busy, 0);
  EXPECT_LE(busy, j["wall_ms_per_call"].get<double>() * 1.05);  // self times never exceed the wall time
  // The tiny model's call is matrix products and more; the categories add up to the busy time.
  ASSERT_TRUE(j["categories"].contains("matrix product")) << j["categories"].dump();
  EXPECT_GT(j["categories"]["matrix product"].get<double>(), 0);
  double categories = 0;
  for (const auto& [name, ms] : j["categories"].items()) categories += ms.get<double>();
  EXPECT_NEAR(categories, busy, 1e-6 * busy);
  // Five operators, then the others in one row; the shares add up to one.
  ASSERT_EQ(j["results"].size(), 6u);
  double share = 0;
  for (size_t i = 0; i < 6; ++i) {
    share += j["results"][i]["share"].get<double>();
    if (i > 0 && i < 5) {
      EXPECT_GE(j["results"][i - 1]["ms"].get<double>(), j["results"][i]["ms"].get<double>());
    }
  }
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_EQ(j["results"][5]["kernel"].get<std::string>().rfind("other (", 0), 0u);
  // A libtorch with Kineto writes the trace; Debian's (without) says why it did not.
  std::ifstream written(trace);
  if (!written.good()) {
    EXPECT_NE(j["notes"].dump().find("no trace written to " + trace), std::string::npos) << j.dump();
  }
  // --profile is a scenario of its own; --top and --trace need it.
  const auto r = run_command(baton_command() + " bench dit --profile --breakdown" + kTinyCpu);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(run_command(baton_command() + " bench dit --top 3" + kTinyCpu).exit_code, 2);
}

TEST(KernelCategory, NamesTheWorkOfCudaKernelsAndCpuOperators) {
  EXPECT_EQ(bench::kernel_category("nvjet_sm90_tst_256x128_64x4_1x2_h_bz_coopA_NNT"), "matrix product");
  EXPECT_EQ(bench::kernel_category("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64"), "matrix product");
  EXPECT_EQ(bench::kernel_category("aten::addmm"), "matrix product");
  EXPECT_EQ(bench::kernel_category("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_3"), "attention");
  EXPECT_EQ(bench::kernel_category("aten::_softmax"), "attention");
  EXPECT_EQ(bench::kernel_category("void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::BFloat16>"),
            "normalization");
  EXPECT_EQ(bench::kernel_category("void at::native::CatArrayBatchedCopy<at::native::OpaqueType<2u>>"), "copy and cast");
  EXPECT_EQ(bench::kernel_category("Memcpy HtoD (Pageable -> Device)"), "copy and cast");
  EXPECT_EQ(bench::kernel_category("void at::native::vectorized_elementwise_kernel<4, at::native::silu_kernel>"),
            "elementwise and other");
}

TEST(BenchCommand, TextEncodesWithBothEncoders) {
  TempDir dir;
  const auto j = bench_json(dir, "text" + kTinyCpu);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["gemma3_layers_run"], 3);  // 4 layers, hidden_states[-2]
  EXPECT_GT(j["gemma3_weights_saved_bytes"].get<int64_t>(), 0);
  ASSERT_EQ(j["results"].size(), 6u);  // 2x128, 1x128, 1x8 per encoder
  for (const auto& row : j["results"]) {
    EXPECT_GT(row["median_ms"].get<double>(), 0) << row.dump();
    EXPECT_GT(row["weight_bytes"].get<int64_t>(), 0) << row.dump();
  }
  EXPECT_EQ(j["results"][0]["model"], "gemma3");
  EXPECT_EQ(j["results"][5]["model"], "jina");
}

TEST(BenchCommand, VaeDecodesWholeAndTiled) {
  TempDir dir;
  const auto j = bench_json(dir, "vae --preset tiny --device cpu --iters 1 --warmup 0 --width 256 --height 256 --tile 16");
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j["results"].size(), 2u);
  const auto& whole = j["results"][0];
  const auto& tiled = j["results"][1];
  EXPECT_EQ(whole["case"], "untiled");
  EXPECT_EQ(whole["tiles"], 1);
  EXPECT_EQ(tiled["case"], "tiled");
  EXPECT_EQ(tiled["tiles"], 9);  // 32x32 latent in 16-tiles with overlap 4: 3 x 3
  EXPECT_LT(tiled["estimate_bytes"].get<int64_t>(), whole["estimate_bytes"].get<int64_t>());
  EXPECT_GT(tiled["median_ms"].get<double>(), 0);
}

// The planner's estimate against the counting allocator, stage by stage.
TEST(BenchCommand, MemoryComparesEveryStageWithThePlansEstimate) {
  TempDir dir;
  const auto j = bench_json(dir, "memory" + kTinyCpu + " --width 128 --height 128 --caption-tokens 32 --microbatch 2");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["benchmark"], "memory_per_stage");
  ASSERT_EQ(j["results"].size(), 3u) << j.dump(1);  // text, DiT, VAE on the one device
  for (const auto& row : j["results"]) {
    const double ratio = row["ratio"].get<double>();
    std::printf("%s: estimate %lld, measured %lld, ratio %.3f\n", row["stage"].get<std::string>().c_str(),
                static_cast<long long>(row["estimate_bytes"].get<int64_t>()),
                static_cast<long long>(row["peak_bytes"].get<int64_t>()), ratio);
    EXPECT_GT(row["weights_measured_bytes"].get<int64_t>(), 0) << row.dump();
    EXPECT_GT(row["activations_measured_bytes"].get<int64_t>(), 0) << row.dump();
    EXPECT_DOUBLE_EQ(ratio, static_cast<double>(row["peak_bytes"].get<int64_t>()) /
                                static_cast<double>(row["estimate_bytes"].get<int64_t>()));
    EXPECT_GT(ratio, 0.5) << row.dump();
    EXPECT_LT(ratio, 1.5) << row.dump();
  }
  // One kind only, from a saved plan.
  const auto plan = dir.file("plan.json");
  auto r = run_command(baton_command() + " plan --preset tiny --no-detect --devices cpu=4GiB --width 64 --height 64 -o " + plan);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto k = bench_json(dir, "memory --device cpu --iters 1 --warmup 0 --plan " + plan + " --stages dit");
  ASSERT_EQ(k["results"].size(), 1u) << k.dump(1);
  EXPECT_EQ(k["width"], 64);
  EXPECT_EQ(k["caption_tokens"], 512);
  EXPECT_NE(k["results"][0]["stage"].get<std::string>().find("DiT"), std::string::npos);
}

TEST(BenchCommand, CalibrationFeedsThePlansSpeedEstimate) {
  TempDir dir;
  const auto file = dir.file("calibration.json");
  const auto j = bench_json(dir, "--calibrate" + kTinyCpu + " --width 64 --height 64 -o " + file);
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j["results"].size(), 1u);
  const double measured = j["results"][0]["tflops"].get<double>();
  ASSERT_GT(measured, 0);
  const auto calibration = partition::load_calibration(file);
  ASSERT_EQ(calibration.entries_size(), 1);
  EXPECT_EQ(calibration.entries(0).match(), "cpu");
  EXPECT_EQ(calibration.entries(0).dtype(), "fp32");
  EXPECT_DOUBLE_EQ(calibration.entries(0).tflops(), measured);
  EXPECT_FALSE(calibration.entries(0).measured_at().empty());

  const std::string plan = baton_command() + " plan --preset tiny --no-detect --devices cpu=4GiB --width 64 --height 64 -o ";
  auto r = run_command(plan + dir.file("default.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(plan + dir.file("calibrated.json") + " --calibration " + file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto before = partition::load_plan(dir.file("default.json"));
  const auto after = partition::load_plan(dir.file("calibrated.json"));
  EXPECT_DOUBLE_EQ(after.usage(0).tflops(), measured);
  // Time = work / throughput: the estimate scales with the measured speed.
  EXPECT_NEAR(after.usage(0).ms_per_image() * measured, before.usage(0).ms_per_image() * before.usage(0).tflops(),
              1e-6 * before.usage(0).ms_per_image() * before.usage(0).tflops());
  EXPECT_NE(after.usage(0).ms_per_image(), before.usage(0).ms_per_image());

  // A second calibration of another dtype is merged into the file.
  bench_json(dir, "--calibrate" + kTinyCpu + " --width 64 --height 64 --dtypes bf16 -o " + file);
  EXPECT_EQ(partition::load_calibration(file).entries_size(), 2);
}

TEST(BenchCommand, UsageMistakesExitTwo) {
  auto r = run_command(baton_command() + " bench");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r, "--calibrate")) << r.output;
  EXPECT_EQ(run_command(baton_command() + " bench dit --preset tiny --device cpu --size 100x100").exit_code, 2);
  EXPECT_EQ(run_command(baton_command() + " bench dit --preset tiny --device cpu --sdpa fast").exit_code, 2);
  r = run_command(baton_command() + " bench dit --preset tiny --device cpu --cuda-graphs on");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r, "--cuda-graphs on needs a CUDA device")) << r.output;
  EXPECT_EQ(run_command(baton_command() + " bench dit --preset tiny --device cpu --cuda-graphs maybe").exit_code, 2);
  EXPECT_EQ(run_command(baton_command() + " bench memory --preset tiny --device cpu --stages unet").exit_code, 2);
  EXPECT_EQ(run_command(baton_command() + " bench text --device gpu:0").exit_code, 2);
  r = run_command(baton_command() + " bench --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text : {"dit", "text", "vae", "memory", "--calibrate"}) EXPECT_TRUE(has(r, text)) << text;
}

}  // namespace
}  // namespace baton::test
