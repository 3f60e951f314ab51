#include "coordinator/service_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <set>

#include "coordinator/service_protocol.h"
#include "core/error.h"

namespace baton::coordinator {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(Clock::time_point t) {
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()));
}

bool is_final(service::JobEvent::Kind k) {
  return k == service::JobEvent::DONE || k == service::JobEvent::FAILED || k == service::JobEvent::CANCELLED;
}

const char* kCredentialsHint =
    "the server needs credentials: --token-file FILE (the server's token), or --curve-key CLIENT.key with "
    "--server-key SERVER.pub (and CLIENT.pub listed in the server's --curve-clients)";

}  // namespace

ServiceClient::ServiceClient(const std::string& endpoint, const ClientCredentials& credentials,
                             std::chrono::milliseconds timeout)
    : endpoint_(endpoint), timeout_(timeout) {
  check_endpoint(endpoint);
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  apply_client_credentials(socket_, credentials);
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::maxmsgsize, kMaxServerMessageBytes);
  // Failed security handshakes come as monitor events; without them a
  // refused client would only see silence.
  static std::atomic<int> counter{0};
  const std::string monitor_endpoint = "inproc://baton-client-monitor-" + std::to_string(counter++);
  if (zmq_socket_monitor(socket_.handle(), monitor_endpoint.c_str(),
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
    throw Error(std::string("cannot monitor the client socket: ") + zmq_strerror(zmq_errno()));
  monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(monitor_endpoint);
  try {
    socket_.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw UsageError("cannot connect to " + endpoint + " (" + e.what() + ")");
  }
}

ServiceClient::~ServiceClient() {
  zmq_socket_monitor(socket_.handle(), nullptr, 0);
  monitor_.close();
  socket_.close();
}

void ServiceClient::check_handshake() {
  while (true) {
    zmq::message_t event;
    if (!monitor_.recv(event, zmq::recv_flags::dontwait)) return;
    zmq::message_t address;
    if (event.more()) (void)monitor_.recv(address);
    if (event.size() < 6) continue;
    uint16_t id = 0;
    uint32_t value = 0;
    std::memcpy(&id, event.data(), 2);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
      throw Error("the server at " + endpoint_ + " refused our credentials (ZAP status " + std::to_string(value) + ")",
                  kCredentialsHint);
    throw Error("the security handshake with " + endpoint_ + " failed (" +
                    (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "the two sides use different mechanisms or keys"
                                                               : std::string("error ") + zmq_strerror(int(value))) +
                    ")",
                kCredentialsHint);
  }
}

void ServiceClient::send(service::ClientMessage& m) {
  m.set_protocol_version(kServiceProtocolVersion);
  const std::string bytes = serialize(m);
  if (!socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait))
    throw Error("cannot send to " + endpoint_ + ": too many unanswered requests");
}

std::optional<service::ServerMessage> ServiceClient::receive(std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (true) {
    check_handshake();
    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}, {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::min(left_until(until), std::chrono::milliseconds(200)));
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t frame;
      if (socket_.recv(frame, zmq::recv_flags::dontwait)) {
        while (frame.more()) {  // a server of ours sends one frame; drop anything else
          zmq::message_t extra;
          (void)socket_.recv(extra);
          if (!extra.more()) break;
        }
        return parse_server_message(frame.data(), frame.size());
      }
    }
    if (Clock::now() >= until) {
      check_handshake();
      return std::nullopt;
    }
  }
}

void ServiceClient::throw_error_reply(const service::ServerMessage& m) {
  throw UsageError("the server refused the request: " + m.error().message(), m.error().hint());
}

service::ServerMessage ServiceClient::request(service::ClientMessage m) {
  const uint64_t tag = next_tag_++;
  m.set_tag(tag);
  send(m);
  const auto until = Clock::now() + timeout_;
  while (true) {
    auto answer = receive(left_until(until));
    if (!answer)
      throw Error("no answer from " + endpoint_ + " within " +
                      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout_).count()) + " s",
                  "is `baton serve` running there? (a server that needs credentials also stays silent to a client "
                  "that has none)");
    if (answer->has_event()) {
      events_.push_back(std::move(*answer));
      continue;
    }
    if (answer->tag() != tag) continue;  // a late answer to an earlier request that timed out
    if (answer->has_error()) throw_error_reply(*answer);
    return std::move(*answer);
  }
}

uint64_t ServiceClient::submit(const sampling::GenerationRequest& r, bool watch, bool want_png) {
  r.validate();
  service::ClientMessage m;
  *m.mutable_submit()->mutable_request() = to_parameters(r);
  m.mutable_submit()->set_watch(watch);
  m.mutable_submit()->set_want_png(want_png);
  const auto answer = request(std::move(m));
  if (answer.has_busy())
    throw ServerBusy("the server at " + endpoint_ + " is busy: " + std::to_string(answer.busy().jobs()) + " of " +
                         std::to_string(answer.busy().queue_limit()) + " jobs are queued or running",
                     "try again later, or start the server with a larger --queue-limit");
  if (!answer.has_accepted()) throw Error("the server answered a submit with something else");
  return answer.accepted().job_id();
}

service::JobInfo ServiceClient::status(uint64_t job_id) {
  service::ClientMessage m;
  m.mutable_status()->set_job_id(job_id);
  const auto answer = request(std::move(m));
  if (!answer.has_jobs() || answer.jobs().jobs_size() != 1) throw Error("the server answered a status with something else");
  return answer.jobs().jobs(0);
}

std::vector<service::JobInfo> ServiceClient::list() {
  service::ClientMessage m;
  m.mutable_list();
  const auto answer = request(std::move(m));
  if (!answer.has_jobs()) throw Error("the server answered a list with something else");
  return {answer.jobs().jobs().begin(), answer.jobs().jobs().end()};
}

service::JobState ServiceClient::cancel(uint64_t job_id) {
  service::ClientMessage m;
  m.mutable_cancel()->set_job_id(job_id);
  const auto answer = request(std::move(m));
  if (!answer.has_cancelled()) throw Error("the server answered a cancel with something else");
  return answer.cancelled().was();
}

void ServiceClient::wait(const std::vector<uint64_t>& job_ids, bool want_png,
                         const std::function<void(const service::JobEvent&)>& on_event) {
  std::set<uint64_t> open(job_ids.begin(), job_ids.end());
  // Watching is idempotent: the server answers with the state and, for a
  // job that has ended, pushes its final event.
  const auto watch = [&](uint64_t id) {
    service::ClientMessage m;
    m.mutable_watch()->set_job_id(id);
    m.mutable_watch()->set_want_png(want_png);
    request(std::move(m));
  };
  for (uint64_t id : job_ids) watch(id);
  const auto quiet = std::min<std::chrono::milliseconds>(timeout_ / 3, std::chrono::seconds(5));
  while (!open.empty()) {
    std::optional<service::ServerMessage> m;
    if (!events_.empty()) {
      m = std::move(events_.front());
      events_.pop_front();
    } else {
      m = receive(quiet);
    }
    if (m && m->has_event()) {
      const auto& e = m->event();
      if (!open.count(e.job_id())) continue;
      if (is_final(e.kind())) open.erase(e.job_id());
      on_event(e);
      continue;
    }
    if (m) continue;
    // Quiet: ask (request() itself fails after `timeout_` of silence). A job
    // that ended without our hearing it is watched again to get its end.
    for (uint64_t id : std::vector<uint64_t>(open.begin(), open.end())) {
      const auto info = status(id);
      if (info.state() == service::DONE || info.state() == service::FAILED || info.state() == service::CANCELLED)
        watch(id);
    }
  }
}

}  // namespace baton::coordinator
