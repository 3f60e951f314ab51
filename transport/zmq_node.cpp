#include "transport/zmq_node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <deque>
#include <map>
#include <thread>
#include <vector>

#include "core/error.h"
#include "transport/zmq_channel.h"
#include "transport/zmq_frames.h"
#include "transport/zmq_link.h"

namespace baton::transport {
namespace {

using Clock = std::chrono::steady_clock;

std::string identity_of(int rank) { return "baton/r" + std::to_string(rank); }

// A peer's channel may be made a moment after the peer has sent its first
// messages (its Hello): messages from rank identities wait for it, within bounds.
bool is_rank_identity(const std::string& id, int max_rank) {
  const std::string prefix = "baton/r";
  if (id.size() <= prefix.size() || id.size() > prefix.size() + 6 || id.compare(0, prefix.size(), prefix) != 0) {
    return false;
  }
  if (!std::all_of(id.begin() + prefix.size(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  return std::stoi(id.substr(prefix.size())) <= max_rank;
}
constexpr size_t kMaxEarlyMessages = 1024;

// Routing ids of strangers may be binary.
std::string printable_identity(const std::string& id) {
  for (char c : id) {
    if (!std::isprint(static_cast<unsigned char>(c))) return "a peer with a binary routing id";
  }
  return "'" + id + "'";
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

struct ZmqNode::Impl {
  ZmqNodeOptions options;
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
  std::string endpoint;

  std::mutex registry_mutex;
  std::map<std::string, std::shared_ptr<ZmqLink>> links;  // by the peer's routing id
  // Messages from ranks whose channel is not made yet (bounded; under registry_mutex).
  std::map<std::string, std::deque<ZmqLink::Item>> early;
  size_t early_count = 0;
  int64_t early_bytes = 0;
  uint64_t next_monitor = 0;

  std::thread service;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> accepted{0}, rejected{0}, unknown_sender{0}, heartbeats_sent{0};
  std::string heartbeat_frame;  // a serialised Heartbeat envelope

  explicit Impl(ZmqNodeOptions o) : options(std::move(o)) {
    options.limits.validate();
    require(options.heartbeat_interval.count() > 0 && options.peer_timeout > options.heartbeat_interval,
            "ZeroMQ transport: the peer timeout must be longer than the heartbeat interval");
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::maxmsgsize, options.limits.max_frame_bytes());
    const std::string bind =
        "tcp://" + options.address + ":" + (options.port == 0 ? std::string("*") : std::to_string(options.port));
    try {
      router.bind(bind);
    } catch (const zmq::error_t& e) {
      throw Error("ZeroMQ transport: cannot bind " + bind + ": " + e.what(),
                  "check the transport address (BATON_TRANSPORT_ADDRESS) and that the port is free");
    }
    endpoint = router.get(zmq::sockopt::last_endpoint);
    wire::Envelope heartbeat;
    heartbeat.set_protocol_version(kProtocolVersion);
    heartbeat.mutable_heartbeat();
    heartbeat_frame = heartbeat.SerializeAsString();
  }

  std::vector<std::shared_ptr<ZmqLink>> snapshot() {
    std::lock_guard<std::mutex> lock(registry_mutex);
    std::vector<std::shared_ptr<ZmqLink>> out;
    for (auto it = links.begin(); it != links.end();) {
      bool closed;
      {
        std::lock_guard<std::mutex> link_lock(it->second->mutex);
        closed = it->second->closed;
      }
      if (closed) {
        it = links.erase(it);
      } else {
        out.push_back(it->second);
        ++it;
      }
    }
    return out;
  }

  std::shared_ptr<ZmqLink> find(const std::string& identity) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = links.find(identity);
    return it == links.end() ? nullptr : it->second;
  }

  // For a message from an identity without a channel: the channel if it was
  // made meanwhile; else keeps the message when it comes from a rank (its
  // channel is about to be made) and the bounds allow, setting `kept`.
  std::shared_ptr<ZmqLink> find_or_keep_early(const std::string& identity, Packet& packet, bool& kept) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = links.find(identity);
    if (it != links.end()) return it->second;
    if (packet.envelope.has_heartbeat() || !is_rank_identity(identity, options.limits.max_world_rank)) return nullptr;
    const int64_t bytes = declared_payload_bytes(packet.envelope);
    if (early_count >= kMaxEarlyMessages || early_bytes + bytes > options.limits.max_queued_bytes) return nullptr;
    ++early_count;
    early_bytes += bytes;
    early[identity].push_back({std::move(packet), {}, bytes});
    kept = true;
    return nullptr;
  }

  void serve() {
    auto next_heartbeat = Clock::now();
    while (!stopping) {
      auto current = snapshot();
      std::vector<zmq_pollitem_t> items;
      items.push_back({router.handle(), 0, ZMQ_POLLIN, 0});
      for (auto& link : current) items.push_back({link->monitor.handle(), 0, ZMQ_POLLIN, 0});
      try {
        zmq::poll(items, std::chrono::milliseconds(50));
        if (items[0].revents & ZMQ_POLLIN) receive_messages();
        for (size_t i = 1; i < items.size(); ++i) {
          if (items[i].revents & ZMQ_POLLIN) read_monitor(*current[i - 1]);
        }
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) spdlog::error("ZeroMQ transport (rank {}): {}", options.rank, e.what());
      }
      const auto now = Clock::now();
      if (now >= next_heartbeat) {
        for (auto& link : current) send_heartbeat(*link);
        next_heartbeat = now + options.heartbeat_interval;
      }
      for (auto& link : current) check_silence(*link, now);
    }
  }

  // Takes the messages waiting at the inbox, a bounded number per round so
  // that heartbeats and death detection keep their pace under load.
  void receive_messages() {
    const size_t max_frames = static_cast<size_t>(options.limits.max_tensors_per_message) + 1;
    for (int n = 0; n < 256; ++n) {
      zmq::message_t identity;
      if (!router.recv(identity, zmq::recv_flags::dontwait)) return;
      std::vector<zmq::message_t> frames;
      size_t dropped = 0;
      bool more = identity.more();
      while (more) {
        zmq::message_t frame;
        (void)router.recv(frame, zmq::recv_flags::none);  // the rest of a multipart message is already here
        more = frame.more();
        if (frames.size() < max_frames) {
          frames.push_back(std::move(frame));
        } else {
          ++dropped;  // freed at once: a message with too many frames is never held whole
        }
      }
      handle_message(identity.to_string(), std::move(frames), dropped);
    }
  }

  void handle_message(const std::string& identity, std::vector<zmq::message_t> frames, size_t dropped) {
    auto link = find(identity);
    Packet packet;
    std::string refusal;
    try {
      require(dropped == 0, "message has more than " + std::to_string(frames.size()) + " frames (at most " +
                                std::to_string(options.limits.max_tensors_per_message) + " tensors are allowed)");
      packet = decode_frames(std::move(frames), options.limits);
    } catch (const std::exception& e) {
      refusal = e.what();
    }
    if (!refusal.empty()) {
      const uint64_t count = ++rejected;
      const std::string from = link ? link->peer.describe() : printable_identity(identity);
      if (link || count <= 5 || count % 1000 == 0) {
        spdlog::warn("ZeroMQ transport (rank {}): refused a message from {} ({} refused so far): {}", options.rank,
                     from, count, refusal);
      }
      if (link) link->push({std::nullopt, "sent a malformed message: " + refusal, 0});
      return;
    }
    if (!link) {
      bool kept = false;
      link = find_or_keep_early(identity, packet, kept);
      if (kept) {
        ++accepted;
        return;
      }
    }
    if (!link) {
      ++unknown_sender;
      spdlog::debug("ZeroMQ transport (rank {}): dropped a {} from {}, which has no channel here", options.rank,
                    body_name(packet.envelope), printable_identity(identity));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(link->mutex);
      link->heard = true;
      link->last_heard = Clock::now();
      if (packet.envelope.has_shutdown()) link->peer_shutdown = true;
    }
    if (packet.envelope.has_heartbeat()) return;
    ++accepted;
    const int64_t bytes = declared_payload_bytes(packet.envelope);
    bool overflow;
    {
      std::lock_guard<std::mutex> lock(link->mutex);
      overflow = link->inbox_bytes + bytes > options.limits.max_queued_bytes;
    }
    if (overflow) {
      link->fail("sent more than " + std::to_string(options.limits.max_queued_bytes) +
                 " bytes that were not received yet (it ignores flow control)");
      return;
    }
    link->push({std::move(packet), {}, bytes});
  }

  void read_monitor(ZmqLink& link) {
    for (;;) {
      zmq::message_t event;
      if (!link.monitor.recv(event, zmq::recv_flags::dontwait)) return;
      zmq::message_t address;
      if (event.more()) (void)link.monitor.recv(address, zmq::recv_flags::none);
      if (event.size() < sizeof(uint16_t)) continue;
      uint16_t id;
      std::memcpy(&id, event.data(), sizeof id);
      if (id != ZMQ_EVENT_DISCONNECTED) continue;
      bool expected;
      {
        std::lock_guard<std::mutex> lock(link.mutex);
        expected = !link.heard || link.peer_shutdown || link.closed;
      }
      if (!expected) {
        link.fail("the connection was lost (the process died or the network failed)");
      }
    }
  }

  void send_heartbeat(ZmqLink& link) {
    std::unique_lock<std::mutex> lock(link.send_mutex, std::try_to_lock);
    if (!lock.owns_lock()) return;  // a send is under way: that is a sign of life too
    zmq::message_t frame(heartbeat_frame.data(), heartbeat_frame.size());
    try {
      if (link.dealer.send(frame, zmq::send_flags::dontwait)) ++heartbeats_sent;
    } catch (const zmq::error_t&) {
      // Not connected yet or closing: the next round tries again.
    }
  }

  void check_silence(ZmqLink& link, Clock::time_point now) {
    Clock::duration silent{};
    {
      std::lock_guard<std::mutex> lock(link.mutex);
      if (!link.heard || link.peer_shutdown || link.failure || link.closed) return;
      silent = now - link.last_heard;
    }
    if (silent > options.peer_timeout) {
      char text[128];
      std::snprintf(text, sizeof text,
                    "no message or heartbeat for %.1f s (the process died, hangs, or the "
                    "network failed)",
                    seconds(silent));
      link.fail(text);
    }
  }
};

ZmqNode::ZmqNode(ZmqNodeOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  impl_->service = std::thread([impl = impl_.get()] { impl->serve(); });
  spdlog::debug("ZeroMQ transport: rank {} listens at {}", impl_->options.rank, impl_->endpoint);
}

ZmqNode::~ZmqNode() {
  impl_->stopping = true;
  if (impl_->service.joinable()) impl_->service.join();
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  for (auto& [identity, link] : impl_->links) link->fail("this rank's ZeroMQ transport was shut down");
  impl_->links.clear();
}

const std::string& ZmqNode::endpoint() const { return impl_->endpoint; }
int ZmqNode::rank() const { return impl_->options.rank; }

ZmqNode::Stats ZmqNode::stats() const {
  Stats s;
  s.accepted = impl_->accepted;
  s.rejected = impl_->rejected;
  s.unknown_sender = impl_->unknown_sender;
  s.heartbeats_sent = impl_->heartbeats_sent;
  return s;
}

std::shared_ptr<ZmqChannel> ZmqNode::connect(const PeerInfo& peer, c10::Device device) {
  require(peer.rank >= 0 && peer.rank != impl_->options.rank, "ZeroMQ transport: cannot connect rank " +
                                                                  std::to_string(impl_->options.rank) + " to rank " +
                                                                  std::to_string(peer.rank));
  require(peer.endpoint.rfind("tcp://", 0) == 0 || peer.endpoint.rfind("ipc://", 0) == 0,
          "ZeroMQ transport: endpoint of rank " + std::to_string(peer.rank) + " is '" + peer.endpoint +
              "', expected tcp://HOST:PORT");
  require(!impl_->stopping, "ZeroMQ transport: the node is shut down");
  auto link = std::make_shared<ZmqLink>();
  link->peer = peer;
  link->identity = identity_of(peer.rank);
  link->limits = impl_->options.limits;
  link->dealer = zmq::socket_t(impl_->context, zmq::socket_type::dealer);
  link->dealer.set(zmq::sockopt::routing_id, identity_of(impl_->options.rank));
  link->dealer.set(zmq::sockopt::immediate, true);  // queue only on a live connection: a send waits for the peer
  link->dealer.set(zmq::sockopt::linger, static_cast<int>(impl_->options.linger.count()));
  link->dealer.set(zmq::sockopt::maxmsgsize, int64_t(1) << 16);  // nothing is ever received on it
  std::string monitor_address;
  {
    std::lock_guard<std::mutex> lock(impl_->registry_mutex);
    monitor_address = "inproc://baton-monitor-" + std::to_string(impl_->next_monitor++);
  }
  if (zmq_socket_monitor(link->dealer.handle(), monitor_address.c_str(), ZMQ_EVENT_DISCONNECTED) != 0) {
    throw Error("ZeroMQ transport: cannot monitor the connection to rank " + std::to_string(peer.rank));
  }
  link->monitor = zmq::socket_t(impl_->context, zmq::socket_type::pair);
  link->monitor.connect(monitor_address);
  try {
    link->dealer.connect(peer.endpoint);
  } catch (const zmq::error_t& e) {
    throw Error("ZeroMQ transport: cannot connect to rank " + std::to_string(peer.rank) + " at '" + peer.endpoint +
                "': " + e.what());
  }
  std::shared_ptr<ZmqChannel> channel(new ZmqChannel(peer, device, impl_->options.limits, impl_, link));
  {
    std::lock_guard<std::mutex> lock(impl_->registry_mutex);
    auto it = impl_->links.find(link->identity);
    if (it != impl_->links.end()) {
      std::lock_guard<std::mutex> link_lock(it->second->mutex);
      require(it->second->closed, "ZeroMQ transport: rank " + std::to_string(impl_->options.rank) +
                                      " already has a channel to rank " + std::to_string(peer.rank));
    }
    impl_->links[link->identity] = link;
    // What the peer sent before this channel existed comes first, in order.
    auto early = impl_->early.find(link->identity);
    if (early != impl_->early.end()) {
      {
        std::lock_guard<std::mutex> link_lock(link->mutex);
        link->heard = true;
        link->last_heard = std::chrono::steady_clock::now();
      }
      for (auto& item : early->second) {
        impl_->early_count -= 1;
        impl_->early_bytes -= item.bytes;
        if (item.packet && item.packet->envelope.has_shutdown()) {
          std::lock_guard<std::mutex> link_lock(link->mutex);
          link->peer_shutdown = true;
        }
        link->push(std::move(item));
      }
      impl_->early.erase(early);
    }
  }
  return channel;
}

}  // namespace baton::transport
