// `baton make-tiny-model` and `baton inspect` as a user runs them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/tiny_model.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace baton::test {

// Each baton process costs about a second to start (libtorch), so the folders
// are made in-process and only inspect runs as a command here.
TEST(InspectCommand, RecognisesEveryLayoutMadeByMakeTinyModel) {
  TempDir dir;
  for (const std::string layout : {"newbie", "diffusers", "comfy"}) {
    const std::string path = dir.file(layout);
    io::write_tiny_model(path, {io::parse_layout(layout), 3, io::StDtype::F32});
    if (layout == "diffusers") {
      auto text = run_command(baton_command() + " inspect " + path + " 2>/dev/null");
      EXPECT_EQ(text.exit_code, 0) << text.output;
      EXPECT_NE(text.output.find("diffusers layout"), std::string::npos) << text.output;
      EXPECT_NE(text.output.find("diffusers Lumina2 names"), std::string::npos) << text.output;
      EXPECT_NE(text.output.find("complete: every component"), std::string::npos) << text.output;
    }
    auto json = run_command(baton_command() + " inspect --json " + path + " 2>/dev/null");
    ASSERT_EQ(json.exit_code, 0) << json.output;
    const auto j = nlohmann::json::parse(json.output);
    EXPECT_EQ(j["layout"], layout);
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["components"]["transformer"]["parameters"], 341440);
    EXPECT_EQ(j["components"]["transformer"]["config"]["dim"], 64);
    EXPECT_EQ(j["components"]["vae"]["missing"].size(), 0u);
  }
}

TEST(InspectCommand, FailsClearlyOnBadInput) {
  TempDir dir;
  auto r = run_command(baton_command() + " inspect " + dir.file("nothing"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is not a folder"), std::string::npos) << r.output;
  r = run_command(baton_command() + " make-tiny-model " + dir.file("x") + " --layout onnx");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown layout 'onnx'"), std::string::npos) << r.output;
  r = run_command(baton_command() + " make-tiny-model " + dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.output << " (an empty folder is fine)";
  r = run_command(baton_command() + " make-tiny-model " + dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("already exists"), std::string::npos) << r.output;
}

}  // namespace baton::test
