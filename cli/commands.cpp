#include "cli/command.h"

namespace baton::cli {

std::vector<Command> register_commands(CLI::App& root) {
  std::vector<Command> commands;
  (void)root;
  return commands;
}

}  // namespace baton::cli
