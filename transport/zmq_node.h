#pragma once
// One rank's ZeroMQ presence: a ROUTER socket bound on a free port (its inbox,
// published as tcp://host:port), a DEALER per peer for sending, and a service
// thread that receives, validates and sorts incoming messages into per-peer
// queues, sends heartbeats, and declares a peer dead when its connection drops
// or it falls silent (docs/transport.md, Failure detection).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "transport/message.h"
#include "transport/wire_limits.h"

namespace baton::transport {

class ZmqChannel;

struct ZmqNodeOptions {
  int rank = 0;
  // The address to bind (and publish): 127.0.0.1 on one machine, this host's
  // address on the network otherwise (Membership::transport_address()).
  std::string address = "127.0.0.1";
  int port = 0;  // 0: a free port chosen by the system
  WireLimits limits;
  std::chrono::milliseconds heartbeat_interval{1000};
  // A peer heard from before and silent this long is dead. Well under 30 s
  // (issue 9: the others notice a dead rank within 30 s).
  std::chrono::milliseconds peer_timeout{10000};
  // How long closing a channel waits for its unsent messages.
  std::chrono::milliseconds linger{2000};
};

class ZmqNode {
 public:
  explicit ZmqNode(ZmqNodeOptions options);
  // Stops the service thread; channels still held fail from then on.
  ~ZmqNode();
  ZmqNode(const ZmqNode&) = delete;
  ZmqNode& operator=(const ZmqNode&) = delete;

  // Where peers reach this node: "tcp://127.0.0.1:41234".
  const std::string& endpoint() const;
  int rank() const;

  // A duplex channel to `peer` (its rank and endpoint). The peer must connect
  // a channel back to this rank (channels are made on both sides). Received
  // tensors are delivered on `device` (host staging for GPU ranks).
  std::shared_ptr<ZmqChannel> connect(const PeerInfo& peer, c10::Device device = c10::Device(c10::kCPU));

  struct Stats {
    uint64_t accepted = 0;        // messages delivered to a channel (heartbeats not counted)
    uint64_t rejected = 0;        // malformed: failed a schema, size or frame check
    uint64_t unknown_sender = 0;  // well-formed, but from no peer with a channel here
    uint64_t heartbeats_sent = 0;
  };
  Stats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace baton::transport
