#!/usr/bin/env bash
# On the CUDA host, from the project root, with a built tree (tests/gpu/build_and_test.sh):
# the VAE decode benchmark (released size, random weights, bf16) and the vae_a
# golden check on the GPU. Writes <build>/vae_bench.json and prints a summary.
#   bash bench/vae_gpu.sh [build-dir] [device]
set -euo pipefail
build=${1:-build-gpu}
device=${2:-cuda:0}
bench="$build/bench/baton_vae_bench"
[ -x "$bench" ] || { echo "vae_gpu.sh: $bench not found (build the baton_vae_bench target)" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# Untiled 1024x1024, then 1024x1024 and 2048x2048 under a 2 GiB allocator cap
# with the tile chosen from the budget (JSON kept for the issue notes).
"$bench" --device "$device" --dtype bf16 --untiled 1024 --tiled 1024 2048 --cap 2GiB --warmup 1 --iters 5 --json \
  | tee "$build/vae_bench.json"
# The same, human-readable, plus forced 64-latent tiles (diffusers' default tile) for comparison.
"$bench" --device "$device" --dtype bf16 --untiled 1024 --tiled 1024 2048 --cap 2GiB --warmup 1 --iters 5
"$bench" --device "$device" --dtype bf16 --untiled 0 --tiled 1024 2048 --cap 2GiB --tile 64 --warmup 1 --iters 3

# Parity with diffusers on the GPU (bf16 tolerance 2e-2; fp32 1e-4).
baton="$build/cli/baton"
for dtype in bf16 fp32; do
  if "$baton" verify --help >/dev/null 2>&1; then
    "$baton" verify --device "$device" --dtype "$dtype" tests/data/vae_a.safetensors
  else
    echo "vae_gpu.sh: this build has no 'baton verify' yet; running the vae tests instead"
    ctest --test-dir "$build" -R 'VaeDecoder|VaeTiling|VaeMemory' --output-on-failure
    break
  fi
done
