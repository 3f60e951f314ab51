#include "coordinator/request_runner.h"

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace baton::coordinator {

using worker::MessageKind;
using worker::StageAddress;
using worker::StageMessage;

RequestRunner::RequestRunner(StageNetwork& network, size_t max_in_flight, std::chrono::milliseconds stall_timeout)
    : network_(network), max_in_flight_(max_in_flight ? max_in_flight : 1), stall_timeout_(stall_timeout),
      last_event_(std::chrono::steady_clock::now()) {}

uint64_t RequestRunner::submit(const sampling::GenerationRequest& request) {
  request.validate();
  const uint64_t id = next_id_++;
  queue_.emplace_back(id, request);
  return id;
}

bool RequestRunner::cancel(uint64_t id) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it)
    if (it->first == id) {
      queue_.erase(it);
      return true;
    }
  if (!in_flight_.erase(id)) return false;
  forget_everywhere(id);
  return true;
}

void RequestRunner::forget_everywhere(uint64_t id) {
  for (const auto& stage : network_.stages()) {
    StageMessage cancel;
    cancel.kind = MessageKind::Cancel;
    cancel.request_id = id;
    network_.post(stage, std::move(cancel));
  }
}

void RequestRunner::admit() {
  while (!queue_.empty() && in_flight_.size() < max_in_flight_) {
    auto [id, request] = std::move(queue_.front());
    queue_.pop_front();
    StageMessage start;
    start.kind = MessageKind::Start;
    start.request_id = id;
    start.meta = {{"request", request.to_json()}};
    in_flight_.emplace(id, request);
    network_.post({StageAddress::Role::Text, 0}, std::move(start));
    RunEvent started;
    started.kind = RunEvent::Kind::Started;
    started.id = id;
    started.steps = request.steps;
    ready_.push_back(std::move(started));
  }
}

std::optional<RunEvent> RequestRunner::poll(std::chrono::milliseconds timeout) {
  if (in_flight_.empty()) last_event_ = std::chrono::steady_clock::now();
  admit();
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (ready_.empty()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) break;
    auto message = network_.next(std::chrono::duration_cast<std::chrono::milliseconds>(until - now));
    if (!message) break;
    last_event_ = std::chrono::steady_clock::now();
    const uint64_t id = message->request_id;
    if (!in_flight_.count(id)) continue;  // a cancelled request's stragglers
    RunEvent e;
    e.id = id;
    switch (message->kind) {
      case MessageKind::Progress:
        e.kind = RunEvent::Kind::Progress;
        e.step = message->step;
        e.steps = message->meta.value("steps", int64_t(0));
        break;
      case MessageKind::Image: {
        e.kind = RunEvent::Kind::Done;
        auto png = message->tensors.at("png").contiguous();
        e.png.assign(png.data_ptr<uint8_t>(), png.data_ptr<uint8_t>() + png.numel());
        in_flight_.erase(id);
        break;
      }
      case MessageKind::Failed:
        e.kind = RunEvent::Kind::Failed;
        e.error = message->meta.value("stage", std::string("?")) + ": " + message->meta.value("error", std::string("?"));
        in_flight_.erase(id);
        forget_everywhere(id);
        break;
      default:
        spdlog::warn("coordinator: ignoring a {} message for request {}", worker::message_kind_name(message->kind), id);
        continue;
    }
    ready_.push_back(std::move(e));
    admit();
  }
  if (ready_.empty()) {
    if (!in_flight_.empty() && std::chrono::steady_clock::now() - last_event_ > stall_timeout_)
      throw Error("the pipeline made no progress for " +
                      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(stall_timeout_).count()) +
                      " s with " + std::to_string(in_flight_.size()) + " request(s) in flight",
                  "a stage may have died or hung; see the log lines above");
    return std::nullopt;
  }
  auto e = std::move(ready_.front());
  ready_.pop_front();
  return e;
}

}  // namespace baton::coordinator
