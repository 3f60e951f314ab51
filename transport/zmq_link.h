#pragma once
// Internal to the ZeroMQ transport: the state one ZmqChannel shares with its
// node's service thread. Not part of the transport's interface.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "transport/channel.h"

namespace baton::transport {

struct ZmqLink {
  using Clock = std::chrono::steady_clock;

  // A received packet, or why a message from this peer was refused (receive()
  // raises it as an Error and the channel goes on).
  struct Item {
    std::optional<Packet> packet;
    std::string refusal;
    int64_t bytes = 0;
  };

  PeerInfo peer;         // rank and endpoint, for the service thread's log lines
  std::string identity;  // the routing id the peer's messages arrive with
  WireLimits limits;
  std::shared_ptr<ArrivalWatchers> watchers;

  // Sending: the user's send() and the service thread's heartbeats.
  std::mutex send_mutex;
  zmq::socket_t dealer;
  // Connection events of `dealer`; the service thread only.
  zmq::socket_t monitor;

  mutable std::mutex mutex;
  std::condition_variable cv;
  std::deque<Item> inbox;
  int64_t inbox_bytes = 0;
  std::optional<std::string> failure;  // sticky: the peer died or the link broke
  Clock::time_point failure_at;
  bool heard = false;  // a valid message has arrived (silence counts from then on)
  Clock::time_point last_heard;
  bool peer_shutdown = false;  // the peer sent Shutdown: its disconnect is expected
  bool closed = false;         // our channel is gone: the service thread drops the link

  // Records the first failure and wakes every waiter.
  void fail(const std::string& reason) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (failure || closed) return;
      failure = reason;
      failure_at = Clock::now();
    }
    cv.notify_all();
    watchers->notify_all();
  }

  void push(Item item) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      inbox_bytes += item.bytes;
      inbox.push_back(std::move(item));
    }
    cv.notify_all();
    watchers->notify_all();
  }
};

}  // namespace baton::transport
