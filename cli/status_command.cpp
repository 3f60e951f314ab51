// `baton status [ID]`: the jobs of a server, one job in full, or (--wait) wait
// for a job and fetch its image.
#include <cstdint>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/request_options.h"
#include "coordinator/progress_display.h"
#include "coordinator/submit_job.h"
#include "core/error.h"

namespace baton::cli {
namespace {

struct StatusArgs {
  ClientOptions client;
  uint64_t job_id = 0;
  bool wait = false, no_progress = false;
  std::string output;
};

int run_status_command(StatusArgs& a) {
  if (!a.job_id && (a.wait || !a.output.empty())) throw UsageError("--wait and -o need a job id");
  coordinator::ServiceClient client(a.client.endpoint, a.client.credentials,
                                    std::chrono::milliseconds(static_cast<int64_t>(a.client.timeout_s * 1000)));
  if (!a.job_id) {
    std::cout << coordinator::format_job_table(client.list());
    return 0;
  }
  const auto job = client.status(a.job_id);
  if (!a.wait) {
    std::cout << coordinator::format_job(job);
    return 0;
  }
  const std::string path =
      a.output.empty() ? "newbie-" + std::to_string(job.request().seed()) + ".png" : a.output;
  const auto report = coordinator::wait_for_jobs(client, {a.job_id}, {path}, {"job " + std::to_string(a.job_id)},
                                                 !a.no_progress && coordinator::ProgressDisplay::stderr_is_terminal());
  for (const auto& e : report.errors) std::cerr << "baton: error: " << e << "\n";
  for (const auto& p : report.written) std::cout << p << "\n";
  return report.errors.empty() ? 0 : 1;
}

}  // namespace

Command add_status_command(CLI::App& root) {
  auto a = std::make_shared<StatusArgs>();
  auto* app = root.add_subcommand("status", "Show the jobs of a `baton serve` server, or one job (and wait for it)");
  app->add_option("job", a->job_id, "a job id (from baton submit --detach); all jobs if absent")
      ->check(CLI::Range(uint64_t(1), UINT64_MAX));
  add_client_options(app, a->client);
  app->add_flag("--wait", a->wait, "wait for the job to end and write its image");
  app->add_option("-o,--output", a->output, "with --wait: where to write the image (default newbie-SEED.png)");
  app->add_flag("--no-progress", a->no_progress, "no progress bar");
  return {app, [a] { return run_status_command(*a); }};
}

}  // namespace baton::cli
