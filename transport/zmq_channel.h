#pragma once
// A Channel over ZeroMQ (docs/transport.md): messages go out through a DEALER
// connected to the peer's inbox and come in through this rank's ZmqNode.
// Between hosts, to and from CPU ranks, and between ranks that share a GPU
// (tensors are staged through host memory). Made by ZmqNode::connect.
#include <memory>

#include "transport/channel.h"
#include "transport/zmq_node.h"

namespace baton::transport {

struct ZmqLink;

class ZmqChannel : public Channel {
 public:
  // Closes the channel: messages already queued are still sent for up to the
  // node's linger time. Without a Shutdown sent first, the peer sees this as a
  // failure (its connection to this rank drops).
  ~ZmqChannel() override;

  std::optional<Error> failure() const override;
  std::optional<std::chrono::steady_clock::time_point> failure_time() const override;
  std::string kind() const override { return "zmq"; }

  void send_packet(Packet packet, const Deadline& deadline) override;
  Packet receive_packet(const Deadline& deadline) override;
  bool has_pending() const override;

 private:
  friend class ZmqNode;
  ZmqChannel(PeerInfo peer, c10::Device device, const WireLimits& limits, std::shared_ptr<ZmqNode::Impl> node,
             std::shared_ptr<ZmqLink> link);

  std::shared_ptr<ZmqNode::Impl> node_;  // keeps the context alive; destroyed after link_
  std::shared_ptr<ZmqLink> link_;
};

}  // namespace baton::transport
