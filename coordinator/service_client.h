#pragma once
// The client side of `baton serve` (submit, status, cancel, waiting for
// results): one DEALER socket, requests answered in order by tag, events
// pushed for the jobs this client watches. Every wait has a deadline: a
// server that does not answer, or refuses our credentials, is an Error.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "coordinator/service.pb.h"
#include "coordinator/service_security.h"
#include "core/error.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

// The server's queue is full: nothing was queued.
class ServerBusy : public Error {
 public:
  using Error::Error;
};

class ServiceClient {
 public:
  // Connects (lazily: the first request finds out whether a server is there).
  // `timeout` bounds every answer and, while waiting, the silence of the server.
  ServiceClient(const std::string& endpoint, const ClientCredentials& credentials,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~ServiceClient();
  ServiceClient(const ServiceClient&) = delete;
  ServiceClient& operator=(const ServiceClient&) = delete;

  // Queues a request; returns its job id. `watch`: push its events here
  // (then wait() on it). Throws ServerBusy, or UsageError when the server
  // refuses the request (its message names the parameter).
  uint64_t submit(const sampling::GenerationRequest& request, bool watch, bool want_png);
  service::JobInfo status(uint64_t job_id);
  std::vector<service::JobInfo> list();
  // The state the job was in (queued or running); throws UsageError when it
  // is unknown or has ended.
  service::JobState cancel(uint64_t job_id);

  // Waits until every job of `job_ids` has ended, calling `on_event` for each
  // event (STARTED, PROGRESS, and one final DONE/FAILED/CANCELLED per job;
  // DONE carries the PNG when `want_png`). Also fetches what it missed: while
  // the server is quiet it asks for the jobs' states and re-watches a job
  // that has ended. Jobs submitted with watch=false are watched first.
  void wait(const std::vector<uint64_t>& job_ids, bool want_png,
            const std::function<void(const service::JobEvent&)>& on_event);

  const std::string& endpoint() const { return endpoint_; }

 private:
  service::ServerMessage request(service::ClientMessage message);
  void send(service::ClientMessage& message);
  // The next message from the server within `timeout`, or none; throws when
  // the security handshake failed.
  std::optional<service::ServerMessage> receive(std::chrono::milliseconds timeout);
  void check_handshake();
  [[noreturn]] void throw_error_reply(const service::ServerMessage& m);

  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  zmq::context_t context_;
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
  uint64_t next_tag_ = 1;
  std::deque<service::ServerMessage> events_;  // events that arrived while waiting for an answer
};

}  // namespace baton::coordinator
