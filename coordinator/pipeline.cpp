#include "coordinator/pipeline.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>

#include "coordinator/local_stage_network.h"
#include "coordinator/pipeline_assembly.h"
#include "coordinator/rank_pipeline.h"
#include "coordinator/stage_model.h"
#include "coordinator/stage_trace.h"
#include "core/device_memory.h"
#include "core/error.h"
#include "partition/device_inventory.h"
#include "partition/model_configs.h"
#include "partition/plan_file.h"
#include "transport/membership.h"
#include "partition/plan_report.h"
#include "partition/planner.h"
#include "partition/weight_format.h"

namespace baton::coordinator {

PlannedSize PlannedSize::of(const std::vector<sampling::GenerationRequest>& requests) {
  PlannedSize s;
  for (const auto& r : requests) {
    s.width = std::max(s.width, r.width);
    s.height = std::max(s.height, r.height);
    s.steps = std::max(s.steps, r.steps);
  }
  return s;
}

void Pipeline::check_fits(const sampling::GenerationRequest& r) const {
  if (r.width > size_.width || r.height > size_.height)
    throw UsageError("image size " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                         " is larger than this pipeline was planned for (" + std::to_string(size_.width) + "x" +
                         std::to_string(size_.height) + ")",
                     "ask for a smaller image, or restart the server with a larger --max-width/--max-height");
}

partition::pb::Plan make_pipeline_plan(const PipelineOptions& o, const PlannedSize& size,
                                       const partition::ModelConfigs& configs,
                                       const partition::DeviceInventory& inventory) {
  if (!o.plan_file.empty()) {
    auto plan = partition::load_plan(o.plan_file);
    return partition::validate_plan(plan, partition::inventory_of(plan), configs, partition::DeviceSpeeds());
  }
  bool has_gpu = false;
  for (const auto& d : inventory) has_gpu = has_gpu || d.name.rfind("cuda", 0) == 0;
  partition::Workload w;
  w.width = size.width;
  w.height = size.height;
  w.steps = size.steps;
  w.microbatch_samples = o.microbatch;
  w.attention = has_gpu ? partition::AttentionKind::kFlash : partition::AttentionKind::kMath;
  partition::validate_workload(w, configs);
  partition::PlanOptions po;
  if (!o.dtype.empty()) po.weights = partition::parse_weight_format(o.dtype);
  // 8-bit weights save memory on CPUs too (computed in float32 there); the
  // dense dtypes name the GPUs' format only (CPUs compute in float32).
  if (partition::is_8bit(po.weights)) po.cpu_weights = po.weights;
  po.text_on = o.text_on;
  // The planner time-shares the text stage only when nothing else fits. The
  // stages swap per run of queued prompts (worker/time_sharing.h): in a steady
  // stream about one swap per image, which is what the plan then estimates.
  po.allow_time_sharing = true;
  po.prompts_per_swap = 1;
  return partition::make_plan(configs, w, inventory, partition::DeviceSpeeds(), po);
}

StageRuntimeOptions stage_runtime_options(const PipelineOptions& o) {
  StageRuntimeOptions r;
  // A graph per request shape in flight: room for both CFG variants of several requests.
  if (o.cuda_graphs) r.dit_cuda_graphs = 8;
  return r;
}

namespace {

int64_t max_rss_bytes() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

}  // namespace

int64_t peak_memory_bytes(const std::string& device) {
  const auto on_rank = split_rank_device(device);
  const c10::Device d(on_rank ? on_rank->second : device);
  return d.is_cuda() ? peak_allocated_bytes(d) : max_rss_bytes();
}

namespace {

// Every stage in this process: one thread per device.
class LocalPipeline : public Pipeline {
 public:
  LocalPipeline(const PipelineOptions& o, std::unique_ptr<StageModel> model, partition::pb::Plan plan,
                PlannedSize size)
      : Pipeline(size), model_(std::move(model)), plan_(std::move(plan)) {
    std::vector<std::unique_ptr<worker::StageWorker>> workers;
    for (const auto& device : plan_devices(plan_))
      if (auto w = assemble_worker(*model_, plan_, device, stage_runtime_options(o))) {
        workers.push_back(std::move(w));
        devices_.push_back(device);
      }
    network_ = std::make_unique<LocalStageNetwork>(std::move(workers), std::make_shared<StageTrace>(o.trace_file, 0));
    runner_ = std::make_unique<RequestRunner>(*network_, o.max_in_flight ? o.max_in_flight : requests_in_flight(plan_));
  }

  RequestRunner& runner() override { return *runner_; }
  const partition::pb::Plan& plan() const override { return plan_; }

  std::vector<StageTiming> stage_timings() const override {
    std::vector<StageTiming> out;
    for (size_t i = 0; i < network_->workers().size(); ++i)
      for (const auto& [stage, secs] : network_->workers()[i]->busy_seconds()) out.push_back({stage, devices_[i], secs});
    return out;
  }

  std::vector<std::pair<std::string, int64_t>> peak_bytes() const override {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& d : devices_) out.emplace_back(d, peak_memory_bytes(d));
    return out;
  }

 private:
  std::unique_ptr<StageModel> model_;  // the stages read their weights from it: destroyed last
  partition::pb::Plan plan_;
  std::vector<std::string> devices_;
  // The runner talks to the network: destroyed first.
  std::unique_ptr<LocalStageNetwork> network_;
  std::unique_ptr<RequestRunner> runner_;
};

}  // namespace

std::unique_ptr<Pipeline> Pipeline::open(const PipelineOptions& o, const PlannedSize& size,
                                         const std::function<void()>& prepare) {
  if (transport::Membership::launched_by_mpi()) return open_rank_pipeline(o, size, prepare);
  if (prepare) prepare();
  auto model = open_stage_model(o.model);
  auto plan = make_pipeline_plan(o, size, model->planning_configs(),
                                 o.plan_file.empty()
                                     ? partition::parse_device_spec(o.devices, partition::local_device_probe())
                                     : partition::DeviceInventory{});
  spdlog::info("plan:\n{}", partition::format_plan_table(plan));
  return std::make_unique<LocalPipeline>(o, std::move(model), std::move(plan), size);
}

}  // namespace baton::coordinator
