// Placement search (docs/planning.md, "How the planner decides"). The model is
// a chain of units: [text][DiT block 0 (+prologue)] ... [DiT block n-1 (+final)][VAE];
// the text is one unit (whole) or Jina, Gemma's embedding and one unit per
// Gemma layer (split). Each device gets a contiguous range of the chain; an
// exact dynamic programme per device order minimises the slowest device.
#include "partition/planner.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/error.h"
#include "models/vae/vae_memory.h"
#include "partition/chain_search.h"
#include "partition/plan_stage.h"
#include "partition/stage_cost.h"

namespace baton::partition {
namespace {

// A split text stage must beat the whole one by this much to be chosen.
constexpr double kSplitTextGain = 0.9;

enum class TextMode { kNone, kWhole, kSplit };

struct Chain {
  TextMode text = TextMode::kNone;
  int gemma_layers = 0;
  int dit_blocks = 0;  // 0: no DiT in this chain
  bool vae = false;

  int text_units() const { return text == TextMode::kNone ? 0 : text == TextMode::kWhole ? 1 : 2 + gemma_layers; }
  int size() const { return text_units() + dit_blocks + (vae ? 1 : 0); }

  // The stages of units [a, b).
  std::vector<StageContent> contents(int a, int b, bool time_shared) const {
    std::vector<StageContent> out;
    const int t = text_units();
    if (a < t && a < b) {
      StageContent c;
      c.kind = StageKind::kText;
      c.time_shared = time_shared;
      if (text == TextMode::kWhole) {
        c.jina = c.gemma_embed = true;
        c.gemma_end = gemma_layers;
      } else {
        const int e = std::min(b, t);
        c.jina = a == 0;
        c.gemma_embed = a <= 1 && e > 1;
        c.gemma_begin = std::max(a, 2) - 2;
        c.gemma_end = std::max(e, 2) - 2;
        if (c.gemma_end <= c.gemma_begin) c.gemma_begin = c.gemma_end = 0;
      }
      out.push_back(c);
    }
    const int da = std::max(a, t) - t, db = std::min(b, t + dit_blocks) - t;
    if (da < db) {
      StageContent c;
      c.kind = StageKind::kDit;
      c.dit_begin = da;
      c.dit_end = db;
      c.prologue = da == 0;
      c.final = db == dit_blocks;
      out.push_back(c);
    }
    if (vae && b == size() && a < b) {
      StageContent c;
      c.kind = StageKind::kVae;
      out.push_back(c);
    }
    return out;
  }
};

struct Setup {
  const CostModel* cost = nullptr;
  std::vector<DeviceProfile> profiles;
  std::vector<std::vector<StageContent>> fixed;  // stages a device holds besides its chain range
  bool allow_tiling = false;
  // DiT blocks on a CPU next to GPUs would make a stage 100x slower than the
  // rest: only a CPU-only inventory runs the DiT on CPUs.
  bool dit_on_cpu = false;
  bool time_shared_phase = false;  // chain text stages are time-shared; their time is the objective
};

struct Evaluated {
  std::vector<StageContent> contents;
  DeviceCost cost;
};

// Device d holding its fixed stages and units [a, b), the VAE whole or, when
// the device cannot hold its whole decode, in the largest tiles that fit the
// memory left (models::choose_vae_tile); nullopt when over budget.
std::optional<Evaluated> evaluate(const Setup& s, const Chain& chain, int d, int a, int b) {
  Evaluated ev;
  ev.contents = s.fixed[d];
  for (auto& c : chain.contents(a, b, s.time_shared_phase)) ev.contents.push_back(c);
  int vae = -1;  // a VAE from the chain; a fixed one keeps its tiling
  for (size_t i = s.fixed[d].size(); i < ev.contents.size(); ++i)
    if (ev.contents[i].kind == StageKind::kVae) vae = static_cast<int>(i);
  const auto& profile = s.profiles[d];
  if (profile.device.kind == DeviceKind::kCpu && !s.dit_on_cpu)
    for (const auto& c : ev.contents)
      if (c.kind == StageKind::kDit) return std::nullopt;
  std::vector<StageCost> costs;
  for (const auto& c : ev.contents) costs.push_back(s.cost->stage_cost(c, profile));
  ev.cost = s.cost->device_cost(costs.data(), costs.size(), profile);
  if (ev.cost.total <= profile.device.budget) return ev;
  if (vae < 0 || !s.allow_tiling) return std::nullopt;
  const int64_t room = s.cost->activation_room(costs, static_cast<size_t>(vae), profile);
  if (room < 0) return std::nullopt;
  const auto& w = s.cost->workload();
  const auto& config = s.cost->model().vae;
  const auto dtype = compute_dtype_bytes(costs[vae].format) >= 4 ? at::kFloat : at::kBFloat16;
  const auto device = profile.device.kind == DeviceKind::kCpu ? c10::DeviceType::CPU : c10::DeviceType::CUDA;
  try {
    ev.contents[vae].vae_tiling =
        models::choose_vae_tile(config, w.height / config.upscale(), w.width / config.upscale(), dtype, room, 1, device);
  } catch (const Error&) {
    return std::nullopt;  // not even the smallest tiles fit
  }
  costs[vae] = s.cost->stage_cost(ev.contents[vae], profile);
  ev.cost = s.cost->device_cost(costs.data(), costs.size(), profile);
  if (ev.cost.total <= profile.device.budget) return ev;
  return std::nullopt;
}

long signature_of(const Setup& s, int d, std::map<std::tuple<int, int64_t, double, int64_t, int, int>, long>& ids) {
  const auto& p = s.profiles[d];
  const auto key = std::make_tuple(static_cast<int>(p.device.kind), p.device.budget, p.speed.tflops,
                                   p.speed.context_bytes, static_cast<int>(p.format), s.fixed[d].empty() ? -1 : d);
  return ids.emplace(key, static_cast<long>(ids.size())).first->second;
}

struct Found {
  ChainSplit split;
  std::vector<std::vector<StageContent>> per_device;  // in split.order
};

std::optional<Found> search(const Setup& s, const Chain& chain) {
  const int k = static_cast<int>(s.profiles.size()), u = chain.size();
  RangeCosts table(k, u);
  for (int d = 0; d < k; ++d)
    for (int a = 0; a <= u; ++a)
      for (int b = a; b <= u; ++b)
        if (auto ev = evaluate(s, chain, d, a, b))
          table.set(d, a, b, s.time_shared_phase ? ev->cost.time_shared_ms : ev->cost.ms_per_image);
  std::map<std::tuple<int, int64_t, double, int64_t, int, int>, long> ids;
  std::vector<long> signature;
  for (int d = 0; d < k; ++d) signature.push_back(signature_of(s, d, ids));
  auto split = best_chain_split(table, signature);
  if (!split) return std::nullopt;
  Found f;
  f.split = *split;
  for (int p = 0; p < k; ++p)
    f.per_device.push_back(evaluate(s, chain, split->order[p], split->cuts[p], split->cuts[p + 1])->contents);
  return f;
}

// Whole text unless splitting Gemma is needed or clearly faster.
std::optional<Found> search_text(const Setup& s, Chain chain) {
  chain.text = TextMode::kWhole;
  auto whole = search(s, chain);
  chain.text = TextMode::kSplit;
  auto split = search(s, chain);
  if (whole && (!split || split->split.bottleneck_ms >= kSplitTextGain * whole->split.bottleneck_ms)) return whole;
  return split;
}

int find_device(const DeviceInventory& devices, const std::string& id) {
  for (size_t i = 0; i < devices.size(); ++i)
    if (devices[i].id() == id) return static_cast<int>(i);
  return -1;
}

StageContent whole_text(int gemma_layers, bool time_shared) {
  StageContent c;
  c.kind = StageKind::kText;
  c.jina = c.gemma_embed = true;
  c.gemma_end = gemma_layers;
  c.time_shared = time_shared;
  return c;
}

pb::Plan build_plan(const ModelConfigs& model, const Workload& w, const DeviceInventory& devices,
                    const PlanOptions& options, const Found& found, bool time_sharing) {
  pb::Plan plan;
  plan.set_format_version(1);
  *plan.mutable_model() = describe_model(model);
  plan.set_width(static_cast<int32_t>(w.width));
  plan.set_height(static_cast<int32_t>(w.height));
  plan.set_caption_tokens(static_cast<int32_t>(w.caption_tokens));
  plan.set_microbatch_samples(static_cast<int32_t>(w.microbatch_samples));
  plan.set_attention(attention_kind_name(w.attention));
  plan.set_steps(static_cast<int32_t>(w.steps));
  plan.set_weight_format(weight_format_name(options.weights));
  plan.set_cpu_weight_format(weight_format_name(options.cpu_weights));
  for (const auto& d : devices) *plan.add_devices() = d.to_proto();
  std::vector<pb::Stage> stages;
  for (size_t p = 0; p < found.per_device.size(); ++p) {
    const auto& contents = found.per_device[p];
    const bool has_resident = std::any_of(contents.begin(), contents.end(),
                                          [](const StageContent& c) { return !c.time_shared; });
    for (auto c : contents) {
      // A device that holds only text stages keeps them loaded: nothing to swap.
      if (!has_resident) c.time_shared = false;
      stages.push_back(stage_of(c, devices[found.split.order[p]].id()));
    }
  }
  std::stable_sort(stages.begin(), stages.end(),
                   [](const pb::Stage& a, const pb::Stage& b) { return a.kind() < b.kind(); });
  for (auto& s : stages) *plan.add_stages() = s;
  plan.mutable_time_sharing()->set_enabled(time_sharing);
  plan.mutable_time_sharing()->set_prompts_per_swap(time_sharing ? options.prompts_per_swap : 0);
  return plan;
}

}  // namespace

std::optional<pb::Plan> try_make_plan(const ModelConfigs& model, const Workload& workload,
                                      const DeviceInventory& devices, const DeviceSpeeds& speeds,
                                      const PlanOptions& options) {
  validate_workload(workload, model);
  if (devices.empty()) throw UsageError("no devices to plan for", "give --devices");
  if (options.prompts_per_swap < 1) throw UsageError("prompts per swap must be at least 1");
  const CostModel cost(model, workload);
  Setup setup;
  setup.cost = &cost;
  for (const auto& d : devices)
    setup.profiles.push_back(make_profile(d, options.weights, options.cpu_weights, workload.attention, speeds));
  setup.fixed.assign(devices.size(), {});
  setup.dit_on_cpu = std::none_of(devices.begin(), devices.end(),
                                  [](const InventoryDevice& d) { return d.kind == DeviceKind::kCuda; });
  const int gemma_layers = static_cast<int>(model.gemma.used_layers());
  const int blocks = static_cast<int>(model.dit.n_layers);

  int forced = -1;
  if (options.text_on != "auto") {
    forced = find_device(devices, options.text_on);
    if (forced < 0)
      throw UsageError("--text-on " + options.text_on + " names no device in the inventory",
                       "use auto or one of: " + describe_inventory(devices));
  }

  const Chain dit_and_vae{TextMode::kNone, gemma_layers, blocks, true};
  auto resident = [&](bool tiling) -> std::optional<Found> {
    Setup s = setup;
    s.allow_tiling = tiling;
    if (forced >= 0) {
      s.fixed[forced].push_back(whole_text(gemma_layers, false));
      return search(s, dit_and_vae);
    }
    return search_text(s, dit_and_vae);
  };
  std::optional<Found> found = resident(false);
  if (!found) found = resident(true);
  bool time_sharing = false;
  if (!found && options.allow_time_sharing) {
    // Last resort: the text stage and the DiT take turns (phase A encodes the
    // queued prompts, phase B denoises); each phase may use all the memory.
    Setup b = setup;
    b.allow_tiling = true;
    if (auto phase_b = search(b, dit_and_vae)) {
      Setup a = setup;
      a.time_shared_phase = true;
      for (size_t p = 0; p < phase_b->per_device.size(); ++p) a.fixed[phase_b->split.order[p]] = phase_b->per_device[p];
      std::optional<Found> phase_a;
      if (forced >= 0) {
        a.fixed[forced].push_back(whole_text(gemma_layers, true));
        phase_a = search(a, Chain{TextMode::kNone, gemma_layers, 0, false});
      } else {
        phase_a = search_text(a, Chain{TextMode::kNone, gemma_layers, 0, false});
      }
      if (phase_a) {
        found = phase_a;
        time_sharing = true;
      }
    }
  }
  if (!found) return std::nullopt;
  auto plan = build_plan(model, workload, devices, options, *found, time_sharing);
  evaluate_plan(plan, model, speeds);
  return plan;
}

pb::Plan make_plan(const ModelConfigs& model, const Workload& workload, const DeviceInventory& devices,
                   const DeviceSpeeds& speeds, const PlanOptions& options) {
  if (auto plan = try_make_plan(model, workload, devices, speeds, options)) return *plan;
  bool gpu = false, cpu = false;
  for (const auto& d : devices) (d.kind == DeviceKind::kCuda ? gpu : cpu) = true;
  std::string formats = gpu ? weight_format_name(options.weights) + " weights" : "";
  if (cpu) formats += (gpu ? ", " : "") + weight_format_name(options.cpu_weights) + (gpu ? " on CPUs" : " weights");
  throw Error("the model does not fit on " + describe_inventory(devices) + " at " + std::to_string(workload.width) +
                  "x" + std::to_string(workload.height) + " with " + formats,
              explain_no_fit(model, workload, devices, speeds, options));
}

}  // namespace baton::partition
