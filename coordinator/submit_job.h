#pragma once
// The client commands as library calls: `baton submit` (queue requests on a
// server, optionally wait with a progress bar and write the PNGs), `baton
// status` (tables of jobs) and waiting for jobs submitted earlier.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/service.pb.h"
#include "coordinator/service_client.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

struct ClientConnection {
  std::string endpoint;
  ClientCredentials credentials;
  std::chrono::milliseconds timeout{30000};
};

struct SubmitOptions : ClientConnection {
  std::vector<sampling::GenerationRequest> requests;  // seeds already chosen
  std::string output = ".";  // a .png file (one request) or a folder, as generate's -o
  bool wait = true;          // false: print the job ids and return (--detach)
  bool interactive = false;  // progress bar on the terminal
};

struct SubmitReport {
  std::vector<uint64_t> job_ids;     // in request order (0 where the server refused one)
  std::vector<std::string> written;  // PNG paths, when waiting
  std::vector<std::string> errors;   // "prompt 2: ..." / "job 7: ..."
};

SubmitReport run_submit(const SubmitOptions& options);

// Waits for jobs already queued and writes each DONE result to its path
// (paths[i] for job_ids[i]; an empty path: no file). `labels` name the jobs
// in the progress display and in errors.
SubmitReport wait_for_jobs(ServiceClient& client, const std::vector<uint64_t>& job_ids,
                           const std::vector<std::string>& paths, const std::vector<std::string>& labels,
                           bool interactive);

// "  ID  STATE      STEP    AGE  PROMPT" rows, one per job.
std::string format_job_table(const std::vector<service::JobInfo>& jobs);
// Every field of one job, one per line.
std::string format_job(const service::JobInfo& job);

}  // namespace baton::coordinator
