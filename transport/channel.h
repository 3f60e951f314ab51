#pragma once
// A Channel is a duplex, ordered, point-to-point link between two ranks (or two
// threads): each end sends Messages (a protobuf header + named tensors) and
// receives the other end's, first in first out. Every blocking call takes a
// Deadline; a timeout, a dead peer, a malformed message or a peer's
// ErrorReport is a baton::Error that names the peer (rank, stage, endpoint)
// and what was awaited. docs/transport.md describes the semantics.
//
// Implementations move Packets (send_packet / receive_packet); this base class
// builds the Message level, the handshake and the control messages on top, so
// every transport behaves the same.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "transport/deadline.h"
#include "transport/message.h"
#include "transport/wire_limits.h"

namespace baton::transport {

// Wakes waiters when something arrives on any channel that it watches
// (ChannelGroup). A generation counter makes a wake-up impossible to miss.
class ArrivalSignal {
 public:
  void notify();
  uint64_t generation() const;
  // Waits until the generation differs from `seen`; false at the deadline.
  bool wait_changed(uint64_t seen, const Deadline& deadline) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  uint64_t generation_ = 0;
};

// The signals watching one channel. Shared with the implementation's
// background parts (a ZeroMQ service thread), which may outlive a Channel call.
class ArrivalWatchers {
 public:
  void add(const std::shared_ptr<ArrivalSignal>& signal);
  void notify_all();

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<ArrivalSignal>> signals_;
};

class Channel {
 public:
  Channel(PeerInfo peer, c10::Device device, WireLimits limits);
  virtual ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // --- Data --------------------------------------------------------------
  // Queues `message` for the peer and returns; it does not wait for the peer
  // to receive it. The tensors now belong to the channel: do not write to them
  // in place afterwards (they may be read later, or handed over without a copy).
  // Throws Error when the message exceeds the wire limits, the peer has
  // failed, or it could not be queued by the deadline.
  void send(const Message& message, const Deadline& deadline);
  // The next message from the peer, its tensors on this channel's device; no
  // value once the peer has sent Shutdown. Throws Error on the deadline, when
  // the peer died, when it reported an error, or when the next message was
  // malformed (the channel keeps working after a malformed message).
  std::optional<Message> receive(const Deadline& deadline);

  // --- Control -----------------------------------------------------------
  // End of stream: tells the peer that nothing more will be sent.
  void send_shutdown(const std::string& reason, const Deadline& deadline);
  // Tells the peer this rank failed (it receives an Error); best effort, never throws.
  void report_error(int rank, const std::string& stage, const std::string& message) noexcept;

  // --- State -------------------------------------------------------------
  // The peer: rank, stage (once the handshake has told it), endpoint.
  PeerInfo peer() const;
  // "rank 2 (stage dit1) at tcp://10.0.0.5:41234".
  std::string describe_peer() const;
  const c10::Device& device() const { return device_; }
  const WireLimits& limits() const { return limits_; }
  // receive() will not block: something is waiting (a message, a shutdown, an
  // error), the channel has failed, or the peer's stream has ended.
  bool readable() const { return peer_shut_down_ || has_pending(); }
  // The peer sent Shutdown and receive() has returned it.
  bool peer_shut_down() const { return peer_shut_down_; }
  // The sticky failure (the peer died, the link broke), if any, and when it happened.
  virtual std::optional<Error> failure() const = 0;
  virtual std::optional<std::chrono::steady_clock::time_point> failure_time() const = 0;
  // "in-process", "zmq", "nccl".
  virtual std::string kind() const = 0;
  // Registers a signal notified whenever this channel becomes readable.
  virtual void watch(const std::shared_ptr<ArrivalSignal>& signal);

  // --- Transport level ---------------------------------------------------
  // Moves one Packet. Used by this class, by the handshake, and by channels
  // built over another channel (NCCL over ZeroMQ); users call send/receive.
  virtual void send_packet(Packet packet, const Deadline& deadline) = 0;
  virtual Packet receive_packet(const Deadline& deadline) = 0;
  // receive_packet() will not block: a packet or a failure is waiting.
  virtual bool has_pending() const = 0;

  // The handshake fills in what the peer said about itself.
  void set_peer_stage(const std::string& stage);

 protected:
  // An Error about this peer: "<describe_peer()>: <what>".
  Error peer_error(const std::string& what, const std::string& hint = {}) const;
  // The timeout Error every implementation raises, naming the peer, what did
  // not happen and the deadline's budget: "<peer>: no message arrived within 5.0 s".
  Error timeout_error(const std::string& what, const Deadline& deadline, const std::string& why = {}) const;
  const std::shared_ptr<ArrivalWatchers>& watchers() const { return watchers_; }

 private:
  mutable std::mutex peer_mutex_;
  PeerInfo peer_;
  c10::Device device_;
  WireLimits limits_;
  std::shared_ptr<ArrivalWatchers> watchers_;
  std::atomic<bool> peer_shut_down_{false};  // receive() returns no value from then on
};

// The one handshake (wire.proto, Hello): sends `ours` on every channel first,
// then waits for each peer's Hello, so that ranks handshaking in a ring cannot
// wait on each other. Refuses a protocol version, model hash, plan hash or
// dtype that differs from ours, or a peer rank other than the channel's, with
// an Error naming both sides' values. Returns the peers' Hellos in order.
std::vector<wire::Hello> handshake_all(const std::vector<Channel*>& channels, const wire::Hello& ours,
                                       const Deadline& deadline);
// A Hello with this build's protocol version.
wire::Hello make_hello(const std::string& model_hash, const std::string& plan_hash, wire::DType dtype, int rank,
                       const std::string& stage);

// Several channels waited on together: a stage that takes input from more than
// one peer, or that must notice any peer's death while it waits for one.
class ChannelGroup {
 public:
  ChannelGroup();
  void add(std::shared_ptr<Channel> channel);
  const std::vector<std::shared_ptr<Channel>>& channels() const { return channels_; }
  // The first channel with something to receive (channels whose peer has shut
  // down are skipped). Throws Error on the deadline naming every peer awaited.
  Channel& wait_any(const Deadline& deadline);
  // receive() on `from`, but throws as soon as any channel of the group has
  // failed (the earliest failure: the cause, not a consequence).
  std::optional<Message> receive_from(Channel& from, const Deadline& deadline);
  // Throws the earliest failure among the group's channels, if any.
  void check_failures() const;

 private:
  std::shared_ptr<ArrivalSignal> signal_;
  std::vector<std::shared_ptr<Channel>> channels_;
};

}  // namespace baton::transport
