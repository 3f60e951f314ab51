#include "coordinator/pipeline_assembly.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>

#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/weight_format.h"
#include "worker/pipeline_stages.h"

namespace baton::coordinator {
namespace {

using partition::pb::Plan;
using partition::pb::Stage;

std::vector<const Stage*> stages_of(const Plan& plan, Stage::Kind kind) {
  std::vector<const Stage*> out;
  for (const auto& s : plan.stages())
    if (s.kind() == kind) out.push_back(&s);
  return out;
}

at::Device device_of(const std::string& id) {
  const auto on_rank = split_rank_device(id);
  const std::string name = on_rank ? on_rank->second : id;
  if (name.find('/') != std::string::npos)
    throw Error("plan stage on " + name + " is on another host", "run one rank per host under mpirun");
  try {
    return at::Device(name);
  } catch (const std::exception&) {
    throw Error("plan names an unknown device '" + name + "'");
  }
}

at::TensorOptions options_of(const Stage& s) {
  return at::TensorOptions().device(device_of(s.device())).dtype(parse_dtype(s.compute_dtype()));
}

// How a text or DiT stage stores its weights: int8/fp8, or dense in its
// compute dtype (a plan without the field: dense).
WeightFormat weight_format_of(const Stage& s) {
  return s.weight_format().empty() ? parse_weight_format(s.compute_dtype()) : parse_weight_format(s.weight_format());
}

}  // namespace

std::optional<std::pair<int, std::string>> split_rank_device(const std::string& id) {
  const auto slash = id.find('/');
  if (slash == std::string::npos || slash < 2 || slash > 6 || id[0] != 'r' ||
      id.find_first_not_of("0123456789", 1) != slash)
    return std::nullopt;
  return std::make_pair(std::stoi(id.substr(1, slash - 1)), id.substr(slash + 1));
}

void check_runnable(const Plan& plan) {
  for (const auto& s : plan.stages()) {
    try {
      const auto format = weight_format_of(s);
      if (s.kind() == Stage::VAE && is_8bit(format))
        throw Error("the plan asks for " + s.weight_format() + " weights in the VAE stage on " + s.device() +
                        ", which has no 8-bit path",
                    "give the VAE stage its compute dtype as weight_format");
    } catch (const UsageError& e) {
      throw Error("the plan's stage on " + s.device() + " has an unknown weight format: " + e.what(), e.hint());
    }
  }
  const auto text = stages_of(plan, Stage::TEXT);
  if (text.empty() || stages_of(plan, Stage::DIT).empty() || stages_of(plan, Stage::VAE).empty())
    throw Error("the plan lacks a text, DiT or VAE stage");
  if (text.size() > 2) throw Error("the plan splits the text stage over more than two devices; at most two are supported");
}

bool text_split_over_ranks(const Plan& plan) {
  const auto text = stages_of(plan, Stage::TEXT);
  if (text.size() != 2) return false;
  const auto a = split_rank_device(text[0]->device()), b = split_rank_device(text[1]->device());
  return a && b && a->first != b->first;
}

std::vector<std::string> plan_devices(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.stages())
    if (std::find(out.begin(), out.end(), s.device()) == out.end()) out.push_back(s.device());
  return out;
}

worker::PipelineShape pipeline_shape(const Plan& plan) {
  return {static_cast<int64_t>(stages_of(plan, Stage::DIT).size()), plan.microbatch_samples() == 1};
}

size_t requests_in_flight(const Plan& plan) {
  const auto dits = stages_of(plan, Stage::DIT).size();
  return std::max<size_t>({2, dits + 1, static_cast<size_t>(std::max(0, plan.totals().microbatches_in_flight())) + 1});
}

nlohmann::json plan_summary(const Plan& plan) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : plan.stages()) {
    nlohmann::json j = {{"kind", Stage::Kind_Name(s.kind())}, {"device", s.device()}, {"dtype", s.compute_dtype()}};
    if (s.weight_format() == "int8" || s.weight_format() == "fp8") j["weights"] = s.weight_format();
    if (s.kind() == Stage::DIT) j["blocks"] = {s.dit_blocks().begin(), s.dit_blocks().end()};
    if (s.kind() == Stage::TEXT && s.gemma_layers().end() > s.gemma_layers().begin())
      j["gemma_layers"] = {s.gemma_layers().begin(), s.gemma_layers().end()};
    stages.push_back(std::move(j));
  }
  return {{"stages", stages}, {"microbatch_samples", plan.microbatch_samples()}};
}

std::unique_ptr<worker::StageWorker> assemble_worker(const io::ModelFolder& model, const Plan& plan,
                                                     const std::string& device, const StageRuntimeOptions& runtime) {
  return assemble_worker(FolderStageModel(model), plan, device, runtime);
}

std::unique_ptr<worker::StageWorker> assemble_worker(const StageModel& model, const Plan& plan,
                                                     const std::string& device, const StageRuntimeOptions& runtime) {
  check_runnable(plan);
  auto w = std::make_unique<worker::StageWorker>(pipeline_shape(plan));
  bool any = false;

  const auto text = stages_of(plan, Stage::TEXT);
  // A Gemma split over two ranks runs as a head and a tail stage (one worker
  // each); so does a time-shared split, each device swapping its own part.
  // Otherwise a split within one worker is the text stage's two-device split.
  const bool time_shared_split =
      text.size() == 2 && std::any_of(text.begin(), text.end(), [](const Stage* s) { return s->time_shared(); });
  const bool split_workers = text_split_over_ranks(plan) || time_shared_split;
  auto text_options = [&](const Stage& s) {
    worker::TextStageOptions o;
    o.gemma = model.text_encoder_config();
    o.jina = model.clip_config();
    o.gemma_tokenizer_path = model.tokenizer_path(io::Component::TextEncoder);
    o.xlmr_tokenizer_path = model.tokenizer_path(io::Component::Clip);
    o.device = device_of(s.device());
    o.dtype = parse_dtype(s.compute_dtype());
    o.gemma_weights = weight_format_of(s);
    if (text.size() == 2) o.gemma_split_layer = text[1]->gemma_layers().begin();
    return o;
  };
  // Time-shared text stages here (a slot and how to load it; two for a head
  // and tail on one device); each is loaded once here so that its weights
  // and tokenizers are checked before the stages run.
  struct SharedText {
    std::shared_ptr<worker::TextStageSlot> slot;
    std::function<std::unique_ptr<worker::TextStage>()> load;
  };
  std::vector<SharedText> shared_text;
  auto host_text_part = [&](const Stage& s, worker::TextStageOptions o, const std::string& what) {
    std::shared_ptr<TensorSource> gemma = model.weights(io::Component::TextEncoder);
    std::shared_ptr<TensorSource> jina =
        o.part == worker::TextStageOptions::Part::Tail ? gemma : std::shared_ptr<TensorSource>(model.weights(io::Component::Clip));
    auto load = [o, gemma, jina] { return std::make_unique<worker::TextStage>(o, *gemma, *jina); };
    spdlog::info("{}: loading {}{}{}", device, what,
                 is_8bit(o.gemma_weights) ? ", Gemma in " + weight_format_name(o.gemma_weights) : "",
                 s.time_shared() ? " (time-shared: freed until it encodes)" : "");
    std::shared_ptr<worker::TextStageSlot> slot;
    switch (o.part) {
      case worker::TextStageOptions::Part::Head: {
        auto head = std::make_shared<worker::TextStageHead>(load());
        w->host_text_head(head);
        slot = head;
        break;
      }
      case worker::TextStageOptions::Part::Tail: {
        auto tail = std::make_shared<worker::TextStageTail>(load());
        w->host_text_tail(tail);
        slot = tail;
        break;
      }
      case worker::TextStageOptions::Part::Whole: {
        auto whole = std::make_shared<worker::TextStageEncoding>(load());
        w->host_text(whole);
        slot = whole;
        break;
      }
    }
    if (s.time_shared()) {
      // Freed before the other stages load: the device holds one phase at a time.
      slot->set_stage(nullptr);
      release_cached_memory(device_of(device));
      shared_text.push_back({slot, load});
    }
  };
  if (text.front()->device() == device) {
    auto o = text_options(*text.front());
    if (text.size() == 2 && !split_workers) o.gemma_second_device = device_of(text[1]->device());
    if (split_workers) o.part = worker::TextStageOptions::Part::Head;
    host_text_part(*text.front(), o,
                   text.size() == 2 ? "the text stage (Gemma split with " + text[1]->device() + ")" : "the text stage");
    any = true;
  }
  if (split_workers && text[1]->device() == device) {
    auto o = text_options(*text[1]);
    o.part = worker::TextStageOptions::Part::Tail;
    host_text_part(*text[1], o,
                   "the text stage's Gemma layers " + std::to_string(text[1]->gemma_layers().begin()) + "-" +
                       std::to_string(text[1]->gemma_layers().end()) + " (the head is on " + text.front()->device() +
                       ")");
    any = true;
  }

  const auto dits = stages_of(plan, Stage::DIT);
  std::shared_ptr<TensorSource> dit_weights;
  std::vector<std::shared_ptr<worker::DitStage>> dits_here;
  for (size_t i = 0; i < dits.size(); ++i) {
    const auto& s = *dits[i];
    if (s.device() != device) continue;
    if (!dit_weights) dit_weights = model.weights(io::Component::Transformer);
    worker::DitStageRange range{s.dit_blocks().begin(), s.dit_blocks().end(), i == 0, i + 1 == dits.size()};
    const auto format = weight_format_of(s);
    spdlog::info("{}: loading DiT stage {} (blocks {}-{}{}{}, {} weights)", device, i, range.begin, range.end,
                 range.embed ? ", embed" : "", range.head ? ", head" : "", weight_format_name(format));
    auto stage =
        std::make_shared<worker::DitStage>(model.transformer_config(), *dit_weights, range, options_of(s), format);
    stage->capture_cuda_graphs(runtime.dit_cuda_graphs);
    w->host_dit(static_cast<int64_t>(i), stage);
    dits_here.push_back(stage);
    any = true;
  }

  const auto& vae = *stages_of(plan, Stage::VAE).front();
  std::shared_ptr<worker::VaeStage> vae_here;
  std::function<models::VaeDecoder()> load_vae;
  if (vae.device() == device) {
    std::shared_ptr<TensorSource> weights = model.weights(io::Component::Vae);
    models::VaeTiling tiling = models::VaeTiling::whole();
    if (vae.vae_tiling().tiled())
      tiling = models::VaeTiling{vae.vae_tiling().tile_h(), vae.vae_tiling().tile_w(), vae.vae_tiling().overlap()};
    spdlog::info("{}: loading the VAE stage ({})", device, tiling.describe());
    // The FLUX VAE overflows in fp16 (spec E.1 force_upcast): decode in float32 then.
    auto options = options_of(vae);
    if (options.dtype() == at::kHalf) options = options.dtype(at::kFloat);
    load_vae = [config = model.vae_config(), weights, options] { return models::VaeDecoder(config, *weights, options); };
    vae_here = std::make_shared<worker::VaeStage>(load_vae(), tiling, plan_summary(plan), model.recipe_name());
    w->host_vae(vae_here);
    any = true;
  }

  if (!shared_text.empty()) {
    worker::PhaseWeights text_phase{[shared_text] {
                                      for (const auto& t : shared_text)
                                        if (!t.slot->loaded()) t.slot->set_stage(t.load());
                                    },
                                    [shared_text] {
                                      for (const auto& t : shared_text) t.slot->set_stage(nullptr);
                                    }};
    worker::PhaseWeights residents{[dits_here, dit_weights, vae_here, load_vae] {
                                     for (const auto& d : dits_here) d->load_weights(*dit_weights);
                                     if (vae_here && !vae_here->loaded()) vae_here->set_decoder(load_vae());
                                   },
                                   [dits_here, vae_here] {
                                     for (const auto& d : dits_here) d->drop_weights();
                                     if (vae_here) vae_here->drop_decoder();
                                   }};
    w->time_share(std::make_shared<worker::DeviceTimeSharing>(device_of(device), text_phase, residents));
  }
  return any ? std::move(w) : nullptr;
}

}  // namespace baton::coordinator
