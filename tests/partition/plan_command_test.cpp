// `baton plan` end to end: the built executable, its output and exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/tiny_model.h"
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

// `--model DIR` reads the configs through io::ModelFolder, so every layout it
// recognises plans the same model as the tiny preset with the same configs.
TEST(PlanCommand, PlansATinyModelFolderInEveryLayout) {
  TempDir dir;
  // Plans go to files: reading a folder logs its config notes next to stdout.
  const std::string args = " --no-detect --devices cpu=4GiB --width 128 --height 128 --caption-tokens 16 -o ";
  auto r = run_command(baton_command() + " plan --preset tiny" + args + dir.file("preset.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto preset = partition::load_plan(dir.file("preset.json"));
  for (auto layout : {io::Layout::NewBie, io::Layout::Diffusers, io::Layout::Comfy}) {
    const std::string name = io::layout_name(layout);
    const auto folder = dir.file(name);
    io::TinyModelOptions options;
    options.layout = layout;
    io::write_tiny_model(folder, options);
    r = run_command(baton_command() + " plan --model " + folder + args + dir.file(name + ".json"));
    ASSERT_EQ(r.exit_code, 0) << name << "\n" << r.output;
    const auto plan = partition::load_plan(dir.file(name + ".json"));
    EXPECT_EQ(plan.model().folder(), folder);
    EXPECT_EQ(plan.model().layout(), name);
    EXPECT_EQ(plan.model().dit_blocks(), io::tiny_model_configs().transformer.n_layers) << name;
    EXPECT_EQ(plan.model().gemma_layers(), io::tiny_model_configs().text_encoder.used_layers()) << name;
    EXPECT_EQ(plan.model().parameters(), preset.model().parameters()) << name;
    EXPECT_EQ(plan.totals().weight_bytes(), preset.totals().weight_bytes()) << name;
    EXPECT_EQ(plan.usage(0).total_bytes(), preset.usage(0).total_bytes()) << name;
    // The saved plan names the folder; checking it reads the folder again.
    r = run_command(baton_command() + " plan --no-detect --check " + dir.file(name + ".json"));
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.output;
  }
  // A folder that is no model.
  std::filesystem::create_directories(dir.file("empty"));
  r = run_command(baton_command() + " plan --model " + dir.file("empty") + args + dir.file("empty.json"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r, dir.file("empty"))) << r.output;
}

}  // namespace
}  // namespace baton::test
