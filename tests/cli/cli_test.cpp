#include <gtest/gtest.h>

#include "tests/support/command_runner.h"

namespace baton::test {

TEST(Cli, HelpExplainsAndExitsZero) {
  auto r = run_command(baton_command() + " --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pools of small devices"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--log-level"), std::string::npos) << r.output;
}

TEST(Cli, VersionReportsBackends) {
  auto r = run_command(baton_command() + " --version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("baton 0."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libtorch "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CUDA: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NCCL: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MPI: "), std::string::npos) << r.output;
}

TEST(Cli, UnknownOptionIsAUsageError) {
  auto r = run_command(baton_command() + " --no-such-option");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no-such-option"), std::string::npos) << r.output;
}

TEST(Cli, BadLogLevelIsAUsageErrorWithHint) {
  auto r = run_command(baton_command() + " --log-level loud --version");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown log level 'loud'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hint:"), std::string::npos) << r.output;
}

TEST(Cli, LogLevelFromEnvironmentIsChecked) {
  auto r = run_command("BATON_LOG_LEVEL=shouty " + baton_command() + " --version");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace baton::test
