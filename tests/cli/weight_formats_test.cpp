// `baton generate` with 8-bit weights and with a time-shared text stage, on
// the demo model (CPU, float32 compute): docs/quantization.md, docs/planning.md.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/png_image.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {

// --devices cpu: the same on a host with GPUs.
const char* kImage = " --devices cpu --prompt 'a knight in the rain' --negative blurry --seed 5 --width 64 --height 48 --steps 3 --no-progress";

std::vector<uint8_t> pixels_of(const std::string& path) {
  auto png = io::read_png(path);
  EXPECT_EQ(png.image.width, 64);
  EXPECT_EQ(png.image.height, 48);
  return png.image.pixels;
}

struct PixelDiff {
  int max = 0;
  double mean = 0;
};

PixelDiff diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  PixelDiff d;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const int e = std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i]));
    d.max = std::max(d.max, e);
    d.mean += e;
  }
  d.mean /= static_cast<double>(std::max<size_t>(1, a.size()));
  return d;
}

}  // namespace

TEST(WeightFormats, Int8AndFp8ImagesAreCloseToFp32AndDeterministic) {
  TempDir dir;
  auto fp32 = run_command(baton_with_cache(dir) + " generate --model demo" + kImage + " -o " + dir.file("fp32.png"));
  ASSERT_EQ(fp32.exit_code, 0) << fp32.output;
  const auto reference = pixels_of(dir.file("fp32.png"));
  std::vector<double> means;
  for (const std::string format : {"int8", "fp8"}) {
    for (const char* copy : {"a", "b"}) {
      const auto out = dir.file(format + copy + ".png");
      auto r = run_command(baton_with_cache(dir) + " generate --model demo --dtype " + format + kImage + " -o " + out);
      ASSERT_EQ(r.exit_code, 0) << r.output;
      // The plan's DiT and text stages carry the format (on the CPU too); the VAE stays dense.
      EXPECT_NE(r.output.find(format + " on CPUs"), std::string::npos) << r.output;
      EXPECT_NE(r.output.find("cpu: loading the text stage, Gemma in " + format), std::string::npos) << r.output;
      EXPECT_NE(r.output.find("head, " + format + " weights)"), std::string::npos) << r.output;
    }
    // Deterministic: the same bytes twice.
    EXPECT_EQ(read_file(dir.file(format + "a.png")), read_file(dir.file(format + "b.png"))) << format;
    const auto pixels = pixels_of(dir.file(format + "a.png"));
    const auto d = diff(pixels, reference);
    std::printf("%s against fp32: max |pixel difference| %d, mean %.3f (of 255)\n", format.c_str(), d.max, d.mean);
    EXPECT_GT(d.max, 0) << format << " changed nothing: were the weights really 8-bit?";
    // The demo's random weights amplify errors more than a trained model's;
    // measured: int8 max 7 / mean 0.68, fp8 max 30 / mean 2.9 (of 255). Bounds
    // at about twice that; wrong scales or a dense copy would be far off.
    EXPECT_LE(d.max, format == "int8" ? 16 : 64) << format;
    EXPECT_LE(d.mean, format == "int8" ? 1.5 : 6.0) << format;
    means.push_back(d.mean);
  }
  EXPECT_LT(means[0], means[1]) << "int8 (rounding to 1/254 of a row's range) is the more exact format";
}

TEST(WeightFormats, TimeSharedTextStageGivesTheSamePixels) {
  TempDir dir;
  // A one-device CPU plan for the demo model (the tiny preset), then the same
  // plan with its text stage time-shared.
  auto p = run_command(baton_command() + " plan --preset tiny --devices cpu=8GiB --no-detect --width 64 --height 48"
                                         " --microbatch 2 --steps 3 -o " + dir.file("plan.json"));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  auto plan = nlohmann::json::parse(read_file(dir.file("plan.json")));
  bool marked = false;
  for (auto& s : plan["stages"])
    if (s["kind"] == "TEXT") {
      EXPECT_FALSE(s["time_shared"].get<bool>());
      s["time_shared"] = true;
      marked = true;
    }
  ASSERT_TRUE(marked);
  std::ofstream(dir.file("shared.json")) << plan.dump(2);

  // Two prompts, so the device swaps between its phases more than once.
  std::ofstream(dir.file("prompts.txt")) << "a knight in the rain\ntwo cats on a roof\n";
  const std::string args = " --prompt-file " + dir.file("prompts.txt") +
                           " --seed 9 --width 64 --height 48 --steps 3 --no-progress --max-in-flight 1";
  auto normal = run_command(baton_with_cache(dir) + " generate --model demo --plan " + dir.file("plan.json") + args + " -o " +
                            dir.file("normal"));
  ASSERT_EQ(normal.exit_code, 0) << normal.output;
  EXPECT_EQ(normal.output.find("time-shared"), std::string::npos) << normal.output;
  auto shared = run_command(baton_with_cache(dir) + " generate --model demo --plan " + dir.file("shared.json") + args +
                            " -o " + dir.file("shared"));
  ASSERT_EQ(shared.exit_code, 0) << shared.output;
  EXPECT_NE(shared.output.find("time-shared"), std::string::npos) << shared.output;
  // One text-stage load per image with one request in flight.
  EXPECT_NE(shared.output.find("cpu: text stage loaded for encoding (load 2,"), std::string::npos) << shared.output;
  for (const char* name : {"/newbie-001-9.png", "/newbie-002-10.png"}) {
    const auto a = pixels_of(dir.file("normal") + name), b = pixels_of(dir.file("shared") + name);
    EXPECT_EQ(a, b) << name;
  }
}

// A saved plan edited per stage: int8 for the DiT only. The stage's own
// format wins over the plan's default, in the estimate and in what loads.
TEST(WeightFormats, AStagesOwnWeightFormatInASavedPlanIsWhatRuns) {
  TempDir dir;
  auto p = run_command(baton_command() + " plan --preset tiny --devices cpu=8GiB --no-detect --width 64 --height 48"
                                         " --steps 3 --json -o " + dir.file("plan.json"));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  auto plan = nlohmann::json::parse(read_file(dir.file("plan.json")));
  int64_t dense_dit_bytes = 0;
  for (auto& s : plan["stages"])
    if (s["kind"] == "DIT") {
      EXPECT_EQ(s["weight_format"], "fp32");
      dense_dit_bytes = std::stoll(s["weight_bytes"].get<std::string>());
      s["weight_format"] = "int8";
    }
  ASSERT_GT(dense_dit_bytes, 0);
  std::ofstream(dir.file("int8-dit.json")) << plan.dump(2);

  auto r = run_command(baton_with_cache(dir) + " generate --model demo --plan " + dir.file("int8-dit.json") +
                       " --prompt 'a knight' --seed 3 --width 64 --height 48 --steps 3 --no-progress -o " +
                       dir.file("out.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("int8 weights)"), std::string::npos) << "the DiT did not load in int8\n" << r.output;
  EXPECT_EQ(r.output.find("Gemma in int8"), std::string::npos) << "the text stage kept its format\n" << r.output;
  // The re-evaluated plan counts the DiT's int8 bytes: well under the dense ones.
  auto shown = run_command(baton_command() + " plan --preset tiny --no-detect --check " + dir.file("int8-dit.json") + " --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  const auto evaluated = nlohmann::json::parse(shown.output.substr(shown.output.find('{')));
  for (const auto& s : evaluated["stages"])
    if (s["kind"] == "DIT") {
      EXPECT_EQ(s["weight_format"], "int8");
      EXPECT_LT(std::stoll(s["weight_bytes"].get<std::string>()), dense_dit_bytes * 6 / 10);
    }
}

}  // namespace baton::test
