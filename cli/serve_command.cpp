// `baton serve`: parses the options and calls coordinator::run_serve.
#include <memory>

#include "cli/command.h"
#include "cli/request_options.h"
#include "coordinator/service.h"
#include "coordinator/service_protocol.h"

namespace baton::cli {
namespace {

struct ServeArgs {
  coordinator::PipelineOptions pipeline;
  coordinator::ServiceOptions service;
  coordinator::PlannedSize max_size{1024, 1024, 28};
};

}  // namespace

Command add_serve_command(CLI::App& root) {
  auto a = std::make_shared<ServeArgs>();
  auto* app = root.add_subcommand("serve",
                                  "Run a long-lived image server: clients queue prompts with `baton submit` and follow "
                                  "them with `baton status` (docs/service.md)");
  add_pipeline_options(app, a->pipeline);
  app->add_option("--listen", a->service.endpoint,
                  "endpoint to listen on: tcp://HOST:PORT (PORT * = any free port) or ipc://PATH; any address but "
                  "loopback needs --token-file or --curve-key/--curve-clients")
      ->default_val(coordinator::kDefaultServiceEndpoint);
  add_server_security_options(app, a->service.security);
  app->add_option("--out", a->service.out_dir, "also write every result into this folder on the server");
  app->add_option("--queue-limit", a->service.queue_limit, "jobs queued or running at once; more are answered 'busy'")
      ->default_val(64)
      ->check(CLI::Range(1, 100000));
  app->add_option("--keep-results", a->service.keep_results,
                  "finished images held in memory for clients that fetch them later (baton status ID --wait)")
      ->default_val(16);
  app->add_option("--max-width", a->max_size.width, "the widest image clients may ask for (the plan is sized for it)")
      ->default_val(1024);
  app->add_option("--max-height", a->max_size.height, "the tallest image clients may ask for")->default_val(1024);
  return {app, [a] {
            coordinator::run_serve(a->pipeline, a->service, a->max_size);
            return 0;
          }};
}

}  // namespace baton::cli
