#pragma once
// `baton serve`: a long-running coordinator that takes requests from clients
// over ZeroMQ (coordinator/service.proto, docs/service.md) and runs them on a
// pipeline (RequestRunner over any StageNetwork).
//
// One thread owns the ROUTER socket and the RequestRunner: it answers
// requests, admits jobs (a bounded queue: "busy" beyond it), turns pipeline
// events into job states and pushes them to the clients that watch a job.
// Results go to the watching client as PNG bytes, are held for a later fetch
// (the last `keep_results`), and with `out_dir` are also written there.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "coordinator/pipeline.h"
#include "coordinator/request_runner.h"
#include "coordinator/service.pb.h"
#include "coordinator/service_security.h"

namespace baton::coordinator {

struct ServiceOptions {
  std::string endpoint;      // tcp://HOST:PORT (PORT may be * for a free one) or ipc://PATH
  ServerSecurity security;   // required unless the endpoint is loopback
  size_t queue_limit = 64;   // jobs queued or running; a submit beyond gets Busy
  std::string out_dir;       // also write every result here (empty: no files)
  size_t keep_results = 16;  // finished PNGs held for clients that fetch them later
  size_t keep_jobs = 1000;   // finished jobs remembered for status
};

struct ServiceStats {
  uint64_t requests = 0;  // well-formed requests answered
  uint64_t refused = 0;   // frames answered with an error (malformed, bad parameters, ...)
};

class Service {
 public:
  // Checks the endpoint and the security options (UsageError: a non-loopback
  // endpoint without credentials), starts the authenticator and binds.
  explicit Service(const ServiceOptions& options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // The bound endpoint, with the port a "*" got.
  const std::string& endpoint() const { return endpoint_; }
  std::string mechanism() const { return auth_->mechanism(); }

  // Serves until `stop` is set. `admit` throws UsageError for a request the
  // pipeline cannot take (Pipeline::check_fits). Throws Error when the
  // pipeline fails as a whole (RequestRunner::poll); jobs are marked failed first.
  void run(RequestRunner& runner, const std::function<void(const sampling::GenerationRequest&)>& admit,
           const std::atomic<bool>& stop);

  ServiceStats stats() const { return stats_; }

 private:
  struct Watcher {
    std::string identity;
    bool want_png = false;
  };
  struct Job {
    uint64_t id = 0;
    service::JobState state = service::QUEUED;
    int64_t step = 0, steps = 0;
    sampling::GenerationRequest request;
    std::string error, output_path;
    std::vector<uint8_t> png;  // held while among the last keep_results
    std::chrono::steady_clock::time_point submitted, started, ended;
    std::vector<Watcher> watchers;
  };

  bool receive_one();  // false when nothing was waiting
  void handle(const std::string& identity, const std::string& payload);
  // The answer to `m`; `then` gets a message to push after it (if any).
  service::ServerMessage answer(const std::string& identity, const service::ClientMessage& m,
                                service::ServerMessage& then);
  void on_event(RunEvent& e);
  void finish(Job& job, service::JobState state);
  void push(Job& job, const service::JobEvent& event);
  bool send(const std::string& identity, const service::ServerMessage& m);
  service::JobInfo info(const Job& job, bool full) const;
  size_t active_jobs() const;
  void forget_old_jobs();
  std::string result_path(const Job& job) const;

  ServiceOptions options_;
  zmq::context_t context_;
  std::unique_ptr<ServerAuthenticator> auth_;
  zmq::socket_t socket_;
  std::string endpoint_;
  std::string started_stamp_;  // names result files of this server run

  RequestRunner* runner_ = nullptr;
  std::function<void(const sampling::GenerationRequest&)> admit_;
  std::map<uint64_t, Job> jobs_;
  std::deque<uint64_t> finished_;  // job ids in the order they ended
  std::deque<uint64_t> held_;      // job ids whose PNG is held, oldest first
  ServiceStats stats_;
};

// `baton serve` end to end: the service bound first (a bad endpoint or
// missing credentials fail before the model loads), then the pipeline, then
// serving until SIGINT/SIGTERM. Prints "listening on ENDPOINT" on stdout when
// ready. `max_size` is the largest request the plan must take.
void run_serve(const PipelineOptions& pipeline, const ServiceOptions& service, const PlannedSize& max_size);

}  // namespace baton::coordinator
