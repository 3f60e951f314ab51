#!/usr/bin/env bash
# The step loop's speed levers on a CUDA host, from the project root with a
# built tree (tests/gpu/build_and_test.sh): the Next-DiT call with its main
# blocks replayed from CUDA graphs or not (1024x1024 and 512x512, CFG pair,
# released sizes, random weights, bf16), then whole images through the pipeline
# (sampler on the device, so no host sync inside the step loop).
#   bash bench/cuda_graphs_gpu.sh BUILD_DIR [cuda:N]
# Environment: ITERS (DiT calls timed, 10), IMAGES (whole images timed, 2), STEPS (28).
set -uo pipefail
build=${1:?usage: bench/cuda_graphs_gpu.sh BUILD_DIR [cuda:N]}
device=${2:-cuda:0}
baton="$build/cli/baton"
[ -f .gpu/env.sh ] && source .gpu/env.sh
status=0
echo "== Next-DiT call, CUDA graphs off and on ($device)"
"$baton" bench dit --device "$device" --dtype bf16 --size 1024x1024 --size 512x512 --cuda-graphs off,on \
  --iters "${ITERS:-10}" --warmup 3 || status=1
echo "== whole images 1024x1024, ${STEPS:-28} steps"
"$baton" bench image --model random --devices "$device" --dtype bf16 --width 1024 --height 1024 \
  --steps "${STEPS:-28}" --iters "${IMAGES:-2}" --warmup 1 ${GRAPH_FLAGS:-} || status=1
exit $status
