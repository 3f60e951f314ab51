// `baton bench image|throughput` (the generate pipeline end to end) and the
// --weights comparisons of `baton bench dit|text`, on the demo/tiny model and
// the CPU: the numbers exist, are positive and add up.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {

bool has(const CommandResult& r, const std::string& text) { return r.output.find(text) != std::string::npos; }

std::string baton_in(const TempDir& dir) {
  return "BATON_CACHE_DIR=" + dir.file("cache") + " OMP_NUM_THREADS=1 " + baton_command();
}

nlohmann::json run_json(const TempDir& dir, const std::string& args) {
  const auto file = dir.file("out.json");
  std::remove(file.c_str());
  const auto r = run_command(baton_in(dir) + " bench " + args + " --json-out " + file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(file);
  if (!in) return {};
  return nlohmann::json::parse(in);
}

const std::string kDemo = " --model demo --devices cpu --width 64 --height 48 --steps 2";

// One device: every stage and its busy time, one peak, and the stages' busy
// seconds cannot exceed the images' wall time (they share the one thread).
void expect_one_cpu_device(const nlohmann::json& j) {
  ASSERT_EQ(j["peaks"].size(), 1u) << j.dump(1);
  EXPECT_EQ(j["peaks"][0]["device"], "cpu");
  EXPECT_GT(j["peaks"][0]["peak_bytes"].get<int64_t>(), 0);
  std::vector<std::string> stages;
  for (const auto& row : j["results"]) {
    stages.push_back(row["stage"]);
    EXPECT_EQ(row["device"], "cpu");
    EXPECT_GT(row["busy_seconds"].get<double>(), 0) << row.dump();
  }
  EXPECT_EQ(stages, (std::vector<std::string>{"text", "dit0", "vae"})) << j.dump(1);
  EXPECT_FALSE(j["busy_includes_warmup"].get<bool>());
  EXPECT_EQ(j["model"], "demo");
  EXPECT_EQ(j["dtype"], "fp32");
  EXPECT_EQ(j["width"], 64);
  EXPECT_EQ(j["height"], 48);
  EXPECT_EQ(j["steps"], 2);
  EXPECT_GT(j["open_seconds"].get<double>(), 0);
}

TEST(PipelineBench, ImageTimesWholeImagesStageByStage) {
  TempDir dir;
  const auto j = run_json(dir, "image" + kDemo + " --iters 3 --warmup 1");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["benchmark"], "pipeline_image");
  ASSERT_EQ(j["image_seconds"].size(), 3u);
  const double med = j["seconds_per_image"].get<double>();
  EXPECT_GT(j["min_seconds"].get<double>(), 0);
  EXPECT_LE(j["min_seconds"].get<double>(), med);
  EXPECT_LE(med, j["max_seconds"].get<double>());
  expect_one_cpu_device(j);
  double busy = 0, wall = 0;
  for (const auto& row : j["results"]) {
    EXPECT_NEAR(row["busy_seconds_per_image"].get<double>(), row["busy_seconds"].get<double>() / 3, 1e-9);
    EXPECT_NEAR(row["busy_share"].get<double>(), row["busy_seconds_per_image"].get<double>() / med, 1e-9);
    busy += row["busy_seconds"].get<double>();
  }
  for (const auto& s : j["image_seconds"]) wall += s.get<double>();
  EXPECT_LE(busy, wall * 1.01) << j.dump(1);
  EXPECT_GT(busy, wall * 0.2) << "the stages do most of an image's work: " << j.dump(1);

  const auto r = run_command(baton_in(dir) + " bench image" + kDemo + " --iters 1 --warmup 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* text : {"seconds per image: median", "peak on cpu:", "busy_s/image", "dit0", "baselines.md"})
    EXPECT_TRUE(has(r, text)) << text << "\n" << r.output;
}

TEST(PipelineBench, ThroughputQueuesPromptsAndReportsBusyFractions) {
  TempDir dir;
  const auto j = run_json(dir, "throughput" + kDemo + " --prompts 3 --warmup 1");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["benchmark"], "pipeline_throughput");
  EXPECT_EQ(j["prompts"], 3);
  const double seconds = j["seconds"].get<double>();
  ASSERT_GT(seconds, 0);
  EXPECT_NEAR(j["images_per_minute"].get<double>(), 3 * 60.0 / seconds, 1e-9);
  EXPECT_GT(j["plan_images_per_minute"].get<double>(), 0);
  expect_one_cpu_device(j);
  double fractions = 0;
  for (const auto& row : j["results"]) {
    const double f = row["busy_fraction"].get<double>();
    EXPECT_NEAR(f, row["busy_seconds"].get<double>() / seconds, 1e-9);
    fractions += f;
  }
  // One device: its stages take turns, so their fractions add up to at most 1.
  EXPECT_LE(fractions, 1.01);
  EXPECT_GT(fractions, 0.2);
}

TEST(PipelineBench, UsageMistakesExitTwo) {
  TempDir dir;
  EXPECT_EQ(run_command(baton_in(dir) + " bench image" + kDemo + " --iters 0").exit_code, 2);
  EXPECT_EQ(run_command(baton_in(dir) + " bench throughput" + kDemo + " --prompts 0").exit_code, 2);
  EXPECT_EQ(run_command(baton_in(dir) + " bench image --model demo --devices cpu --width 100").exit_code, 2);
  EXPECT_EQ(run_command(baton_in(dir) + " bench image --model /nonexistent/model").exit_code, 2);
}

#ifdef BATON_MPIEXEC
// Under mpirun the pipeline spans the ranks: rank 0 alone prints the report,
// with every rank's peak.
TEST(PipelineBench, ImageUnderMpirunReportsOnceWithEveryRanksPeak) {
  TempDir dir;
  const std::string mpi = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 ";
  // Make the demo model once, then plan its stages over two ranks.
  auto r = run_command(baton_in(dir) + " bench image" + kDemo + " --iters 1 --warmup 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto plan = dir.file("plan.json");
  r = run_command(baton_in(dir) + " plan --model " + dir.file("cache/demo-model-v1") +
                  " --devices r0/cpu=2GiB,r1/cpu=2GiB --width 64 --height 48 -o " + plan);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  {  // The VAE on rank 1, the rest on rank 0: both ranks hold a stage.
    std::ifstream in(plan);
    auto j = nlohmann::json::parse(in);
    for (auto& stage : j.at("stages"))
      if (stage.at("kind") == "VAE") stage["device"] = "r1/cpu";
    std::ofstream(plan) << j.dump(1);
  }
  r = run_command("BATON_CACHE_DIR=" + dir.file("cache") + " OMP_NUM_THREADS=1 BATON_LOG_LEVEL=warn " + mpi +
                      BATON_MPIEXEC + " -np 2 --oversubscribe " + baton_command() + " bench image --model demo --plan " +
                      plan + " --width 64 --height 48 --steps 2 --iters 1 --warmup 1 --json",
                  180);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  size_t reports = 0;
  for (size_t at = r.output.find("\"benchmark\""); at != std::string::npos; at = r.output.find("\"benchmark\"", at + 1))
    ++reports;
  EXPECT_EQ(reports, 1u) << r.output;
  const auto json = nlohmann::json::parse(r.output.substr(r.output.find('{'), r.output.rfind('}') - r.output.find('{') + 1));
  ASSERT_EQ(json["peaks"].size(), 2u) << json.dump(1);
  EXPECT_EQ(json["peaks"][0]["device"], "r0/cpu");
  EXPECT_EQ(json["peaks"][1]["device"], "r1/cpu");
  for (const auto& p : json["peaks"]) EXPECT_GT(p["peak_bytes"].get<int64_t>(), 0);
  EXPECT_TRUE(json["busy_includes_warmup"].get<bool>());
  EXPECT_GT(json["seconds_per_image"].get<double>(), 0);
}
#endif

TEST(WeightsBench, DitComparesEightBitFormatsWithTheDenseModel) {
  TempDir dir;
  const auto j = run_json(dir, "dit --preset tiny --device cpu --iters 1 --warmup 0 --width 64 --height 64 "
                               "--weights fp32,int8,fp8");
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j["results"].size(), 3u) << j.dump(1);
  const auto& dense = j["results"][0];
  const auto& int8 = j["results"][1];
  const auto& fp8 = j["results"][2];
  EXPECT_EQ(dense["weights"], "fp32");
  EXPECT_EQ(int8["weights"], "int8");
  EXPECT_EQ(fp8["weights"], "fp8");
  EXPECT_FALSE(dense.contains("rel_l2_vs_dense"));
  for (const auto* row : {&int8, &fp8}) {
    EXPECT_GT((*row)["median_ms"].get<double>(), 0);
    // 8-bit matrices: about a quarter of the fp32 bytes (the small embedders stay dense).
    EXPECT_LT((*row)["weight_bytes"].get<int64_t>(), dense["weight_bytes"].get<int64_t>() / 2);
    EXPECT_GT((*row)["rel_l2_vs_dense"].get<double>(), 1e-4);
  }
  EXPECT_LT(int8["rel_l2_vs_dense"].get<double>(), 0.03);  // docs/quantization.md: dit_a 5e-3
  EXPECT_LT(fp8["rel_l2_vs_dense"].get<double>(), 0.1);    // and 2.1e-2
  EXPECT_LT(int8["rel_l2_vs_dense"].get<double>(), fp8["rel_l2_vs_dense"].get<double>());
  ASSERT_EQ(j["formats"].size(), 3u);
  EXPECT_EQ(j["weight_bytes"], dense["weight_bytes"]);
  // A dense entry names the compute dtype: it must agree with --dtype.
  EXPECT_EQ(run_command(baton_command() + " bench dit --preset tiny --device cpu --dtype fp32 --weights bf16").exit_code, 2);
}

TEST(WeightsBench, TextComparesEightBitGemmaWithTheDenseOne) {
  TempDir dir;
  const auto j = run_json(dir, "text --preset tiny --device cpu --iters 1 --warmup 0 --models gemma3 --weights int8");
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j["results"].size(), 6u) << j.dump(1);  // 2x128, 1x128, 1x8 per format
  for (int i = 0; i < 3; ++i) {
    const auto& dense = j["results"][i];
    const auto& int8 = j["results"][i + 3];
    EXPECT_EQ(dense["weights"], "fp32");
    EXPECT_EQ(int8["weights"], "int8");
    EXPECT_EQ(int8["batch"], dense["batch"]);
    EXPECT_LT(int8["weight_bytes"].get<int64_t>(), dense["weight_bytes"].get<int64_t>() / 2);
    EXPECT_GT(int8["rel_l2_vs_dense"].get<double>(), 1e-4);
    EXPECT_LT(int8["rel_l2_vs_dense"].get<double>(), 0.1);  // docs/quantization.md: gemma3_a 2.5e-2
  }
}

}  // namespace
}  // namespace baton::test
