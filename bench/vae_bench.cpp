// VAE decode benchmark (issue 6): the released FLUX VAE decoder with random
// weights, untiled at the given sizes, then tiled under an allocator cap (the
// tile chosen from the budget by choose_vae_tile unless --tile forces one).
// Reports the median time after warm-up (device synchronised), the measured
// peak of the caching allocator and the estimate (weights + activations).
//
//   baton_vae_bench --device cuda:0 --dtype bf16 [--json]
//   baton_vae_bench --tiny --device cpu --dtype fp32          (smoke test)
#include <CLI/CLI.hpp>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#ifdef BATON_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/byte_size.h"
#include "core/device_memory.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/random_tensor_source.h"
#include "models/vae/vae_decoder.h"
#include "models/vae/vae_memory.h"
#include "models/vae/vae_tiling.h"

namespace {

using baton::models::VaeConfig;
using baton::models::VaeDecoder;
using baton::models::VaeTiling;

struct Settings {
  std::string device = "cuda:0";
  std::string dtype = "bf16";
  std::vector<int64_t> untiled_sizes{1024};
  std::vector<int64_t> tiled_sizes{1024, 2048};
  std::string cap = "2GiB";
  std::string margin = "256MiB";
  int64_t tile = 0;
  int warmup = 1;
  int iters = 3;
  bool tiny = false;
  bool json = false;
};

struct Case {
  std::string name;
  int64_t size = 0;
  VaeTiling tiling;
  int64_t tiles = 1;
  int64_t cap = 0;
  int64_t budget = 0;
  int64_t estimate = 0;  // weights + activations
  std::vector<double> ms;
  int64_t peak_allocated = 0;
  int64_t peak_reserved = 0;
  std::string error;

  double median_ms() const {
    if (ms.empty()) return 0;
    auto v = ms;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  nlohmann::json to_json() const {
    nlohmann::json j{{"name", name},           {"image", std::to_string(size) + "x" + std::to_string(size)},
                     {"latent", size / 8},     {"tiling", tiling.describe()},
                     {"tiles", tiles},         {"median_ms", median_ms()},
                     {"times_ms", ms},         {"peak_allocated_bytes", peak_allocated},
                     {"peak_reserved_bytes", peak_reserved}, {"estimate_bytes", estimate}};
    if (cap) j["cap_bytes"] = cap;
    if (budget) j["activation_budget_bytes"] = budget;
    if (!error.empty()) j["error"] = error;
    return j;
  }
};

void run_case(const VaeDecoder& decoder, const Settings& s, Case& c) {
  const auto device = decoder.device();
  const int64_t latent = c.size / decoder.config().upscale();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(uint64_t(1234));
  const auto z = at::empty({1, decoder.config().latent_channels, latent, latent}, at::kFloat).normal_(0, 1, gen).to(device);
  c.tiles = int64_t(baton::models::vae_tile_starts(latent, c.tiling.tile_h, c.tiling.overlap).size() *
                    baton::models::vae_tile_starts(latent, c.tiling.tile_w, c.tiling.overlap).size());
  c.estimate = decoder.weight_bytes() + baton::models::vae_tiled_decode_peak_bytes(
                                             decoder.config(), latent, latent, decoder.dtype(), c.tiling, 1, device.type());
  try {
    for (int i = 0; i < s.warmup + s.iters; ++i) {
      if (i == s.warmup) baton::reset_peak_memory(device);
      baton::synchronize_device(device);
      const auto t0 = std::chrono::steady_clock::now();
      auto image = decoder.decode_latent_tiled(z, c.tiling);
      baton::synchronize_device(device);
      const auto t1 = std::chrono::steady_clock::now();
      if (i >= s.warmup) c.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    c.peak_allocated = baton::peak_allocated_bytes(device);
    c.peak_reserved = baton::peak_reserved_bytes(device);
  } catch (const std::exception& e) {  // out of memory under the cap is a result, not a crash
    c.error = std::string(e.what()).substr(0, 300);
  }
}

void release_cache() {
#ifdef BATON_WITH_CUDA
  c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

int run(const Settings& s) {
  const at::Device device(s.device);
  const auto dtype = baton::parse_dtype(s.dtype);
  VaeConfig config = VaeConfig::released();
  if (s.tiny) config.block_out_channels = {32, 32, 64, 64};
  baton::RandomTensorSource weights(baton::models::vae_decoder_tensor_shapes(config), 6, 1.0, "random VAE weights");
  VaeDecoder decoder(config, weights, at::TensorOptions().device(device).dtype(dtype));
  std::vector<Case> cases;

  for (int64_t size : s.untiled_sizes) {
    if (size <= 0) continue;
    Case c;
    c.name = "untiled";
    c.size = size;
    run_case(decoder, s, c);
    cases.push_back(c);
  }
  const int64_t cap = baton::parse_byte_size(s.cap);
  const int64_t budget = cap - decoder.weight_bytes() - baton::parse_byte_size(s.margin);
  release_cache();
  if (device.is_cuda()) baton::cap_device_memory(device, cap);
  for (int64_t size : s.tiled_sizes) {
    if (size <= 0) continue;
    const int64_t latent = size / config.upscale();
    Case c;
    c.name = "tiled";
    c.size = size;
    c.cap = device.is_cuda() ? cap : 0;
    c.budget = budget;
    try {
      c.tiling = s.tile > 0 ? VaeTiling::square(s.tile)
                            : s.tiny ? VaeTiling::square(std::max<int64_t>(latent / 2, 4))
                                     : baton::models::choose_vae_tile(config, latent, latent, dtype, budget, 1,
                                                                      device.type());
      run_case(decoder, s, c);
    } catch (const baton::Error& e) {
      c.error = e.what();
    }
    cases.push_back(c);
  }

  nlohmann::json out{{"benchmark", "vae_decode"},
                     {"device", device.str()},
                     {"dtype", baton::dtype_name(dtype)},
                     {"config", config.to_json()},
                     {"weights_bytes", decoder.weight_bytes()},
                     {"warmup", s.warmup},
                     {"iters", s.iters},
                     {"cases", nlohmann::json::array()}};
  bool ok = true;
  for (const auto& c : cases) {
    out["cases"].push_back(c.to_json());
    ok = ok && c.error.empty();
  }
  if (s.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "VAE decode on " << device.str() << " in " << baton::dtype_name(dtype) << ", weights "
              << baton::format_byte_size(decoder.weight_bytes()) << "\n";
    for (const auto& c : cases) {
      std::cout << "  " << c.name << " " << c.size << "x" << c.size << " (" << c.tiling.describe() << ", " << c.tiles
                << " tiles" << (c.cap ? ", cap " + baton::format_byte_size(c.cap) : std::string()) << "): ";
      if (!c.error.empty()) {
        std::cout << "FAILED: " << c.error << "\n";
        continue;
      }
      std::cout << c.median_ms() << " ms, peak allocated " << baton::format_byte_size(c.peak_allocated)
                << ", reserved " << baton::format_byte_size(c.peak_reserved) << ", estimate "
                << baton::format_byte_size(c.estimate) << "\n";
    }
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Benchmark of the FLUX VAE decoder (untiled, and tiled under an allocator cap)"};
  app.add_option("--device", s.device, "cuda:N or cpu")->capture_default_str();
  app.add_option("--dtype", s.dtype, "fp32 or bf16")->capture_default_str();
  app.add_option("--untiled", s.untiled_sizes, "image sides decoded untiled, no cap (0: none)")->capture_default_str();
  app.add_option("--tiled", s.tiled_sizes, "image sides decoded tiled under the cap (0: none)")->capture_default_str();
  app.add_option("--cap", s.cap, "allocator cap for the tiled cases (CUDA)")->capture_default_str();
  app.add_option("--margin", s.margin, "part of the cap kept free of activations (workspaces, fragmentation)")
      ->capture_default_str();
  app.add_option("--tile", s.tile, "force square tiles of this many latent pixels (0: from the budget)");
  app.add_option("--warmup", s.warmup, "untimed runs first")->capture_default_str();
  app.add_option("--iters", s.iters, "timed runs (median reported)")->capture_default_str();
  app.add_flag("--tiny", s.tiny, "a tiny decoder (smoke test on the CPU); tiled cases use half-size tiles");
  app.add_flag("--json", s.json, "print JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run(s);
  } catch (const baton::Error& e) {
    std::cerr << "baton_vae_bench: " << e.what() << (e.hint().empty() ? "" : "\n  hint: " + e.hint()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "baton_vae_bench: " << e.what() << "\n";
    return 1;
  }
}
