#include "coordinator/service.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <signal.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "coordinator/service_protocol.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace baton::coordinator {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// At most `bytes` bytes of `text`, not cutting a UTF-8 sequence.
std::string excerpt(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  size_t n = bytes;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n) + "...";
}

service::ServerMessage error_reply(const std::string& message, const std::string& hint = "") {
  service::ServerMessage m;
  m.mutable_error()->set_message(message);
  m.mutable_error()->set_hint(hint);
  return m;
}

bool is_final(service::JobState s) { return s == service::DONE || s == service::FAILED || s == service::CANCELLED; }

}  // namespace

Service::Service(const ServiceOptions& options) : options_(options) {
  check_endpoint(options_.endpoint);
  options_.security.check();
  if (!is_loopback_endpoint(options_.endpoint) && !options_.security.enabled())
    throw UsageError("refusing to listen on " + options_.endpoint +
                         " without authentication: it is not a loopback address",
                     "make keys with `baton keygen server` and `baton keygen client`, then pass --curve-key "
                     "server.key --curve-clients client.pub (or --token-file FILE from `baton keygen --token FILE`); "
                     "or listen on tcp://127.0.0.1:PORT");
  if (options_.queue_limit == 0) throw UsageError("--queue-limit must be at least 1");
  if (!options_.out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options_.out_dir, ec);
    if (ec) throw UsageError("cannot create the output folder " + options_.out_dir + " (" + ec.message() + ")");
  }
  auth_ = std::make_unique<ServerAuthenticator>(context_, options_.security);
  socket_ = zmq::socket_t(context_, zmq::socket_type::router);
  auth_->apply(socket_);
  // A frame above the bound drops the connection before it is read.
  socket_.set(zmq::sockopt::maxmsgsize, kMaxClientMessageBytes);
  // A reply to a client that is gone fails at once instead of queueing.
  socket_.set(zmq::sockopt::router_mandatory, true);
  socket_.set(zmq::sockopt::linger, 0);
  try {
    socket_.bind(options_.endpoint);
  } catch (const zmq::error_t& e) {
    throw UsageError("cannot listen on " + options_.endpoint + " (" + e.what() + ")",
                     e.num() == EADDRINUSE ? "another program uses that port: choose another one" : "");
  }
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  started_stamp_ = stamp;
}

Service::~Service() {
  socket_.close();
  auth_.reset();
}

void Service::run(RequestRunner& runner, const std::function<void(const sampling::GenerationRequest&)>& admit,
                  const std::atomic<bool>& stop) {
  runner_ = &runner;
  admit_ = admit;
  while (!stop) {
    // Requests first, in bounded bursts, so a flood cannot starve the pipeline.
    int received = 0;
    try {
      while (received < 256 && receive_one()) ++received;
      if (runner.idle()) {
        if (received == 0) {
          zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
          zmq::poll(&item, 1, std::chrono::milliseconds(50));
        }
        continue;
      }
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;  // a signal (SIGTERM: `stop` is set now)
      continue;
    }
    try {
      auto timeout = std::chrono::milliseconds(received ? 1 : 10);
      while (auto e = runner.poll(timeout)) {
        on_event(*e);
        timeout = std::chrono::milliseconds(1);
      }
    } catch (const Error& e) {
      for (auto& [id, job] : jobs_)
        if (!is_final(job.state)) {
          job.error = std::string("the pipeline failed: ") + e.what();
          finish(job, service::FAILED);
        }
      throw;
    }
  }
  // Shutting down: whoever waits learns it now rather than at a timeout.
  for (auto& [id, job] : jobs_)
    if (!is_final(job.state)) {
      runner.cancel(id);
      job.error = "the server is shutting down";
      finish(job, service::CANCELLED);
    }
  runner_ = nullptr;
}

bool Service::receive_one() {
  zmq::message_t identity;
  if (!socket_.recv(identity, zmq::recv_flags::dontwait)) return false;
  // The rest of a multipart message is there already (ZeroMQ delivers it
  // whole); only the first payload frame is kept, the others are freed.
  zmq::message_t payload;
  size_t frames = 0;
  bool more = identity.more();
  while (more) {
    zmq::message_t part;
    if (!socket_.recv(part)) break;
    more = part.more();
    if (frames++ == 0) payload = std::move(part);
  }
  if (frames != 1) {
    stats_.refused++;
    send(identity.to_string(), error_reply("a request is exactly one frame, this message had " + std::to_string(frames),
                                           "send one serialised baton.service.ClientMessage per message"));
    return true;
  }
  handle(identity.to_string(), payload.to_string());
  return true;
}

void Service::handle(const std::string& identity, const std::string& payload) {
  uint64_t tag = 0;
  service::ServerMessage reply, then;
  try {
    const auto m = parse_client_message(payload.data(), payload.size());
    tag = m.tag();
    reply = answer(identity, m, then);
    stats_.requests++;
  } catch (const Error& e) {
    stats_.refused++;
    reply = error_reply(e.what(), e.hint());
    spdlog::debug("serve: refused a request: {}", e.what());
  }
  reply.set_tag(tag);
  send(identity, reply);
  if (then.body_case() != service::ServerMessage::BODY_NOT_SET) send(identity, then);
}

service::ServerMessage Service::answer(const std::string& identity, const service::ClientMessage& m,
                                       service::ServerMessage& then) {
  service::ServerMessage reply;
  const auto no_such_job = [&](uint64_t id) {
    return error_reply("no job " + std::to_string(id) + " on this server",
                       "`baton status` lists the jobs it remembers (the last " + std::to_string(options_.keep_jobs) +
                           " finished ones and every active one)");
  };
  switch (m.body_case()) {
    case service::ClientMessage::kSubmit: {
      // A bad request hears why even when the queue is full.
      const auto request = to_request(m.submit().request());
      admit_(request);
      if (active_jobs() >= options_.queue_limit) {
        reply.mutable_busy()->set_queue_limit(static_cast<uint32_t>(options_.queue_limit));
        reply.mutable_busy()->set_jobs(static_cast<uint32_t>(active_jobs()));
        return reply;
      }
      Job job;
      job.id = runner_->submit(request);
      job.request = request;
      job.steps = request.steps;
      job.submitted = Clock::now();
      if (m.submit().watch()) job.watchers.push_back({identity, m.submit().want_png()});
      auto& stored = jobs_[job.id] = std::move(job);
      spdlog::info("serve: job {} queued (seed {}, {}x{}, {} steps)", stored.id, request.seed, request.width,
                   request.height, request.steps);
      reply.mutable_accepted()->set_job_id(stored.id);
      reply.mutable_accepted()->set_queue_position(info(stored, false).queue_position());
      return reply;
    }
    case service::ClientMessage::kStatus:
      if (m.status().job_id() != 0) {
        auto it = jobs_.find(m.status().job_id());
        if (it == jobs_.end()) return no_such_job(m.status().job_id());
        *reply.mutable_jobs()->add_jobs() = info(it->second, true);
        return reply;
      }
      [[fallthrough]];
    case service::ClientMessage::kList:
      reply.mutable_jobs();
      for (const auto& [id, job] : jobs_) *reply.mutable_jobs()->add_jobs() = info(job, false);
      return reply;
    case service::ClientMessage::kCancel: {
      const uint64_t id = m.cancel().job_id();
      auto it = jobs_.find(id);
      if (it == jobs_.end()) return no_such_job(id);
      Job& job = it->second;
      if (is_final(job.state))
        return error_reply("job " + std::to_string(id) + " has ended already (" + job_state_name(job.state) + ")");
      const auto was = job.state;
      runner_->cancel(id);
      job.error = "cancelled by a client";
      finish(job, service::CANCELLED);
      spdlog::info("serve: job {} cancelled ({})", id, job_state_name(was));
      reply.mutable_cancelled()->set_job_id(id);
      reply.mutable_cancelled()->set_was(was);
      return reply;
    }
    case service::ClientMessage::kWatch: {
      auto it = jobs_.find(m.watch().job_id());
      if (it == jobs_.end()) return no_such_job(m.watch().job_id());
      Job& job = it->second;
      *reply.mutable_jobs()->add_jobs() = info(job, false);
      if (!is_final(job.state)) {
        bool known = false;
        for (auto& w : job.watchers)
          if (w.identity == identity) known = true, w.want_png = w.want_png || m.watch().want_png();
        if (!known) job.watchers.push_back({identity, m.watch().want_png()});
      } else {
        service::JobEvent e;
        e.set_job_id(job.id);
        e.set_kind(job.state == service::DONE     ? service::JobEvent::DONE
                   : job.state == service::FAILED ? service::JobEvent::FAILED
                                                  : service::JobEvent::CANCELLED);
        e.set_step(job.step);
        e.set_steps(job.steps);
        e.set_error(job.error);
        e.set_output_path(job.output_path);
        if (m.watch().want_png() && !job.png.empty()) e.set_png(job.png.data(), job.png.size());
        // Sent after the answer (handle()): a finished job's watcher gets its end at once.
        *then.mutable_event() = std::move(e);
      }
      return reply;
    }
    default:
      return error_reply("request has no body");
  }
}

void Service::on_event(RunEvent& e) {
  auto it = jobs_.find(e.id);
  if (it == jobs_.end() || is_final(it->second.state)) return;
  Job& job = it->second;
  service::JobEvent event;
  event.set_job_id(job.id);
  switch (e.kind) {
    case RunEvent::Kind::Started:
      job.state = service::RUNNING;
      job.started = Clock::now();
      job.steps = e.steps;
      event.set_kind(service::JobEvent::STARTED);
      event.set_steps(job.steps);
      push(job, event);
      return;
    case RunEvent::Kind::Progress:
      job.step = e.step;
      event.set_kind(service::JobEvent::PROGRESS);
      event.set_step(job.step);
      event.set_steps(job.steps);
      push(job, event);
      return;
    case RunEvent::Kind::Done:
      job.png = std::move(e.png);
      job.step = job.steps;
      if (!options_.out_dir.empty()) {
        const std::string path = result_path(job);
        try {
          io::write_file_atomically(path, job.png.data(), job.png.size());
          job.output_path = path;
        } catch (const Error& err) {
          spdlog::error("serve: job {}: {}", job.id, err.what());
        }
      }
      held_.push_back(job.id);
      finish(job, service::DONE);
      return;
    case RunEvent::Kind::Failed:
      job.error = e.error;
      finish(job, service::FAILED);
      return;
  }
}

void Service::finish(Job& job, service::JobState state) {
  job.state = state;
  job.ended = Clock::now();
  if (job.started == Clock::time_point()) job.started = job.ended;
  service::JobEvent event;
  event.set_job_id(job.id);
  event.set_kind(state == service::DONE     ? service::JobEvent::DONE
                 : state == service::FAILED ? service::JobEvent::FAILED
                                            : service::JobEvent::CANCELLED);
  event.set_step(job.step);
  event.set_steps(job.steps);
  event.set_error(job.error);
  event.set_output_path(job.output_path);
  if (state == service::DONE)
    spdlog::info("serve: job {} done in {:.1f} s{}", job.id, seconds_between(job.started, job.ended),
                 job.output_path.empty() ? "" : " -> " + job.output_path);
  else if (state == service::FAILED)
    spdlog::error("serve: job {} failed: {}", job.id, job.error);
  push(job, event);
  job.watchers.clear();
  finished_.push_back(job.id);
  forget_old_jobs();
}

void Service::push(Job& job, const service::JobEvent& event) {
  for (auto it = job.watchers.begin(); it != job.watchers.end();) {
    service::ServerMessage m;
    *m.mutable_event() = event;
    if (event.kind() == service::JobEvent::DONE && it->want_png) m.mutable_event()->set_png(job.png.data(), job.png.size());
    // A watcher that is gone is forgotten; one that is slow may miss a
    // progress event (it learns the rest by asking: docs/service.md).
    if (!send(it->identity, m) && event.kind() != service::JobEvent::PROGRESS) it = job.watchers.erase(it);
    else ++it;
  }
}

bool Service::send(const std::string& identity, const service::ServerMessage& m) {
  service::ServerMessage out = m;
  out.set_protocol_version(kServiceProtocolVersion);
  const std::string bytes = serialize(out);
  try {
    if (!socket_.send(zmq::buffer(identity), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    return socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: that client has disconnected (router_mandatory).
    spdlog::debug("serve: cannot answer a client: {}", e.what());
    return false;
  }
}

service::JobInfo Service::info(const Job& job, bool full) const {
  service::JobInfo i;
  i.set_job_id(job.id);
  i.set_state(job.state);
  i.set_step(job.step);
  i.set_steps(job.steps);
  auto params = to_parameters(job.request);
  if (!full) {
    params.set_prompt(excerpt(job.request.prompt, 120));
    params.set_negative_prompt(excerpt(job.request.negative_prompt, 60));
    params.set_system_prompt(excerpt(job.request.system_prompt, 60));
  }
  *i.mutable_request() = std::move(params);
  i.set_error(job.error);
  i.set_output_path(job.output_path);
  const auto now = Clock::now();
  i.set_age_seconds(seconds_between(job.submitted, now));
  if (job.state != service::QUEUED)
    i.set_run_seconds(seconds_between(job.started, is_final(job.state) ? job.ended : now));
  i.set_result_held(job.state == service::DONE && !job.png.empty());
  if (job.state == service::QUEUED) {
    uint32_t ahead = 0;
    for (const auto& [id, other] : jobs_)
      if (id < job.id && other.state == service::QUEUED) ++ahead;
    // The runner admits queued jobs when it is polled: position 0 = starting now.
    i.set_queue_position(ahead + 1);
  }
  return i;
}

size_t Service::active_jobs() const {
  size_t n = 0;
  for (const auto& [id, job] : jobs_) n += !is_final(job.state);
  return n;
}

void Service::forget_old_jobs() {
  while (held_.size() > options_.keep_results) {
    if (auto it = jobs_.find(held_.front()); it != jobs_.end()) {
      it->second.png.clear();
      it->second.png.shrink_to_fit();
    }
    held_.pop_front();
  }
  while (finished_.size() > options_.keep_jobs) {
    jobs_.erase(finished_.front());
    finished_.pop_front();
  }
}

std::string Service::result_path(const Job& job) const {
  return (fs::path(options_.out_dir) / fmt::format("{}-{:04d}-{}.png", started_stamp_, job.id, job.request.seed)).string();
}

namespace {
std::atomic<bool> g_stop{false};
void on_stop_signal(int) { g_stop = true; }
}  // namespace

void run_serve(const PipelineOptions& pipeline_options, const ServiceOptions& options, const PlannedSize& max_size) {
  g_stop = false;
  // Installed on every rank before the stages load, and left installed on
  // return: mpirun forwards a stop to every rank, and only rank 0 acts on it
  // (it closes the pipeline, which ends the other ranks cleanly); a second
  // SIGTERM must not kill the process while it cleans up.
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // The endpoint is rank 0's: bound first, so a taken port fails before the model loads.
  std::unique_ptr<Service> service;
  auto pipeline = Pipeline::open(pipeline_options, max_size, [&] { service = std::make_unique<Service>(options); });
  if (!pipeline) return;  // another rank of an mpirun job: its stages served until rank 0 closed
  std::cout << "baton serve: listening on " << service->endpoint() << " (authentication: " << service->mechanism()
            << ", requests up to " << max_size.width << "x" << max_size.height << ")" << std::endl;
  service->run(pipeline->runner(), [&](const sampling::GenerationRequest& r) { pipeline->check_fits(r); }, g_stop);
  const auto stats = service->stats();
  pipeline->close();
  spdlog::info("serve: stopped ({} requests answered, {} refused)", stats.requests, stats.refused);
}

}  // namespace baton::coordinator
