#include "partition/plan_report.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "core/byte_size.h"
#include "core/error.h"
#include "partition/flop_model.h"
#include "partition/plan_stage.h"

namespace baton::partition {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string gib(int64_t bytes) { return fixed(static_cast<double>(bytes) / kGiB, 2); }

std::string pad(const std::string& s, size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

std::string model_name(const pb::ModelDescription& m) {
  if (!m.preset().empty()) return m.preset() + " (preset)";
  return m.folder();
}

}  // namespace

std::string format_plan_table(const pb::Plan& plan) {
  std::ostringstream out;
  out << "model " << model_name(plan.model()) << ", " << plan.width() << "x" << plan.height() << ", " << plan.steps()
      << " steps, " << plan.weight_format() << " weights on GPUs, " << plan.cpu_weight_format() << " on CPUs\n"
      << "captions up to " << plan.caption_tokens() << " tokens, "
      << (plan.microbatch_samples() == 2 ? "both CFG branches per microbatch" : "one CFG branch per microbatch") << ", "
      << plan.attention() << " attention on GPUs\n\n";

  std::vector<std::vector<std::string>> rows;
  rows.push_back({"device", "stages", "weights", "activ.", "total / budget GiB", "use", "ms/step", "s/image"});
  for (const auto& u : plan.usage()) {
    std::string stages;
    double ms_step = 0;
    for (const auto& s : plan.stages()) {
      if (s.device() != u.device()) continue;
      stages += (stages.empty() ? "" : ", ") + describe_stage(s);
      ms_step += s.ms_per_step();
    }
    const double use = u.budget_bytes() > 0 ? 100.0 * u.total_bytes() / u.budget_bytes() : 0;
    rows.push_back({u.device(), stages, gib(u.weight_bytes()), gib(u.activation_bytes()),
                    gib(u.total_bytes()) + " / " + gib(u.budget_bytes()), fixed(use, 0) + "%",
                    ms_step > 0 ? fixed(ms_step, 1) : "-", fixed(u.ms_per_image() / 1000, 2)});
  }
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) out << pad(r[i], width[i], i >= 2) << (i + 1 < r.size() ? "  " : "\n");
  }
  const auto& t = plan.totals();
  out << "\nestimate: " << fixed(t.bottleneck_ms_per_image() / 1000, 2) << " s per image (slowest: "
      << (t.bottleneck_device().empty() ? "-" : t.bottleneck_device()) << "), " << fixed(t.images_per_minute(), 2)
      << " images/minute with >= " << t.microbatches_in_flight() << " microbatches in flight\n";
  out << "balance: the slowest DiT device is " << fixed(100 * (t.balance() - 1), 1)
      << "% above an even split of the DiT devices' work\n";
  if (!plan.notes().empty()) {
    out << "notes:\n";
    for (const auto& n : plan.notes()) out << "  - " << n << "\n";
  }
  return out.str();
}

std::string explain_stage(const ModelConfigs& model, const Workload& w, const std::string& component,
                          const DeviceProfile& device) {
  const CostModel cost(model, w);
  StageContent c;
  std::string what;
  if (component == "dit") {
    c.kind = StageKind::kDit;
    c.dit_end = static_cast<int>(model.dit.n_layers);
    c.prologue = c.final = true;
    what = "one DiT stage holding all " + std::to_string(model.dit.n_layers) + " blocks, prologue and final layer";
  } else if (component == "text") {
    c.kind = StageKind::kText;
    c.jina = c.gemma_embed = true;
    c.gemma_end = static_cast<int>(model.gemma.used_layers());
    what = "one text stage: Jina + Gemma embedding + layers 0-" + std::to_string(model.gemma.used_layers() - 1);
  } else if (component == "vae") {
    c.kind = StageKind::kVae;
    what = "one VAE stage (whole-image decode)";
  } else {
    throw UsageError("--explain-stage " + component + ": unknown component", "use dit, text or vae");
  }
  const auto s = cost.stage_cost(c, device);
  const auto d = cost.device_cost(&s, 1, device);
  const auto detail = cost.activation_detail(c, device);
  const auto g = geometry(w, model);
  std::ostringstream out;
  out << "estimate for " << what << "\n"
      << "on " << device.device.id() << " (" << weight_format_name(s.format) << " weights, "
      << compute_dtype_name(s.format, device.device.kind == DeviceKind::kCpu) << " compute, " << attention_kind_name(device.attention) << " attention), "
      << w.width << "x" << w.height << ", " << w.caption_tokens << " caption tokens";
  if (c.kind == StageKind::kDit)
    out << ", " << w.microbatch_samples << " sample" << (w.microbatch_samples == 1 ? "" : "s")
        << " per microbatch (joint sequence " << g.joint_tokens << " tokens)";
  if (c.kind == StageKind::kText) out << ", " << Workload::kPromptsPerRequest << " prompts";
  out << "\n\n";
  auto line = [&out](const std::string& label, int64_t bytes, const std::string& note = {}) {
    out << "  " << pad(label, 58) << pad(gib(bytes), 8, true) << " GiB" << (note.empty() ? "" : "  " + note) << "\n";
  };
  line("weights", s.weights);
  // 8-bit formats leave Jina, the DiT's embedders and final layer dense (stage_cost).
  const bool cpu = device.device.kind == DeviceKind::kCpu;
  const auto dense = compute_format(s.format, cpu);
  if (c.kind == StageKind::kDit) {
    line("  " + std::to_string(model.dit.n_layers) + " blocks",
         weight_bytes(cost.dit_block_params() * model.dit.n_layers, s.format, cpu));
    line("  prologue (embedders, refiners)",
         weight_bytes(cost.dit_refiner_params(), s.format, cpu) +
             weight_bytes(cost.dit_prologue_params() - cost.dit_refiner_params(), dense, cpu));
    line("  final layer", weight_bytes(cost.dit_final_params(), dense, cpu));
  } else if (c.kind == StageKind::kText) {
    line("  Gemma embedding", weight_bytes(cost.gemma_embed_params(), s.format, cpu));
    line("  Gemma layers 0-" + std::to_string(model.gemma.used_layers() - 1),
         weight_bytes(cost.gemma_layer_params() * model.gemma.used_layers(), s.format, cpu));
    line("  Jina text tower", weight_bytes(cost.jina_params(), dense, cpu));
  }
  line("activations at the peak", s.activations);
  for (const auto& p : detail.parts) line("  " + p.first, p.second);
  line("= weights + activations", s.weights + s.activations, "<- compare with the measured peak allocated");
  line("workspace (library + " + fixed(100 * kFragmentation, 0) + "% of activations)", s.workspace);
  line(device.device.kind == DeviceKind::kCuda ? "CUDA context" : "process runtime", d.context);
  line("margin", d.margin);
  line("= device total (what the budget must hold)", d.total);
  if (c.kind == StageKind::kDit) {
    const double call = dit_call_flops(model, w, w.microbatch_samples);
    out << "\n  one forward of the microbatch: " << fixed(call / 1e12, 2) << " TFLOP, about "
        << fixed(call / 1e9 / device.speed.tflops, 1) << " ms at " << fixed(device.speed.tflops, 1) << " TFLOP/s ("
        << device.speed.source << ")\n";
  }
  const std::string per_image = c.kind == StageKind::kDit ? std::to_string(w.steps) + " steps, both CFG branches"
                                : c.kind == StageKind::kText ? "both prompts" : "one decode";
  out << "  per image (" << per_image << "): " << fixed(s.gflop_per_image / 1e3, 2) << " TFLOP, about "
      << fixed(s.ms_per_image, 1) << " ms at " << fixed(device.speed.tflops, 1) << " TFLOP/s\n";
  return out.str();
}

}  // namespace baton::partition
