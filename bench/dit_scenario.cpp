#include "bench/dit_scenario.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "bench/bench_timer.h"
#include "bench/peak_memory_meter.h"
#include "core/byte_size.h"
#include "core/captured_calls.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor_metrics.h"
#include "core/torch_compat.h"
#include "models/nextdit/next_dit.h"
#include "partition/flop_model.h"
#include "sampling/classifier_free_guidance.h"

#if BATON_TORCH_AT_LEAST(2, 5)
#include <ATen/Context.h>
#endif

namespace baton::bench {
namespace {

using models::NextDitConfig;

// "auto" enables every SDPA kernel family (libtorch picks); a name enables only that one.
void select_sdpa(const std::string& which) {
#if BATON_TORCH_AT_LEAST(2, 5)
  const bool all = which == "auto";
  auto& ctx = at::globalContext();
  ctx.setSDPUseFlash(all || which == "flash");
  ctx.setSDPUseMemEfficient(all || which == "efficient");
  ctx.setSDPUseCuDNN(all || which == "cudnn");
  ctx.setSDPUseMath(all || which == "math");
#else
  if (which != "auto") throw UsageError("--sdpa " + which + " needs libtorch 2.5 or newer");
#endif
}

// One attention call of the main blocks at the first size (the long-caption
// sample) with each SDPA kernel family, K/V given per kv head (native GQA) or
// repeated to every query head.
void attention_sweep(const BenchSettings& s, const DitBenchOptions& o, const at::Device& device, at::ScalarType dtype,
                     const NextDitConfig& c, const ImageSize& size, BenchReport& report) {
  report.add_column("sdpa", "sdpa", BenchReport::Format::kText);
  report.add_column("kv", "kv", BenchReport::Format::kText);
  report.add_column("median_ms", "ms", BenchReport::Format::kMs);
  report.add_column("tflops_per_s", "TFLOP/s", BenchReport::Format::kFixed1);
#if BATON_TORCH_AT_LEAST(2, 5)
  const int64_t length = o.captions[0] + (size.height / 16) * (size.width / 16), hd = c.head_dim();
  const int64_t groups = c.n_heads / c.n_kv_heads;
  report.add_line("one main-block attention call at " + size.str() + ": L = " + std::to_string(length) + ", " +
                  std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) + " heads, " + dtype_name(dtype) +
                  " on " + device.str());
  const auto opts = at::TensorOptions().device(device).dtype(dtype);
  // [1, heads, L, hd] views of [1, L, heads, hd] memory, as the model passes them.
  const auto q = at::randn({1, length, c.n_heads, hd}, opts).transpose(1, 2);
  const auto k = at::randn({1, length, c.n_kv_heads, hd}, opts).transpose(1, 2);
  const auto v = at::randn({1, length, c.n_kv_heads, hd}, opts).transpose(1, 2);
  const auto k_rep = k.transpose(1, 2).repeat_interleave(groups, 2).transpose(1, 2);
  const auto v_rep = v.transpose(1, 2).repeat_interleave(groups, 2).transpose(1, 2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const double flops = 4.0 * length * length * c.n_heads * hd;
  for (const auto& backend : o.sdpa) {
    select_sdpa(backend);
    for (const bool native : {true, false}) {
      const auto& kk = native ? k : k_rep;
      const auto& vv = native ? v : v_rep;
      nlohmann::json row = {{"sdpa", backend}, {"kv", native ? "gqa" : "repeated"}};
      try {
        const auto t = time_calls(device, std::max(1, s.warmup), s.iters, [&] {
          at::scaled_dot_product_attention(q, kk, vv, {}, 0.0, false, scale, native);
        });
        row["median_ms"] = t.median_ms();
        row["tflops_per_s"] = flops / 1e12 / (t.median_ms() / 1e3);
      } catch (const c10::Error&) {
        row["error"] = "no kernel of this family takes these inputs";
      }
      report.add_row(row);
    }
  }
  select_sdpa("auto");
#else
  (void)s, (void)o, (void)device, (void)dtype, (void)c, (void)size, (void)report;
  throw UsageError("--attention needs libtorch 2.5 or newer (scaled_dot_product_attention with enable_gqa)");
#endif
}

// Every (graphs mode, size) row of one weight format and SDPA family.
std::vector<std::pair<std::string, ImageSize>> graph_size_pairs(const std::vector<std::string>& modes,
                                                                const std::vector<ImageSize>& sizes) {
  std::vector<std::pair<std::string, ImageSize>> out;
  for (const auto& mode : modes)
    for (const auto& size : sizes) out.emplace_back(mode, size);
  return out;
}

// The guided call at one size: the caption path timed apart (once per request),
// then warm-up, then the timed calls and the peak memory of those.
nlohmann::json measure_call(const BenchSettings& s, const DitBenchOptions& o, const models::NextDit& dit,
                            const NextDitConfig& c, const at::Device& device, const ImageSize& size,
                            at::Generator& gen, const GuidedCallInputs& in, PeakMemoryMeter& meter) {
  const int64_t image_tokens = (size.height / 8 / c.patch_size) * (size.width / 8 / c.patch_size);
  const auto latent = guided_call_latent(c, size, device, gen);
  models::CaptionTokens captions;
  const auto caption = time_calls(device, std::max(1, s.warmup), s.iters,
                                  [&] { captions = dit.embed().encode_captions(in.cap_feats, in.cap_mask); });
  auto call = [&] { run_guided_call(dit, latent, in, captions); };
  const auto timing = time_calls(device, s.warmup, s.iters, call, [&] { meter.reset_peak(); });
  double flops = 0;  // every block of both samples (embedders and the final layer are < 0.1 %)
  for (const auto lc : o.captions)
    flops += c.n_layers * partition::dit_block_flops(c, lc + image_tokens, true) +
             c.n_refiner_layers * partition::dit_block_flops(c, image_tokens, true);
  return {{"size", size.str()},
          {"image_tokens", image_tokens},
          {"tokens", o.captions[0] + image_tokens},
          {"median_ms", timing.median_ms()},
          {"min_ms", timing.min_ms()},
          {"max_ms", timing.max_ms()},
          {"tflop", flops / 1e12},
          {"tflops_per_s", flops / 1e12 / (timing.median_ms() / 1e3)},
          {"peak_allocated_bytes", meter.peak()},
          {"peak_reserved_bytes", meter.peak_reserved()},
          {"caption_median_ms", caption.median_ms()}};
}

}  // namespace

void require_caption_pair(const DitBenchOptions& o) {
  require(o.captions.size() == 2 && o.captions[0] >= 1 && o.captions[1] >= 1,
          "--captions needs two lengths (cond, uncond), e.g. 128,8");
}

const std::vector<std::string>& sdpa_families() {
  static const std::vector<std::string> names{"auto", "flash", "efficient", "cudnn", "math"};
  return names;
}

void require_cuda_graph_modes(const DitBenchOptions& o, const at::Device& device) {
  for (const auto& g : o.cuda_graphs)
    if (g != "on" && g != "off") throw UsageError("--cuda-graphs " + g + " is not on or off", "e.g. --cuda-graphs off,on");
  if (std::find(o.cuda_graphs.begin(), o.cuda_graphs.end(), "on") != o.cuda_graphs.end() &&
      !CapturedCalls::supported(device))
    throw UsageError("--cuda-graphs on needs a CUDA device (and a build with CUDA), not " + device.str());
}

GuidedCallInputs make_guided_call_inputs(const NextDitConfig& c, const std::vector<int64_t>& captions,
                                         const at::TensorOptions& options, at::Generator& gen) {
  const int64_t lmax = std::max(captions[0], captions[1]);
  auto mask = at::zeros({2, lmax}, at::kLong);
  mask[0].narrow(0, 0, captions[0]).fill_(1);
  mask[1].narrow(0, 0, captions[1]).fill_(1);
  return {at::randn({2, lmax, c.cap_feat_dim}, gen).to(options), mask,
          at::randn({2, c.clip_text_dim}, gen).to(options),
          at::full({2}, 0.5, at::TensorOptions().device(options.device()).dtype(at::kFloat))};
}

at::Tensor guided_call_latent(const NextDitConfig& c, const ImageSize& size, const at::Device& device,
                              at::Generator& gen) {
  return at::randn({1, c.in_channels, size.height / 8, size.width / 8}, gen).to(device).expand({2, -1, -1, -1});
}

at::Tensor run_guided_call(const models::NextDit& dit, const at::Tensor& latent, const GuidedCallInputs& in,
                           const models::CaptionTokens& captions) {
  const sampling::GuidanceParams guidance{4.5, 1.0, 0.0};
  return sampling::guided_velocity(0.5, guidance, [&](bool with_uncond) {
    require(with_uncond, "the benchmark guides every call");
    return dit.forward(latent, in.t_pair, in.clip, captions);
  });
}

BenchReport run_dit_bench(const BenchSettings& settings, const DitBenchOptions& o) {
  BenchSettings s = settings;
  const auto eight_bit = eight_bit_formats(o.weights, s);
  validate_settings(s);
  require_caption_pair(o);
  for (const auto& f : o.sdpa)
    if (std::find(sdpa_families().begin(), sdpa_families().end(), f) == sdpa_families().end())
      throw UsageError("--sdpa " + f + " is not a kernel family", "use auto, flash, efficient, cudnn or math");
  const auto device = bench_device(s);
  const auto dtype = bench_dtype(s, device);
  require_cuda_graph_modes(o, device);
  const BenchModel model(s);
  NextDitConfig config = model.configs().dit;
  if (o.layers >= 0) config.n_layers = o.layers;
  config.validate();
  std::vector<ImageSize> sizes = o.sizes;
  if (sizes.empty()) sizes.push_back({s.width, s.height});

  BenchReport report(o.attention_only ? "nextdit_attention" : "nextdit_guided_call");
  report.info() = {{"device", device.str()},
                   {"dtype", dtype_name(dtype)},
                   {"libtorch", compat::torch_version()},
                   {"model", model.describe()},
                   {"iters", s.iters},
                   {"warmup", s.warmup}};
  if (o.attention_only) {
    attention_sweep(s, o, device, dtype, config, sizes.front(), report);
    return report;
  }

  const auto options = at::TensorOptions().device(device).dtype(dtype);
  compat::set_fp8_matmul_enabled(o.fp8_matmul);
  PeakMemoryMeter meter(device);
  const auto weights = model.weights(io::Component::Transformer);

  auto gen = at::make_generator<at::CPUGeneratorImpl>(s.seed);
  const auto inputs = make_guided_call_inputs(config, o.captions, options, gen);
  // The 8-bit formats' error probe: one call at the first size on the same latent for every format.
  const auto probe_latent =
      at::randn({1, config.in_channels, sizes.front().height / 8, sizes.front().width / 8}, gen).to(options).expand(
          {2, -1, -1, -1});

  report.info()["config"] = config.to_json();
  report.info()["captions"] = o.captions;
  report.info()["fp8_matmul"] = compat::fp8_matmul_enabled();
  report.add_line("Next-DiT guided call (CFG pair): dim " + std::to_string(config.dim) + ", " +
                  std::to_string(config.n_layers) + " blocks, " + dtype_name(dtype) + " on " + device.str() +
                  ", libtorch " + compat::torch_version());
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s; captions %lld (cond) + %lld (uncond) tokens; median of %d calls after %d warm-up",
                model.describe().c_str(), static_cast<long long>(o.captions[0]), static_cast<long long>(o.captions[1]),
                s.iters, s.warmup);
  report.add_line(buf);
  report.add_column("weights", "weights", BenchReport::Format::kText);
  report.add_column("sdpa", "sdpa", BenchReport::Format::kText);
  report.add_column("cuda_graphs", "graphs", BenchReport::Format::kText);
  report.add_column("size", "size", BenchReport::Format::kText);
  report.add_column("tokens", "tokens", BenchReport::Format::kInteger);
  report.add_column("median_ms", "median_ms", BenchReport::Format::kMs);
  report.add_column("min_ms", "min_ms", BenchReport::Format::kMs);
  report.add_column("max_ms", "max_ms", BenchReport::Format::kMs);
  report.add_column("tflop", "TFLOP", BenchReport::Format::kFixed2);
  report.add_column("tflops_per_s", "TFLOP/s", BenchReport::Format::kFixed1);
  report.add_column("weight_bytes", "weights_GiB", BenchReport::Format::kGiB);
  report.add_column("peak_allocated_bytes", "peak_GiB", BenchReport::Format::kGiB);
  report.add_column("caption_median_ms", "caption_ms", BenchReport::Format::kMs);
  if (!eight_bit.empty()) report.add_column("rel_l2_vs_dense", "rel_l2_vs_dense", BenchReport::Format::kScientific);

  // The dense model first (the reference), then each 8-bit format, one loaded at a time.
  std::vector<WeightFormat> formats{WeightFormat::kFp32};  // dense: in the compute dtype
  formats.insert(formats.end(), eight_bit.begin(), eight_bit.end());
  auto summaries = nlohmann::json::array();
  at::Tensor reference;
  for (const auto format : formats) {
    const std::string name = is_8bit(format) ? weight_format_name(format) : dtype_name(dtype);
    nlohmann::json summary = {{"weights", name}};
    {
      meter.reset_peak();
      const auto load_start = std::chrono::steady_clock::now();
      models::NextDit dit(config, *weights, options, format);
      synchronize_device(device);
      summary["load_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
      summary["weight_bytes"] = dit.weight_bytes();
      summary["peak_load_bytes"] = meter.peak();
      const auto probe =
          dit.forward(probe_latent, inputs.t_pair, inputs.clip, dit.embed().encode_captions(inputs.cap_feats, inputs.cap_mask))
              .to(at::kCPU, at::kFloat);
      if (!reference.defined()) reference = probe;
      else summary["rel_l2_vs_dense"] = relative_l2_error(probe, reference);
      for (const auto& backend : o.sdpa) {
        select_sdpa(backend);
        for (const auto& [graphs, size] : graph_size_pairs(o.cuda_graphs, sizes)) {
          // A fresh cache per row: its first call (a warm-up) captures.
          dit.capture_cuda_graphs(graphs == "on" ? 4 : 0);
          nlohmann::json row;
          try {
            row = measure_call(s, o, dit, config, device, size, gen, inputs, meter);
          } catch (const c10::Error& e) {
            // A kernel family forced with --sdpa may not take these inputs.
            const std::string what = e.what_without_backtrace();
            row = {{"size", size.str()}, {"error", what.substr(0, what.find('\n'))}};
          }
          row["sdpa"] = backend;
          row["cuda_graphs"] = graphs;
          if (const auto* cache = dit.blocks().cuda_graphs())
            row["graph_replays"] = cache->replays(), row["graph_captures"] = cache->captures();
          row["weights"] = name;
          row["weight_bytes"] = summary["weight_bytes"];
          if (summary.contains("rel_l2_vs_dense")) row["rel_l2_vs_dense"] = summary["rel_l2_vs_dense"];
          report.add_row(row);
        }
      }
      select_sdpa("auto");
      dit.capture_cuda_graphs(0);
    }
    meter.release_cache();
    std::snprintf(buf, sizeof buf, "weights %s: %s, loaded in %.1f s (peak while loading %s)", name.c_str(),
                  format_byte_size(summary["weight_bytes"].get<int64_t>()).c_str(), summary["load_seconds"].get<double>(),
                  format_byte_size(summary["peak_load_bytes"].get<int64_t>()).c_str());
    std::string line = buf;
    if (summary.contains("rel_l2_vs_dense")) {
      std::snprintf(buf, sizeof buf, "; velocity vs %s weights: relative L2 %.2e", dtype_name(dtype).c_str(),
                    summary["rel_l2_vs_dense"].get<double>());
      line += buf;
    }
    report.add_line(line);
    summaries.push_back(summary);
  }
  report.info()["formats"] = summaries;
  report.info()["weight_bytes"] = summaries.front()["weight_bytes"];
  report.info()["load_seconds"] = summaries.front()["load_seconds"];
  report.add_note("PyTorch eager on an H200 (baselines.md): 193.8 ms at 1024x1024, 69.2 ms at 512x512; "
                  "torch.compile 136.2 ms at 1024x1024; peak 7.28 GiB at 1024x1024");
  return report;
}

}  // namespace baton::bench
