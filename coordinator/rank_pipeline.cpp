#include "coordinator/rank_pipeline.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "coordinator/model_fingerprint.h"
#include "coordinator/pipeline_assembly.h"
#include "coordinator/rank_devices.h"
#include "coordinator/rank_stage_network.h"
#include "coordinator/stage_model.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "partition/plan_file.h"
#include "partition/plan_report.h"
#include "transport/tensor_codec.h"

namespace baton::coordinator {
namespace {

// Another rank's mistake ended the job before the pipeline ran: rank 0 reports it.
struct EndedElsewhere {
  std::string why;
};

std::string describe(const Error& e) { return e.hint().empty() ? e.what() : std::string(e.what()) + " (" + e.hint() + ")"; }

// A check point every rank reaches: runs `step`, then all ranks compare. If
// any failed, rank 0 throws (its own error as it was, else the first rank's)
// and the other ranks throw EndedElsewhere.
template <class Step>
void agree(const transport::Membership& m, const char* what, Step&& step) {
  std::string mine;
  std::exception_ptr own;
  try {
    step();
  } catch (const Error& e) {
    mine = describe(e);
    own = std::current_exception();
  } catch (const std::exception& e) {
    mine = e.what();
    own = std::current_exception();
  }
  const auto all = m.allgather(mine);
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    if (m.rank() != 0) throw EndedElsewhere{"rank " + std::to_string(r) + ": " + all[r]};
    if (own) std::rethrow_exception(own);
    throw Error("rank " + std::to_string(r) + " (" + what + "): " + all[r]);
  }
}

// CPU ranks of one host share its cores unless OMP_NUM_THREADS says otherwise
// (the same count in every run keeps CPU results bit for bit: docs/distributed.md).
void share_cores(const transport::Membership& m) {
  if (std::getenv("OMP_NUM_THREADS") || m.local_size() <= 1) return;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(std::max(1, cores / m.local_size()));
}

wire::DType run_dtype(const partition::pb::Plan& plan) {
  for (const auto& s : plan.stages())
    if (s.kind() == partition::pb::Stage::DIT) return transport::to_wire_dtype(parse_dtype(s.compute_dtype()));
  return wire::FLOAT32;
}

int64_t budget_of(const partition::pb::Plan& plan, const std::string& id) {
  for (const auto& d : plan.devices())
    if ((d.host().empty() ? d.name() : d.host() + "/" + d.name()) == id) return d.budget_bytes();
  return 0;
}

std::string rank_report(RankStageNetwork& network, const std::string& device_id) {
  nlohmann::json stages = nlohmann::json::array();
  if (auto* w = network.local_worker())
    for (const auto& [stage, secs] : w->busy_seconds()) stages.push_back({{"stage", stage}, {"busy", secs}});
  return nlohmann::json{{"device", device_id},
                        {"stages", stages},
                        {"peak", device_id.empty() ? int64_t(0) : peak_memory_bytes(device_id)}}
      .dump();
}

}  // namespace

[[noreturn]] void end_job(const transport::Membership& m, const Error& e) {
  if (m.rank() == 0) {
    std::cerr << "baton: error: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "  hint: " << e.hint() << "\n";
    std::cerr.flush();
  } else {
    spdlog::error("{}", e.what());
    std::this_thread::sleep_for(std::chrono::seconds(5));
  }
  m.abort(e.what());
}

namespace {

// What start() brings up on every rank.
struct RankParts {
  partition::pb::Plan plan;
  RankLayout layout;
  std::string device_id;  // this rank's plan device ("r2/cuda:0"); empty when the plan leaves it idle
  std::unique_ptr<StageModel> model;
  // Stages attached; on rank 0 every rank has reported ready.
  std::unique_ptr<RankStageNetwork> network;
};

// Collective. Rank 0 throws what went wrong before the pipeline ran; the other
// ranks then return nullopt. A failure after that ends the job.
std::optional<RankParts> start(const transport::Membership& m, const PipelineOptions& o, const PlannedSize& size,
                               const std::function<void()>& prepare) {
  const int rank = m.rank();
  RankParts p;
  try {
    // 1. Options, the model (rank 0 makes the demo model once), each rank's device.
    std::string device_json;
    agree(m, "checking the options", [&] {
      if (rank == 0) {
        if (prepare) prepare();
        p.model = open_stage_model(o.model);
        if (!o.trace_file.empty()) std::ofstream(o.trace_file, std::ios::trunc);  // this run's lines only
      }
      if (o.plan_file.empty())
        device_json = device_report(rank_device(o.devices, rank, m.host_names(), partition::local_device_probe()));
    });
    const auto reports = o.plan_file.empty() ? m.allgather(device_json) : std::vector<std::string>{};

    // 2. Rank 0 plans over every rank's device (or checks the saved plan); all get it.
    std::string plan_json;
    agree(m, "planning", [&] {
      if (rank != 0) return;
      partition::DeviceInventory inventory;
      PipelineOptions planning = o;
      if (o.plan_file.empty()) {
        inventory = inventory_of_reports(reports);
        planning.text_on = rank_text_on(o.text_on, inventory);
      }
      const auto plan = make_pipeline_plan(planning, size, p.model->planning_configs(), inventory);
      check_runnable(plan);
      rank_layout(plan, m.host_names());  // every stage on a rank of this job
      spdlog::info("plan over {} ranks:\n{}", m.size(), partition::format_plan_table(plan));
      plan_json = partition::plan_to_json(plan);
    });
    plan_json = m.broadcast(plan_json, 0);
    p.plan = partition::plan_from_json(plan_json, "rank 0's plan");
    p.layout = rank_layout(p.plan, m.host_names());
    const std::string device = p.layout.devices.at(static_cast<size_t>(rank));
    p.device_id = device.empty() ? "" : "r" + std::to_string(rank) + "/" + device;

    // 3. The model here, this rank's node; the endpoints.
    RankNetworkOptions options;
    options.plan_hash = fingerprint_of(plan_json);
    options.dtype = run_dtype(p.plan);
    std::unique_ptr<transport::ZmqNode> node;
    agree(m, "opening the model", [&] {
      options.trace = std::make_shared<StageTrace>(o.trace_file, rank);
      if (rank != 0) p.model = open_stage_model(o.model);
      options.model_hash = p.model->fingerprint();
      node = make_rank_node(m, options);
    });
    const auto endpoints = m.allgather(node->endpoint());

    // 4. Channels and the handshake.
    agree(m, "connecting the ranks", [&] {
      p.network = std::make_unique<RankStageNetwork>(rank, p.layout, std::move(node), endpoints, options);
    });
    spdlog::info("rank {} of {}: {} on {}", rank, m.size(), p.layout.stages_on(rank),
                 device.empty() ? "no device (idle)" : device);
  } catch (const EndedElsewhere& e) {
    spdlog::debug("the job ends before it ran: {}", e.why);
    return std::nullopt;
  }

  // 5. Load this rank's stages while the network watches the others.
  share_cores(m);
  try {
    std::unique_ptr<worker::StageWorker> local;
    if (!p.device_id.empty()) {
      const c10::Device d(p.layout.devices.at(static_cast<size_t>(rank)));
      if (d.is_cuda()) {
        if (const int64_t budget = budget_of(p.plan, p.device_id); budget > 0) cap_device_memory(d, budget);
        reset_peak_memory(d);
      }
      auto loading = std::async(std::launch::async, [&] {
        return assemble_worker(*p.model, p.plan, p.device_id, stage_runtime_options(o));
      });
      while (loading.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready)
        if (auto failed = p.network->failure()) end_job(m, *failed);
      try {
        local = loading.get();
      } catch (const std::exception& e) {
        const auto* error = dynamic_cast<const Error*>(&e);
        p.network->fail_and_report(Error("rank " + std::to_string(rank) + " could not load its stages: " +
                                         (error ? describe(*error) : std::string(e.what()))));
        end_job(m, *p.network->failure());
      }
    }
    p.network->attach(std::move(local));
    if (rank == 0) p.network->wait_until_ready(std::chrono::minutes(30));
  } catch (const Error& e) {
    end_job(m, e);
  }
  return p;
}

// Rank 0's side of a job over ranks; the other ranks serve inside open.
class RankPipeline : public Pipeline {
 public:
  RankPipeline(std::unique_ptr<transport::Membership> membership, RankParts parts, const PipelineOptions& o,
               const PlannedSize& size)
      : Pipeline(size), membership_(std::move(membership)), parts_(std::move(parts)) {
    runner_ = std::make_unique<RequestRunner>(*parts_.network,
                                              o.max_in_flight ? o.max_in_flight : requests_in_flight(parts_.plan));
  }
  ~RankPipeline() override {
    // A lost rank while requests ran: the job ends here, naming it.
    if (parts_.network)
      if (auto failed = parts_.network->failure()) end_job(*membership_, *failed);
    close();
  }

  RequestRunner& runner() override { return *runner_; }
  const partition::pb::Plan& plan() const override { return parts_.plan; }
  void close() override {
    if (!parts_.network) return;
    runner_.reset();
    finish(*membership_, parts_, &stages_, &peaks_);
  }
  std::vector<StageTiming> stage_timings() const override { return stages_; }
  std::vector<std::pair<std::string, int64_t>> peak_bytes() const override { return peaks_; }

  // Collective, once the job's work is done (rank 0) or served (the others):
  // ends every channel cleanly and gathers every rank's stage times and peak
  // memory (into rank 0's outputs). A failure ends the job.
  static void finish(const transport::Membership& m, RankParts& p, std::vector<StageTiming>* stages,
                     std::vector<std::pair<std::string, int64_t>>* peaks);

 private:
  std::unique_ptr<transport::Membership> membership_;
  RankParts parts_;
  std::unique_ptr<RequestRunner> runner_;
  std::vector<StageTiming> stages_;
  std::vector<std::pair<std::string, int64_t>> peaks_;
};

void RankPipeline::finish(const transport::Membership& m, RankParts& p, std::vector<StageTiming>* stages,
                          std::vector<std::pair<std::string, int64_t>>* peaks) {
  std::vector<std::string> stats;
  try {
    p.network->shutdown();
    stats = m.allgather(rank_report(*p.network, p.device_id));
  } catch (const Error& e) {
    end_job(m, e);
  }
  p.network.reset();
  if (m.rank() != 0) return;
  for (const auto& text : stats) {
    const auto j = nlohmann::json::parse(text);
    const std::string id = j.at("device");
    if (id.empty()) continue;
    for (const auto& s : j.at("stages")) stages->push_back({s.at("stage"), id, s.at("busy")});
    peaks->emplace_back(id, j.at("peak").get<int64_t>());
  }
}

}  // namespace

std::unique_ptr<Pipeline> open_rank_pipeline(const PipelineOptions& o, const PlannedSize& size,
                                             const std::function<void()>& prepare) {
  auto membership = transport::Membership::join();
  const auto& m = *membership;
  auto parts = start(m, o, size, prepare);
  if (!parts) return nullptr;  // rank 0 has thrown the reason
  if (m.rank() == 0) return std::make_unique<RankPipeline>(std::move(membership), std::move(*parts), o, size);
  try {
    parts->network->serve();
  } catch (const Error& e) {
    end_job(m, e);
  } catch (const std::exception& e) {
    end_job(m, Error("rank " + std::to_string(m.rank()) + ": " + e.what()));
  }
  RankPipeline::finish(m, *parts, nullptr, nullptr);
  return nullptr;
}

}  // namespace baton::coordinator
