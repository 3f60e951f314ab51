#!/usr/bin/env bash
# Issue 11's step-speed levers on a CUDA host, from the project root with a
# built tree (tests/gpu/build_and_test.sh). Released sizes, random weights, bf16:
#   1. the Next-DiT call (CFG pair, 128 + 8 caption tokens) at 1024x1024 and
#      512x512 with its main blocks run eagerly and replayed from CUDA graphs
#   2. one main block at 1024x1024 split into matrix products, attention and
#      the rest (norms, modulation, RoPE): what fused kernels could save
#   3. whole images at 1024x1024 through the pipeline (sampler on the device:
#      no host sync inside the step loop), without and with --cuda-graphs
#   4. the GPU tests of CUDA graphs (same velocities, same PNGs)
#   bash bench/step_speed_gpu.sh BUILD_DIR [cuda:N]
# Environment: ITERS (DiT calls timed, 10), IMAGES (whole images timed, 4), STEPS (28).
set -uo pipefail
build=${1:?usage: bench/step_speed_gpu.sh BUILD_DIR [cuda:N]}
device=${2:-cuda:0}
baton="$build/cli/baton"
[ -f .gpu/env.sh ] && source .gpu/env.sh
status=0
echo "== 1. Next-DiT call, CUDA graphs off and on ($device)"
"$baton" bench dit --device "$device" --dtype bf16 --size 1024x1024 --size 512x512 --cuda-graphs off,on \
  --iters "${ITERS:-10}" --warmup 3 || status=1
echo "== 2. one main block at 1024x1024, part by part"
"$baton" bench dit --breakdown --device "$device" --dtype bf16 --size 1024x1024 --iters "${ITERS:-10}" --warmup 3 ||
  status=1
for graphs in "" --cuda-graphs; do
  echo "== 3. whole images 1024x1024, ${STEPS:-28} steps ${graphs:-(eager blocks)}"
  "$baton" bench image --model random --devices "$device" --dtype bf16 --width 1024 --height 1024 \
    --steps "${STEPS:-28}" --iters "${IMAGES:-4}" --warmup 1 $graphs 2>&1 | grep -v "^\[" || status=1
done
echo "== 4. GPU tests of CUDA graphs"
ctest --test-dir "$build" -R "CudaGraphs|CapturedCalls" --output-on-failure 2>&1 | grep -E "Test +#|tests passed|FAILED" ||
  status=1
exit $status
