#include "tests/support/command_runner.h"

#include "tests/support/temp_dir.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace baton::test {

CommandResult run_command(const std::string& command, int timeout_s) {
  CommandResult result;
  const std::string wrapped = "timeout -k 5 " + std::to_string(timeout_s) + " sh -c '" +
                              [&] {
                                std::string escaped;
                                for (char c : command) escaped += c == '\'' ? std::string("'\\''") : std::string(1, c);
                                return escaped;
                              }() +
                              "' </dev/null 2>&1";
  FILE* pipe = popen(wrapped.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  return result;
}

std::string baton_command() { return std::string("'") + BATON_BINARY + "'"; }

std::string baton_with_cache(const TempDir& dir) { return "BATON_CACHE_DIR=" + dir.file("cache") + " " + baton_command(); }

}  // namespace baton::test
