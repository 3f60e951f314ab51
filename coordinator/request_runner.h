#pragma once
// The coordinator's side of the pipeline: a queue of requests, admission so
// that enough microbatches are in flight to keep every stage busy, and the
// events coming back (progress per step, a finished PNG, a failure).
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/stage_network.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

struct RunEvent {
  enum class Kind { Started, Progress, Done, Failed };
  Kind kind = Kind::Progress;
  uint64_t id = 0;
  int64_t step = 0;
  int64_t steps = 0;
  std::vector<uint8_t> png;  // Done
  std::string error;         // Failed
};

class RequestRunner {
 public:
  // `max_in_flight` requests are in the pipeline at once (the rest wait);
  // no event for `stall_timeout` while requests are in flight is an Error.
  RequestRunner(StageNetwork& network, size_t max_in_flight,
                std::chrono::milliseconds stall_timeout = std::chrono::minutes(10));

  // Queues a validated request; returns its id (1, 2, ...).
  uint64_t submit(const sampling::GenerationRequest& request);
  // Drops a queued request or stops one in flight (its stages forget it).
  // False when the id is unknown or already finished.
  bool cancel(uint64_t id);
  // The next event within `timeout` (none if nothing happened). Admits queued
  // requests whenever a slot is free.
  std::optional<RunEvent> poll(std::chrono::milliseconds timeout);

  size_t queued() const { return queue_.size(); }
  size_t in_flight() const { return in_flight_.size(); }
  bool idle() const { return queue_.empty() && in_flight_.empty(); }

 private:
  void admit();
  void forget_everywhere(uint64_t id);

  StageNetwork& network_;
  size_t max_in_flight_;
  std::chrono::milliseconds stall_timeout_;
  uint64_t next_id_ = 1;
  std::deque<std::pair<uint64_t, sampling::GenerationRequest>> queue_;
  std::map<uint64_t, sampling::GenerationRequest> in_flight_;
  std::deque<RunEvent> ready_;
  std::chrono::steady_clock::time_point last_event_;
};

}  // namespace baton::coordinator
