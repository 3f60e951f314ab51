#!/usr/bin/env bash
# Text encoders on the CUDA host (issue 5): the released-size benchmark of
# Gemma3 (hidden_states[-2]) and the Jina CLIP v2 text tower with random
# weights, then both text goldens in bf16 (tolerance 2e-2).
#   bash bench/text_gpu.sh [build-dir] [device]      (defaults: build-gpu cuda:0)
set -euo pipefail
build=${1:-build-gpu}
device=${2:-cuda:0}
[ -f .gpu/env.sh ] && source .gpu/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
cmake --build "$build" --target baton
mkdir -p "$build/bench-results"
out="$build/bench-results/text_encoder_$(date +%Y%m%d-%H%M%S).json"
"$build/cli/baton" bench text --device "$device" --dtype bf16 --json-out "$out"
"$build/cli/baton" verify --device "$device" --dtype bf16 tests/data/gemma3_a.safetensors tests/data/jina_a.safetensors
echo "results: $out"
