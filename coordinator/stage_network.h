#pragma once
// How the coordinator reaches the stages: threads of this process
// (LocalStageNetwork) or ranks over a transport. The coordinator's loop
// (RequestRunner) is the same over either.
#include <chrono>
#include <optional>
#include <vector>

#include "worker/stage_message.h"

namespace baton::coordinator {

class StageNetwork {
 public:
  virtual ~StageNetwork() = default;
  // Delivers a message to the stage at `to`.
  virtual void post(const worker::StageAddress& to, worker::StageMessage message) = 0;
  // Every stage address of the pipeline (for Cancel broadcasts).
  virtual std::vector<worker::StageAddress> stages() const = 0;
  // The next message for the coordinator, or none within `timeout`. Throws
  // Error when the network itself failed (a worker thread died, a rank was lost).
  virtual std::optional<worker::StageMessage> next(std::chrono::milliseconds timeout) = 0;
};

}  // namespace baton::coordinator
