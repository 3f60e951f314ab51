#pragma once
// The stages of a job spread over MPI ranks (docs/distributed.md). Every rank
// hosts the StageWorker of its device (one thread drains its inbox in order);
// rank 0 also runs the coordinator and sees the pipeline as a StageNetwork,
// exactly like the threads of one process (LocalStageNetwork). Messages
// between ranks travel as transport Messages (worker/stage_wire.h): over
// ZeroMQ, or NCCL between DiT stages on different GPUs; within a rank they
// are handed over in memory.
//
// A channel links every pair of ranks that exchange messages: text -> dit0
// (or text -> text1 -> dit0 when Gemma is split over two ranks),
// dit_i -> dit_i+1, dit_last -> dit0 (the ring), dit_last -> vae, and rank 0
// with every rank (Start/Cancel out; progress, images and failures back; and
// so that rank 0 notices the death of any rank).
//
// Start-up: the node is made and the endpoints exchanged (MPI), then the
// network connects; each rank loads its stages while heartbeats run (a rank
// that dies while loading is noticed), attaches them and reports Ready.
//
// Failure: a lost peer (its process died, it fell silent) or a broken message
// fails the network with an Error naming the rank and its stages; rank 0's
// next() and the other ranks' serve() throw it. Nothing retries.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/stage_network.h"
#include "coordinator/stage_trace.h"
#include "partition/plan.pb.h"
#include "transport/channel.h"
#include "transport/membership.h"
#include "transport/zmq_node.h"
#include "worker/stage_worker.h"

namespace baton::coordinator {

// Who hosts what: plan devices are named r<rank>/<device> under MPI
// (rank_plan.h), so each stage's rank comes from its device's name.
struct RankLayout {
  int size = 1;
  std::map<worker::StageAddress, int> rank_of;  // every stage of the plan
  std::vector<std::string> devices;             // per rank: "cpu", "cuda:1"; empty when the plan gives it nothing
  std::vector<std::string> hosts;               // per rank: ranks on one host with one GPU share it

  // The ranks `rank` exchanges messages with (rank 0 with every rank).
  std::set<int> peers_of(int rank) const;
  // "text+dit0", or "idle" when the plan puts nothing on the rank.
  std::string stages_on(int rank) const;
  // Both ranks drive GPUs and not the same GPU of one host (NCCL refuses that).
  bool gpu_pair(int a, int b) const;
  // One passes DiT activations to the other (dit_i -> dit_i+1, or the ring).
  bool dit_neighbours(int a, int b) const;
  // (from, to) of every stage-to-stage link: text->dit0, dit_i->dit_i+1,
  // dit_last->dit0, dit_last->vae (a rank with itself included).
  std::vector<std::pair<int, int>> message_pairs() const;
};

// The layout of `plan` over ranks with these host names (a Gemma split over
// two ranks: "text" on the first, "text1" on the second). Throws Error for a
// plan device that names no rank of the job, or a rank given two devices.
RankLayout rank_layout(const partition::pb::Plan& plan, const std::vector<std::string>& hosts);

struct RankNetworkOptions {
  std::string model_hash;  // Hello: every rank must agree (model_fingerprint)
  std::string plan_hash;
  wire::DType dtype = wire::FLOAT32;
  // Connecting, the handshake and NCCL set-up together.
  std::chrono::milliseconds connect_timeout{120000};
  // One send (queueing a message for a peer).
  std::chrono::milliseconds send_timeout{30000};
  // Shutdown: how long to wait for every peer to end its stream.
  std::chrono::milliseconds shutdown_timeout{30000};
  bool use_nccl = true;  // for DiT -> DiT activations between GPU ranks (when compiled in)
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds peer_timeout{10000};
  std::shared_ptr<StageTrace> trace;  // may be null
};

// This rank's ZeroMQ node (bound on Membership::transport_address()), made
// before the endpoints are exchanged (Membership::allgather of its endpoint).
std::unique_ptr<transport::ZmqNode> make_rank_node(const transport::Membership& membership,
                                                   const RankNetworkOptions& options);

class RankStageNetwork : public StageNetwork {
 public:
  // Every rank constructs it at the same point with the endpoints of every
  // rank (index = rank): channels to its peers are made and handshaken, NCCL
  // channels set up; no MPI call. Throws Error when a peer does not answer by
  // the connect timeout or disagrees in the handshake.
  RankStageNetwork(int rank, RankLayout layout, std::unique_ptr<transport::ZmqNode> node,
                   const std::vector<std::string>& endpoints, RankNetworkOptions options);
  // Stops the threads. Without shutdown() first, peers see this rank's end as a failure.
  ~RankStageNetwork() override;

  // Hands over this rank's stages (null: the plan gives it none) and tells
  // rank 0 that this rank is ready. Messages that arrived before wait for it.
  void attach(std::unique_ptr<worker::StageWorker> local);
  // Rank 0: waits until every rank is ready; throws the network's failure, or
  // Error after `timeout` naming the ranks not ready.
  void wait_until_ready(std::chrono::milliseconds timeout);

  // StageNetwork: the coordinator's side (rank 0).
  void post(const worker::StageAddress& to, worker::StageMessage message) override;
  std::vector<worker::StageAddress> stages() const override;
  std::optional<worker::StageMessage> next(std::chrono::milliseconds timeout) override;

  // The other ranks: serves until rank 0 ends the job (returns) or the network
  // fails (throws the Error).
  void serve();
  // Every rank, once its part is done (rank 0: no request left): stops the
  // local worker, sends Shutdown on every channel and waits for every peer's.
  void shutdown();

  // The failure, if the network has failed.
  std::optional<Error> failure() const;
  // Fails the network (and tells rank 0, from another rank): e.g. this rank
  // could not load its stages.
  void fail_and_report(const Error& error);
  int rank() const { return rank_; }
  const RankLayout& layout() const { return layout_; }
  worker::StageWorker* local_worker() const { return worker_.get(); }
  // "zmq" or "nccl" per peer rank, for logs and tests.
  std::map<int, std::string> channel_kinds() const;

 private:
  struct Peer {
    std::shared_ptr<transport::Channel> channel;
    bool shut_down = false;  // its stream has ended (guarded by mutex_)
  };
  void route(worker::Outgoing out);
  void listen();
  void work();
  void fail(const Error& error);
  void dispatch(int from, transport::Message message);
  bool hosted_here(const worker::StageAddress& to) const;

  int rank_;
  RankLayout layout_;
  RankNetworkOptions options_;
  std::unique_ptr<worker::StageWorker> worker_;
  std::unique_ptr<transport::ZmqNode> node_;
  std::shared_ptr<transport::ArrivalSignal> signal_;  // something arrived on a channel
  std::map<int, Peer> peers_;
  transport::ChannelGroup group_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // inboxes, failure, peers ending
  std::deque<std::pair<worker::StageAddress, worker::StageMessage>> inbox_;  // the local worker's
  std::deque<worker::StageMessage> coordinator_inbox_;                        // rank 0's
  std::optional<Error> failure_;
  std::set<int> ready_;  // rank 0: ranks that have loaded their stages
  bool worker_stop_ = false;
  std::atomic<bool> stopping_{false};  // no more sends: the job is ending
  std::atomic<bool> listening_{true};
  std::thread listener_, worker_thread_;
};

}  // namespace baton::coordinator
