#include <gtest/gtest.h>

#include <fstream>

#include "coordinator/prompt_file.h"
#include "core/error.h"
#include "tests/support/temp_dir.h"

namespace baton::coordinator {
namespace {
std::string write(const test::TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.file(name)) << text;
  return dir.file(name);
}
}  // namespace

TEST(PromptFile, OnePromptPerLineWithComments) {
  test::TempDir dir;
  auto path = write(dir, "p.txt", "# my prompts\r\n1girl, red eyes\n\n  two cats on a beach  \n");
  EXPECT_EQ(read_prompt_file(path), (std::vector<std::string>{"1girl, red eyes", "two cats on a beach"}));
}

TEST(PromptFile, StructuredPromptIsOnePrompt) {
  test::TempDir dir;
  auto path = write(dir, "x.txt", "\n  <character_1>\n  <n>alice</n>\n  </character_1>\n<general_tags><style>anime_style</style></general_tags>\n");
  auto prompts = read_prompt_file(path);
  ASSERT_EQ(prompts.size(), 1u);
  EXPECT_EQ(prompts[0].substr(0, 13), "<character_1>");
  EXPECT_TRUE(lint_structured_prompt(prompts[0]).empty());
}

TEST(PromptFile, MissingOrEmptyFileIsAUsageError) {
  test::TempDir dir;
  EXPECT_THROW(read_prompt_file(dir.file("absent.txt")), UsageError);
  EXPECT_THROW(read_prompt_file(write(dir, "e.txt", "# only a comment\n\n")), UsageError);
}

TEST(PromptLint, UnbalancedAndUnknownTags) {
  auto w = lint_structured_prompt("<character_1><n>bob</n><hat>red</hat><appearance>x</character_1><general_tags>");
  ASSERT_EQ(w.size(), 4u) << ::testing::PrintToString(w);
  EXPECT_EQ(w[0], "unknown tag <hat>");
  EXPECT_EQ(w[1], "</character_1> does not close <appearance>");
  EXPECT_EQ(w[2], "<appearance> is never closed");
  EXPECT_EQ(w[3], "<general_tags> is never closed");
  EXPECT_TRUE(lint_structured_prompt("1girl, smile").empty());
}

}  // namespace baton::coordinator
