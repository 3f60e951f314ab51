#include "coordinator/local_stage_network.h"

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace baton::coordinator {

using worker::StageAddress;
using worker::StageMessage;

LocalStageNetwork::LocalStageNetwork(std::vector<std::unique_ptr<worker::StageWorker>> workers,
                                     std::shared_ptr<StageTrace> trace)
    : workers_(std::move(workers)), trace_(std::move(trace)) {
  for (size_t i = 0; i < workers_.size(); ++i) inboxes_.push_back(std::make_unique<Inbox>());
  for (size_t i = 0; i < workers_.size(); ++i) threads_.emplace_back([this, i] { serve(i); });
}

LocalStageNetwork::~LocalStageNetwork() {
  for (auto& inbox : inboxes_) {
    std::lock_guard<std::mutex> lock(inbox->mutex);
    inbox->stop = true;
    inbox->cv.notify_all();
  }
  for (auto& t : threads_) t.join();
}

std::vector<StageAddress> LocalStageNetwork::stages() const {
  std::vector<StageAddress> out;
  for (const auto& w : workers_)
    for (const auto& a : w->addresses()) out.push_back(a);
  return out;
}

void LocalStageNetwork::post(const StageAddress& to, StageMessage message) { route({to, std::move(message)}); }

void LocalStageNetwork::route(worker::Outgoing out) {
  Inbox* inbox = nullptr;
  if (out.to.role == StageAddress::Role::Coordinator) {
    inbox = &coordinator_;
  } else {
    for (size_t i = 0; i < workers_.size() && !inbox; ++i)
      if (workers_[i]->hosts(out.to)) inbox = inboxes_[i].get();
  }
  if (!inbox) throw Error("no worker of this process hosts stage " + out.to.name());
  std::lock_guard<std::mutex> lock(inbox->mutex);
  inbox->queue.emplace_back(out.to, std::move(out.message));
  inbox->cv.notify_one();
}

void LocalStageNetwork::serve(size_t index) {
  auto& inbox = *inboxes_[index];
  while (true) {
    std::pair<StageAddress, StageMessage> item;
    {
      std::unique_lock<std::mutex> lock(inbox.mutex);
      inbox.cv.wait(lock, [&] { return inbox.stop || !inbox.queue.empty(); });
      if (inbox.stop) return;
      item = std::move(inbox.queue.front());
      inbox.queue.pop_front();
    }
    // handle() turns a request's failure into a Failed message; anything that
    // escapes it is a bug in routing, reported to the coordinator all the same.
    const uint64_t request_id = item.second.request_id;
    try {
      for (auto& out : handle_traced(*workers_[index], item.first, std::move(item.second), trace_.get()))
        route(std::move(out));
    } catch (const std::exception& e) {
      StageMessage failed;
      failed.kind = worker::MessageKind::Failed;
      failed.request_id = request_id;
      failed.meta = {{"error", e.what()}, {"stage", item.first.name()}};
      route({{StageAddress::Role::Coordinator, 0}, std::move(failed)});
    }
  }
}

std::optional<StageMessage> LocalStageNetwork::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(coordinator_.mutex);
  if (!coordinator_.cv.wait_for(lock, timeout, [&] { return !coordinator_.queue.empty(); })) return std::nullopt;
  auto m = std::move(coordinator_.queue.front().second);
  coordinator_.queue.pop_front();
  return m;
}

}  // namespace baton::coordinator
