#include <gtest/gtest.h>

#include <ATen/Context.h>

#include <fstream>
#include <sstream>

#include "io/png_image.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {
namespace {

const char* kSmall = " --width 64 --height 48 --steps 3 --no-progress";

}  // namespace

TEST(Generate, DemoModelWritesAPngWithItsRecipe) {
  TempDir dir;
  auto r = run_command(baton_with_cache(dir) + " generate --model demo --prompt 'a knight in the rain' --negative blurry --seed 5" +
                       kSmall + " -o " + dir.file("knight.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("RANDOM weights"), std::string::npos) << r.output;
  auto png = io::read_png(dir.file("knight.png"));
  EXPECT_EQ(png.image.width, 64);
  EXPECT_EQ(png.image.height, 48);
  ASSERT_NE(png.text("parameters"), nullptr);
  EXPECT_NE(png.text("parameters")->find("a knight in the rain\nNegative prompt: blurry\nSteps: 3"), std::string::npos)
      << *png.text("parameters");
  EXPECT_NE(png.text("parameters")->find("Seed: 5, Size: 64x48"), std::string::npos);
}

TEST(Generate, SameSeedTwiceGivesByteIdenticalPngs) {
  TempDir dir;
  for (const char* name : {"a.png", "b.png"}) {
    auto r = run_command(baton_with_cache(dir) + " generate --model demo --prompt '1girl, smile' --seed 11" + kSmall + " -o " +
                         dir.file(name));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_EQ(read_file(dir.file("a.png")), read_file(dir.file("b.png")));
  auto other = run_command(baton_with_cache(dir) + " generate --model demo --prompt '1girl, smile' --seed 12" + kSmall + " -o " +
                           dir.file("c.png"));
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_NE(read_file(dir.file("a.png")), read_file(dir.file("c.png")));
}

TEST(Generate, CudaGraphsGiveByteIdenticalPngsOnAGpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "needs CUDA (runs in the GPU host's ctest)";
  TempDir dir;
  // Two prompts of different lengths: a graph captured per request, replayed at its later steps.
  const std::vector<std::string> prompts{"1girl, smile", "a knight in the rain at night, oil painting"};
  for (const std::string graphs : {"", " --cuda-graphs"})
    for (size_t i = 0; i < prompts.size(); ++i) {
      const auto name = (graphs.empty() ? "eager" : "graphs") + std::to_string(i) + ".png";
      auto r = run_command(baton_with_cache(dir) + " generate --model demo --devices cuda:0 --seed 3 --prompt '" +
                           prompts[i] + "'" + kSmall + graphs + " -o " + dir.file(name));
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(read_file(dir.file("eager" + std::to_string(i) + ".png")),
              read_file(dir.file("graphs" + std::to_string(i) + ".png")))
        << prompts[i];
}

TEST(Generate, PromptFileMakesOneImagePerLineAndPrintsRandomSeeds) {
  TempDir dir;
  std::ofstream(dir.file("prompts.txt")) << "# two prompts\ntwo cats\n<character_1><n>alice</n><hat>red</hat></character_1>\n";
  auto r = run_command(baton_with_cache(dir) + " generate --model demo --prompt-file " + dir.file("prompts.txt") + kSmall +
                       " -o " + dir.file("out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("prompt 1: seed "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unknown tag <hat>"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 image(s)"), std::string::npos) << r.output;
}

TEST(Generate, BadInputGivesClearErrorsAndNonZeroExit) {
  TempDir dir;
  struct Case {
    std::string args, message;
  } cases[] = {
      {"--model demo --prompt x --width 100", "100x1024 is not a positive multiple of 16"},
      {"--model demo --prompt x --steps 0", "steps must be between 1 and 1000"},
      {"--model " + dir.file("no-such-model") + " --prompt x", "does not exist"},
      {"--model demo --prompt-file " + dir.file("missing.txt"), "cannot read prompt file"},
      {"--model demo", "no prompt given"},
      {"--model demo --prompt x --prompt-file " + dir.file("p.txt"), "not both"},
  };
  for (const auto& c : cases) {
    auto r = run_command(baton_with_cache(dir) + " generate " + c.args + " --no-progress -o " + dir.file("o"));
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }
}

TEST(Verify, EveryGoldenFileOfTheProjectPasses) {
  auto r = run_command(baton_command() + " verify " + test_data("dit_a.safetensors") + " " + test_data("gemma3_a.safetensors") +
                       " " + test_data("jina_a.safetensors") + " " + test_data("vae_a.safetensors") + " " +
                       test_data("scheduler_a.safetensors") + " " + test_data("e2e_a.safetensors"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("e2e  out.latent  rel_l2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("e2e  out.image01  max_abs"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("scheduler  shift6_steps28.sigmas"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("FAIL"), std::string::npos) << r.output;
}

}  // namespace baton::test
