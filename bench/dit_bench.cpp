// baton_dit_bench: time one guided Next-DiT call (the CFG pair of a long and a
// short caption, both branches, plus the guidance) at the released size with
// random weights (no checkpoint), and report the median, the FLOP rate and the
// peak device memory next to ../shared/baselines.md (PyTorch eager on an H200:
// 193.8 ms at 1024x1024, 69.2 ms at 512x512).
//
//   baton_dit_bench --device cuda:0 --dtype bf16 --size 1024 --size 512
//   baton_dit_bench --device cuda:0 --dtype bf16 --size 1024 --weights bf16,int8,fp8
//   baton_dit_bench --tiny --device cpu --iters 1      (smoke test of this program)
//
// --weights also reports, per 8-bit format, the weight bytes, the device memory
// after loading and the relative L2 error of the velocity against the dense
// model (docs/quantization.md).
//
// The caption path (cap_embedder + context refiner) runs once per request, so
// it is timed on its own ("caption ms") and not inside the step.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/byte_size.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/random_tensor_source.h"
#include "core/tensor_metrics.h"
#include "core/weight_format.h"
#include "core/torch_compat.h"
#include "models/nextdit/next_dit.h"
#include "sampling/classifier_free_guidance.h"

#if BATON_TORCH_AT_LEAST(2, 5)
#include <ATen/Context.h>
#endif

namespace {

using baton::models::NextDitConfig;

struct Options {
  std::string device = "auto";
  std::string dtype = "auto";
  std::vector<int64_t> sizes;
  std::vector<int64_t> captions{128, 8};
  int iters = 10;
  int warmup = 3;
  bool tiny = false;
  int64_t layers = -1;
  bool json = false;
  bool attention = false;
  std::vector<std::string> sdpa{"auto"};
  std::vector<std::string> weights;
  bool fp8_matmul = true;
  uint64_t seed = 1234;
};

NextDitConfig tiny_config() {
  NextDitConfig c;
  c.dim = 64;
  c.n_layers = 2;
  c.n_refiner_layers = 1;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.multiple_of = 32;
  c.cap_feat_dim = 32;
  c.axes_dims = {8, 4, 4};
  c.axes_lens = {256, 64, 64};
  c.clip_text_dim = 32;
  return c;
}

// Multiply-adds x 2 of one call: every linear layer and both attention matmuls
// of the noise refiner and the main blocks for each sample (embedders, adaLN and
// the final layer are < 0.1 %).
double step_flops(const NextDitConfig& c, const std::vector<int64_t>& caption_lengths, int64_t image_tokens) {
  const double d = static_cast<double>(c.dim);
  const double per_token = 2.0 * d * ((c.n_heads + 2 * c.n_kv_heads) * c.head_dim() + d + 3.0 * c.ffn_hidden());
  auto block = [&](double rows) { return rows * per_token + 4.0 * rows * rows * c.n_heads * c.head_dim(); };
  double flops = 0;
  for (auto lc : caption_lengths)
    flops += c.n_layers * block(static_cast<double>(lc + image_tokens)) + c.n_refiner_layers * block(image_tokens);
  return flops;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

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
  if (which != "auto") throw baton::UsageError("--sdpa " + which + " needs libtorch 2.5 or newer");
#endif
}

template <typename F>
double time_ms(const at::Device& device, F&& f) {
  baton::synchronize_device(device);
  const auto t0 = std::chrono::steady_clock::now();
  f();
  baton::synchronize_device(device);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// One attention call of the main blocks at 1024x1024 (the 128-token caption
// sample) with each SDPA kernel family, K/V given per kv head (native GQA) or
// repeated to every query head: which is fastest decides compat::attention.
nlohmann::json attention_sweep(const Options& o, const at::Device& device, at::ScalarType dtype,
                               const NextDitConfig& c) {
  nlohmann::json rows = nlohmann::json::array();
#if BATON_TORCH_AT_LEAST(2, 5)
  const int64_t length = o.captions[0] + (1024 / 16) * (1024 / 16), hd = c.head_dim();
  const int64_t groups = c.n_heads / c.n_kv_heads;
  const auto opts = at::TensorOptions().device(device).dtype(dtype);
  // [1, heads, L, hd] views of [1, L, heads, hd] memory, as the model passes them.
  const auto q = at::randn({1, length, c.n_heads, hd}, opts).transpose(1, 2);
  const auto k = at::randn({1, length, c.n_kv_heads, hd}, opts).transpose(1, 2);
  const auto v = at::randn({1, length, c.n_kv_heads, hd}, opts).transpose(1, 2);
  const auto k_rep = k.transpose(1, 2).repeat_interleave(groups, 2).transpose(1, 2);
  const auto v_rep = v.transpose(1, 2).repeat_interleave(groups, 2).transpose(1, 2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const double flops = 4.0 * length * length * c.n_heads * hd;
  if (!o.json) std::printf("%-10s %-9s %10s %9s   (one call, L = %lld, %lld/%lld heads)\n", "sdpa", "kv", "ms",
                           "TFLOP/s", static_cast<long long>(length), static_cast<long long>(c.n_heads),
                           static_cast<long long>(c.n_kv_heads));
  for (const auto& backend : o.sdpa) {
    select_sdpa(backend);
    for (const bool native : {true, false}) {
      const auto& kk = native ? k : k_rep;
      const auto& vv = native ? v : v_rep;
      auto call = [&] { return at::scaled_dot_product_attention(q, kk, vv, {}, 0.0, false, scale, native); };
      nlohmann::json row = {{"sdpa", backend}, {"kv", native ? "gqa" : "repeated"}};
      try {
        for (int i = 0; i < std::max(1, o.warmup); ++i) call();
        std::vector<double> ms;
        for (int i = 0; i < o.iters; ++i) ms.push_back(time_ms(device, call));
        row["median_ms"] = median(ms);
        row["tflops_per_s"] = flops / 1e12 / (median(ms) / 1e3);
      } catch (const c10::Error&) {
        row["median_ms"] = nullptr;  // no kernel of this family takes these inputs
      }
      if (!o.json)
        std::printf("%-10s %-9s %10s %9s\n", backend.c_str(), native ? "gqa" : "repeated",
                    row["median_ms"].is_null() ? "n/a" : fixed(row["median_ms"].get<double>(), 3).c_str(),
                    row["median_ms"].is_null() ? "" : fixed(row["tflops_per_s"].get<double>(), 1).c_str());
      rows.push_back(row);
    }
  }
  select_sdpa("auto");
#else
  (void)o, (void)device, (void)dtype, (void)c;
  throw baton::UsageError("--attention needs libtorch 2.5 or newer (scaled_dot_product_attention with enable_gqa)");
#endif
  return rows;
}

struct StepInputs {
  at::Tensor cap_feats, cap_mask, clip, t_pair;
};

// The guided call at one image size: caption path timed apart (once per
// request), then warm-up, then the timed calls with the peak memory of those.
nlohmann::json measure_step(const Options& o, const baton::models::NextDit& dit, const NextDitConfig& config,
                            const at::Device& device, int64_t size, at::Generator& gen, const StepInputs& in) {
  baton::require(size % (8 * config.patch_size) == 0 && size > 0,
                 "--size " + std::to_string(size) + " is not a positive multiple of " +
                     std::to_string(8 * config.patch_size));
  const int64_t hl = size / 8;
  const int64_t image_tokens = (hl / config.patch_size) * (hl / config.patch_size);
  const auto latent = at::randn({1, config.in_channels, hl, hl}, gen).to(device).expand({2, -1, -1, -1});
  const double t = 0.5;
  const baton::sampling::GuidanceParams guidance{4.5, 1.0, 0.0};

  baton::models::CaptionTokens captions;
  std::vector<double> caption_ms;
  for (int i = 0; i < std::max(1, o.warmup) + o.iters; ++i) {
    const double ms = time_ms(device, [&] { captions = dit.embed().encode_captions(in.cap_feats, in.cap_mask); });
    if (i >= std::max(1, o.warmup)) caption_ms.push_back(ms);
  }
  auto step = [&] {
    return baton::sampling::guided_velocity(t, guidance, [&](bool with_uncond) {
      baton::require(with_uncond, "the benchmark guides every call");
      return dit.forward(latent, in.t_pair, in.clip, captions);
    });
  };
  for (int i = 0; i < o.warmup; ++i) step();
  baton::synchronize_device(device);
  baton::reset_peak_memory(device);
  std::vector<double> ms;
  for (int i = 0; i < o.iters; ++i) ms.push_back(time_ms(device, step));
  const double flops = step_flops(config, {o.captions[0], o.captions[1]}, image_tokens);
  const double med = median(ms);
  return {{"size", size},
          {"image_tokens", image_tokens},
          {"tokens_per_sample", {o.captions[0] + image_tokens, o.captions[1] + image_tokens}},
          {"median_ms", med},
          {"min_ms", *std::min_element(ms.begin(), ms.end())},
          {"max_ms", *std::max_element(ms.begin(), ms.end())},
          {"tflop", flops / 1e12},
          {"tflops_per_s", flops / 1e12 / (med / 1e3)},
          {"peak_allocated_bytes", baton::peak_allocated_bytes(device)},
          {"peak_reserved_bytes", baton::peak_reserved_bytes(device)},
          {"caption_median_ms", median(caption_ms)}};
}

void print_row(const nlohmann::json& row) {
  const int64_t size = row["size"].get<int64_t>();
  const std::string label = std::to_string(size) + "x" + std::to_string(size);
  if (row.contains("error")) {
    std::printf("%-10s %-11s n/a: %s\n", row["sdpa"].get<std::string>().c_str(), label.c_str(),
                row["error"].get<std::string>().c_str());
    return;
  }
  auto num = [&](const char* key, int digits) { return fixed(row[key].get<double>(), digits); };
  std::printf("%-10s %-11s %8lld %10s %8s %8s %8s %9s %9s %10s\n", row["sdpa"].get<std::string>().c_str(),
              label.c_str(), static_cast<long long>(row["tokens_per_sample"][0].get<int64_t>()),
              num("median_ms", 2).c_str(), num("min_ms", 2).c_str(), num("max_ms", 2).c_str(), num("tflop", 2).c_str(),
              num("tflops_per_s", 1).c_str(),
              fixed(row["peak_allocated_bytes"].get<int64_t>() / 1073741824.0, 2).c_str(),
              num("caption_median_ms", 2).c_str());
}

int run(const Options& o) {
  const at::Device device(o.device == "auto" ? (baton::cuda_device_count() > 0 ? "cuda:0" : "cpu") : o.device);
  // --weights: the dense entry names the compute dtype; 8-bit entries compute in
  // it too. The dense model always runs first: it is the 8-bit error reference.
  std::string dtype_text = o.dtype;
  std::vector<baton::WeightFormat> formats{baton::WeightFormat::kFp32};
  for (const auto& w : o.weights) {
    const auto f = baton::parse_weight_format(w);
    if (baton::is_8bit(f)) {
      formats.push_back(f);
      continue;
    }
    if (dtype_text == "auto") dtype_text = w;
    if (baton::parse_dtype(dtype_text) != baton::parse_dtype(w))
      throw baton::UsageError("--weights " + w + " with --dtype " + o.dtype,
                              "dense weights are in the compute dtype; give one of them");
  }
  const auto dtype = baton::parse_dtype(dtype_text == "auto" ? (device.is_cuda() ? "bf16" : "fp32") : dtype_text);
  baton::compat::set_fp8_matmul_enabled(o.fp8_matmul);
  NextDitConfig config = o.tiny ? tiny_config() : NextDitConfig::released();
  if (o.layers >= 0) config.n_layers = o.layers;
  config.validate();
  std::vector<int64_t> sizes = o.sizes;
  if (sizes.empty()) sizes = o.tiny ? std::vector<int64_t>{128} : std::vector<int64_t>{1024, 512};
  baton::require(o.captions.size() == 2 && o.captions[0] >= 1 && o.captions[1] >= 1,
                 "--captions needs two lengths (cond, uncond), e.g. 128,8");
  baton::require(o.iters >= 1 && o.warmup >= 0, "--iters must be >= 1 and --warmup >= 0");

  if (o.attention) {
    auto rows = attention_sweep(o, device, dtype, config);
    if (o.json)
      std::cout << nlohmann::json{{"benchmark", "nextdit_attention"}, {"device", device.str()},
                                  {"dtype", baton::dtype_name(dtype)}, {"libtorch", baton::compat::torch_version()},
                                  {"results", rows}}
                       .dump(2)
                << "\n";
    return 0;
  }
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  const baton::RandomTensorSource weights(baton::models::nextdit_tensor_shapes(config), o.seed);

  // Inputs: the CFG pair (cond caption, uncond caption), one latent for both.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const int64_t lmax = std::max(o.captions[0], o.captions[1]);
  auto cap_feats = at::randn({2, lmax, config.cap_feat_dim}, gen).to(options);
  auto cap_mask = at::zeros({2, lmax}, at::kLong);
  cap_mask[0].narrow(0, 0, o.captions[0]).fill_(1);
  cap_mask[1].narrow(0, 0, o.captions[1]).fill_(1);
  const auto clip = at::randn({2, config.clip_text_dim}, gen).to(options);
  const auto t_pair = at::full({2}, 0.5, at::TensorOptions().device(device).dtype(at::kFloat));
  // The error probe: one call at the first size on the same latent for every
  // weight format, compared with the dense model's velocity.
  const int64_t probe_hl = sizes.front() / 8;
  const auto probe_latent = at::randn({1, config.in_channels, probe_hl, probe_hl}, gen).to(options).expand({2, -1, -1, -1});

  if (!o.json)
    std::cout << "Next-DiT guided call: dim " << config.dim << ", " << config.n_layers << " layers, "
              << baton::dtype_name(dtype) << " on " << device.str() << ", libtorch " << baton::compat::torch_version()
              << "\ncaptions " << o.captions[0] << " (cond) + " << o.captions[1] << " (uncond) tokens; median of "
              << o.iters << " calls after " << o.warmup << " warm-up; random weights\n";
  const StepInputs inputs{cap_feats, cap_mask, clip, t_pair};
  nlohmann::json results = nlohmann::json::array(), summaries = nlohmann::json::array();
  at::Tensor reference;  // the dense model's probe velocity
  for (const auto format : formats) {
    const std::string name = baton::is_8bit(format) ? baton::weight_format_name(format) : baton::dtype_name(dtype);
    nlohmann::json summary = {{"weights", name}};
    at::Tensor probe;
    {
      baton::synchronize_device(device);
      baton::reset_peak_memory(device);
      const auto load_start = std::chrono::steady_clock::now();
      const baton::models::NextDit dit(config, weights, options, format);
      baton::synchronize_device(device);
      summary["load_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
      summary["weight_bytes"] = dit.weight_bytes();
      summary["peak_load_bytes"] = baton::peak_allocated_bytes(device);  // 0 on the CPU
      baton::reset_peak_memory(device);
      summary["device_bytes_after_load"] = baton::peak_allocated_bytes(device);
      probe = dit.forward(probe_latent, t_pair, clip, dit.embed().encode_captions(cap_feats, cap_mask)).to(at::kCPU);
      if (!o.json) {
        std::cout << "\n== weights " << name << ": " << baton::format_byte_size(dit.weight_bytes()) << ", loaded in "
                  << fixed(summary["load_seconds"].get<double>(), 1) << " s";
        if (device.is_cuda())
          std::cout << " (device memory: " << baton::format_byte_size(summary["device_bytes_after_load"].get<int64_t>())
                    << " after loading, peak " << baton::format_byte_size(summary["peak_load_bytes"].get<int64_t>())
                    << " while loading)";
        std::cout << "\n";
        std::printf("%-10s %-11s %8s %10s %8s %8s %8s %9s %9s %10s\n", "sdpa", "size", "tokens", "median_ms", "min_ms",
                    "max_ms", "TFLOP", "TFLOP/s", "peak_GiB", "caption_ms");
      }
      for (const auto& backend : o.sdpa) {
        select_sdpa(backend);
        for (const auto size : sizes) {
          nlohmann::json row;
          try {
            row = measure_step(o, dit, config, device, size, gen, inputs);
          } catch (const c10::Error& e) {
            // A kernel family forced with --sdpa may not take these inputs.
            const std::string what = e.what_without_backtrace();
            row = {{"size", size}, {"error", what.substr(0, what.find('\n'))}};
          }
          row["sdpa"] = backend;
          row["weights"] = name;
          if (!o.json) print_row(row);
          results.push_back(row);
        }
      }
    }
    if (!reference.defined() && !baton::is_8bit(format)) reference = probe;
    if (reference.defined() && baton::is_8bit(format)) {
      summary["velocity_rel_l2_vs_dense"] = baton::relative_l2_error(probe, reference);
      if (!o.json)
        std::cout << "velocity vs " << baton::dtype_name(dtype) << " weights (" << sizes.front() << "x" << sizes.front()
                  << ", t = 0.5, both branches): relative L2 "
                  << fixed(summary["velocity_rel_l2_vs_dense"].get<double>(), 5) << "\n";
    }
    summaries.push_back(summary);
  }
  if (o.json) {
    nlohmann::json out = {{"benchmark", "nextdit_guided_call"},
                          {"device", device.str()},
                          {"dtype", baton::dtype_name(dtype)},
                          {"libtorch", baton::compat::torch_version()},
                          {"fp8_matmul", baton::compat::fp8_matmul_enabled()},
                          {"config", config.to_json()},
                          {"captions", o.captions},
                          {"iters", o.iters},
                          {"warmup", o.warmup},
                          {"weight_bytes", summaries.front()["weight_bytes"]},
                          {"load_seconds", summaries.front()["load_seconds"]},
                          {"formats", summaries},
                          {"results", results}};
    std::cout << out.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times one guided Next-DiT call (both CFG branches) with random weights"};
  Options o;
  app.add_option("--device", o.device, "cpu or cuda:N (default: cuda:0 if present, else cpu)");
  app.add_option("--dtype", o.dtype, "fp32, bf16 or fp16 (default: bf16 on CUDA, fp32 on the CPU)");
  app.add_option("--size", o.sizes, "image side in pixels, repeatable (default 1024 and 512; 128 with --tiny)");
  app.add_option("--captions", o.captions, "cond,uncond caption lengths (default 128,8)")->delimiter(',');
  app.add_option("--iters", o.iters, "timed calls (default 10)");
  app.add_option("--warmup", o.warmup, "untimed calls first (default 3)");
  app.add_flag("--tiny", o.tiny, "a tiny model (smoke test on the CPU)");
  app.add_option("--layers", o.layers, "override the number of main blocks");
  app.add_option("--sdpa", o.sdpa,
                 "attention kernels to compare, comma separated: auto, flash, efficient, cudnn, math "
                 "(all but auto need libtorch 2.5+; default auto)")
      ->delimiter(',')
      ->check(CLI::IsMember({"auto", "flash", "efficient", "cudnn", "math"}));
  app.add_option("--weights", o.weights,
                 "weight formats to compare, comma separated: the dense dtype (bf16, fp32, fp16), int8, fp8; the dense "
                 "model always runs first and is the reference of the 8-bit velocity errors (default: dense only)")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp32", "bf16", "fp16", "int8", "fp8"}));
  app.add_option("--fp8-matmul", o.fp8_matmul,
                 "fp8 weights on the FP8 matrix units (at::_scaled_mm, libtorch 2.5+, compute capability >= 8.9) "
                 "when true, else dequantised to the compute dtype (default true)");
  app.add_option("--seed", o.seed, "weights and inputs seed");
  app.add_flag("--json", o.json, "print JSON instead of the table");
  app.add_flag("--attention", o.attention,
               "time only the attention call of a main block at 1024x1024 per SDPA family, with native GQA and "
               "with K/V repeated (libtorch 2.5+; loads no weights)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    return run(o);
  } catch (const baton::UsageError& e) {
    std::cerr << "baton_dit_bench: error: " << e.what() << "\n";
    return 2;
  } catch (const baton::Error& e) {
    std::cerr << "baton_dit_bench: error: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "  hint: " << e.hint() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "baton_dit_bench: libtorch error: " << e.what_without_backtrace() << "\n";
    return 1;
  }
}
