#include "cli/command.h"

namespace baton::cli {

Command add_plan_command(CLI::App& root);

std::vector<Command> register_commands(CLI::App& root) {
  std::vector<Command> commands;
  commands.push_back(add_plan_command(root));
  return commands;
}

}  // namespace baton::cli
