#pragma once
// How subcommands plug into the `baton` executable: each file registers its
// options on a CLI11 subcommand and returns what to run once parsing is done.
// Commands only parse arguments and call the library.
#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace baton::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // exit status
};

// The subcommands, in the order `baton --help` lists them. A subcommand is
// added here when it works: none is a placeholder.
std::vector<Command> register_commands(CLI::App& root);

// Prints `baton --version`: baton, libtorch, and which backends are usable.
void print_version();

}  // namespace baton::cli
