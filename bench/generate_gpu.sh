#!/usr/bin/env bash
# `baton generate` end to end on one GPU at the released sizes (issue 7):
# random weights (--model random, no checkpoint), bf16, 1024x1024, 28 steps,
# CFG 5 on every step. Prints the summary baton writes (time per stage, peak
# per device) and the PyTorch reference numbers to read it against. From an
# existing build (builds nothing):
#
#   bench/generate_gpu.sh BUILD_DIR [extra generate options]
# Environment: DEVICE (cuda:0), SIZE (1024), STEPS (28), PROMPTS (2: the
# first image includes CUDA warm-up, the second is the steady-state one).
set -uo pipefail
build=${1:?usage: bench/generate_gpu.sh BUILD_DIR [generate options]}
shift
device=${DEVICE:-cuda:0}
size=${SIZE:-1024}
steps=${STEPS:-28}
prompts=${PROMPTS:-2}
out=$(mktemp -d /tmp/baton-generate.XXXXXX)
for i in $(seq 1 "$prompts"); do echo "1girl, lighthouse on a cliff at dusk, variant $i"; done > "$out/prompts.txt"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
echo "== baton generate --model random, $size x $size, $steps steps, $prompts prompt(s) queued on $device"
start=$(date +%s.%N)
"$build/cli/baton" generate --model random --devices "$device" --width "$size" --height "$size" --steps "$steps" \
  --prompt-file "$out/prompts.txt" --seed 7 --no-progress --max-in-flight 1 -o "$out" "$@" > "$out/log" 2>&1
rc=$?
end=$(date +%s.%N)
grep -E "image [0-9]+/[0-9]+ written|image\(s\) in|busy|peak on|error" "$out/log"
echo "process wall time (loading the random model included): $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
echo "PyTorch reference (H200, bf16): one DiT CFG call at 1024^2 193.8 ms eager / 136.2 ms compiled,"
echo "  so 28 steps = 5.43 s eager / 3.81 s compiled for the DiT alone; Gemma3 2x128 tokens 37 ms;"
echo "  the whole stack in bf16 is ~15 GiB of weights before activations (baselines.md)."
[ $rc -eq 0 ] || { echo "generate FAILED (exit $rc), log:"; tail -30 "$out/log"; }
exit $rc
