// The `baton` executable: parses the command line, sets up logging and runs
// one subcommand. User mistakes print one clear message and exit 2; other
// failures exit 1; nothing aborts with a stack trace.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/command.h"
#include "core/error.h"
#include "core/log.h"
#include "transport/membership.h"

namespace {

int report(const baton::Error& e) {
  const int code = dynamic_cast<const baton::UsageError*>(&e) ? 2 : 1;
  // Under mpirun every rank meets the same mistake: rank 0 alone says it.
  if (baton::transport::Membership::launcher_rank() > 0) return code;
  std::cerr << "baton: error: " << e.what() << "\n";
  if (!e.hint().empty()) std::cerr << "  hint: " << e.hint() << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "baton runs the NewBie-image-Exp0.1 text-to-image model on pools of small devices:\n"
      "GPUs of 8-16 GB in one box, GPUs on several hosts, and CPUs."};
  app.require_subcommand(0, 1);
  std::string log_level;
  bool show_version = false;
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off (default: $BATON_LOG_LEVEL, else info)");
  app.add_flag("--version", show_version,
               "print baton's version, the libtorch version and which of CUDA, NCCL and MPI "
               "are compiled in and usable");

  try {
    auto commands = baton::cli::register_commands(app);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int rc = app.exit(e);
      return rc == 0 ? 0 : 2;
    }
    baton::log::setup(log_level);
    if (show_version) {
      baton::cli::print_version();
      return 0;
    }
    for (auto& command : commands)
      if (command.app->parsed()) return command.run();
    std::cout << app.help();
    return 0;
  } catch (const baton::Error& e) {
    return report(e);
  } catch (const std::exception& e) {
    std::cerr << "baton: internal error: " << e.what() << "\n"
              << "  hint: please report this with the command line that caused it\n";
    return 1;
  }
}
