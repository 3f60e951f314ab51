#include "transport/in_process_channel.h"

#include <condition_variable>
#include <deque>
#include <mutex>

namespace baton::transport {

struct InProcessChannel::Link {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Packet> queue[2];  // queue[i]: packets for end i
  int64_t queued_bytes[2] = {0, 0};
  bool closed[2] = {false, false};
  bool sent_shutdown[2] = {false, false};
  std::chrono::steady_clock::time_point closed_at[2];
  std::shared_ptr<ArrivalWatchers> watchers[2];
};

std::pair<std::shared_ptr<InProcessChannel>, std::shared_ptr<InProcessChannel>> InProcessChannel::make_pair(
    PeerInfo first, c10::Device first_device, PeerInfo second, c10::Device second_device, const WireLimits& limits) {
  auto link = std::make_shared<Link>();
  std::shared_ptr<InProcessChannel> a(new InProcessChannel(second, first_device, limits, link, 0));
  std::shared_ptr<InProcessChannel> b(new InProcessChannel(first, second_device, limits, link, 1));
  link->watchers[0] = a->watchers();
  link->watchers[1] = b->watchers();
  return {a, b};
}

InProcessChannel::InProcessChannel(PeerInfo peer, c10::Device device, const WireLimits& limits,
                                   std::shared_ptr<Link> link, int side)
    : Channel(std::move(peer), device, limits), link_(std::move(link)), side_(side) {}

InProcessChannel::~InProcessChannel() {
  std::shared_ptr<ArrivalWatchers> peer_watchers;
  {
    std::lock_guard<std::mutex> lock(link_->mutex);
    link_->closed[side_] = true;
    link_->closed_at[side_] = std::chrono::steady_clock::now();
    link_->queue[side_].clear();
    peer_watchers = link_->watchers[1 - side_];
  }
  link_->cv.notify_all();
  if (peer_watchers) peer_watchers->notify_all();
}

std::optional<Error> InProcessChannel::failure_locked() const {
  const int peer = 1 - side_;
  if (link_->closed[peer] && !link_->sent_shutdown[peer]) {
    return peer_error("closed its end of the channel without Shutdown (its thread ended or failed)");
  }
  return std::nullopt;
}

bool InProcessChannel::has_pending() const {
  std::lock_guard<std::mutex> lock(link_->mutex);
  return !link_->queue[side_].empty() || failure_locked().has_value();
}

std::optional<Error> InProcessChannel::failure() const {
  std::lock_guard<std::mutex> lock(link_->mutex);
  return failure_locked();
}

std::optional<std::chrono::steady_clock::time_point> InProcessChannel::failure_time() const {
  std::lock_guard<std::mutex> lock(link_->mutex);
  if (!failure_locked()) return std::nullopt;
  return link_->closed_at[1 - side_];
}

void InProcessChannel::send_packet(Packet packet, const Deadline& deadline) {
  const int peer = 1 - side_;
  const int64_t bytes = declared_payload_bytes(packet.envelope);
  std::shared_ptr<ArrivalWatchers> peer_watchers;
  {
    std::unique_lock<std::mutex> lock(link_->mutex);
    auto room = [&] {
      return link_->closed[peer] || link_->queued_bytes[peer] == 0 ||
             link_->queued_bytes[peer] + bytes <= limits().max_queued_bytes;
    };
    if (!link_->cv.wait_until(lock, deadline.when(), room)) {
      throw timeout_error("no room in its queue", deadline, "it is not receiving");
    }
    if (link_->closed[peer]) throw peer_error("closed its end of the channel; nothing more can be sent");
    if (packet.envelope.has_shutdown()) link_->sent_shutdown[side_] = true;
    link_->queued_bytes[peer] += bytes;
    link_->queue[peer].push_back(std::move(packet));
    peer_watchers = link_->watchers[peer];
  }
  link_->cv.notify_all();
  if (peer_watchers) peer_watchers->notify_all();
}

Packet InProcessChannel::receive_packet(const Deadline& deadline) {
  std::unique_lock<std::mutex> lock(link_->mutex);
  auto& queue = link_->queue[side_];
  if (!link_->cv.wait_until(lock, deadline.when(), [&] { return !queue.empty() || failure_locked(); })) {
    throw timeout_error("no message arrived", deadline);
  }
  if (queue.empty()) throw *failure_locked();
  Packet packet = std::move(queue.front());
  queue.pop_front();
  link_->queued_bytes[side_] -= declared_payload_bytes(packet.envelope);
  lock.unlock();
  link_->cv.notify_all();
  return packet;
}

}  // namespace baton::transport
