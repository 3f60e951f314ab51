// Text encoder benchmark (issue 5): Gemma3-4B up to hidden_states[-2] and the
// Jina CLIP v2 text tower at their released sizes with random weights: time to
// encode a 2x128-, 1x128- and 1x8-token batch (median after warm-up,
// synchronized), weight bytes and peak memory, next to ../shared/baselines.md
// (H200, PyTorch bf16: 37 ms for 2x128 tokens, 7.46 GiB peak), and the memory
// saved by never loading Gemma's last layer and final norm.
//   baton_text_bench --device cuda:0 --dtype bf16 [--json | --json-out FILE]
//   baton_text_bench --size tiny --device cpu --dtype fp32    (smoke test)
//   baton_text_bench --device cuda:0 --dtype bf16 --weights int8,fp8
// --weights adds Gemma3 with 8-bit matrices (models/quantization): weight
// bytes, speed and the relative L2 error of its features (hidden_states[-2],
// 2x128 tokens) against the dense model (docs/quantization.md).
#include <ATen/CPUGeneratorImpl.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/byte_size.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/random_tensor_source.h"
#include "core/tensor_metrics.h"
#include "core/torch_compat.h"
#include "core/weight_format.h"
#include "models/gemma3/gemma3_text_model.h"
#include "models/jina/jina_text_model.h"

namespace {

using namespace baton;
using Clock = std::chrono::steady_clock;

models::Gemma3Config gemma_config(const std::string& size) {
  if (size == "released") return models::Gemma3Config::released();
  models::Gemma3Config c;
  c.hidden_size = 64;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.intermediate_size = 128;
  c.vocab_size = 512;
  c.global_layers = {false, true, false, false};
  return c;
}

models::JinaConfig jina_config(const std::string& size) {
  models::JinaConfig c = models::JinaConfig::released();
  if (size == "released") return c;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.vocab_size = 512;
  return c;
}

int64_t table_bytes(const models::TensorShapes& shapes, at::ScalarType dtype) {
  int64_t n = 0;
  for (const auto& kv : shapes) {
    int64_t e = 1;
    for (auto d : kv.second) e *= d;
    n += e;
  }
  return n * static_cast<int64_t>(c10::elementSize(dtype));
}

// Median wall time of `fn` in milliseconds after `warmup` calls, each call
// followed by a device synchronize.
template <typename F>
double median_ms(const at::Device& device, int warmup, int iters, F&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize_device(device);
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    fn();
    synchronize_device(device);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

at::Tensor random_ids(int64_t batch, int64_t length, int64_t lo, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(lo, vocab, {batch, length}, gen, at::TensorOptions().dtype(at::kLong));
}

struct Shape {
  int64_t batch, tokens;
};
const Shape kShapes[] = {{2, 128}, {1, 128}, {1, 8}};

// `features`: hidden_states[-2] of a fixed 2x128-token batch (on the CPU), the
// probe the 8-bit formats are compared on.
nlohmann::json bench_gemma(const std::string& size, const at::Device& device, at::ScalarType dtype,
                           WeightFormat format, int warmup, int iters, at::Tensor& features) {
  const auto cfg = gemma_config(size);
  nlohmann::json j;
  j["weights"] = is_8bit(format) ? weight_format_name(format) : dtype_name(dtype);
  j["layers_run"] = cfg.used_layers();
  if (!is_8bit(format)) {
    j["weights_loaded_bytes"] = table_bytes(models::gemma3_tensor_shapes(cfg), dtype);
    j["weights_saved_bytes"] =
        table_bytes(models::gemma3_tensor_shapes(cfg, true), dtype) - j["weights_loaded_bytes"].get<int64_t>();
  }
  // Gemma norms are stored as offsets around 0 (1 + w): norm_offset 0.
  RandomTensorSource weights(models::gemma3_tensor_shapes(cfg), 1, /*norm_offset=*/0.0);
  reset_peak_memory(device);
  const auto t0 = Clock::now();
  models::Gemma3TextModel model(cfg, weights, at::TensorOptions().device(device).dtype(dtype), {}, format);
  synchronize_device(device);
  j["load_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  j["weight_bytes"] = model.weight_bytes();
  j["peak_load_bytes"] = peak_allocated_bytes(device);
  reset_peak_memory(device);  // from here: weights + activations of encoding
  for (const auto& s : kShapes) {
    auto ids = random_ids(s.batch, s.tokens, 4, cfg.vocab_size, 11).to(device);
    auto mask = at::ones({s.batch, s.tokens}, at::TensorOptions().dtype(at::kLong).device(device));
    const std::string key = std::to_string(s.batch) + "x" + std::to_string(s.tokens);
    j["encode_ms"][key] = median_ms(device, warmup, iters, [&] { model.forward(ids, mask); });
  }
  {
    const auto ids = random_ids(2, 128, 4, cfg.vocab_size, 13).to(device);
    const auto mask = at::ones({2, 128}, at::TensorOptions().dtype(at::kLong).device(device));
    features = model.forward(ids, mask).to(at::kCPU, at::kFloat);
  }
  j["peak_allocated_bytes"] = peak_allocated_bytes(device);
  j["peak_reserved_bytes"] = peak_reserved_bytes(device);
  return j;
}

nlohmann::json bench_jina(const std::string& size, const at::Device& device, at::ScalarType dtype, int warmup,
                          int iters) {
  const auto cfg = jina_config(size);
  nlohmann::json j;
  RandomTensorSource weights(models::jina_tensor_shapes(cfg), 2);
  reset_peak_memory(device);
  const auto t0 = Clock::now();
  models::JinaTextModel model(cfg, weights, at::TensorOptions().device(device).dtype(dtype));
  synchronize_device(device);
  j["load_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  j["weight_bytes"] = model.weight_bytes();
  j["peak_load_bytes"] = peak_allocated_bytes(device);
  reset_peak_memory(device);
  for (const auto& s : kShapes) {
    auto ids = random_ids(s.batch, s.tokens, 3, cfg.vocab_size, 12).to(device);
    const std::string key = std::to_string(s.batch) + "x" + std::to_string(s.tokens);
    j["encode_ms"][key] = median_ms(device, warmup, iters, [&] { model.pooled(ids); });
  }
  j["peak_allocated_bytes"] = peak_allocated_bytes(device);
  j["peak_reserved_bytes"] = peak_reserved_bytes(device);
  return j;
}

void print_table(const nlohmann::json& r) {
  auto gib = [](const nlohmann::json& v) { return format_byte_size(v.get<int64_t>()); };
  std::cout << "device " << r["device"].get<std::string>() << ", dtype " << r["dtype"].get<std::string>() << ", size "
            << r["size"].get<std::string>() << "\n";
  for (const char* name : {"gemma3", "gemma3_int8", "gemma3_fp8", "jina"}) {
    if (!r.contains(name)) continue;
    const auto& m = r[name];
    std::cout << name << ": weights " << gib(m["weight_bytes"]) << ", load " << m["load_s"].get<double>()
              << " s, peak while loading " << gib(m["peak_load_bytes"]) << ", peak while encoding "
              << gib(m["peak_allocated_bytes"]) << " (reserved " << gib(m["peak_reserved_bytes"]) << ")\n";
    for (auto it = m["encode_ms"].begin(); it != m["encode_ms"].end(); ++it)
      std::cout << "  encode " << it.key() << " tokens: " << it.value().get<double>() << " ms (median)\n";
    if (m.contains("features_rel_l2_vs_dense"))
      std::cout << "  features vs dense (2x128 tokens): relative L2 " << m["features_rel_l2_vs_dense"].get<double>()
                << "\n";
    if (m.contains("weights_saved_bytes"))
      std::cout << "  layers run: " << m["layers_run"].get<int64_t>() << "; not loading the last layer and the norm saves "
                << gib(m["weights_saved_bytes"]) << "\n";
  }
  std::cout << "baseline (baselines.md, H200, PyTorch bf16, Gemma3 text model incl. the last layer): 2x128 tokens "
               "37 ms, peak 7.46 GiB, weights 7.23 GiB\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark of the text encoders (Gemma3 caption features, Jina CLIP v2 pooled vector)"};
  std::string device_name = cuda_device_count() > 0 ? "cuda:0" : "cpu";
  std::string dtype_text;
  std::string size = "released";
  std::string which = "both";
  int warmup = 3, iters = 10;
  bool json = false;
  std::string json_out;
  std::vector<std::string> weights;
  bool fp8_matmul = true;
  app.add_option("--device", device_name, "cpu or cuda:N")->capture_default_str();
  app.add_option("--dtype", dtype_text, "fp32, bf16 or fp16 (default: bf16 on CUDA, fp32 on a CPU)");
  app.add_option("--size", size, "released or tiny (smoke test)")
      ->check(CLI::IsMember({"released", "tiny"}))
      ->capture_default_str();
  app.add_option("--models", which, "gemma3, jina or both")
      ->check(CLI::IsMember({"gemma3", "jina", "both"}))
      ->capture_default_str();
  app.add_option("--warmup", warmup, "untimed calls first")->capture_default_str();
  app.add_option("--iters", iters, "timed calls (median reported)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--weights", weights,
                 "also run Gemma3 with 8-bit matrices, comma separated: int8, fp8 (Jina stays dense; the dense "
                 "Gemma3 is the reference of their feature errors)")
      ->delimiter(',')
      ->check(CLI::IsMember({"int8", "fp8"}));
  app.add_option("--fp8-matmul", fp8_matmul,
                 "fp8 weights on the FP8 matrix units where available (default true), else dequantised");
  app.add_flag("--json", json, "print one JSON object instead of a table");
  app.add_option("--json-out", json_out, "also write the JSON object to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    at::Device device = at::kCPU;
    try {
      device = at::Device(device_name);
    } catch (const std::exception&) {
      throw UsageError("--device '" + device_name + "' is not a device", "use cpu or cuda:N");
    }
    const at::ScalarType dtype = parse_dtype(dtype_text.empty() ? (device.is_cuda() ? "bf16" : "fp32") : dtype_text);
    nlohmann::json r;
    r["device"] = device.str();
    r["dtype"] = dtype_name(dtype);
    r["size"] = size;
    compat::set_fp8_matmul_enabled(fp8_matmul);
    if (which != "jina") {
      at::Tensor dense_features;
      r["gemma3"] = bench_gemma(size, device, dtype, WeightFormat::kFp32, warmup, iters, dense_features);
      for (const auto& w : weights) {
        at::Tensor features;
        auto m = bench_gemma(size, device, dtype, parse_weight_format(w), warmup, iters, features);
        m["features_rel_l2_vs_dense"] = relative_l2_error(features, dense_features);
        r["gemma3_" + w] = m;
      }
    }
    if (which != "gemma3") r["jina"] = bench_jina(size, device, dtype, warmup, iters);
    r["baseline"] = {{"source", "baselines.md (H200, PyTorch 2.11 bf16)"},
                     {"gemma3_2x128_ms", 37.0},
                     {"gemma3_peak_gib", 7.46},
                     {"gemma3_weights_gib", 7.23}};
    if (json)
      std::cout << r.dump(2) << "\n";
    else
      print_table(r);
    if (!json_out.empty()) {
      std::ofstream f(json_out);
      f << r.dump(2) << "\n";
      if (!f) throw Error("cannot write " + json_out);
    }
    return 0;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << (e.hint().empty() ? "" : "\n  hint: " + e.hint()) << "\n";
    return dynamic_cast<const UsageError*>(&e) ? 2 : 1;
  }
}
