#include "coordinator/generate_job.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <filesystem>

#include "coordinator/local_stage_network.h"
#include "coordinator/pipeline_assembly.h"
#include "coordinator/progress_display.h"
#include "coordinator/rank_generate.h"
#include "coordinator/request_runner.h"
#include "coordinator/stage_trace.h"
#include "core/byte_size.h"
#include "core/device_memory.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/model_folder.h"
#include "partition/device_inventory.h"
#include "partition/model_configs.h"
#include "partition/plan_file.h"
#include "partition/plan_report.h"
#include "partition/planner.h"
#include "partition/weight_format.h"
#include "transport/membership.h"

namespace baton::coordinator {
namespace fs = std::filesystem;

std::vector<std::string> output_paths(const std::string& output,
                                      const std::vector<sampling::GenerationRequest>& requests) {
  const bool is_file = output.size() > 4 && output.compare(output.size() - 4, 4, ".png") == 0;
  if (is_file && requests.size() != 1)
    throw UsageError("-o " + output + " names one file, but there are " + std::to_string(requests.size()) + " prompts",
                     "give a folder with -o when generating several images");
  if (is_file) return {output};
  std::vector<std::string> paths;
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string name = requests.size() == 1
                                 ? fmt::format("newbie-{}.png", requests[i].seed)
                                 : fmt::format("newbie-{:03d}-{}.png", i + 1, requests[i].seed);
    paths.push_back((fs::path(output) / name).string());
  }
  return paths;
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

std::vector<std::string> prepare_outputs(const GenerateOptions& o) {
  if (o.requests.empty()) throw UsageError("no prompt given", "use --prompt TEXT or --prompt-file FILE");
  for (const auto& r : o.requests) r.validate();
  const auto paths = output_paths(o.output, o.requests);
  for (const auto& p : paths) {
    const auto parent = fs::path(p).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) throw UsageError("cannot create the output folder " + parent.string() + " (" + ec.message() + ")");
  }
  return paths;
}

partition::pb::Plan make_generate_plan(const GenerateOptions& o, const partition::ModelConfigs& configs,
                                       const partition::DeviceInventory& inventory) {
  if (!o.plan_file.empty()) {
    auto plan = partition::load_plan(o.plan_file);
    return partition::validate_plan(plan, partition::inventory_of(plan), configs, partition::DeviceSpeeds());
  }
  bool has_gpu = false;
  for (const auto& d : inventory) has_gpu = has_gpu || d.name.rfind("cuda", 0) == 0;
  // Sized for the largest request of the job.
  partition::Workload w;
  w.width = w.height = w.steps = 0;
  for (const auto& r : o.requests) {
    w.width = std::max(w.width, r.width);
    w.height = std::max(w.height, r.height);
    w.steps = std::max(w.steps, r.steps);
  }
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

GenerateReport drive_requests(StageNetwork& network, const GenerateOptions& o, const std::vector<std::string>& paths,
                              size_t in_flight) {
  RequestRunner runner(network, in_flight);
  GenerateReport report;
  const auto start = std::chrono::steady_clock::now();
  std::map<uint64_t, size_t> index_of;
  for (size_t i = 0; i < o.requests.size(); ++i) index_of[runner.submit(o.requests[i])] = i;
  std::vector<std::string> written(o.requests.size());
  ProgressDisplay progress(o.requests.size(), o.interactive);
  while (!runner.idle()) {
    auto e = runner.poll(std::chrono::milliseconds(500));
    if (!e) continue;
    const size_t i = index_of.at(e->id);
    switch (e->kind) {
      case RunEvent::Kind::Started:
        progress.started(e->id, fmt::format("prompt {} seed {}", i + 1, o.requests[i].seed), e->steps);
        break;
      case RunEvent::Kind::Progress: progress.step(e->id, e->step, e->steps); break;
      case RunEvent::Kind::Done:
        io::write_file_atomically(paths[i], e->png.data(), e->png.size());
        written[i] = paths[i];
        progress.finished(e->id, paths[i]);
        break;
      case RunEvent::Kind::Failed:
        report.errors.push_back(fmt::format("prompt {}: {}", i + 1, e->error));
        progress.failed(e->id, e->error);
        break;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& p : written)
    if (!p.empty()) report.written.push_back(p);
  return report;
}

GenerateReport run_generate(const GenerateOptions& o) {
  if (transport::Membership::launched_by_mpi()) return run_generate_on_ranks(o);
  const auto paths = prepare_outputs(o);
  const auto model = open_stage_model(o.model);
  const auto plan = make_generate_plan(
      o, model->planning_configs(),
      o.plan_file.empty() ? partition::parse_device_spec(o.devices, partition::local_device_probe())
                          : partition::DeviceInventory{});
  spdlog::info("plan:\n{}", partition::format_plan_table(plan));

  std::vector<std::unique_ptr<worker::StageWorker>> workers;
  std::vector<std::string> worker_devices;
  for (const auto& device : plan_devices(plan))
    if (auto w = assemble_worker(*model, plan, device)) {
      workers.push_back(std::move(w));
      worker_devices.push_back(device);
    }
  LocalStageNetwork network(std::move(workers), std::make_shared<StageTrace>(o.trace_file, 0));
  auto report = drive_requests(network, o, paths, o.max_in_flight ? o.max_in_flight : requests_in_flight(plan));
  for (size_t i = 0; i < network.workers().size(); ++i)
    for (const auto& [stage, secs] : network.workers()[i]->busy_seconds())
      report.stages.push_back({stage, worker_devices[i], secs});
  for (const auto& d : worker_devices) report.peak_bytes.emplace_back(d, peak_memory_bytes(d));
  return report;
}

std::string format_generate_report(const GenerateReport& r) {
  std::string out = fmt::format("{} image(s) in {:.1f} s", r.written.size(), r.seconds);
  if (!r.errors.empty()) out += fmt::format(", {} failed", r.errors.size());
  out += "\n";
  for (const auto& s : r.stages) out += fmt::format("  {:<6} on {:<8} busy {:8.2f} s\n", s.stage, s.device, s.busy_seconds);
  for (const auto& [device, bytes] : r.peak_bytes)
    out += fmt::format("  peak on {:<8} {} ({})\n", device, format_byte_size(bytes),
                       device.rfind("cuda", 0) == 0 ? "allocated" : "process max RSS");
  return out;
}

}  // namespace baton::coordinator
