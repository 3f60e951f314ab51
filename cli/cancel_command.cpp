// `baton cancel ID`: stops a queued or running job on a `baton serve` server.
#include <cstdint>
#include <iostream>
#include <vector>
#include <memory>

#include "cli/command.h"
#include "cli/request_options.h"
#include "coordinator/service_client.h"
#include "coordinator/service_protocol.h"

namespace baton::cli {
namespace {

struct CancelArgs {
  ClientOptions client;
  std::vector<uint64_t> job_ids;
};

}  // namespace

Command add_cancel_command(CLI::App& root) {
  auto a = std::make_shared<CancelArgs>();
  auto* app = root.add_subcommand("cancel", "Cancel queued or running jobs on a `baton serve` server");
  app->add_option("job", a->job_ids, "job ids")->required()->check(CLI::Range(uint64_t(1), UINT64_MAX));
  add_client_options(app, a->client);
  return {app, [a] {
            coordinator::ServiceClient client(a->client.endpoint, a->client.credentials,
                                              std::chrono::milliseconds(static_cast<int64_t>(a->client.timeout_s * 1000)));
            for (uint64_t id : a->job_ids)
              std::cout << "job " << id << " cancelled (it was " << coordinator::job_state_name(client.cancel(id))
                        << ")\n";
            return 0;
          }};
}

}  // namespace baton::cli
