#pragma once
// Hand-off inside one process (the embedded default: one thread per local
// device). A thread-safe queue each way; tensors are handed over without a
// copy (moved to the receiving end's device if it differs).
#include <memory>
#include <utility>

#include "transport/channel.h"

namespace baton::transport {

class InProcessChannel : public Channel {
 public:
  // Both ends of one link. The first end is held by `first` (its peer is
  // `second`), the second end by `second`. Each end delivers received tensors
  // on its own device.
  static std::pair<std::shared_ptr<InProcessChannel>, std::shared_ptr<InProcessChannel>> make_pair(
      PeerInfo first, c10::Device first_device, PeerInfo second, c10::Device second_device,
      const WireLimits& limits = {});

  // Closes this end: the peer's receive() fails once its queue is drained,
  // unless this end sent Shutdown first.
  ~InProcessChannel() override;

  std::optional<Error> failure() const override;
  std::optional<std::chrono::steady_clock::time_point> failure_time() const override;
  std::string kind() const override { return "in-process"; }

  // Waits (until the deadline) while the peer's queue holds more than
  // limits().max_queued_bytes: in-process flow control.
  void send_packet(Packet packet, const Deadline& deadline) override;
  Packet receive_packet(const Deadline& deadline) override;
  bool has_pending() const override;

  struct Link;

 private:
  InProcessChannel(PeerInfo peer, c10::Device device, const WireLimits& limits, std::shared_ptr<Link> link, int side);
  std::optional<Error> failure_locked() const;

  std::shared_ptr<Link> link_;
  int side_;  // this end receives queue[side_] and sends into queue[1 - side_]
};

}  // namespace baton::transport
