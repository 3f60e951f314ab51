#!/usr/bin/env bash
# 8-bit weights on the CUDA host (docs/quantization.md), from the project root
# with a built tree (tests/gpu/build_and_test.sh; builds nothing):
#  1. the dit_a and gemma3_a goldens with int8 and fp8 weights in bf16 (baton verify --weights);
#  2. the released Next-DiT (baton bench dit --weights; random weights, 1024x1024 and 512x512,
#     CFG pair): bf16 vs int8 vs fp8 (FP8 matrix units) vs fp8 dequantised: time, weight bytes,
#     device memory, velocity error;
#  3. the released Gemma3 (baton bench text --weights; random weights): bf16 vs int8 vs fp8:
#     time, bytes, feature error.
# JSON goes to <build>/bench-results/, the tables to the terminal.
#   bash bench/quant_gpu.sh [build-dir] [device]      (defaults: build-gpu cuda:0)
set -uo pipefail
build=${1:-build-gpu}
device=${2:-cuda:0}
[ -f .gpu/env.sh ] && source .gpu/env.sh
nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv,noheader || true
out="$build/bench-results"
mkdir -p "$out"
stamp=$(date +%Y%m%d-%H%M%S)
status=0

for w in int8 fp8; do
  echo "== goldens with $w weights, bf16 compute (tolerance 2e-2 plus 1e-2 for int8, 5e-2 for fp8)"
  "$build/cli/baton" verify --device "$device" --dtype bf16 --weights "$w" \
    tests/data/dit_a.safetensors tests/data/gemma3_a.safetensors || status=1
done

echo "== Next-DiT, released size: bf16 vs int8 vs fp8 (FP8 matrix units where available)"
"$build/cli/baton" bench dit --device "$device" --dtype bf16 --size 1024x1024 --size 512x512 --weights bf16,int8,fp8 \
  --iters 10 --warmup 3 --json-out "$out/dit_quant_$stamp.json" || status=1
echo "== Next-DiT fp8 dequantised to bf16 instead (--fp8-matmul false), for comparison"
"$build/cli/baton" bench dit --device "$device" --dtype bf16 --size 1024x1024 --weights bf16,fp8 --fp8-matmul false \
  --iters 10 --warmup 3 || status=1

echo "== Gemma3 (hidden_states[-2]), released size: bf16 vs int8 vs fp8"
"$build/cli/baton" bench text --device "$device" --dtype bf16 --models gemma3 --weights bf16,int8,fp8 \
  --json-out "$out/text_quant_$stamp.json" || status=1

echo "results: $out/dit_quant_$stamp.json $out/text_quant_$stamp.json"
echo "== quant_gpu.sh: $([ $status -eq 0 ] && echo all ok || echo FAILED)"
exit $status
