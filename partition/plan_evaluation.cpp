// Estimates and totals of a plan from its placement: the same cost model the
// search used, so a fresh plan's numbers are the search's numbers, and an
// edited plan gets honest ones.
#include <algorithm>
#include <cmath>
#include <map>

#include "core/byte_size.h"
#include "core/error.h"
#include "partition/plan_file.h"
#include "partition/plan_stage.h"
#include "partition/planner.h"
#include "partition/stage_cost.h"

namespace baton::partition {
namespace {

std::string fmt_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms >= 10000 ? "%.0f s" : ms >= 1000 ? "%.1f s" : "%.0f ms", ms >= 1000 ? ms / 1000 : ms);
  return buf;
}

}  // namespace

Workload workload_of(const pb::Plan& plan) {
  Workload w;
  w.width = plan.width();
  w.height = plan.height();
  w.caption_tokens = plan.caption_tokens();
  w.microbatch_samples = plan.microbatch_samples();
  w.steps = plan.steps();
  w.attention = parse_attention_kind(plan.attention().empty() ? "flash" : plan.attention());
  return w;
}

void evaluate_plan(pb::Plan& plan, const ModelConfigs& model, const DeviceSpeeds& speeds) {
  const Workload w = workload_of(plan);
  validate_workload(w, model);
  const CostModel cost(model, w);
  const auto gpu_format = parse_weight_format(plan.weight_format().empty() ? "bf16" : plan.weight_format());
  const auto cpu_format = parse_weight_format(plan.cpu_weight_format().empty() ? "fp32" : plan.cpu_weight_format());

  std::map<std::string, DeviceProfile> profiles;
  std::map<std::string, InventoryDevice> devices;
  for (const auto& d : inventory_of(plan)) {
    profiles.emplace(d.id(), make_profile(d, gpu_format, cpu_format, w.attention, speeds));
    devices.emplace(d.id(), d);
  }
  // Stages per device, in order of first appearance.
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> stages_of;
  for (int i = 0; i < plan.stages_size(); ++i) {
    const auto& id = plan.stages(i).device();
    if (!profiles.count(id))
      throw Error("stage " + std::to_string(i) + " (" + describe_stage(plan.stages(i)) + ") is on " + id +
                      ", which is not among the plan's devices",
                  "add the device to the plan's devices or move the stage");
    if (!stages_of.count(id)) order.push_back(id);
    stages_of[id].push_back(i);
  }

  plan.clear_usage();
  plan.clear_notes();
  auto* ts = plan.mutable_time_sharing();
  ts->clear_devices();
  double bottleneck = 0, shared_ms = 0, swap_s = 0;
  std::string bottleneck_device;
  double dit_work = 0, dit_tflops = 0, dit_slowest = 0;
  int dit_devices = 0;
  int64_t weights = 0;
  for (const auto& id : order) {
    const auto& profile = profiles.at(id);
    std::vector<StageCost> costs;
    for (int i : stages_of[id]) {
      auto* s = plan.mutable_stages(i);
      // A stage's own weight format (a saved plan edited per stage) wins over
      // the plan's GPU/CPU defaults.
      const auto c = s->weight_format().empty()
                         ? cost.stage_cost(content_of(*s), profile)
                         : cost.stage_cost(content_of(*s), make_profile(devices.at(id), parse_weight_format(s->weight_format()),
                                                                        parse_weight_format(s->weight_format()),
                                                                        w.attention, speeds));
      s->set_weight_format(weight_format_name(c.format));
      s->set_compute_dtype(compute_dtype_name(c.format, profile.device.kind == DeviceKind::kCpu));
      s->set_weight_bytes(c.weights);
      s->set_activation_bytes(c.activations);
      s->set_workspace_bytes(c.workspace);
      s->set_context_bytes(0);
      s->set_margin_bytes(0);
      s->set_gflop_per_image(c.gflop_per_image);
      s->set_ms_per_image(c.ms_per_image);
      s->set_ms_per_step(c.ms_per_step);
      s->set_boundary_bytes(c.boundary_bytes);
      costs.push_back(c);
    }
    const auto dc = cost.device_cost(costs.data(), costs.size(), profile);
    auto* first = plan.mutable_stages(stages_of[id].front());
    first->set_context_bytes(dc.context);
    first->set_margin_bytes(dc.margin);
    auto* u = plan.add_usage();
    u->set_device(id);
    u->set_budget_bytes(profile.device.budget);
    u->set_weight_bytes(dc.weights);
    u->set_activation_bytes(dc.activations);
    u->set_workspace_bytes(dc.workspace);
    u->set_context_bytes(dc.context);
    u->set_margin_bytes(dc.margin);
    u->set_total_bytes(dc.total);
    u->set_tflops(profile.speed.tflops);
    u->set_ms_per_image(dc.ms_per_image + dc.time_shared_ms);
    for (const auto& c : costs) weights += c.weights;
    if (dc.ms_per_image > bottleneck) {
      bottleneck = dc.ms_per_image;
      bottleneck_device = id;
    }
    if (std::any_of(costs.begin(), costs.end(), [](const StageCost& c) { return c.time_shared; })) {
      // Each swap loads the text stage, then reloads what it displaced.
      ts->add_devices(id);
      shared_ms = std::max(shared_ms, dc.time_shared_ms);
      int64_t swapped = 0;
      for (const auto& c : costs) swapped += c.weights;
      swap_s = std::max(swap_s, static_cast<double>(swapped) / (profile.speed.load_gib_per_s * kGiB));
    }
    const bool holds_dit = std::any_of(stages_of[id].begin(), stages_of[id].end(),
                                       [&](int i) { return plan.stages(i).kind() == pb::Stage::DIT; });
    if (holds_dit) {
      ++dit_devices;
      dit_work += dc.ms_per_image * profile.speed.tflops;
      dit_tflops += profile.speed.tflops;
      dit_slowest = std::max(dit_slowest, dc.ms_per_image);
    }
  }

  const bool sharing = ts->devices_size() > 0;
  ts->set_enabled(sharing);
  if (sharing && ts->prompts_per_swap() < 1) ts->set_prompts_per_swap(8);
  if (!sharing) ts->set_prompts_per_swap(0);
  ts->set_swap_seconds(sharing ? swap_s : 0);
  ts->set_ms_per_image(sharing ? shared_ms + 1000 * swap_s / ts->prompts_per_swap() : 0);

  auto* t = plan.mutable_totals();
  t->set_weight_bytes(weights);
  t->set_pipeline_stages(dit_devices);
  t->set_microbatches_in_flight(dit_devices);
  const double total_ms = bottleneck + ts->ms_per_image();
  t->set_bottleneck_ms_per_image(total_ms);
  t->set_bottleneck_device(bottleneck_device);
  t->set_images_per_minute(total_ms > 0 ? 60000.0 / total_ms : 0);
  // Ideal: the work of the DiT devices spread in proportion to their speed.
  const double ideal = dit_tflops > 0 ? dit_work / dit_tflops : 0;
  t->set_balance(ideal > 0 ? dit_slowest / ideal : 1.0);

  const int n = dit_devices;
  plan.add_notes("a pipeline of " + std::to_string(n) + " DiT stage" + (n == 1 ? "" : "s") + " needs at least " +
                 std::to_string(n) + " microbatch" + (n == 1 ? "" : "es") + " in flight (" +
                 std::to_string((n + 1) / 2) + " request" + ((n + 1) / 2 == 1 ? "" : "s") +
                 " with both CFG branches); images per minute assume that");
  for (const auto& s : plan.stages()) {
    const auto& profile = profiles.at(s.device());
    if (s.kind() == pb::Stage::TEXT && profile.device.kind == DeviceKind::kCpu)
      plan.add_notes("text stage part on " + s.device() + ": " + fmt_ms(s.ms_per_image()) + " per image (" +
                     std::to_string(plan.caption_tokens()) + "-token prompts)");
    if (s.kind() == pb::Stage::VAE && s.vae_tiling().tiled())
      plan.add_notes("VAE decodes in " + std::to_string(s.vae_tiling().tile_h()) + "x" +
                     std::to_string(s.vae_tiling().tile_w()) + " latent tiles (x" +
                     std::to_string(model.vae.upscale()) + " pixels, overlap " +
                     std::to_string(s.vae_tiling().overlap()) + "): the whole decode needs " +
                     format_byte_size(cost.activation_detail(StageContent{StageKind::kVae}, profile).total) +
                     " of activations");
  }
  if (sharing) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "time-sharing: the text stage is loaded only to encode the queued prompts (%d per swap "
                  "planned), the other stages of its device freed meanwhile; each swap costs %.1f s (loading "
                  "the text stage, then reloading the others), %s per image",
                  ts->prompts_per_swap(), ts->swap_seconds(), fmt_ms(ts->ms_per_image()).c_str());
    plan.add_notes(buf);
  }
}

}  // namespace baton::partition
