// `baton batch prompts.jsonl --out DIR`: parses the options and calls coordinator::run_batch.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/request_options.h"
#include "coordinator/batch_job.h"
#include "coordinator/progress_display.h"
#include "transport/membership.h"

namespace baton::cli {
namespace {

struct BatchArgs {
  coordinator::BatchOptions job;
  RequestOptions request;
  bool no_progress = false;
};

int run_batch_command(BatchArgs& a) {
  a.job.defaults = request_defaults(a.request);
  a.job.seed_base = a.request.seed.value_or(0);
  a.job.interactive = !a.no_progress && coordinator::ProgressDisplay::stderr_is_terminal();
  const auto report = coordinator::run_batch(a.job);
  if (transport::Membership::launcher_rank() > 0) return report.errors.empty() ? 0 : 1;  // rank 0 reports the job
  std::cerr << coordinator::format_batch_report(report);
  for (const auto& e : report.errors) std::cerr << "baton: error: " << e << "\n";
  return report.errors.empty() ? 0 : 1;
}

}  // namespace

Command add_batch_command(CLI::App& root) {
  auto a = std::make_shared<BatchArgs>();
  auto* app = root.add_subcommand(
      "batch",
      "Make one image per line of a JSON Lines file into a folder, with a manifest; rerun the same command after a "
      "stop to finish it");
  app->add_option("prompts", a->job.prompts_file,
                  R"(JSON Lines: one request per line, e.g. {"prompt": "1girl", "seed": 7, "steps": 28})")
      ->required();
  app->add_option("--out", a->job.out_dir, "output folder: NNNNNN-SEED.png per line and manifest.jsonl")->required();
  add_pipeline_options(app, a->job);
  add_request_parameter_options(app, a->request);
  app->add_option("--seed", a->request.seed, "a line without \"seed\" gets this plus its line number (default 0)");
  app->add_flag("--no-progress", a->no_progress, "no progress bar, one log line per image");
  return {app, [a] { return run_batch_command(*a); }};
}

}  // namespace baton::cli
