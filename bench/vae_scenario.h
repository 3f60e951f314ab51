#pragma once
// `baton bench vae`: the VAE decoder (spec E.2) at each image size, untiled,
// then tiled under an allocator cap with the tile chosen from the budget by
// models::choose_vae_tile (or forced). Median time, measured peak of the
// caching allocator, and the estimate (weights + models::vae_*_peak_bytes).
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/bench_settings.h"

namespace baton::bench {

struct VaeBenchOptions {
  std::vector<ImageSize> sizes;  // empty: the settings' width x height
  bool untiled = true;
  bool tiled = true;
  std::string cap = "2GiB";      // allocator cap for the tiled cases (CUDA)
  std::string margin = "256MiB"; // part of the cap kept free of activations (cuDNN workspaces, fragmentation)
  int64_t tile = 0;              // square tiles of this many latent pixels; 0: from the budget
};

BenchReport run_vae_bench(const BenchSettings& settings, const VaeBenchOptions& options);

}  // namespace baton::bench
