#include "transport/zmq_channel.h"

#include <algorithm>

#include "transport/zmq_frames.h"
#include "transport/zmq_link.h"

namespace baton::transport {

ZmqChannel::ZmqChannel(PeerInfo peer, c10::Device device, const WireLimits& limits, std::shared_ptr<ZmqNode::Impl> node,
                       std::shared_ptr<ZmqLink> link)
    : Channel(std::move(peer), device, limits), node_(std::move(node)), link_(std::move(link)) {
  link_->watchers = watchers();
}

ZmqChannel::~ZmqChannel() {
  {
    std::lock_guard<std::mutex> lock(link_->mutex);
    link_->closed = true;  // the service thread drops the link; its sockets close with the last reference
  }
  link_->cv.notify_all();
}

bool ZmqChannel::has_pending() const {
  std::lock_guard<std::mutex> lock(link_->mutex);
  return !link_->inbox.empty() || link_->failure.has_value();
}

std::optional<Error> ZmqChannel::failure() const {
  std::optional<std::string> reason;
  {
    std::lock_guard<std::mutex> lock(link_->mutex);
    reason = link_->failure;
  }
  if (!reason) return std::nullopt;
  return peer_error(*reason, "the job cannot go on without this rank; see its log (and the host's) for why it ended");
}

std::optional<std::chrono::steady_clock::time_point> ZmqChannel::failure_time() const {
  std::lock_guard<std::mutex> lock(link_->mutex);
  if (!link_->failure) return std::nullopt;
  return link_->failure_at;
}

void ZmqChannel::send_packet(Packet packet, const Deadline& deadline) {
  if (auto failed = failure()) throw *failed;
  std::vector<zmq::message_t> frames = encode_frames(std::move(packet));
  std::lock_guard<std::mutex> lock(link_->send_mutex);
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto more = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    for (;;) {
      try {
        if (link_->dealer.send(frames[i], more | zmq::send_flags::dontwait)) break;
      } catch (const zmq::error_t& e) {
        throw peer_error(std::string("sending failed: ") + e.what());
      }
      // Not connected yet, or the queue toward the peer is full: wait in
      // short slices so that a peer's death is noticed while we wait.
      if (auto failed = failure()) throw *failed;
      if (deadline.expired()) {
        if (i > 0) link_->fail("a message was cut off mid-way (sending timed out)");
        throw timeout_error("could not send", deadline, "not connected, or the peer is not reading");
      }
      zmq_pollitem_t item{link_->dealer.handle(), 0, ZMQ_POLLOUT, 0};
      zmq::poll(&item, 1, std::min(deadline.remaining(), std::chrono::milliseconds(100)));
    }
  }
}

Packet ZmqChannel::receive_packet(const Deadline& deadline) {
  std::unique_lock<std::mutex> lock(link_->mutex);
  const bool ready =
      link_->cv.wait_until(lock, deadline.when(), [&] { return !link_->inbox.empty() || link_->failure.has_value(); });
  if (!ready) {
    lock.unlock();
    throw timeout_error("no message arrived", deadline);
  }
  if (link_->inbox.empty()) {
    lock.unlock();
    throw *failure();
  }
  ZmqLink::Item item = std::move(link_->inbox.front());
  link_->inbox.pop_front();
  link_->inbox_bytes -= item.bytes;
  lock.unlock();
  if (!item.packet) throw peer_error(item.refusal, "the peer runs a different or faulty build");
  return std::move(*item.packet);
}

}  // namespace baton::transport
