// `baton generate`: parses the options, builds the requests and calls
// coordinator::run_generate.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/request_options.h"
#include "coordinator/generate_job.h"
#include "coordinator/progress_display.h"
#include "transport/membership.h"

namespace baton::cli {
namespace {

struct GenerateArgs {
  coordinator::GenerateOptions job;
  RequestOptions request;
  bool no_progress = false;
};

int run_generate_command(GenerateArgs& a) {
  a.job.requests = build_requests(a.request);
  a.job.interactive = !a.no_progress && coordinator::ProgressDisplay::stderr_is_terminal();
  const auto report = coordinator::run_generate(a.job);
  if (transport::Membership::launcher_rank() > 0) return report.errors.empty() ? 0 : 1;  // rank 0 reports the job
  std::cerr << coordinator::format_generate_report(report);
  for (const auto& e : report.errors) std::cerr << "baton: error: " << e << "\n";
  for (const auto& p : report.written) std::cout << p << "\n";
  return report.errors.empty() ? 0 : 1;
}

}  // namespace

Command add_generate_command(CLI::App& root) {
  auto a = std::make_shared<GenerateArgs>();
  auto* app = root.add_subcommand(
      "generate",
      "Make images from prompts with NewBie-image-Exp0.1 on the local devices (one thread per device), "
      "or under mpirun on one device per rank (docs/distributed.md)");
  add_pipeline_options(app, a->job);
  add_prompt_options(app, a->request);
  app->add_option("-o,--output", a->job.output, "output .png file (one prompt) or folder")->default_val(".");
  app->add_flag("--no-progress", a->no_progress, "no progress bar, one log line per image");
  return {app, [a] { return run_generate_command(*a); }};
}

}  // namespace baton::cli
