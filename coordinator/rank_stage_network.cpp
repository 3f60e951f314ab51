#include "coordinator/rank_stage_network.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "coordinator/pipeline_assembly.h"
#include "core/error.h"
#include "transport/nccl_channel.h"
#include "transport/zmq_channel.h"
#include "worker/stage_wire.h"

namespace baton::coordinator {

using transport::Deadline;
using worker::StageAddress;
using worker::StageMessage;
using Role = StageAddress::Role;

// ---------------------------------------------------------------------------
// Layout

RankLayout rank_layout(const partition::pb::Plan& plan, const std::vector<std::string>& hosts) {
  RankLayout layout;
  layout.size = static_cast<int>(hosts.size());
  layout.hosts = hosts;
  layout.devices.assign(hosts.size(), "");
  auto rank_of_device = [&](const std::string& id) {
    auto split = split_rank_device(id);
    if (!split)
      throw Error("the plan puts a stage on '" + id + "', which names no rank",
                  "under mpirun plan devices are named r<rank>/<device>, e.g. r1/cuda:0 (see docs/distributed.md)");
    const auto& [rank, device] = *split;
    if (rank >= layout.size)
      throw Error("the plan puts a stage on " + id + ", but the job has " + std::to_string(layout.size) + " ranks",
                  "run with mpirun -np " + std::to_string(rank + 1) + " or more, or plan for this job");
    auto& mine = layout.devices[static_cast<size_t>(rank)];
    if (!mine.empty() && mine != device)
      throw Error("the plan gives rank " + std::to_string(rank) + " two devices (" + mine + " and " + device + ")",
                  "under mpirun each rank drives one device");
    mine = device;
    return rank;
  };
  int64_t dits = 0, texts = 0;
  for (const auto& s : plan.stages()) {
    const int rank = rank_of_device(s.device());
    switch (s.kind()) {
      // A Gemma split within one rank is that rank's text stage; over two
      // ranks, the second rank runs the tail stage "text1".
      case partition::pb::Stage::TEXT:
        if (texts == 0)
          layout.rank_of[{Role::Text, 0}] = rank;
        else if (rank != layout.rank_of.at({Role::Text, 0}))
          layout.rank_of[{Role::Text, texts}] = rank;
        ++texts;
        break;
      case partition::pb::Stage::DIT: layout.rank_of[{Role::Dit, dits++}] = rank; break;
      case partition::pb::Stage::VAE: layout.rank_of[{Role::Vae, 0}] = rank; break;
      default: throw Error("the plan has a stage of unknown kind on " + s.device());
    }
  }
  if (texts > 2) throw Error("the plan splits the text stage over more than two devices; at most two are supported");
  return layout;
}

std::set<int> RankLayout::peers_of(int rank) const {
  std::set<int> peers;
  if (rank == 0) {
    for (int r = 1; r < size; ++r) peers.insert(r);
    return peers;
  }
  peers.insert(0);
  for (const auto& [from, to] : message_pairs()) {
    if (from == rank && to != rank) peers.insert(to);
    if (to == rank && from != rank) peers.insert(from);
  }
  return peers;
}

std::vector<std::pair<int, int>> RankLayout::message_pairs() const {
  std::vector<std::pair<int, int>> pairs;
  auto at = [&](Role role, int64_t index) { return rank_of.at({role, index}); };
  int64_t dits = 0;
  while (rank_of.count({Role::Dit, dits})) ++dits;
  if (dits == 0) return pairs;
  if (rank_of.count({Role::Text, 1})) {
    pairs.emplace_back(at(Role::Text, 0), at(Role::Text, 1));
    pairs.emplace_back(at(Role::Text, 1), at(Role::Dit, 0));
  } else {
    pairs.emplace_back(at(Role::Text, 0), at(Role::Dit, 0));
  }
  for (int64_t i = 0; i + 1 < dits; ++i) pairs.emplace_back(at(Role::Dit, i), at(Role::Dit, i + 1));
  pairs.emplace_back(at(Role::Dit, dits - 1), at(Role::Dit, 0));
  pairs.emplace_back(at(Role::Dit, dits - 1), at(Role::Vae, 0));
  return pairs;
}

std::string RankLayout::stages_on(int rank) const {
  std::string names;
  for (const auto& [address, r] : rank_of)
    if (r == rank) names += (names.empty() ? "" : "+") + address.name();
  if (rank == 0) names = names.empty() ? "coordinator" : "coordinator+" + names;
  return names.empty() ? "idle" : names;
}

bool RankLayout::gpu_pair(int a, int b) const {
  const auto& da = devices.at(static_cast<size_t>(a));
  const auto& db = devices.at(static_cast<size_t>(b));
  if (da.rfind("cuda", 0) != 0 || db.rfind("cuda", 0) != 0) return false;
  return !(hosts.at(static_cast<size_t>(a)) == hosts.at(static_cast<size_t>(b)) && da == db);
}

bool RankLayout::dit_neighbours(int a, int b) const {
  int64_t dits = 0;
  while (rank_of.count({Role::Dit, dits})) ++dits;
  for (int64_t i = 0; i < dits; ++i) {
    const int from = rank_of.at({Role::Dit, i}), to = rank_of.at({Role::Dit, (i + 1) % dits});
    if ((from == a && to == b) || (from == b && to == a)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Network

std::unique_ptr<transport::ZmqNode> make_rank_node(const transport::Membership& membership,
                                                   const RankNetworkOptions& options) {
  transport::ZmqNodeOptions node_options;
  node_options.rank = membership.rank();
  node_options.address = membership.transport_address();
  node_options.heartbeat_interval = options.heartbeat_interval;
  node_options.peer_timeout = options.peer_timeout;
  return std::make_unique<transport::ZmqNode>(node_options);
}

RankStageNetwork::RankStageNetwork(int rank, RankLayout layout, std::unique_ptr<transport::ZmqNode> node,
                                   const std::vector<std::string>& endpoints, RankNetworkOptions options)
    : rank_(rank),
      layout_(std::move(layout)),
      options_(std::move(options)),
      node_(std::move(node)),
      signal_(std::make_shared<transport::ArrivalSignal>()) {
  require(static_cast<int>(endpoints.size()) == layout_.size && rank_ >= 0 && rank_ < layout_.size,
          "rank network: " + std::to_string(endpoints.size()) + " endpoints for a layout of " +
              std::to_string(layout_.size) + " ranks");
  const auto deadline = Deadline::after(options_.connect_timeout);
  std::vector<transport::Channel*> channels;
  for (int p : layout_.peers_of(rank_)) {
    peers_[p].channel = node_->connect({p, layout_.stages_on(p), endpoints.at(static_cast<size_t>(p))});
    channels.push_back(peers_[p].channel.get());
  }
  transport::handshake_all(
      channels, transport::make_hello(options_.model_hash, options_.plan_hash, options_.dtype, rank_,
                                      layout_.stages_on(rank_)),
      deadline);
  // NCCL between GPU ranks that pass DiT activations, in ascending peer order
  // on every rank (each set-up waits for its peer's: one order, no cycle).
  if (options_.use_nccl && transport::nccl_transport_compiled()) {
    for (auto& [p, peer] : peers_) {
      if (!layout_.gpu_pair(rank_, p) || !layout_.dit_neighbours(rank_, p)) continue;
      peer.channel = transport::make_nccl_channel(peer.channel, c10::Device(layout_.devices.at(rank_)), deadline);
    }
  }
  std::string links;
  for (auto& [p, peer] : peers_) {
    group_.add(peer.channel);
    peer.channel->watch(signal_);
    links += (links.empty() ? "" : ", ") + std::string("rank ") + std::to_string(p) + " " + peer.channel->kind();
  }
  spdlog::info("rank {} ({}): channels to {}", rank_, layout_.stages_on(rank_), links.empty() ? "nobody" : links);
  listener_ = std::thread([this] { listen(); });
}

void RankStageNetwork::attach(std::unique_ptr<worker::StageWorker> local) {
  require(!worker_ && !worker_thread_.joinable(), "rank network: stages attached twice");
  worker_ = std::move(local);
  if (worker_) {
    for (const auto& address : worker_->addresses())
      require(hosted_here(address), "rank " + std::to_string(rank_) + " loaded stage " + address.name() +
                                        ", which the plan puts elsewhere");
    worker_thread_ = std::thread([this] { work(); });
  }
  StageMessage ready;
  ready.kind = worker::MessageKind::Ready;
  if (rank_ == 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.insert(0);
    changed_.notify_all();
  } else {
    route({{Role::Coordinator, 0}, std::move(ready)});
  }
}

void RankStageNetwork::wait_until_ready(std::chrono::milliseconds timeout) {
  require(rank_ == 0, "only rank 0 waits for the ranks to be ready");
  std::unique_lock<std::mutex> lock(mutex_);
  const bool all = changed_.wait_for(lock, timeout, [&] {
    return failure_.has_value() || static_cast<int>(ready_.size()) == layout_.size;
  });
  if (failure_) throw *failure_;
  if (!all) {
    std::string missing;
    for (int r = 0; r < layout_.size; ++r)
      if (!ready_.count(r)) missing += (missing.empty() ? "rank " : ", rank ") + std::to_string(r);
    throw Error(missing + " did not load its stages within " + std::to_string(timeout.count() / 1000) + " s",
                "see that rank's log; loading from a slow disk may need more time");
  }
}

bool RankStageNetwork::hosted_here(const StageAddress& to) const {
  auto it = layout_.rank_of.find(to);
  return it != layout_.rank_of.end() && it->second == rank_;
}

void RankStageNetwork::fail_and_report(const Error& error) {
  if (rank_ != 0) {
    auto it = peers_.find(0);
    if (it != peers_.end()) it->second.channel->report_error(rank_, layout_.stages_on(rank_), error.what());
  }
  fail(error);
}

RankStageNetwork::~RankStageNetwork() {
  stopping_ = true;
  listening_ = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_stop_ = true;
  }
  changed_.notify_all();
  signal_->notify();
  if (listener_.joinable()) listener_.join();
  if (worker_thread_.joinable()) worker_thread_.join();
  peers_.clear();
  node_.reset();
}

std::vector<StageAddress> RankStageNetwork::stages() const {
  std::vector<StageAddress> out;
  for (const auto& kv : layout_.rank_of) out.push_back(kv.first);
  return out;
}

std::map<int, std::string> RankStageNetwork::channel_kinds() const {
  std::map<int, std::string> kinds;
  for (const auto& [p, peer] : peers_) kinds[p] = peer.channel->kind();
  return kinds;
}

std::optional<Error> RankStageNetwork::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

void RankStageNetwork::fail(const Error& error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure_) return;
    failure_ = error;
  }
  stopping_ = true;  // nothing more goes out: sends to a dead peer would only wait
  spdlog::error("rank {} ({}): {}", rank_, layout_.stages_on(rank_), error.what());
  changed_.notify_all();
}

void RankStageNetwork::post(const StageAddress& to, StageMessage message) {
  require(rank_ == 0, "only rank 0 runs the coordinator");
  if (auto failed = failure()) throw *failed;
  route({to, std::move(message)});
}

std::optional<StageMessage> RankStageNetwork::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return failure_.has_value() || !coordinator_inbox_.empty(); });
  if (failure_) throw *failure_;
  if (coordinator_inbox_.empty()) return std::nullopt;
  auto m = std::move(coordinator_inbox_.front());
  coordinator_inbox_.pop_front();
  return m;
}

void RankStageNetwork::serve() {
  std::unique_lock<std::mutex> lock(mutex_);
  // No deadline here: rank 0 may be idle for long (a service); a dead or
  // silent rank 0 fails the network (heartbeats), which ends this wait.
  changed_.wait(lock, [&] { return failure_.has_value() || peers_.at(0).shut_down; });
  if (failure_) throw *failure_;
}

void RankStageNetwork::shutdown() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_stop_ = true;
  }
  changed_.notify_all();
  if (worker_thread_.joinable()) worker_thread_.join();
  for (auto& [p, peer] : peers_) {
    try {
      peer.channel->send_shutdown("rank " + std::to_string(rank_) + " is done", Deadline::after(options_.send_timeout));
    } catch (const Error& e) {
      fail(e);
    }
  }
  const auto until = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  std::unique_lock<std::mutex> lock(mutex_);
  const bool ended = changed_.wait_until(lock, until, [&] {
    return failure_.has_value() ||
           std::all_of(peers_.begin(), peers_.end(), [](const auto& kv) { return kv.second.shut_down; });
  });
  if (failure_) throw *failure_;
  if (!ended) {
    std::string late;
    for (const auto& [p, peer] : peers_)
      if (!peer.shut_down) late += (late.empty() ? "" : ", ") + peer.channel->describe_peer();
    throw Error("rank " + std::to_string(rank_) + ": " + late + " did not end its stream within " +
                    std::to_string(options_.shutdown_timeout.count() / 1000) + " s of the job's end",
                "see that rank's log");
  }
  lock.unlock();
  listening_ = false;
  signal_->notify();
  if (listener_.joinable()) listener_.join();
}

void RankStageNetwork::route(worker::Outgoing out) {
  if (stopping_) {
    spdlog::debug("rank {}: dropping a {} message for {} (the job is ending)", rank_,
                  worker::message_kind_name(out.message.kind), out.to.name());
    return;
  }
  int target = 0;
  if (out.to.role != Role::Coordinator) {
    auto it = layout_.rank_of.find(out.to);
    if (it == layout_.rank_of.end()) throw Error("no rank hosts stage " + out.to.name());
    target = it->second;
  }
  if (target == rank_) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (out.to.role == Role::Coordinator) {
      coordinator_inbox_.push_back(std::move(out.message));
    } else {
      if (!hosted_here(out.to)) throw Error("rank " + std::to_string(rank_) + " does not host " + out.to.name());
      if (!worker_stop_) inbox_.emplace_back(out.to, std::move(out.message));
    }
    changed_.notify_all();
    return;
  }
  auto it = peers_.find(target);
  if (it == peers_.end())
    throw Error("rank " + std::to_string(rank_) + " has no channel to rank " + std::to_string(target) + " (" +
                out.to.name() + ")");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (it->second.shut_down) return;  // that rank has ended: the job is over
  }
  try {
    it->second.channel->send(worker::to_wire(out.to, out.message), Deadline::after(options_.send_timeout));
  } catch (const Error& e) {
    fail(e);
  }
}

void RankStageNetwork::dispatch(int from, transport::Message message) {
  auto [to, m] = worker::from_wire(std::move(message));
  std::lock_guard<std::mutex> lock(mutex_);
  if (to.role == Role::Coordinator) {
    require(rank_ == 0, "rank " + std::to_string(rank_) + " received a message for the coordinator (rank 0)");
    if (m.kind == worker::MessageKind::Ready) {
      ready_.insert(from);
      changed_.notify_all();
      return;
    }
    // Tensors for the coordinator live on the host (PNG bytes from a GPU rank over NCCL).
    for (auto& kv : m.tensors)
      if (!kv.second.device().is_cpu()) kv.second = kv.second.cpu();
    coordinator_inbox_.push_back(std::move(m));
  } else {
    require(hosted_here(to),
            "rank " + std::to_string(rank_) + " received a message for stage " + to.name() + ", which it does not host");
    if (worker_stop_) return;
    inbox_.emplace_back(to, std::move(m));
  }
  changed_.notify_all();
}

void RankStageNetwork::listen() {
  while (listening_) {
    const uint64_t seen = signal_->generation();
    bool received = false;
    try {
      // A lost peer is a failure of the job (the earliest one: the cause).
      group_.check_failures();
    } catch (const Error& e) {
      fail(e);
      return;
    }
    for (auto& [p, peer] : peers_) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (peer.shut_down) continue;
      }
      if (!peer.channel->readable()) continue;
      received = true;
      try {
        auto message = peer.channel->receive(Deadline::after(options_.send_timeout));
        if (!message) {
          std::lock_guard<std::mutex> lock(mutex_);
          peer.shut_down = true;
          changed_.notify_all();
          continue;
        }
        dispatch(p, std::move(*message));
      } catch (const Error& e) {
        // The peer reported a failure, sent what this build cannot read, or
        // died. Rank 0 sees every death itself; other failures it learns from here.
        if (rank_ != 0 && !peer.channel->failure() && p != 0)
          peers_.at(0).channel->report_error(rank_, layout_.stages_on(rank_), e.what());
        fail(e);
        return;
      }
    }
    if (!received) signal_->wait_changed(seen, Deadline::after(std::chrono::milliseconds(200)));
  }
}

void RankStageNetwork::work() {
  for (;;) {
    std::pair<StageAddress, StageMessage> item;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return worker_stop_ || !inbox_.empty(); });
      if (worker_stop_) return;
      item = std::move(inbox_.front());
      inbox_.pop_front();
    }
    const uint64_t request_id = item.second.request_id;
    const StageAddress at = item.first;
    try {
      for (auto& out : handle_traced(*worker_, at, std::move(item.second), options_.trace.get()))
        route(std::move(out));
    } catch (const std::exception& e) {
      // handle() turns a request's failure into a Failed message; what escapes
      // it is a routing bug, reported for the request all the same.
      StageMessage failed;
      failed.kind = worker::MessageKind::Failed;
      failed.request_id = request_id;
      failed.meta = {{"error", e.what()}, {"stage", at.name()}};
      try {
        route({{Role::Coordinator, 0}, std::move(failed)});
      } catch (const Error& again) {
        fail(again);
      }
    }
  }
}

}  // namespace baton::coordinator
