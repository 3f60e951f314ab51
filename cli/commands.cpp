#include "cli/command.h"

namespace baton::cli {

Command add_verify_command(CLI::App& root);  // verify_command.cpp

std::vector<Command> register_commands(CLI::App& root) {
  std::vector<Command> commands;
  commands.push_back(add_verify_command(root));
  return commands;
}

}  // namespace baton::cli
