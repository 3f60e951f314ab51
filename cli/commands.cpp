#include "cli/command.h"

namespace baton::cli {

Command add_generate_command(CLI::App& root);         // generate_command.cpp
Command add_plan_command(CLI::App& root);             // plan_command.cpp
Command add_inspect_command(CLI::App& root);          // inspect_command.cpp
Command add_verify_command(CLI::App& root);           // verify_command.cpp
Command add_make_tiny_model_command(CLI::App& root);  // make_tiny_model_command.cpp
Command add_bench_command(CLI::App& root);            // bench_command.cpp

std::vector<Command> register_commands(CLI::App& root) {
  std::vector<Command> commands;
  commands.push_back(add_generate_command(root));
  commands.push_back(add_plan_command(root));
  commands.push_back(add_inspect_command(root));
  commands.push_back(add_verify_command(root));
  commands.push_back(add_make_tiny_model_command(root));
  commands.push_back(add_bench_command(root));
  return commands;
}

}  // namespace baton::cli
