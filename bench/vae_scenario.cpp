#include "bench/vae_scenario.h"

#include <ATen/CPUGeneratorImpl.h>

#include "bench/bench_timer.h"
#include "bench/peak_memory_meter.h"
#include "core/byte_size.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "models/vae/vae_decoder.h"
#include "models/vae/vae_memory.h"
#include "models/vae/vae_tiling.h"

namespace baton::bench {
namespace {

using models::VaeTiling;

nlohmann::json decode_case(const BenchSettings& s, const models::VaeDecoder& decoder, const ImageSize& size,
                           const VaeTiling& tiling, PeakMemoryMeter& meter) {
  const auto device = decoder.device();
  const int64_t up = decoder.config().upscale(), lh = size.height / up, lw = size.width / up;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(s.seed);
  const auto z = at::empty({1, decoder.config().latent_channels, lh, lw}, at::kFloat).normal_(0, 1, gen).to(device);
  const int64_t th = tiling.tile_h > 0 ? std::min(tiling.tile_h, lh) : lh;
  const int64_t tw = tiling.tile_w > 0 ? std::min(tiling.tile_w, lw) : lw;
  const auto tiles = models::vae_tile_starts(lh, th, tiling.overlap).size() *
                     models::vae_tile_starts(lw, tw, tiling.overlap).size();
  nlohmann::json row = {{"image", size.str()},
                        {"latent", std::to_string(lh) + "x" + std::to_string(lw)},
                        {"tiling", tiling.describe()},
                        {"tiles", static_cast<int64_t>(tiles)},
                        {"estimate_bytes", decoder.weight_bytes() + models::vae_tiled_decode_peak_bytes(
                                                                        decoder.config(), lh, lw, decoder.dtype(),
                                                                        tiling, 1, device.type())}};
  try {
    const auto t = time_calls(device, s.warmup, s.iters, [&] { decoder.decode_latent_tiled(z, tiling); },
                              [&] { meter.reset_peak(); });
    row["median_ms"] = t.median_ms();
    row["times_ms"] = t.ms;
    row["peak_allocated_bytes"] = meter.peak();
    row["peak_reserved_bytes"] = meter.peak_reserved();
  } catch (const std::exception& e) {  // out of memory under the cap is a result, not a crash
    const std::string what = e.what();
    row["error"] = what.substr(0, what.find('\n')).substr(0, 300);
  }
  return row;
}

}  // namespace

BenchReport run_vae_bench(const BenchSettings& s, const VaeBenchOptions& o) {
  validate_settings(s);
  const auto device = bench_device(s);
  const auto dtype = bench_dtype(s, device);
  require(dtype != at::kHalf, "the VAE does not decode in fp16 (FLUX's VAE overflows in it)", "use bf16 or fp32");
  require(o.tile == 0 || o.tile >= models::kMinVaeTile,
          "--tile " + std::to_string(o.tile) + " is below the smallest tile (" + std::to_string(models::kMinVaeTile) +
              " latent pixels)");
  const BenchModel model(s);
  const auto& config = model.configs().vae;
  const auto weights = model.weights(io::Component::Vae);
  PeakMemoryMeter meter(device);
  const models::VaeDecoder decoder(config, *weights, at::TensorOptions().device(device).dtype(dtype));
  std::vector<ImageSize> sizes = o.sizes;
  if (sizes.empty()) sizes.push_back({s.width, s.height});

  BenchReport report("vae_decode");
  report.info() = {{"device", device.str()},        {"dtype", dtype_name(dtype)}, {"libtorch", compat::torch_version()},
                   {"model", model.describe()},     {"config", config.to_json()}, {"weights_bytes", decoder.weight_bytes()},
                   {"iters", s.iters},              {"warmup", s.warmup}};
  report.add_line("VAE decode on " + device.str() + " in " + dtype_name(dtype) + ", " + model.describe() + ", weights " +
                  format_byte_size(decoder.weight_bytes()));
  report.add_column("case", "case", BenchReport::Format::kText);
  report.add_column("image", "image", BenchReport::Format::kText);
  report.add_column("tiling", "tiling", BenchReport::Format::kText);
  report.add_column("tiles", "tiles", BenchReport::Format::kInteger);
  report.add_column("median_ms", "median_ms", BenchReport::Format::kMs);
  report.add_column("peak_allocated_bytes", "peak_GiB", BenchReport::Format::kGiB);
  report.add_column("peak_reserved_bytes", "reserved_GiB", BenchReport::Format::kGiB);
  report.add_column("estimate_bytes", "estimate_GiB", BenchReport::Format::kGiB);

  if (o.untiled) {
    for (const auto& size : sizes) {
      auto row = decode_case(s, decoder, size, VaeTiling::whole(), meter);
      row["case"] = "untiled";
      if (row.contains("error")) report.mark_failed();
      report.add_row(row);
    }
  }
  if (o.tiled) {
    const int64_t cap = parse_byte_size(o.cap);
    const int64_t budget = cap - decoder.weight_bytes() - parse_byte_size(o.margin);
    meter.release_cache();
    if (device.is_cuda()) cap_device_memory(device, cap);
    for (const auto& size : sizes) {
      nlohmann::json row;
      try {
        const int64_t up = config.upscale();
        const auto tiling = o.tile > 0 ? VaeTiling::square(o.tile)
                                       : models::choose_vae_tile(config, size.height / up, size.width / up, dtype,
                                                                 budget, 1, device.type());
        row = decode_case(s, decoder, size, tiling, meter);
      } catch (const Error& e) {
        row = {{"image", size.str()}, {"error", e.what()}};
      }
      row["case"] = "tiled";
      if (row.contains("error")) report.mark_failed();
      row["activation_budget_bytes"] = budget;
      if (device.is_cuda()) row["cap_bytes"] = cap;
      report.add_row(row);
    }
    if (device.is_cuda()) cap_device_memory(device, device_memory_info(device).total);
    report.add_note("tiled cases: " + std::string(device.is_cuda() ? "allocator capped at " : "(no cap on a CPU) ") +
                    (device.is_cuda() ? format_byte_size(cap) + "; " : std::string()) + "activation budget " +
                    format_byte_size(budget) + " = cap - weights - margin " + o.margin);
  }
  return report;
}

}  // namespace baton::bench
