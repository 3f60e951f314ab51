#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/support/temp_dir.h"
#include "worker/golden/golden_check.h"

namespace baton::worker {

TEST(TextGoldenKinds, Gemma3FileWithin1e4InFloat32) {
  auto report = check_golden_file(test::test_data("gemma3_a.safetensors"), {});
  EXPECT_EQ(report.kind, "gemma3");
  ASSERT_EQ(report.outputs.size(), 1u);
  EXPECT_EQ(report.outputs[0].name, "out.hidden_states_m2");
  EXPECT_DOUBLE_EQ(report.outputs[0].tolerance, 1e-4);
  EXPECT_LT(report.outputs[0].error, 1e-4);
  EXPECT_TRUE(report.ok());
}

TEST(TextGoldenKinds, JinaFileWithin1e4InFloat32) {
  auto report = check_golden_file(test::test_data("jina_a.safetensors"), {});
  EXPECT_EQ(report.kind, "jina");
  ASSERT_EQ(report.outputs.size(), 1u);
  EXPECT_EQ(report.outputs[0].name, "out.pooled");
  EXPECT_LT(report.outputs[0].error, 1e-4);
  EXPECT_TRUE(report.ok());
}

TEST(TextGoldenKinds, Bf16OnTheCpuWithin2e2) {
  GoldenCheckOptions bf16;
  bf16.dtype = at::kBFloat16;
  for (const char* name : {"gemma3_a.safetensors", "jina_a.safetensors"}) {
    auto report = check_golden_file(test::test_data(name), bf16);
    ASSERT_EQ(report.outputs.size(), 1u);
    EXPECT_DOUBLE_EQ(report.outputs[0].tolerance, 2e-2);
    EXPECT_TRUE(report.ok()) << name << ": " << report.outputs[0].error;
  }
}

TEST(TextGoldenKinds, OtherGoldenFilesAreNotTakenForText) {
  // The VAE file has neither hidden_states_m2 nor pooled: no text kind claims it.
  try {
    auto report = check_golden_file(test::test_data("vae_a.safetensors"), {});
    EXPECT_NE(report.kind, "gemma3");
    EXPECT_NE(report.kind, "jina");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a golden file of a kind this build knows"), std::string::npos);
  }
}

}  // namespace baton::worker
