#!/usr/bin/env bash
# Where the Next-DiT call's time goes on a CUDA host, kernel by kernel (issue
# 11's step speed), from the project root with a built tree: released sizes,
# random weights, bf16, the CFG pair (128 + 8 caption tokens) at 1024x1024.
#   1. the call's time without and with baton's fused kernels (core/fused_ops.h;
#      BATON_FUSED_KERNELS=0 turns them off), at 1024x1024 and 512x512
#   2. the call's kernels, blocks run eagerly (and a Chrome trace if TRACE_DIR is set)
#   3. the same with the main blocks replayed from CUDA graphs
#   4. one main block split into matrix products, attention and the rest
#   bash bench/profile_gpu.sh BUILD_DIR [cuda:N]
# Environment: CALLS (timed calls, 10), ITERS (profiled calls, 3), TOP (kernels listed, 40), TRACE_DIR.
set -uo pipefail
build=${1:?usage: bench/profile_gpu.sh BUILD_DIR [cuda:N]}
device=${2:-cuda:0}
baton="$build/cli/baton"
[ -f .gpu/env.sh ] && source .gpu/env.sh
status=0
trace=()
[ -n "${TRACE_DIR:-}" ] && trace=(--trace "$TRACE_DIR/dit_call_1024.json")
for fused in 0 1; do
  echo "== 1. Next-DiT call, BATON_FUSED_KERNELS=$fused"
  BATON_FUSED_KERNELS=$fused "$baton" bench dit --device "$device" --dtype bf16 --size 1024x1024 --size 512x512 \
    --iters "${CALLS:-10}" --warmup 3 || status=1
done
echo "== 2. kernels of the Next-DiT call at 1024x1024 ($device, eager blocks)"
"$baton" bench dit --profile --device "$device" --dtype bf16 --size 1024x1024 --iters "${ITERS:-3}" --warmup 2 \
  --top "${TOP:-40}" "${trace[@]}" || status=1
echo "== 3. the same, main blocks replayed from CUDA graphs"
"$baton" bench dit --profile --cuda-graphs on --device "$device" --dtype bf16 --size 1024x1024 --iters "${ITERS:-3}" \
  --warmup 2 --top 15 || status=1
echo "== 4. one main block at 1024x1024, part by part"
"$baton" bench dit --breakdown --device "$device" --dtype bf16 --size 1024x1024 --iters 10 --warmup 3 || status=1
exit $status
