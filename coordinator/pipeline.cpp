#include "coordinator/pipeline.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>

#include "coordinator/demo_model.h"
#include "coordinator/local_stage_network.h"
#include "coordinator/pipeline_assembly.h"
#include "core/device_memory.h"
#include "core/error.h"
#include "io/model_folder.h"
#include "partition/device_inventory.h"
#include "partition/model_configs.h"
#include "partition/plan_file.h"
#include "partition/plan_report.h"
#include "partition/planner.h"
#include "partition/weight_format.h"

namespace baton::coordinator {
namespace fs = std::filesystem;

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

namespace {

partition::pb::Plan make_plan(const PipelineOptions& o, const std::string& model_dir, const PlannedSize& size) {
  const auto configs = partition::model_from_folder(model_dir);
  if (!o.plan_file.empty()) {
    auto plan = partition::load_plan(o.plan_file);
    return partition::validate_plan(plan, partition::inventory_of(plan), configs, partition::DeviceSpeeds());
  }
  const auto inventory = partition::parse_device_spec(o.devices, partition::local_device_probe());
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
  po.text_on = o.text_on;
  // Time-sharing cannot run yet (pipeline_assembly.h): plan without it, so a
  // plan that needs it says so as "does not fit".
  po.allow_time_sharing = false;
  return partition::make_plan(configs, w, inventory, partition::DeviceSpeeds(), po);
}

int64_t max_rss_bytes() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

// Every stage in this process: one thread per device.
class LocalPipeline : public Pipeline {
 public:
  LocalPipeline(const PipelineOptions& o, const io::ModelFolder& folder, partition::pb::Plan plan, PlannedSize size)
      : Pipeline(size), plan_(std::move(plan)) {
    std::vector<std::unique_ptr<worker::StageWorker>> workers;
    for (const auto& device : plan_devices(plan_))
      if (auto w = assemble_worker(folder, plan_, device)) {
        workers.push_back(std::move(w));
        devices_.push_back(device);
      }
    network_ = std::make_unique<LocalStageNetwork>(std::move(workers));
    const size_t dit_stages = static_cast<size_t>(pipeline_shape(plan_).dit_stages);
    runner_ = std::make_unique<RequestRunner>(*network_,
                                              o.max_in_flight ? o.max_in_flight : std::max<size_t>(2, dit_stages + 1));
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
    for (const auto& d : devices_) {
      const c10::Device device(d);
      out.emplace_back(d, device.is_cuda() ? peak_allocated_bytes(device) : max_rss_bytes());
    }
    return out;
  }

 private:
  partition::pb::Plan plan_;
  std::vector<std::string> devices_;
  // The runner talks to the network: destroyed first.
  std::unique_ptr<LocalStageNetwork> network_;
  std::unique_ptr<RequestRunner> runner_;
};

}  // namespace

std::unique_ptr<Pipeline> Pipeline::open(const PipelineOptions& o, const PlannedSize& size) {
  std::string model_dir = o.model;
  if (is_demo_model(o.model)) {
    model_dir = ensure_demo_model();
    spdlog::warn("--model demo: a tiny model with RANDOM weights; its images are noise, not pictures");
  } else if (!fs::is_directory(o.model)) {
    throw UsageError("model folder " + o.model + " does not exist",
                     "download NewBie-image-Exp0.1 (see README) or use --model demo");
  }
  io::ModelFolder folder(model_dir);
  auto plan = make_plan(o, model_dir, size);
  spdlog::info("plan:\n{}", partition::format_plan_table(plan));
  return std::make_unique<LocalPipeline>(o, folder, std::move(plan), size);
}

}  // namespace baton::coordinator
