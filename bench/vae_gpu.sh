#!/usr/bin/env bash
# On the CUDA host, from the project root, with a built tree (tests/gpu/build_and_test.sh):
# the VAE decode benchmark (released size, random weights, bf16) and the vae_a
# golden check on the GPU. Writes <build>/vae_bench_*.json and prints a summary.
#   bash bench/vae_gpu.sh [build-dir] [device]
set -euo pipefail
build=${1:-build-gpu}
device=${2:-cuda:0}
baton="$build/cli/baton"
[ -x "$baton" ] || { echo "vae_gpu.sh: $baton not found (build the baton target)" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# Untiled 1024x1024, then 1024x1024 and 2048x2048 under a 2 GiB allocator cap
# with the tile chosen from the budget (JSON kept for the issue notes, <build>/vae_bench_*.json).
common=(--device "$device" --dtype bf16 --cap 2GiB --warmup 1)
"$baton" bench vae "${common[@]}" --iters 5 --size 1024x1024 --json-out "$build/vae_bench_1024.json"
"$baton" bench vae "${common[@]}" --iters 5 --size 2048x2048 --no-untiled --json-out "$build/vae_bench_2048.json"
# Forced 64-latent tiles (diffusers' default tile) for comparison.
"$baton" bench vae "${common[@]}" --iters 3 --size 1024x1024 --size 2048x2048 --no-untiled --tile 64

# Parity with diffusers on the GPU (bf16 tolerance 2e-2; fp32 1e-4).
for dtype in bf16 fp32; do
  if "$baton" verify --help >/dev/null 2>&1; then
    "$baton" verify --device "$device" --dtype "$dtype" tests/data/vae_a.safetensors
  else
    echo "vae_gpu.sh: this build has no 'baton verify' yet; running the vae tests instead"
    ctest --test-dir "$build" -R 'VaeDecoder|VaeTiling|VaeMemory' --output-on-failure
    break
  fi
done
