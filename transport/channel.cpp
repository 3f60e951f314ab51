#include "transport/channel.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "transport/tensor_codec.h"

namespace baton::transport {

// ---------------------------------------------------------------------------
// Arrival signals

void ArrivalSignal::notify() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
  }
  cv_.notify_all();
}

uint64_t ArrivalSignal::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

bool ArrivalSignal::wait_changed(uint64_t seen, const Deadline& deadline) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_until(lock, deadline.when(), [&] { return generation_ != seen; });
}

void ArrivalWatchers::add(const std::shared_ptr<ArrivalSignal>& signal) {
  std::lock_guard<std::mutex> lock(mutex_);
  signals_.push_back(signal);
}

void ArrivalWatchers::notify_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  signals_.erase(std::remove_if(signals_.begin(), signals_.end(),
                                [](const std::weak_ptr<ArrivalSignal>& weak) {
                                  auto signal = weak.lock();
                                  if (signal) signal->notify();
                                  return !signal;
                                }),
                 signals_.end());
}

// ---------------------------------------------------------------------------
// Channel

Channel::Channel(PeerInfo peer, c10::Device device, WireLimits limits)
    : peer_(std::move(peer)), device_(device), limits_(limits), watchers_(std::make_shared<ArrivalWatchers>()) {
  limits_.validate();
}

Channel::~Channel() = default;

PeerInfo Channel::peer() const {
  std::lock_guard<std::mutex> lock(peer_mutex_);
  return peer_;
}

std::string Channel::describe_peer() const { return peer().describe(); }

void Channel::set_peer_stage(const std::string& stage) {
  std::lock_guard<std::mutex> lock(peer_mutex_);
  peer_.stage = stage;
}

void Channel::watch(const std::shared_ptr<ArrivalSignal>& signal) { watchers_->add(signal); }

Error Channel::peer_error(const std::string& what, const std::string& hint) const {
  return Error(describe_peer() + ": " + what, hint);
}

Error Channel::timeout_error(const std::string& what, const Deadline& deadline, const std::string& why) const {
  return Error(
      describe_peer() + ": " + what + " within " + deadline.budget_text() + (why.empty() ? "" : " (" + why + ")"),
      "the peer may be stuck or overloaded; check its log, or allow more time");
}

void Channel::send(const Message& message, const Deadline& deadline) {
  Packet packet;
  packet.envelope.set_protocol_version(kProtocolVersion);
  auto* header = packet.envelope.mutable_microbatch();
  *header = message.header;
  header->clear_tensors();
  packet.tensors.reserve(message.tensors.size());
  try {
    for (const auto& named : message.tensors) {
      *header->add_tensors() = describe_tensor(named.name, named.tensor);
      packet.tensors.push_back(named.tensor);
    }
    check_envelope(packet.envelope, limits_);
  } catch (Error& e) {
    throw e.with_context("sending a message to " + describe_peer());
  }
  send_packet(std::move(packet), deadline);
}

std::optional<Message> Channel::receive(const Deadline& deadline) {
  if (peer_shut_down_) return std::nullopt;
  for (;;) {
    Packet packet = receive_packet(deadline);
    auto& envelope = packet.envelope;
    switch (envelope.body_case()) {
      case wire::Envelope::kMicrobatch: {
        const auto& descriptors = envelope.microbatch().tensors();
        if (static_cast<size_t>(descriptors.size()) != packet.tensors.size()) {
          throw peer_error("message declares " + std::to_string(descriptors.size()) + " tensors but carries " +
                           std::to_string(packet.tensors.size()));
        }
        Message message;
        message.tensors.reserve(packet.tensors.size());
        for (int i = 0; i < descriptors.size(); ++i) {
          at::Tensor tensor = std::move(packet.tensors[i]);
          const auto& d = descriptors[i];
          if (!tensor.defined() || to_wire_dtype(tensor.scalar_type()) != d.dtype() ||
              !std::equal(d.shape().begin(), d.shape().end(), tensor.sizes().begin(), tensor.sizes().end())) {
            throw peer_error("tensor '" + d.name() + "' does not match its descriptor");
          }
          if (tensor.device() != device_) tensor = tensor.to(device_);
          message.tensors.push_back({d.name(), std::move(tensor)});
        }
        message.header = std::move(*envelope.mutable_microbatch());
        return message;
      }
      case wire::Envelope::kShutdown:
        peer_shut_down_ = true;
        return std::nullopt;
      case wire::Envelope::kErrorReport: {
        // A peer reports its own failure, or forwards another rank's.
        const auto& report = envelope.error_report();
        std::string what = "failed: " + report.message();
        if (report.rank() != peer().rank) {
          std::string who = "rank " + std::to_string(report.rank());
          if (!report.stage().empty()) who += " (stage " + report.stage() + ")";
          what = "reports that " + who + " " + what;
        }
        throw peer_error(what, "see that rank's log for the cause");
      }
      case wire::Envelope::kHeartbeat:
        continue;  // transports consume these; tolerate one that slips through
      default:
        throw peer_error("sent a " + body_name(envelope) + " where a message was expected");
    }
  }
}

void Channel::send_shutdown(const std::string& reason, const Deadline& deadline) {
  Packet packet;
  packet.envelope.set_protocol_version(kProtocolVersion);
  packet.envelope.mutable_shutdown()->set_reason(reason.substr(0, limits_.max_text_bytes));
  send_packet(std::move(packet), deadline);
}

void Channel::report_error(int rank, const std::string& stage, const std::string& message) noexcept {
  try {
    Packet packet;
    packet.envelope.set_protocol_version(kProtocolVersion);
    auto* report = packet.envelope.mutable_error_report();
    report->set_rank(rank);
    report->set_stage(stage.substr(0, limits_.max_name_bytes));
    report->set_message(message.substr(0, limits_.max_text_bytes));
    send_packet(std::move(packet), Deadline::after(std::chrono::seconds(1)));
  } catch (const std::exception& e) {
    spdlog::debug("could not report an error to {}: {}", describe_peer(), e.what());
  }
}

// ---------------------------------------------------------------------------
// Handshake

namespace {

// Hashes may be binary: quoted when printable, else hex.
std::string printable(const std::string& value) {
  bool text =
      std::all_of(value.begin(), value.end(), [](char c) { return std::isprint(static_cast<unsigned char>(c)); });
  if (text) return "'" + value.substr(0, 96) + (value.size() > 96 ? "...'" : "'");
  static const char* digits = "0123456789abcdef";
  std::string hex = "0x";
  for (size_t i = 0; i < value.size() && i < 48; ++i) {
    hex += digits[static_cast<unsigned char>(value[i]) >> 4];
    hex += digits[static_cast<unsigned char>(value[i]) & 15];
  }
  return value.size() > 48 ? hex + "..." : hex;
}

void check_hello(const wire::Hello& ours, const wire::Hello& theirs, const Channel& channel) {
  const std::string prefix = "handshake with " + channel.describe_peer() + ": ";
  const std::string hint = "every rank must run the same baton build with the same model, plan and dtype";
  auto refuse = [&](const std::string& field, const std::string& mine, const std::string& peer) {
    throw Error(prefix + field + " differs: this rank (rank " + std::to_string(ours.rank()) + ") has " + mine +
                    ", rank " + std::to_string(theirs.rank()) + " has " + peer,
                hint);
  };
  if (ours.protocol_version() != theirs.protocol_version()) {
    refuse("protocol_version", std::to_string(ours.protocol_version()), std::to_string(theirs.protocol_version()));
  }
  if (ours.model_hash() != theirs.model_hash()) {
    refuse("model_hash", printable(ours.model_hash()), printable(theirs.model_hash()));
  }
  if (ours.plan_hash() != theirs.plan_hash()) {
    refuse("plan_hash", printable(ours.plan_hash()), printable(theirs.plan_hash()));
  }
  if (ours.dtype() != theirs.dtype()) {
    refuse("dtype", wire_dtype_name(ours.dtype()), wire_dtype_name(theirs.dtype()));
  }
  if (theirs.rank() != channel.peer().rank) {
    throw Error(prefix + "the peer says it is rank " + std::to_string(theirs.rank()) + ", expected rank " +
                    std::to_string(channel.peer().rank),
                "the endpoints were exchanged wrongly or a stray process answered");
  }
}

}  // namespace

wire::Hello make_hello(const std::string& model_hash, const std::string& plan_hash, wire::DType dtype, int rank,
                       const std::string& stage) {
  wire::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_model_hash(model_hash);
  hello.set_plan_hash(plan_hash);
  hello.set_dtype(dtype);
  hello.set_rank(rank);
  hello.set_stage(stage);
  return hello;
}

std::vector<wire::Hello> handshake_all(const std::vector<Channel*>& channels, const wire::Hello& ours,
                                       const Deadline& deadline) {
  for (Channel* channel : channels) {
    Packet packet;
    packet.envelope.set_protocol_version(kProtocolVersion);
    *packet.envelope.mutable_hello() = ours;
    try {
      channel->send_packet(std::move(packet), deadline);
    } catch (Error& e) {
      throw e.with_context("handshake");
    }
  }
  std::vector<wire::Hello> hellos;
  for (Channel* channel : channels) {
    Packet packet;
    try {
      packet = channel->receive_packet(deadline);
    } catch (Error& e) {
      throw e.with_context("handshake (waiting for the peer's Hello)");
    }
    const auto& envelope = packet.envelope;
    if (envelope.has_error_report()) {
      throw Error("handshake with " + channel->describe_peer() +
                  ": the peer failed: " + envelope.error_report().message());
    }
    if (!envelope.has_hello()) {
      throw Error("handshake with " + channel->describe_peer() + ": expected a Hello, got " + body_name(envelope),
                  "every rank must run the same baton build");
    }
    check_hello(ours, envelope.hello(), *channel);
    channel->set_peer_stage(envelope.hello().stage());
    hellos.push_back(envelope.hello());
  }
  return hellos;
}

// ---------------------------------------------------------------------------
// ChannelGroup

ChannelGroup::ChannelGroup() : signal_(std::make_shared<ArrivalSignal>()) {}

void ChannelGroup::add(std::shared_ptr<Channel> channel) {
  channel->watch(signal_);
  channels_.push_back(std::move(channel));
}

Channel& ChannelGroup::wait_any(const Deadline& deadline) {
  for (;;) {
    const uint64_t seen = signal_->generation();
    for (const auto& channel : channels_) {
      if (channel->has_pending()) return *channel;
    }
    if (!signal_->wait_changed(seen, deadline)) {
      std::string peers;
      for (const auto& channel : channels_) peers += (peers.empty() ? "" : ", ") + channel->describe_peer();
      throw Error("waiting for a message from any of " + peers + ": nothing arrived within " + deadline.budget_text(),
                  "the peers may be stuck or overloaded; check their logs, or allow more time");
    }
  }
}

void ChannelGroup::check_failures() const {
  const Channel* first = nullptr;
  std::chrono::steady_clock::time_point first_time;
  for (const auto& channel : channels_) {
    auto when = channel->failure_time();
    if (when && (!first || *when < first_time)) {
      first = channel.get();
      first_time = *when;
    }
  }
  if (first) {
    if (auto failure = first->failure()) throw *failure;
  }
}

std::optional<Message> ChannelGroup::receive_from(Channel& from, const Deadline& deadline) {
  require(std::any_of(channels_.begin(), channels_.end(), [&](const auto& c) { return c.get() == &from; }),
          "ChannelGroup::receive_from: " + from.describe_peer() + " is not in the group");
  for (;;) {
    const uint64_t seen = signal_->generation();
    check_failures();
    if (from.readable() || deadline.expired()) return from.receive(deadline);
    signal_->wait_changed(seen, deadline);
  }
}

}  // namespace baton::transport
