#pragma once
// The stages of one process: one thread per StageWorker (one per device), each
// draining its own inbox in order; messages between them are handed over in
// memory (tensors move to the receiving stage's device when it uses them).
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "coordinator/stage_network.h"
#include "coordinator/stage_trace.h"
#include "worker/stage_worker.h"

namespace baton::coordinator {

class LocalStageNetwork : public StageNetwork {
 public:
  // `trace` (may be null) records what every stage handled.
  explicit LocalStageNetwork(std::vector<std::unique_ptr<worker::StageWorker>> workers,
                             std::shared_ptr<StageTrace> trace = nullptr);
  ~LocalStageNetwork() override;

  void post(const worker::StageAddress& to, worker::StageMessage message) override;
  std::vector<worker::StageAddress> stages() const override;
  std::optional<worker::StageMessage> next(std::chrono::milliseconds timeout) override;
  const std::vector<std::unique_ptr<worker::StageWorker>>& workers() const { return workers_; }

 private:
  struct Inbox {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::pair<worker::StageAddress, worker::StageMessage>> queue;
    bool stop = false;
  };
  void serve(size_t worker_index);
  void route(worker::Outgoing out);

  std::vector<std::unique_ptr<worker::StageWorker>> workers_;
  std::shared_ptr<StageTrace> trace_;
  std::vector<std::unique_ptr<Inbox>> inboxes_;
  Inbox coordinator_;
  std::vector<std::thread> threads_;
};

}  // namespace baton::coordinator
