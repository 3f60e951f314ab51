#include "bench/memory_scenario.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "bench/bench_timer.h"
#include "bench/peak_memory_meter.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "models/gemma3/gemma3_text_model.h"
#include "models/jina/jina_text_model.h"
#include "models/vae/vae_decoder.h"
#include "partition/plan_file.h"
#include "partition/plan_stage.h"
#include "partition/planner.h"
#include "partition/stage_cost.h"
#include "worker/dit_stage.h"

namespace baton::bench {
namespace {

using partition::StageContent;
using partition::StageKind;

// A stage loaded on the bench device, ready to run one microbatch.
struct LoadedStage {
  std::vector<std::shared_ptr<void>> parts;  // the models, released together
  std::function<void()> run;
};

at::Tensor random(at::IntArrayRef shape, const at::TensorOptions& options, at::Generator& gen) {
  return at::randn(shape, gen).to(options);
}

// DiT blocks [begin, end) with the prologue (embed) and/or final layer (head),
// through the worker's DitStage: the first stage encodes the request's
// captions once and embeds each step; later stages receive the joint sequence.
LoadedStage load_dit(const BenchModel& model, const StageContent& c, const partition::Workload& w,
                     const at::TensorOptions& options, uint64_t seed) {
  const auto& cfg = model.configs().dit;
  const auto weights = model.weights(io::Component::Transformer);
  worker::DitStageRange range{c.dit_begin, c.dit_end, c.prologue, c.final};
  auto stage = std::make_shared<worker::DitStage>(cfg, *weights, range, options);
  auto gen = std::make_shared<at::Generator>(at::make_generator<at::CPUGeneratorImpl>(seed));
  const int64_t L = w.caption_tokens, b = w.microbatch_samples;
  const int64_t lh = w.height / model.configs().vae.upscale(), lw = w.width / model.configs().vae.upscale();
  LoadedStage out;
  out.parts = {stage, gen};
  out.run = [stage, gen, cfg, options, L, b, lh, lw] {
    const std::vector<int64_t> branches = b == 2 ? std::vector<int64_t>{0, 1} : std::vector<int64_t>{0};
    models::JointSequence in;
    if (stage->range().embed) {
      // Both prompts at the planned caption length (the planner's worst case).
      const auto f32 = at::TensorOptions().dtype(at::kFloat);
      const worker::CaptionInput cond{random({L, cfg.cap_feat_dim}, f32, *gen), random({cfg.clip_text_dim}, f32, *gen)};
      const worker::CaptionInput uncond{random({L, cfg.cap_feat_dim}, f32, *gen), random({cfg.clip_text_dim}, f32, *gen)};
      stage->start_request(1, cond, uncond);
      const auto latent = random({1, cfg.in_channels, lh, lw}, f32.device(options.device()), *gen);
      in = stage->embed_step(1, latent, 0.5, branches);
    } else {
      // What the previous stage sends: the joint sequence of the microbatch.
      in.caption_lengths.assign(static_cast<size_t>(b), L);
      in.grid_h = lh / cfg.patch_size;
      in.grid_w = lw / cfg.patch_size;
      in.tokens = random({b * (L + in.grid_h * in.grid_w), cfg.dim}, options, *gen);
      in.conditioning = random({b, cfg.adaln_dim()}, options, *gen);
    }
    auto seq = stage->run_blocks(in);
    if (stage->range().head) stage->finish_step(seq);
    if (stage->range().embed) stage->end_request(1);
  };
  return out;
}

// Gemma's embedding and/or a layer range, and/or the Jina tower, encoding the
// request's two prompts at the planned caption length (Gemma's output is kept
// while Jina runs, as the text stage keeps it for the DiT).
LoadedStage load_text(const BenchModel& model, const StageContent& c, const partition::Workload& w,
                      const at::TensorOptions& options, uint64_t seed) {
  const auto& configs = model.configs();
  LoadedStage out;
  std::shared_ptr<models::Gemma3TextModel> gemma;
  std::shared_ptr<models::JinaTextModel> jina;
  const bool layers = c.gemma_end > c.gemma_begin;
  if (c.gemma_embed || layers) {
    const auto weights = model.weights(io::Component::TextEncoder);
    // A range from layer 0 holds the embedding too (models::Gemma3TextModel).
    const models::Gemma3LayerRange range{c.gemma_embed ? 0 : c.gemma_begin, layers ? c.gemma_end : 0};
    gemma = std::make_shared<models::Gemma3TextModel>(configs.gemma, *weights, options, range);
    out.parts.push_back(gemma);
  }
  if (c.jina) {
    const auto weights = model.weights(io::Component::Clip);
    jina = std::make_shared<models::JinaTextModel>(configs.jina, *weights, options);
    out.parts.push_back(jina);
  }
  auto gen = std::make_shared<at::Generator>(at::make_generator<at::CPUGeneratorImpl>(seed));
  out.parts.push_back(gen);
  const int64_t p = partition::Workload::kPromptsPerRequest, L = w.caption_tokens;
  const auto device = options.device();
  out.run = [gemma, jina, gen, p, L, device, options, configs, layers] {
    const auto long_opts = at::TensorOptions().dtype(at::kLong);
    at::Tensor features;
    if (gemma) {
      const auto mask = at::ones({p, L}, long_opts.device(device));
      if (gemma->has_embedding()) {
        const auto ids = at::randint(4, configs.gemma.vocab_size, {p, L}, *gen, long_opts).to(device);
        features = layers ? gemma->forward(ids, mask) : gemma->embed(ids);
      } else {
        features = gemma->run_layers(random({p, L, configs.gemma.hidden_size}, options, *gen), mask);
      }
    }
    if (jina) jina->pooled(at::randint(3, configs.jina.vocab_size, {p, L}, *gen, long_opts).to(device));
  };
  return out;
}

LoadedStage load_vae(const BenchModel& model, const StageContent& c, const partition::Workload& w,
                     const at::TensorOptions& options, uint64_t seed) {
  const auto& cfg = model.configs().vae;
  const auto weights = model.weights(io::Component::Vae);
  auto decoder = std::make_shared<models::VaeDecoder>(cfg, *weights, options);
  auto gen = std::make_shared<at::Generator>(at::make_generator<at::CPUGeneratorImpl>(seed));
  const int64_t lh = w.height / cfg.upscale(), lw = w.width / cfg.upscale();
  const auto tiling = c.vae_tiling;
  LoadedStage out;
  out.parts = {decoder, gen};
  out.run = [decoder, gen, cfg, lh, lw, tiling, options] {
    const auto latent = random({1, cfg.latent_channels, lh, lw}, options.dtype(at::kFloat), *gen);
    decoder->decode_latent_tiled(latent, tiling);
  };
  return out;
}

const char* kind_name(StageKind k) { return k == StageKind::kText ? "text" : k == StageKind::kDit ? "dit" : "vae"; }

}  // namespace

BenchReport run_memory_bench(const BenchSettings& settings, const MemoryBenchOptions& o) {
  BenchSettings s = settings;
  partition::pb::Plan plan;
  if (!o.plan_file.empty()) {
    plan = partition::load_plan(o.plan_file);
    if (s.model_dir.empty() && !plan.model().folder().empty()) s.model_dir = plan.model().folder();
    if (s.model_dir.empty() && !plan.model().preset().empty()) s.preset = plan.model().preset();
    s.width = plan.width();
    s.height = plan.height();
  }
  validate_settings(s);
  for (const auto& k : o.stages)
    if (k != "text" && k != "dit" && k != "vae")
      throw UsageError("--stages " + k + " is not a stage kind", "use text, dit and/or vae");
  const auto device = bench_device(s);
  const auto dtype = bench_dtype(s, device);
  const BenchModel model(s);
  const auto format = partition::parse_weight_format(dtype_name(dtype));
  auto bench_dev = partition::parse_device_spec(device.str() + "=1TiB", partition::no_device_probe(), false);

  partition::Workload w;
  if (o.plan_file.empty()) {
    w.width = s.width;
    w.height = s.height;
    w.caption_tokens = o.caption_tokens;
    w.microbatch_samples = o.microbatch;
    w.attention = partition::parse_attention_kind(o.attention);
    partition::PlanOptions options;
    options.weights = format;
    options.cpu_weights = format;
    plan = partition::make_plan(model.configs(), w, bench_dev, partition::DeviceSpeeds(), options);
  } else {
    w = partition::workload_of(plan);
    partition::validate_workload(w, model.configs());
  }
  const auto gpu_format = partition::parse_weight_format(plan.weight_format().empty() ? "bf16" : plan.weight_format());
  const auto cpu_format =
      partition::parse_weight_format(plan.cpu_weight_format().empty() ? "fp32" : plan.cpu_weight_format());
  const auto profile =
      partition::make_profile(bench_dev.front(), gpu_format, cpu_format, w.attention, partition::DeviceSpeeds());
  // The bench runs one request at a time: the estimate it is compared with
  // keeps per-request state for one (the plan sizes for Workload's default).
  partition::Workload measured = w;
  measured.requests_in_flight = 1;
  const partition::CostModel cost(model.configs(), measured);

  BenchReport report("memory_per_stage");
  report.info() = {{"device", device.str()},
                   {"libtorch", compat::torch_version()},
                   {"model", model.describe()},
                   {"plan", o.plan_file.empty() ? "planned for " + device.str() + " alone" : o.plan_file},
                   {"width", w.width},
                   {"height", w.height},
                   {"caption_tokens", w.caption_tokens},
                   {"microbatch_samples", w.microbatch_samples},
                   {"attention", partition::attention_kind_name(profile.attention)},
                   {"iters", s.iters},
                   {"warmup", s.warmup}};
  report.add_line("per-stage peak memory against the planner's estimate on " + device.str() + ": " + model.describe() +
                  ", " + std::to_string(w.width) + "x" + std::to_string(w.height) + ", " +
                  std::to_string(w.caption_tokens) + " caption tokens, " + std::to_string(w.microbatch_samples) +
                  " sample(s) per microbatch, " + partition::attention_kind_name(profile.attention) + " attention");
  report.add_line("estimate = weights + activations" +
                  std::string(device.is_cuda() ? " + GPU library workspace (cuBLAS lives in the caching allocator)" : "") +
                  " for one request in flight; measured = peak bytes of tensors over " +
                  std::to_string(s.warmup + s.iters) + " microbatches");
  report.add_column("stage", "stage", BenchReport::Format::kText);
  report.add_column("dtype", "dtype", BenchReport::Format::kText);
  report.add_column("weights_estimate_bytes", "weights_est", BenchReport::Format::kGiB);
  report.add_column("weights_measured_bytes", "weights_meas", BenchReport::Format::kGiB);
  report.add_column("activations_estimate_bytes", "activ_est", BenchReport::Format::kGiB);
  report.add_column("activations_measured_bytes", "activ_meas", BenchReport::Format::kGiB);
  report.add_column("estimate_bytes", "estimate_GiB", BenchReport::Format::kGiB);
  report.add_column("peak_bytes", "measured_GiB", BenchReport::Format::kGiB);
  report.add_column("ratio", "meas/est", BenchReport::Format::kRatio);
  report.add_column("median_ms", "ms", BenchReport::Format::kMs);

  for (int i = 0; i < plan.stages_size(); ++i) {
    const auto& stage = plan.stages(i);
    const auto content = partition::content_of(stage);
    if (!o.stages.empty() && std::find(o.stages.begin(), o.stages.end(), kind_name(content.kind)) == o.stages.end())
      continue;
    const auto est = cost.stage_cost(content, profile);
    const auto detail = cost.activation_detail(content, profile);
    nlohmann::json row = {{"stage", partition::describe_stage(stage)},
                          {"planned_on", stage.device()},
                          {"dtype", partition::compute_dtype_name(est.format)},
                          {"weight_format", partition::weight_format_name(est.format)},
                          {"weights_estimate_bytes", est.weights},
                          {"activations_estimate_bytes", est.activations}};
    const int64_t workspace = device.is_cuda() ? partition::kGpuLibraryWorkspace : 0;
    row["estimate_bytes"] = est.weights + est.activations + workspace;
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& p : detail.parts) parts.push_back({{"what", p.first}, {"bytes", p.second}});
    row["activation_detail"] = parts;
    if (partition::is_8bit(est.format)) {
      row["error"] = "8-bit weights are not loadable yet (issue 11)";
      report.add_row(row);
      continue;
    }
    const auto options = at::TensorOptions().device(device).dtype(parse_dtype(partition::compute_dtype_name(est.format)));
    {
      PeakMemoryMeter meter(device);
      meter.release_cache();
      const int64_t before = meter.current();
      LoadedStage loaded = content.kind == StageKind::kDit    ? load_dit(model, content, w, options, s.seed + i)
                           : content.kind == StageKind::kText ? load_text(model, content, w, options, s.seed + i)
                                                              : load_vae(model, content, w, options, s.seed + i);
      synchronize_device(device);
      const int64_t loaded_bytes = meter.current() - before;
      const auto timing = time_calls(device, s.warmup, s.iters, loaded.run, [&] { meter.reset_peak(); });
      const int64_t peak = meter.peak() - before;
      row["weights_measured_bytes"] = loaded_bytes;
      row["activations_measured_bytes"] = peak - loaded_bytes;
      row["peak_bytes"] = peak;
      row["peak_reserved_bytes"] = meter.peak_reserved();
      row["ratio"] = static_cast<double>(peak) / static_cast<double>(row["estimate_bytes"].get<int64_t>());
      row["median_ms"] = timing.median_ms();
      loaded = LoadedStage{};
      meter.release_cache();
    }
    report.add_row(row);
  }
  if (report.rows().empty()) report.add_note("the plan has no stage of the kinds asked for");
  report.add_note("issue 8's bar: measured within 10 % of the estimate (meas/est between 0.90 and 1.10)");
  return report;
}

}  // namespace baton::bench
