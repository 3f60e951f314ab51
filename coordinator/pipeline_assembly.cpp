#include "coordinator/pipeline_assembly.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/dtype.h"
#include "core/error.h"
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
    if (s.time_shared())
      throw Error("the plan time-shares the text stage on " + s.device() + ", which this build cannot run yet",
                  "give the text stage its own device (--text-on cpu) or more memory");
    if (s.weight_format() == "int8" || s.weight_format() == "fp8")
      throw Error("the plan asks for " + s.weight_format() + " weights on " + s.device() +
                      ", which this build's stages cannot load yet",
                  "plan with --dtype bf16 or fp32");
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
    if (s.kind() == Stage::DIT) j["blocks"] = {s.dit_blocks().begin(), s.dit_blocks().end()};
    if (s.kind() == Stage::TEXT && s.gemma_layers().end() > s.gemma_layers().begin())
      j["gemma_layers"] = {s.gemma_layers().begin(), s.gemma_layers().end()};
    stages.push_back(std::move(j));
  }
  return {{"stages", stages}, {"microbatch_samples", plan.microbatch_samples()}};
}

std::unique_ptr<worker::StageWorker> assemble_worker(const io::ModelFolder& model, const Plan& plan,
                                                     const std::string& device) {
  return assemble_worker(FolderStageModel(model), plan, device);
}

std::unique_ptr<worker::StageWorker> assemble_worker(const StageModel& model, const Plan& plan,
                                                     const std::string& device) {
  check_runnable(plan);
  auto w = std::make_unique<worker::StageWorker>(pipeline_shape(plan));
  bool any = false;

  const auto text = stages_of(plan, Stage::TEXT);
  // A Gemma split over two ranks runs as a head and a tail stage (one worker
  // each); within one rank's worker it is the text stage's two-device split.
  const bool split_over_ranks = text_split_over_ranks(plan);
  auto text_options = [&](const Stage& s) {
    worker::TextStageOptions o;
    o.gemma = model.text_encoder_config();
    o.jina = model.clip_config();
    o.gemma_tokenizer_path = model.tokenizer_path(io::Component::TextEncoder);
    o.xlmr_tokenizer_path = model.tokenizer_path(io::Component::Clip);
    o.device = device_of(s.device());
    o.dtype = parse_dtype(s.compute_dtype());
    if (text.size() == 2) o.gemma_split_layer = text[1]->gemma_layers().begin();
    return o;
  };
  if (text.front()->device() == device) {
    auto o = text_options(*text.front());
    if (text.size() == 2 && !split_over_ranks) o.gemma_second_device = device_of(text[1]->device());
    if (split_over_ranks) o.part = worker::TextStageOptions::Part::Head;
    auto gemma = model.weights(io::Component::TextEncoder);
    auto jina = model.weights(io::Component::Clip);
    spdlog::info("{}: loading the text stage{}", device,
                 text.size() == 2 ? " (Gemma split with " + text[1]->device() + ")" : "");
    auto stage = std::make_unique<worker::TextStage>(o, *gemma, *jina);
    if (split_over_ranks)
      w->host_text_head(std::make_shared<worker::TextStageHead>(std::move(stage)));
    else
      w->host_text(std::make_shared<worker::TextStageEncoding>(std::move(stage)));
    any = true;
  }
  if (split_over_ranks && text[1]->device() == device) {
    auto o = text_options(*text[1]);
    o.part = worker::TextStageOptions::Part::Tail;
    auto gemma = model.weights(io::Component::TextEncoder);
    spdlog::info("{}: loading the text stage's Gemma layers {}-{} (the head is on {})", device,
                 text[1]->gemma_layers().begin(), text[1]->gemma_layers().end(), text.front()->device());
    w->host_text_tail(std::make_shared<worker::TextStageTail>(std::make_unique<worker::TextStage>(o, *gemma, *gemma)));
    any = true;
  }

  const auto dits = stages_of(plan, Stage::DIT);
  std::unique_ptr<TensorSource> dit_weights;
  for (size_t i = 0; i < dits.size(); ++i) {
    const auto& s = *dits[i];
    if (s.device() != device) continue;
    if (!dit_weights) dit_weights = model.weights(io::Component::Transformer);
    worker::DitStageRange range{s.dit_blocks().begin(), s.dit_blocks().end(), i == 0, i + 1 == dits.size()};
    spdlog::info("{}: loading DiT stage {} (blocks {}-{}{}{})", device, i, range.begin, range.end,
                 range.embed ? ", embed" : "", range.head ? ", head" : "");
    w->host_dit(static_cast<int64_t>(i),
                std::make_shared<worker::DitStage>(model.transformer_config(), *dit_weights, range, options_of(s)));
    any = true;
  }

  const auto& vae = *stages_of(plan, Stage::VAE).front();
  if (vae.device() == device) {
    auto weights = model.weights(io::Component::Vae);
    models::VaeTiling tiling = models::VaeTiling::whole();
    if (vae.vae_tiling().tiled())
      tiling = models::VaeTiling{vae.vae_tiling().tile_h(), vae.vae_tiling().tile_w(), vae.vae_tiling().overlap()};
    spdlog::info("{}: loading the VAE stage ({})", device, tiling.describe());
    // The FLUX VAE overflows in fp16 (spec E.1 force_upcast): decode in float32 then.
    auto options = options_of(vae);
    if (options.dtype() == at::kHalf) options = options.dtype(at::kFloat);
    w->host_vae(std::make_shared<worker::VaeStage>(models::VaeDecoder(model.vae_config(), *weights, options),
                                                   tiling, plan_summary(plan), model.recipe_name()));
    any = true;
  }
  return any ? std::move(w) : nullptr;
}

}  // namespace baton::coordinator
