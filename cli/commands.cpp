#include "cli/command.h"

namespace baton::cli {

Command add_generate_command(CLI::App& root);         // generate_command.cpp
Command add_plan_command(CLI::App& root);             // plan_command.cpp
Command add_inspect_command(CLI::App& root);          // inspect_command.cpp
Command add_verify_command(CLI::App& root);           // verify_command.cpp
Command add_make_tiny_model_command(CLI::App& root);  // make_tiny_model_command.cpp
Command add_bench_command(CLI::App& root);            // bench_command.cpp
Command add_serve_command(CLI::App& root);            // serve_command.cpp
Command add_submit_command(CLI::App& root);           // submit_command.cpp
Command add_status_command(CLI::App& root);           // status_command.cpp
Command add_cancel_command(CLI::App& root);           // cancel_command.cpp
Command add_batch_command(CLI::App& root);            // batch_command.cpp
Command add_keygen_command(CLI::App& root);           // keygen_command.cpp

std::vector<Command> register_commands(CLI::App& root) {
  std::vector<Command> commands;
  commands.push_back(add_generate_command(root));
  commands.push_back(add_batch_command(root));
  commands.push_back(add_serve_command(root));
  commands.push_back(add_submit_command(root));
  commands.push_back(add_status_command(root));
  commands.push_back(add_cancel_command(root));
  commands.push_back(add_keygen_command(root));
  commands.push_back(add_plan_command(root));
  commands.push_back(add_inspect_command(root));
  commands.push_back(add_verify_command(root));
  commands.push_back(add_make_tiny_model_command(root));
  commands.push_back(add_bench_command(root));
  return commands;
}

}  // namespace baton::cli
