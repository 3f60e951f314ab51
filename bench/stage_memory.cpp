#include "bench/stage_memory.h"

#include <ATen/CPUGeneratorImpl.h>

#include <functional>
#include <memory>

#include "bench/bench_timer.h"
#include "bench/peak_memory_meter.h"
#include "core/device_memory.h"
#include "models/gemma3/gemma3_text_model.h"
#include "models/jina/jina_text_model.h"
#include "models/vae/vae_decoder.h"
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

}  // namespace

StageMemory measure_stage_memory(const BenchModel& model, const StageContent& content, const partition::Workload& w,
                                 const at::Device& device, at::ScalarType dtype, int warmup, int iters, uint64_t seed) {
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  PeakMemoryMeter meter(device);
  meter.release_cache();
  const int64_t before = meter.current();
  LoadedStage loaded = content.kind == StageKind::kDit    ? load_dit(model, content, w, options, seed)
                       : content.kind == StageKind::kText ? load_text(model, content, w, options, seed)
                                                          : load_vae(model, content, w, options, seed);
  synchronize_device(device);
  StageMemory m;
  m.weights = meter.current() - before;
  const auto timing = time_calls(device, warmup, iters, loaded.run, [&] { meter.reset_peak(); });
  m.peak = meter.peak() - before;
  m.peak_reserved = meter.peak_reserved();
  m.median_ms = timing.median_ms();
  loaded = LoadedStage{};
  meter.release_cache();
  return m;
}

}  // namespace baton::bench
