#include "bench/calibration.h"

#include <ATen/CPUGeneratorImpl.h>

#include <ctime>
#include <filesystem>

#include "bench/bench_timer.h"
#include "bench/peak_memory_meter.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "models/nextdit/dit_blocks.h"
#include "partition/device_inventory.h"
#include "partition/device_speeds.h"
#include "partition/flop_model.h"
#include "partition/weight_format.h"

namespace baton::bench {
namespace {

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// What the calibration entry matches: the GPU's model name (so the file
// serves every card of that model), else its id; "cpu" for the CPU.
std::string match_for(const at::Device& device) {
  if (device.is_cpu()) return "cpu";
  const auto& probe = partition::local_device_probe();
  const int index = device.has_index() ? device.index() : 0;
  if (index < probe.cuda_count()) {
    const auto model = probe.cuda_model(index);
    if (!model.empty()) return model;
  }
  return device.str();
}

}  // namespace

BenchReport run_calibration(const BenchSettings& s, const CalibrationOptions& o) {
  validate_settings(s);
  require(o.blocks >= 1, "--blocks must be at least 1");
  require(o.caption_tokens >= 1, "--caption-tokens must be at least 1");
  const auto device = bench_device(s);
  std::vector<std::string> dtypes = o.dtypes;
  if (dtypes.empty()) dtypes = device.is_cuda() ? std::vector<std::string>{"bf16", "fp16", "fp32"}
                                                : std::vector<std::string>{"fp32"};
  const BenchModel model(s);
  auto config = model.configs().dit;
  require(o.blocks <= config.n_layers, "--blocks " + std::to_string(o.blocks) + " is more than the model's " +
                                           std::to_string(config.n_layers) + " main blocks");
  const int64_t grid_h = s.height / 16, grid_w = s.width / 16;
  const int64_t tokens = o.caption_tokens + grid_h * grid_w;
  const double flops = static_cast<double>(o.blocks) * partition::dit_block_flops(config, tokens, true);
  const std::string match = match_for(device);

  BenchReport report("calibration");
  report.info() = {{"device", device.str()},     {"match", match},      {"libtorch", compat::torch_version()},
                   {"model", model.describe()},  {"blocks", o.blocks},  {"tokens", tokens},
                   {"output", o.output},         {"iters", s.iters},    {"warmup", s.warmup}};
  report.add_line("calibration on " + device.str() + " (" + match + "): " + std::to_string(o.blocks) +
                  " Next-DiT main blocks over " + std::to_string(tokens) + " tokens (" + std::to_string(s.width) + "x" +
                  std::to_string(s.height) + " + " + std::to_string(o.caption_tokens) + " caption tokens), " +
                  model.describe());
  report.add_column("dtype", "dtype", BenchReport::Format::kText);
  report.add_column("median_ms", "median_ms", BenchReport::Format::kMs);
  report.add_column("gflop", "GFLOP", BenchReport::Format::kFixed2);
  report.add_column("tflops", "TFLOP/s", BenchReport::Format::kFixed2);

  partition::pb::Calibration calibration;
  calibration.set_format_version(1);
  if (std::filesystem::exists(o.output)) calibration = partition::load_calibration(o.output);
  const std::string when = now_iso8601();
  for (const auto& name : dtypes) {
    BenchSettings with_dtype = s;
    with_dtype.dtype = name;
    const auto dtype = bench_dtype(with_dtype, device);
    const auto format = partition::parse_weight_format(dtype_name(dtype));
    const auto options = at::TensorOptions().device(device).dtype(dtype);
    const auto weights = model.weights(io::Component::Transformer);
    const models::DitBlocks blocks(config, *weights, 0, o.blocks, options);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(s.seed);
    models::JointSequence in;
    in.caption_lengths = {o.caption_tokens};
    in.grid_h = grid_h;
    in.grid_w = grid_w;
    in.tokens = at::randn({tokens, config.dim}, gen).to(options);
    in.conditioning = at::randn({1, config.adaln_dim()}, gen).to(options);
    const auto t = time_calls(device, s.warmup, s.iters, [&] { blocks.forward(in); });
    const double tflops = flops / 1e12 / (t.median_ms() / 1e3);
    report.add_row({{"dtype", dtype_name(dtype)}, {"median_ms", t.median_ms()}, {"gflop", flops / 1e9}, {"tflops", tflops}});

    partition::pb::DeviceCalibration* entry = nullptr;
    for (auto& e : *calibration.mutable_entries())
      if (e.match() == match && e.dtype() == partition::weight_format_name(format)) entry = &e;
    if (!entry) entry = calibration.add_entries();
    entry->set_match(match);
    entry->set_dtype(partition::weight_format_name(format));
    entry->set_tflops(tflops);
    entry->set_measured_at(when);
    if (device.is_cuda()) {
      // What the driver reports used beyond the caching allocator: this
      // process's CUDA context (and any other process on the same GPU).
      const auto info = device_memory_info(device);
      const int64_t context = info.total - info.free - PeakMemoryMeter(device).reserved();
      if (context > 0) entry->set_context_bytes(context);
    }
  }
  partition::save_calibration(o.output, calibration);
  report.add_note("wrote " + o.output + "; use it with baton plan --calibration " + o.output);
  if (device.is_cuda())
    report.add_note("context_bytes: GPU memory in use beyond the caching allocator (this process's CUDA context, "
                    "and other processes' memory if the GPU is shared)");
  return report;
}

}  // namespace baton::bench
