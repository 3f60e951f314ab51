// `baton plan` end to end: the built executable, its output and exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "partition/plan_file.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {

// Hypothetical devices: --no-detect, so the CUDA host's own GPUs do not matter.
std::string plan_cmd(const std::string& args) {
  return baton_command() + " plan --preset newbie-exp0.1 --no-detect " + args;
}

bool has(const CommandResult& r, const std::string& text) { return r.output.find(text) != std::string::npos; }

TEST(PlanCommand, PrintsATablePerDevice) {
  auto r = run_command(plan_cmd("--devices cuda:0=12GiB,cuda:1=8GiB,cuda:2=6GiB"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* text : {"device", "stages", "weights", "activ.", "total / budget GiB", "ms/step", "cuda:0",
                           "cuda:2", "DiT", "+prologue", "+final", "VAE", "images/minute", "microbatches in flight",
                           "balance:"})
    EXPECT_TRUE(has(r, text)) << text << "\n" << r.output;
}

TEST(PlanCommand, JsonIsAPlanAndCanBeSavedEditedAndChecked) {
  TempDir dir;
  auto r = run_command(plan_cmd("--devices cuda:0=16GiB,cuda:1=16GiB --width 832 --height 1216 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto plan = partition::plan_from_json(r.output, "stdout");
  EXPECT_EQ(plan.width(), 832);
  EXPECT_EQ(plan.height(), 1216);
  EXPECT_GT(plan.totals().images_per_minute(), 0);

  const auto file = dir.file("plan.json");
  r = run_command(plan_cmd("--devices cuda:0=16GiB,cuda:1=16GiB -o " + file));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "plan written to"));
  r = run_command(baton_command() + " plan --check " + file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "cuda:1")) << r.output;

  // A person edits the JSON: two DiT stages now both claim block 0.
  std::ifstream in(file);
  auto json = nlohmann::json::parse(in);
  for (auto& s : json["stages"])
    if (s["kind"] == "DIT") s["dit_blocks"]["begin"] = 0;
  std::ofstream(dir.file("edited.json")) << json.dump(1);
  r = run_command(baton_command() + " plan --check " + dir.file("edited.json"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r, "DiT block 0 is placed twice")) << r.output;

  // The same plan against smaller cards.
  r = run_command(baton_command() + " plan --no-detect --check " + file + " --devices cuda:0=8GiB,cuda:1=16GiB");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r, "cuda:0 is over its budget")) << r.output;
}

TEST(PlanCommand, RefusesTwoSmallCardsWithTheLevers) {
  auto r = run_command(plan_cmd("--devices cuda:0=4GiB,cuda:1=4GiB"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  for (const char* text : {"does not fit", "each GPU needs at least", "--dtype int8", "--text-on cpu", "--width 512"})
    EXPECT_TRUE(has(r, text)) << text << "\n" << r.output;
}

TEST(PlanCommand, UsageMistakesExitTwo) {
  EXPECT_EQ(run_command(plan_cmd("--devices gpu:0=8GiB")).exit_code, 2);
  EXPECT_EQ(run_command(baton_command() + " plan --devices cuda:0=8GiB").exit_code, 2);
  auto r = run_command(baton_command() + " plan --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(has(r, "--devices")) << r.output;
}

TEST(PlanCommand, ExplainsOneStageForComparisonWithABenchmark) {
  auto r = run_command(plan_cmd("--explain-stage dit --width 1024 --height 1024 --caption-tokens 128 --microbatch 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "joint sequence 4224 tokens")) << r.output;
  EXPECT_TRUE(has(r, "= weights + activations")) << r.output;
  EXPECT_TRUE(has(r, "62.4")) << r.output;  // TFLOP of the CFG call (baselines.md: 62.1)
  r = run_command(plan_cmd("--explain-stage text --caption-tokens 128"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "Gemma layer peak, 2 prompts x 128 tokens")) << r.output;
  EXPECT_EQ(run_command(plan_cmd("--explain-stage unet")).exit_code, 2);
}

TEST(PlanCommand, ReadsConfigsFromACheckpointFolder) {
  TempDir dir;
  auto write = [&](const std::string& component, const std::string& text) {
    std::filesystem::create_directories(dir.file(component));
    std::ofstream(dir.file(component + "/config.json")) << text;
  };
  // Half-size DiT (18 blocks), otherwise the released configs' defaults.
  write("transformer", R"({"dim": 2304, "n_layers": 18, "n_heads": 24, "n_kv_heads": 8})");
  write("text_encoder", R"({"text_config": {"hidden_size": 2560, "num_hidden_layers": 34}})");
  write("clip_model", "{}");
  write("vae", "{}");
  auto r = run_command(baton_command() + " plan --no-detect --model " + dir.path() + " --devices cuda:0=16GiB --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto plan = partition::plan_from_json(r.output, "stdout");
  EXPECT_EQ(plan.model().dit_blocks(), 18);
  EXPECT_EQ(plan.model().folder(), dir.path());

  std::filesystem::remove(dir.file("vae/config.json"));
  r = run_command(baton_command() + " plan --no-detect --model " + dir.path() + " --devices cuda:0=16GiB");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r, "vae/config.json")) << r.output;
}

}  // namespace
}  // namespace baton::test
