#include "bench/text_scenario.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>

#include "bench/bench_timer.h"
#include "bench/peak_memory_meter.h"
#include "core/byte_size.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor_metrics.h"
#include "core/torch_compat.h"
#include "models/gemma3/gemma3_text_model.h"
#include "models/jina/jina_text_model.h"

namespace baton::bench {
namespace {

using Clock = std::chrono::steady_clock;

int64_t table_bytes(const models::TensorShapes& shapes, at::ScalarType dtype) {
  int64_t n = 0;
  for (const auto& kv : shapes) {
    int64_t e = 1;
    for (auto d : kv.second) e *= d;
    n += e;
  }
  return n * static_cast<int64_t>(c10::elementSize(dtype));
}

at::Tensor random_ids(int64_t batch, int64_t length, int64_t lo, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(lo, vocab, {batch, length}, gen, at::TensorOptions().dtype(at::kLong));
}

struct Batch {
  int64_t batch, tokens;
  std::string name() const { return std::to_string(batch) + "x" + std::to_string(tokens); }
};
const Batch kBatches[] = {{2, 128}, {1, 128}, {1, 8}};

// One row per batch shape; the encoder's weight format, load time, weights and
// peaks in each (and `extra`, e.g. the 8-bit error).
template <typename Model, typename Encode>
void measure(const BenchSettings& s, const at::Device& device, const std::string& name, const std::string& weights,
             Model& model, double load_s, int64_t peak_load, PeakMemoryMeter& meter, const Encode& encode,
             BenchReport& report, const nlohmann::json& extra = nlohmann::json::object()) {
  meter.reset_peak();  // from here: weights + activations of encoding
  std::vector<nlohmann::json> rows;
  for (const auto& b : kBatches) {
    const auto t = time_calls(device, s.warmup, s.iters, [&] { encode(b.batch, b.tokens); });
    rows.push_back({{"model", name}, {"weights", weights}, {"batch", b.name()}, {"median_ms", t.median_ms()},
                    {"min_ms", t.min_ms()}});
  }
  for (auto& r : rows) {
    r["weight_bytes"] = model.weight_bytes();
    r["load_s"] = load_s;
    r["peak_load_bytes"] = peak_load;
    r["peak_allocated_bytes"] = meter.peak();
    r["peak_reserved_bytes"] = meter.peak_reserved();
    r.update(extra);
    report.add_row(r);
  }
}

}  // namespace

BenchReport run_text_bench(const BenchSettings& settings, const TextBenchOptions& o) {
  BenchSettings s = settings;
  const auto eight_bit = eight_bit_formats(o.weights, s);
  validate_settings(s);
  require(o.gemma || o.jina, "baton bench text: nothing to run", "run gemma3, jina or both");
  const auto device = bench_device(s);
  const auto dtype = bench_dtype(s, device);
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  const BenchModel model(s);
  BenchReport report("text_encoders");
  report.info() = {{"device", device.str()}, {"dtype", dtype_name(dtype)}, {"libtorch", compat::torch_version()},
                   {"model", model.describe()}, {"iters", s.iters}, {"warmup", s.warmup}};
  report.add_line("text encoders, " + dtype_name(dtype) + " on " + device.str() + ", " + model.describe() +
                  "; median of " + std::to_string(s.iters) + " calls after " + std::to_string(s.warmup) + " warm-up");
  report.add_column("model", "model", BenchReport::Format::kText);
  report.add_column("weights", "weights", BenchReport::Format::kText);
  report.add_column("batch", "tokens", BenchReport::Format::kText);
  report.add_column("median_ms", "median_ms", BenchReport::Format::kMs);
  report.add_column("min_ms", "min_ms", BenchReport::Format::kMs);
  report.add_column("weight_bytes", "weights_GiB", BenchReport::Format::kGiB);
  report.add_column("peak_allocated_bytes", "peak_GiB", BenchReport::Format::kGiB);
  report.add_column("load_s", "load_s", BenchReport::Format::kFixed2);
  if (!eight_bit.empty()) report.add_column("rel_l2_vs_dense", "rel_l2_vs_dense", BenchReport::Format::kScientific);
  compat::set_fp8_matmul_enabled(o.fp8_matmul);
  report.info()["fp8_matmul"] = compat::fp8_matmul_enabled();

  if (o.gemma) {
    const auto& cfg = model.configs().gemma;
    const auto weights = model.weights(io::Component::TextEncoder);
    // The dense model first (the reference of the 8-bit errors), then each 8-bit format, one loaded at a time.
    std::vector<WeightFormat> formats{WeightFormat::kFp32};  // dense: in the compute dtype
    formats.insert(formats.end(), eight_bit.begin(), eight_bit.end());
    at::Tensor reference;
    for (const auto format : formats) {
      PeakMemoryMeter meter(device);
      const auto t0 = Clock::now();
      const models::Gemma3TextModel gemma(cfg, *weights, options, {}, format);
      synchronize_device(device);
      const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
      const int64_t peak_load = meter.peak();
      // The error probe: hidden_states[-2] of one fixed 2x128-token batch.
      const auto probe_ids = random_ids(2, 128, 4, cfg.vocab_size, s.seed + 13).to(device);
      const auto probe_mask = at::ones({2, 128}, at::TensorOptions().dtype(at::kLong).device(device));
      const auto features = gemma.forward(probe_ids, probe_mask).to(at::kCPU, at::kFloat);
      nlohmann::json extra = nlohmann::json::object();
      if (!reference.defined()) reference = features;
      else extra["rel_l2_vs_dense"] = relative_l2_error(features, reference);
      measure(s, device, "gemma3", is_8bit(format) ? weight_format_name(format) : dtype_name(dtype), gemma, load_s,
              peak_load, meter,
              [&](int64_t batch, int64_t tokens) {
                const auto ids = random_ids(batch, tokens, 4, cfg.vocab_size, s.seed + 11).to(device);
                const auto mask = at::ones({batch, tokens}, at::TensorOptions().dtype(at::kLong).device(device));
                gemma.forward(ids, mask);
              },
              report, extra);
    }
    const int64_t loaded = table_bytes(models::gemma3_tensor_shapes(cfg), dtype);
    report.info()["gemma3_layers_run"] = cfg.used_layers();
    report.info()["gemma3_weights_saved_bytes"] = table_bytes(models::gemma3_tensor_shapes(cfg, true), dtype) - loaded;
    report.add_note("Gemma3 runs " + std::to_string(cfg.used_layers()) + " layers; not loading the last layer and the norm saves " +
                    format_byte_size(report.info()["gemma3_weights_saved_bytes"].get<int64_t>()) + " (dense)");
  }
  if (o.jina) {
    const auto& cfg = model.configs().jina;
    const auto weights = model.weights(io::Component::Clip);
    PeakMemoryMeter meter(device);
    const auto t0 = Clock::now();
    const models::JinaTextModel jina(cfg, *weights, options);
    synchronize_device(device);
    const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
    measure(s, device, "jina", dtype_name(dtype), jina, load_s, meter.peak(), meter,
            [&](int64_t batch, int64_t tokens) {
              const auto ids = random_ids(batch, tokens, 3, cfg.vocab_size, s.seed + 12).to(device);
              jina.pooled(ids);
            },
            report);
  }
  report.add_note("baselines.md (H200, PyTorch bf16, Gemma3 text model incl. the last layer): 2x128 tokens 37 ms, "
                  "peak 7.46 GiB, weights 7.23 GiB");
  return report;
}

}  // namespace baton::bench
