#pragma once
// Runs a shell command line for tests of whole programs (`baton ...`, mpirun).
#include <string>

namespace baton::test {

struct CommandResult {
  int exit_code = -1;   // the process's exit status; 128+N if killed by signal N
  std::string output;   // stdout and stderr together
};

// Runs `command` under /bin/sh with stdin from /dev/null, `timeout_s` seconds at
// most (then it is killed and exit_code is 124).
CommandResult run_command(const std::string& command, int timeout_s = 300);

// The path of the built `baton` executable, quoted for the shell.
std::string baton_command();

// `baton` with its cache inside `dir` (BATON_CACHE_DIR=<dir>/cache), so each
// test makes (and reuses) its own demo model.
class TempDir;
std::string baton_with_cache(const TempDir& dir);

}  // namespace baton::test
