// When nothing fits: the smallest budget per device that would, and what each
// lever (8-bit weights, text stage on a CPU, a smaller image) would change.
#include <cmath>

#include "core/byte_size.h"
#include "core/error.h"
#include "partition/planner.h"
#include "partition/stage_cost.h"

namespace baton::partition {
namespace {

std::string gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / kGiB);
  return buf;
}

bool has_gpu(const DeviceInventory& devices) {
  for (const auto& d : devices)
    if (d.kind == DeviceKind::kCuda) return true;
  return false;
}

struct MinBudget {
  int64_t bytes = 0;
  bool time_sharing = false;  // the plan at that budget time-shares the text stage
};

struct Planning {
  const ModelConfigs& model;
  const DeviceSpeeds& speeds;

  std::optional<pb::Plan> plan(const DeviceInventory& devices, const Workload& w, const PlanOptions& o) const {
    try {
      return try_make_plan(model, w, devices, speeds, o);
    } catch (const Error&) {
      return std::nullopt;
    }
  }

  // The smallest budget that, given to every GPU (or to every device when
  // there is no GPU), lets a plan fit (to 16 MiB); nullopt beyond 1 TiB.
  std::optional<MinBudget> min_budget(const DeviceInventory& devices, const Workload& w, const PlanOptions& o) const {
    const bool gpus = has_gpu(devices);
    auto with = [&](int64_t budget) {
      auto changed = devices;
      for (auto& d : changed)
        if (!gpus || d.kind == DeviceKind::kCuda) d.budget = budget;
      return changed;
    };
    int64_t lo = 0, hi = int64_t(1) << 40;
    if (!plan(with(hi), w, o)) return std::nullopt;
    while (hi - lo > 16 * kMiB) {
      const int64_t mid = lo + (hi - lo) / 2;
      (plan(with(mid), w, o) ? hi : lo) = mid;
    }
    return MinBudget{hi, plan(with(hi), w, o)->time_sharing().enabled()};
  }

  std::string outcome(const DeviceInventory& devices, const Workload& w, const PlanOptions& o, const std::string& unit,
                      std::optional<int64_t> now = std::nullopt) const {
    if (auto p = plan(devices, w, o))
      return std::string("fits the given budgets") + (p->time_sharing().enabled() ? " (time-sharing the text stage)" : "");
    const auto b = min_budget(devices, w, o);
    if (!b) return "does not fit any budget";
    if (now && b->bytes >= *now) return "does not help: needs " + gib(b->bytes) + " per " + unit + " as well";
    return "needs " + gib(b->bytes) + " per " + unit;
  }
};

}  // namespace

std::string explain_no_fit(const ModelConfigs& model, const Workload& workload, const DeviceInventory& devices,
                           const DeviceSpeeds& speeds, const PlanOptions& options) {
  const Planning planning{model, speeds};
  const bool gpus = has_gpu(devices);
  const std::string unit = gpus ? "GPU" : "device";
  // The format of the devices that matter: GPUs when there are any.
  const auto f = gpus ? options.weights : options.cpu_weights;
  std::string out;
  const auto now = planning.min_budget(devices, workload, options);
  if (now)
    out += "with these devices each " + unit + " needs at least " + gib(now->bytes) + " (" + weight_format_name(f) +
           ", " + std::to_string(workload.width) + "x" + std::to_string(workload.height) +
           (now->time_sharing ? ", time-sharing the text stage" : "") + ")";
  else
    out += "no budget per " + unit + " up to 1 TiB fits these options";

  const CostModel cost(model, workload);
  // 8-bit formats leave Jina, the DiT's embedders and final layer dense (stage_cost).
  const bool cpu = !gpus;
  const auto dense = compute_format(f, cpu);
  const auto dit_weights =
      weight_bytes(cost.dit_block_params() * model.dit.n_layers + cost.dit_refiner_params(), f, cpu) +
      weight_bytes(cost.dit_prologue_params() - cost.dit_refiner_params() + cost.dit_final_params(), dense, cpu);
  const auto text_weights =
      weight_bytes(cost.gemma_layer_params() * model.gemma.used_layers() + cost.gemma_embed_params(), f, cpu) +
      weight_bytes(cost.jina_params(), dense, cpu);
  out += "; weights alone: DiT " + gib(dit_weights) + ", text stage " + gib(text_weights) + " in " +
         weight_format_name(f) + ". Levers:";

  if (!gpus && f == WeightFormat::kFp32) {
    auto o = options;
    o.cpu_weights = WeightFormat::kBf16;
    out += "\n  - bf16 weights on CPUs (--cpu-dtype bf16): " + planning.outcome(devices, workload, o, unit);
  }
  if (!is_8bit(f)) {
    auto o = options;
    (gpus ? o.weights : o.cpu_weights) = WeightFormat::kInt8;
    out += std::string("\n  - 8-bit weights (") + (gpus ? "--dtype" : "--cpu-dtype") +
           " int8): " + planning.outcome(devices, workload, o, unit);
  }

  if (gpus && options.text_on != "cpu") {
    // What the whole text stage needs on a CPU, and the GPUs' need once it is there.
    StageContent text{StageKind::kText};
    text.jina = text.gemma_embed = true;
    text.gemma_end = static_cast<int>(model.gemma.used_layers());
    InventoryDevice host_cpu;
    host_cpu.name = "cpu";
    host_cpu.budget = int64_t(1) << 40;
    const auto profile = make_profile(host_cpu, options.weights, options.cpu_weights, workload.attention, speeds);
    const auto text_cost = cost.stage_cost(text, profile);
    const int64_t need = cost.device_cost(&text_cost, 1, profile).total;
    const int64_t need_gib = (need + kGiB - 1) / kGiB * kGiB;
    auto with_cpu = devices;
    bool found = false;
    for (auto& d : with_cpu)
      if (d.kind == DeviceKind::kCpu && d.host.empty()) {
        d.budget = std::max(d.budget, need_gib);
        found = true;
      }
    const std::string needs = "it needs " + gib(need) + " in " + weight_format_name(options.cpu_weights);
    if (found) {
      out += "\n  - text stage on the CPU (--text-on cpu; " + needs + "): ";
    } else {
      host_cpu.budget = need_gib;
      with_cpu.push_back(host_cpu);
      out += "\n  - text stage on a CPU (add cpu=" + std::to_string(need_gib / kGiB) +
             "GiB to --devices and --text-on cpu; " + needs + "): ";
    }
    auto o = options;
    o.text_on = "cpu";
    out += planning.outcome(with_cpu, workload, o, unit);
  }

  for (double scale : {0.75, 0.5}) {
    auto w = workload;
    const int64_t multiple = model.vae.upscale() * model.dit.patch_size;
    auto scaled = [&](int64_t v) { return std::max<int64_t>(multiple, std::lround(v * scale / multiple) * multiple); };
    w.width = scaled(workload.width);
    w.height = scaled(workload.height);
    out += "\n  - smaller image (--width " + std::to_string(w.width) + " --height " + std::to_string(w.height) +
           "): " + planning.outcome(devices, w, options, unit, now ? std::optional<int64_t>(now->bytes) : std::nullopt);
  }
  return out;
}

}  // namespace baton::partition
