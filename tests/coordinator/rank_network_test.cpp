// RankStageNetwork without MPI: three "ranks" in one process, each with its
// own ZeroMQ node, constructed at once on threads (as ranks would), running
// the golden pipeline. The images must equal the one-worker run bit for bit.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "coordinator/rank_devices.h"
#include "coordinator/rank_stage_network.h"
#include "core/byte_size.h"
#include "tests/coordinator/golden_pipeline.h"
#include "transport/zmq_node.h"

namespace baton::coordinator {
namespace {

using worker::StageAddress;
using Role = StageAddress::Role;

// text + dit0 on rank 0, dit1 on rank 1, dit2 + vae on rank 2.
RankLayout three_ranks() {
  RankLayout layout;
  layout.size = 3;
  layout.devices = {"cpu", "cpu", "cpu"};
  layout.hosts = {"h", "h", "h"};
  layout.rank_of = {{{Role::Text, 0}, 0}, {{Role::Dit, 0}, 0}, {{Role::Dit, 1}, 1},
                    {{Role::Dit, 2}, 2},  {{Role::Vae, 0}, 2}};
  return layout;
}

struct Ranks {
  std::vector<std::unique_ptr<RankStageNetwork>> networks;

  explicit Ranks(RankLayout layout, RankNetworkOptions options = {}) {
    options.model_hash = "golden";
    options.plan_hash = "three";
    options.heartbeat_interval = std::chrono::milliseconds(100);
    options.peer_timeout = std::chrono::seconds(5);
    std::vector<std::unique_ptr<transport::ZmqNode>> nodes;
    std::vector<std::string> endpoints;
    for (int r = 0; r < layout.size; ++r) {
      transport::ZmqNodeOptions o;
      o.rank = r;
      nodes.push_back(std::make_unique<transport::ZmqNode>(o));
      endpoints.push_back(nodes.back()->endpoint());
    }
    std::vector<std::future<std::unique_ptr<RankStageNetwork>>> made;
    for (int r = 0; r < layout.size; ++r)
      made.push_back(std::async(std::launch::async, [&, r, node = std::move(nodes[r])]() mutable {
        return std::make_unique<RankStageNetwork>(r, layout, std::move(node), endpoints, options);
      }));
    for (auto& m : made) networks.push_back(m.get());
  }
};

TEST(RankLayout, PeersAreTheRanksThatExchangeMessages) {
  const auto layout = three_ranks();
  EXPECT_EQ(layout.peers_of(0), (std::set<int>{1, 2}));
  EXPECT_EQ(layout.peers_of(1), (std::set<int>{0, 2}));  // dit0 -> dit1 (rank 0 anyway), dit1 -> dit2
  EXPECT_EQ(layout.peers_of(2), (std::set<int>{0, 1}));
  EXPECT_EQ(layout.stages_on(0), "coordinator+text+dit0");
  EXPECT_EQ(layout.stages_on(2), "dit2+vae");
  EXPECT_TRUE(layout.dit_neighbours(2, 0));  // the ring
  EXPECT_FALSE(layout.gpu_pair(0, 1));
}

TEST(RankLayout, ComesFromAPlanWithRankNamedDevices) {
  partition::pb::Plan plan;
  auto add = [&](partition::pb::Stage::Kind kind, const std::string& device) {
    auto* s = plan.add_stages();
    s->set_kind(kind);
    s->set_device(device);
  };
  add(partition::pb::Stage::TEXT, "r0/cpu");
  add(partition::pb::Stage::DIT, "r1/cuda:0");
  add(partition::pb::Stage::DIT, "r2/cuda:0");
  add(partition::pb::Stage::VAE, "r2/cuda:0");
  const auto layout = rank_layout(plan, {"a", "a", "b", "b"});
  EXPECT_EQ(layout.devices, (std::vector<std::string>{"cpu", "cuda:0", "cuda:0", ""}));
  EXPECT_EQ(layout.stages_on(3), "idle");
  EXPECT_TRUE(layout.gpu_pair(1, 2));  // the same GPU name on two hosts
  EXPECT_FALSE(layout.gpu_pair(0, 1));
  EXPECT_EQ(layout.peers_of(3), (std::set<int>{0}));
  try {
    rank_layout(plan, {"a", "a"});
    FAIL() << "a plan for rank 2 in a job of 2 ranks";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the job has 2 ranks"), std::string::npos) << e.what();
  }
  // Gemma split over ranks 0 and 3: text -> text1 -> dit0.
  auto* tail = plan.add_stages();
  tail->set_kind(partition::pb::Stage::TEXT);
  tail->set_device("r3/cpu");
  const auto split = rank_layout(plan, {"a", "a", "b", "b"});
  EXPECT_EQ(split.rank_of.at({Role::Text, 1}), 3);
  EXPECT_EQ(split.stages_on(3), "text1");
  EXPECT_EQ(split.peers_of(3), (std::set<int>{0, 1}));  // from text, to dit0
  plan.mutable_stages(4)->set_device("r0/cpu");  // both halves on one rank: that rank's own split
  EXPECT_EQ(rank_layout(plan, {"a", "a", "b", "b"}).rank_of.count({Role::Text, 1}), 0u);
  plan.mutable_stages(0)->set_device("cpu");
  EXPECT_THROW(rank_layout(plan, {"a", "a", "a"}), Error);  // names no rank
}

// Two GPUs of 16 GiB (12 free) and 64 GiB of host memory available.
struct TwoGpus : partition::DeviceProbe {
  bool can_detect_cuda() const override { return true; }
  int cuda_count() const override { return 2; }
  DeviceMemoryInfo cuda_memory(int) const override { return {16 * kGiB, 12 * kGiB}; }
  std::string cuda_model(int) const override { return "Test GPU"; }
  int64_t cpu_available() const override { return 64 * kGiB; }
  int64_t cpu_total() const override { return 64 * kGiB; }
};

TEST(RankDevices, AutoGivesEachRankItsLocalGpuAndSharesItsMemory) {
  const TwoGpus probe;
  const std::vector<std::string> hosts = {"a", "a", "a", "b"};
  const auto third = rank_device("auto", 2, hosts, probe);  // local rank 2 of 3 on host a
  EXPECT_EQ(third.name, "cuda:0");
  EXPECT_EQ(third.id(), "r2/cuda:0");
  // cuda:0 of host a serves local ranks 0 and 2: half its budget each.
  EXPECT_EQ(third.budget, partition::default_cuda_budget({16 * kGiB, 12 * kGiB}) / 2);
  EXPECT_NE(third.budget_source.find("shared by 2 ranks"), std::string::npos) << third.budget_source;
  const auto last = rank_device("auto", 3, hosts, probe);  // alone on host b
  EXPECT_EQ(last.name, "cuda:0");
  EXPECT_EQ(last.budget, partition::default_cuda_budget({16 * kGiB, 12 * kGiB}));
}

TEST(RankDevices, AListNamesOneDevicePerRankInRankOrder) {
  const TwoGpus probe;
  const std::vector<std::string> hosts = {"a", "a", "a"};
  const auto d = rank_device("cuda:1=4GiB, cpu=8GiB ,cpu=8GiB", 1, hosts, probe);
  EXPECT_EQ(d.id(), "r1/cpu");
  EXPECT_EQ(d.budget, 8 * kGiB);  // given: not divided
  auto message_of = [&](const std::string& spec) {
    try {
      rank_device(spec, 0, hosts, probe);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message_of("cuda:0,cuda:1").find("lists 2 device(s), but the job has 3 ranks"), std::string::npos);
  EXPECT_NE(message_of("node2/cuda:0,cpu,cpu").find("names a host"), std::string::npos);
  EXPECT_NE(message_of("cuda:7,cpu,cpu").find("not present"), std::string::npos);

  std::vector<std::string> reports;
  for (int r = 0; r < 3; ++r) reports.push_back(device_report(rank_device("cuda:0=4GiB,cpu=8GiB,cuda:0=4GiB", r, hosts, probe)));
  const auto inventory = inventory_of_reports(reports);
  ASSERT_EQ(inventory.size(), 3u);
  EXPECT_EQ(inventory[2].id(), "r2/cuda:0");
  EXPECT_EQ(inventory[2].budget, 4 * kGiB);
  EXPECT_EQ(rank_text_on("cpu", inventory), "r1/cpu");
  EXPECT_EQ(rank_text_on("auto", inventory), "auto");
  EXPECT_THROW(rank_text_on("cuda:1", inventory), UsageError);
}

TEST(RankStageNetwork, ThreeRanksOverZeroMqMatchOneWorkerBitForBit) {
  Fixture f;
  std::vector<uint64_t> seeds = {51, 52, 53, 54};
  auto one = f.network({{0, 3}});
  RequestRunner single(*one, 1);
  for (auto s : seeds) single.submit(f.request(s));
  const auto reference = drain(single);

  Ranks ranks(three_ranks());
  auto workers = f.workers({{0, 1}, {1, 2}, {2, 3}});
  for (int r = 2; r >= 0; --r) ranks.networks[r]->attach(std::move(workers[r]));
  EXPECT_EQ(ranks.networks[1]->channel_kinds().at(2), "zmq");
  std::vector<std::thread> others;
  for (int r = 1; r < 3; ++r)
    others.emplace_back([&, r] {
      ranks.networks[r]->serve();
      ranks.networks[r]->shutdown();
    });
  ranks.networks[0]->wait_until_ready(std::chrono::seconds(30));
  RequestRunner piped(*ranks.networks[0], 4);
  for (auto s : seeds) piped.submit(f.request(s));
  const auto got = drain(piped);
  ranks.networks[0]->shutdown();
  for (auto& t : others) t.join();
  ASSERT_EQ(got.latents.size(), 4u);
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_TRUE(at::equal(got.latents.at(id), reference.latents.at(id))) << id;
  for (auto& n : ranks.networks) EXPECT_FALSE(n->failure().has_value());
}

TEST(RankStageNetwork, ALostRankFailsTheOthersNamingItsStages) {
  Fixture f;
  Ranks ranks(three_ranks());
  auto workers = f.workers({{0, 1}, {1, 2}, {2, 3}});
  for (int r = 0; r < 3; ++r) ranks.networks[r]->attach(std::move(workers[r]));
  ranks.networks[0]->wait_until_ready(std::chrono::seconds(30));
  auto served = std::async(std::launch::async, [&] { ranks.networks[1]->serve(); });
  ranks.networks[2].reset();  // gone without Shutdown: its connections drop
  RequestRunner runner(*ranks.networks[0], 2);
  runner.submit(f.request());
  try {
    drain(runner);
    FAIL() << "the coordinator did not notice the lost rank";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 2 (stage dit2+vae)"), std::string::npos) << e.what();
  }
  try {
    served.get();
    FAIL() << "rank 1 did not notice the lost rank";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 2 (stage dit2+vae)"), std::string::npos) << e.what();
  }
}

TEST(RankStageNetwork, HandshakeRefusesAnotherModel) {
  RankLayout layout = three_ranks();
  layout.size = 2;
  layout.devices.resize(2);
  layout.hosts.resize(2);
  layout.rank_of = {{{Role::Text, 0}, 0}, {{Role::Dit, 0}, 1}, {{Role::Vae, 0}, 1}};
  std::vector<std::unique_ptr<transport::ZmqNode>> nodes;
  std::vector<std::string> endpoints;
  for (int r = 0; r < 2; ++r) {
    transport::ZmqNodeOptions o;
    o.rank = r;
    nodes.push_back(std::make_unique<transport::ZmqNode>(o));
    endpoints.push_back(nodes.back()->endpoint());
  }
  std::vector<std::future<std::string>> results;
  for (int r = 0; r < 2; ++r)
    results.push_back(std::async(std::launch::async, [&, r, node = std::move(nodes[r])]() mutable {
      RankNetworkOptions o;
      o.model_hash = r == 0 ? "model-a" : "model-b";
      o.connect_timeout = std::chrono::seconds(10);
      try {
        RankStageNetwork network(r, layout, std::move(node), endpoints, o);
      } catch (const Error& e) {
        return std::string(e.what());
      }
      return std::string("connected");
    }));
  for (auto& r : results) {
    const auto what = r.get();
    EXPECT_NE(what.find("model_hash differs"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace baton::coordinator
