// `baton submit`: builds the requests as generate does and calls coordinator::run_submit.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/request_options.h"
#include "coordinator/progress_display.h"
#include "coordinator/submit_job.h"

namespace baton::cli {
namespace {

struct SubmitArgs {
  ClientOptions client;
  RequestOptions request;
  coordinator::SubmitOptions job;
  bool wait = false, detach = false, no_progress = false;
};

int run_submit_command(SubmitArgs& a) {
  a.job.endpoint = a.client.endpoint;
  a.job.credentials = a.client.credentials;
  a.job.timeout = std::chrono::milliseconds(static_cast<int64_t>(a.client.timeout_s * 1000));
  a.job.requests = build_requests(a.request);
  a.job.wait = !a.detach;
  a.job.interactive = !a.no_progress && coordinator::ProgressDisplay::stderr_is_terminal();
  const auto report = coordinator::run_submit(a.job);
  for (const auto& e : report.errors) std::cerr << "baton: error: " << e << "\n";
  if (a.detach) {
    for (uint64_t id : report.job_ids)
      if (id) std::cout << id << "\n";
  } else {
    for (const auto& p : report.written) std::cout << p << "\n";
  }
  return report.errors.empty() ? 0 : 1;
}

}  // namespace

Command add_submit_command(CLI::App& root) {
  auto a = std::make_shared<SubmitArgs>();
  auto* app = root.add_subcommand("submit", "Queue prompts on a `baton serve` server and (by default) wait for the images");
  add_client_options(app, a->client);
  add_prompt_options(app, a->request);
  app->add_option("-o,--output", a->job.output, "output .png file (one prompt) or folder")->default_val(".");
  auto* wait = app->add_flag("--wait", a->wait, "wait for the images with a progress bar and write them (the default)");
  app->add_flag("--detach", a->detach, "print the job ids and return at once (see `baton status`)")->excludes(wait);
  app->add_flag("--no-progress", a->no_progress, "no progress bar, one log line per image");
  return {app, [a] { return run_submit_command(*a); }};
}

}  // namespace baton::cli
