// `baton batch` on the demo model: killed mid-run, the rerun finishes with
// exactly one complete image per line and a consistent manifest.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "coordinator/batch_job.h"
#include "io/png_image.h"
#include "tests/service/background_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {
namespace fs = std::filesystem;

std::string baton_in(const TempDir& dir) {
  return "BATON_CACHE_DIR=" + dir.file("cache") + " BATON_LOG_LEVEL=info " + baton_command();
}

std::vector<nlohmann::json> manifest_of(const std::string& dir) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_file(dir + "/manifest.jsonl"));
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

size_t manifest_lines(const std::string& dir) {
  const auto text = read_file(dir + "/manifest.jsonl");
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Every file of the folder but the manifest and the lock.
std::set<std::string> images_in(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    const auto name = f.path().filename().string();
    if (name != "manifest.jsonl" && name != ".batch.lock") out.insert(name);
  }
  return out;
}

// Exactly one complete image per line, each recorded once in the manifest.
void expect_complete(const std::string& prompts, const std::string& out,
                     const sampling::GenerationRequest& defaults = {}, uint64_t seed_base = 0) {
  const auto lines = coordinator::read_batch_file(prompts, defaults, seed_base);
  std::set<std::string> expected;
  for (const auto& l : lines) expected.insert(l.file);
  EXPECT_EQ(images_in(out), expected);
  const auto manifest = manifest_of(out);
  EXPECT_EQ(manifest.size(), lines.size());
  std::set<int64_t> recorded;
  for (const auto& e : manifest) EXPECT_TRUE(recorded.insert(e.at("line").get<int64_t>()).second) << e.dump();
  for (const auto& l : lines) {
    ASSERT_TRUE(recorded.count(l.line)) << "line " << l.line;
    const auto png = io::read_png(out + "/" + l.file);
    EXPECT_EQ(png.image.width, l.request.width);
    ASSERT_NE(png.text(io::kBatonKeyword), nullptr);
    EXPECT_EQ(nlohmann::json::parse(*png.text(io::kBatonKeyword)).at("request"), l.request.to_json()) << l.file;
  }
  for (const auto& e : manifest) EXPECT_EQ(fs::file_size(out + "/" + e.at("file").get<std::string>()), e.at("bytes"));
}

TEST(Batch, KilledAfterTheFirstImageTheRerunFinishesWithExactlyOneImagePerLine) {
  TempDir dir;
  {
    std::ofstream p(dir.file("prompts.jsonl"));
    p << "# six images; lines without a seed get --seed + their line number\n";
    for (int i = 0; i < 6; ++i)
      p << R"({"prompt": "picture )" << i << R"(", "width": 64, "height": 48, "steps": 40)"
        << (i == 2 ? R"(, "seed": 777)" : "") << "}\n";
  }
  const std::string out = dir.file("out");
  const std::string command =
      baton_in(dir) + " batch " + dir.file("prompts.jsonl") + " --out " + out + " --model demo --no-progress --max-in-flight 1";
  {
    BackgroundProcess first(command, dir.file("first.log"));
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(240);
    while (manifest_lines(out) < 1 && first.running() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_GE(manifest_lines(out), 1u) << first.log();
    EXPECT_EQ(first.stop(9), 128 + 9) << "the batch ended before it was killed; make it longer\n" << first.log();
  }
  const size_t before = manifest_lines(out);
  ASSERT_LT(before, 6u) << "nothing left to resume";

  auto rerun = run_command(command, 300);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find(" complete from an earlier run"), std::string::npos) << rerun.output;
  expect_complete(dir.file("prompts.jsonl"), out);
  EXPECT_TRUE(fs::exists(out + "/000004-777.png"));  // line 1 is a comment
  EXPECT_TRUE(fs::exists(out + "/000002-2.png"));

  auto third = run_command(command, 120);
  ASSERT_EQ(third.exit_code, 0) << third.output;
  EXPECT_NE(third.output.find("6 request(s): 0 written now, 6 complete from an earlier run"), std::string::npos)
      << third.output;
  EXPECT_EQ(third.output.find("plan:"), std::string::npos) << "nothing to do: the model is not loaded\n" << third.output;
}

TEST(Batch, RemakesADamagedImageAndRemovesTemporariesTheSameAsAFreshRun) {
  TempDir dir;
  std::ofstream(dir.file("prompts.jsonl")) << R"({"prompt": "one", "seed": 1})" "\n" R"({"prompt": "two"})" "\n";
  const std::string out = dir.file("out");
  const std::string command = baton_in(dir) + " batch " + dir.file("prompts.jsonl") + " --out " + out +
                              " --model demo --no-progress --width 64 --height 48 --steps 2 --seed 50";
  auto first = run_command(command, 300);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string good = read_file(out + "/000002-52.png");
  ASSERT_FALSE(good.empty()) << first.output;

  // A truncated image (as a copy from a crashed disk would be) and a temporary a kill left.
  fs::resize_file(out + "/000002-52.png", good.size() / 2);
  std::ofstream(out + "/.000001-1.png.tmp.Ab12Cd") << "half";
  auto second = run_command(command, 300);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("2 request(s): 1 written now, 1 complete from an earlier run"), std::string::npos)
      << second.output;
  EXPECT_EQ(read_file(out + "/000002-52.png"), good);
  EXPECT_FALSE(fs::exists(out + "/.000001-1.png.tmp.Ab12Cd"));
  sampling::GenerationRequest defaults;
  defaults.width = 64;
  defaults.height = 48;
  defaults.steps = 2;
  expect_complete(dir.file("prompts.jsonl"), out, defaults, 50);
}

TEST(Batch, ABadLineStopsTheBatchBeforeAnyWork) {
  TempDir dir;
  std::ofstream(dir.file("prompts.jsonl")) << R"({"prompt": "fine"})" "\n" R"({"prompt": "bad", "steps": 0})" "\n";
  auto r = run_command(baton_in(dir) + " batch " + dir.file("prompts.jsonl") + " --out " + dir.file("out") +
                       " --model demo --no-progress");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("prompts.jsonl line 2: steps must be between 1 and 1000"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("plan:"), std::string::npos) << r.output;
}

#ifdef BATON_MPIEXEC
// Under `mpirun -np 3` the same images as one process (pixels: the recipe
// names the ranks' devices), one manifest line each; a rerun has nothing to do
// and ends every rank without loading the model.
TEST(Batch, UnderMpirunWithThreeRanksMakesTheSameImagesAsOneProcess) {
  TempDir dir;
  std::ofstream(dir.file("prompts.jsonl")) << R"({"prompt": "one", "seed": 1, "width": 64, "height": 48, "steps": 3})"
                                              "\n"
                                              R"({"prompt": "two", "seed": 2, "width": 48, "height": 64, "steps": 2})"
                                              "\n"
                                              R"({"prompt": "three", "seed": 3, "width": 64, "height": 64, "steps": 3})"
                                              "\n";
  const std::string env = "OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ";
  // CPUs named: the same on a host with GPUs.
  const auto args = [&](const std::string& devices) {
    return " batch " + dir.file("prompts.jsonl") + " --model demo --no-progress --devices " + devices + " --out ";
  };
  const std::string mpirun = env + "BATON_CACHE_DIR=" + dir.file("cache") + " BATON_LOG_LEVEL=info " + BATON_MPIEXEC +
                             " -np 3 --oversubscribe " + baton_command();
  auto multi = run_command(mpirun + args("cpu,cpu,cpu") + dir.file("multi"), 240);
  ASSERT_EQ(multi.exit_code, 0) << multi.output;
  EXPECT_NE(multi.output.find("3 request(s): 3 written now, 0 complete from an earlier run"), std::string::npos)
      << multi.output;
  EXPECT_NE(multi.output.find("r2/cpu"), std::string::npos) << "not spread over the ranks\n" << multi.output;
  expect_complete(dir.file("prompts.jsonl"), dir.file("multi"));
  auto one = run_command(env + baton_in(dir) + args("cpu") + dir.file("one"), 240);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  for (const auto& file : images_in(dir.file("one")))
    EXPECT_EQ(io::read_png(dir.file("multi/" + file)).image.pixels, io::read_png(dir.file("one/" + file)).image.pixels)
        << file;

  auto again = run_command(mpirun + args("cpu,cpu,cpu") + dir.file("multi"), 120);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("3 request(s): 0 written now, 3 complete from an earlier run"), std::string::npos)
      << again.output;
  EXPECT_EQ(again.output.find("plan"), std::string::npos) << "nothing to do: the model is not loaded\n" << again.output;
}
#endif

}  // namespace
}  // namespace baton::test
