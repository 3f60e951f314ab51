#include "bench/dit_profile.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <map>

#include "bench/kernel_profile.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "core/weight_format.h"

namespace baton::bench {
namespace {

constexpr size_t kNameWidth = 100;  // long template names are cut in the table

std::string short_name(const std::string& name) {
  return name.size() <= kNameWidth ? name : name.substr(0, kNameWidth - 3) + "...";
}

}  // namespace

BenchReport run_dit_profile(const BenchSettings& settings, const DitBenchOptions& o) {
  BenchSettings s = settings;
  const auto eight_bit = eight_bit_formats(o.weights, s);
  validate_settings(s);
  require_caption_pair(o);
  require(o.top >= 1, "--top must be at least 1");
  require(o.cuda_graphs.size() == 1, "--profile takes one --cuda-graphs mode, on or off");
  const auto device = bench_device(s);
  const auto dtype = bench_dtype(s, device);
  require_cuda_graph_modes(o, device);
  const bool graphs = o.cuda_graphs.front() == "on";
  const BenchModel model(s);
  models::NextDitConfig config = model.configs().dit;
  if (o.layers >= 0) config.n_layers = o.layers;
  config.validate();
  const ImageSize size = o.sizes.empty() ? ImageSize{s.width, s.height} : o.sizes.front();
  const auto format = eight_bit.empty() ? WeightFormat::kFp32 : eight_bit.front();
  const std::string weights_name = is_8bit(format) ? weight_format_name(format) : dtype_name(dtype);

  const auto options = at::TensorOptions().device(device).dtype(dtype);
  const auto weights = model.weights(io::Component::Transformer);
  models::NextDit dit(config, *weights, options, format);
  if (graphs) dit.capture_cuda_graphs(4);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(s.seed);
  const auto inputs = make_guided_call_inputs(config, o.captions, options, gen);
  const auto latent = guided_call_latent(config, size, device, gen);
  const auto captions = dit.embed().encode_captions(inputs.cap_feats, inputs.cap_mask);
  auto call = [&] { run_guided_call(dit, latent, inputs, captions); };
  for (int i = 0; i < std::max(1, s.warmup); ++i) call();  // the first call captures with --cuda-graphs on
  const auto profile = profile_kernels(device, s.iters, call, o.trace);

  const double runs = profile.runs, busy = profile.busy_ms() / runs, wall = profile.wall_ms / runs;
  BenchReport report("nextdit_profile");
  report.info() = {{"device", device.str()},   {"dtype", dtype_name(dtype)}, {"size", size.str()},
                   {"weights", weights_name},  {"cuda_graphs", graphs},      {"model", model.describe()},
                   {"runs", profile.runs},     {"wall_ms_per_call", wall},   {"busy_ms_per_call", busy},
                   {"libtorch", compat::torch_version()}};
  report.add_line("kernels of one guided Next-DiT call at " + size.str() + " (CFG pair, captions " +
                  std::to_string(o.captions[0]) + " + " + std::to_string(o.captions[1]) + "), " + weights_name +
                  " weights, " + dtype_name(dtype) + " on " + device.str() + (graphs ? ", CUDA graphs" : "") + "; " +
                  std::to_string(profile.runs) + " profiled calls after " + std::to_string(std::max(1, s.warmup)) +
                  " warm-up");
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s %.2f ms per call of %.2f ms wall (%.0f %%)",
                device.is_cuda() ? "kernels busy" : "operators' self time", busy, wall, 100.0 * busy / wall);
  report.add_line(buf);

  std::map<std::string, double> by_category;
  for (const auto& k : profile.kernels) by_category[k.category] += k.total_ms / runs;
  auto categories = nlohmann::json::object();
  for (const auto& [category, ms] : by_category) {
    categories[category] = ms;
    std::snprintf(buf, sizeof buf, "  %-22s %9.2f ms per call (%4.1f %%)", category.c_str(), ms, 100.0 * ms / busy);
    report.add_line(buf);
  }
  report.info()["categories"] = categories;

  report.add_column("kernel", device.is_cuda() ? "kernel" : "operator", BenchReport::Format::kText);
  report.add_column("category", "category", BenchReport::Format::kText);
  report.add_column("calls", "calls_per_call", BenchReport::Format::kFixed1);
  report.add_column("ms", "ms_per_call", BenchReport::Format::kMs);
  report.add_column("share", "share", BenchReport::Format::kFixed2);
  double listed = 0;
  const size_t top = std::min(profile.kernels.size(), static_cast<size_t>(o.top));
  for (size_t i = 0; i < top; ++i) {
    const auto& k = profile.kernels[i];
    listed += k.total_ms / runs;
    report.add_row({{"kernel", short_name(k.name)},
                    {"category", k.category},
                    {"calls", k.calls / runs},
                    {"ms", k.total_ms / runs},
                    {"share", k.total_ms / runs / busy}});
  }
  if (profile.kernels.size() > top) {
    double calls = 0;
    for (size_t i = top; i < profile.kernels.size(); ++i) calls += profile.kernels[i].calls / runs;
    report.add_row({{"kernel", "other (" + std::to_string(profile.kernels.size() - top) + " names)"},
                    {"category", "-"},
                    {"calls", calls},
                    {"ms", busy - listed},
                    {"share", (busy - listed) / busy}});
  }
  if (!profile.trace_error.empty()) report.add_note("no trace written to " + o.trace + ": " + profile.trace_error);
  else if (!o.trace.empty()) report.add_note("Chrome trace of the profiled calls: " + o.trace);
  return report;
}

}  // namespace baton::bench
