#!/usr/bin/env bash
# The numbers of docs/performance.md on a CUDA host, in one run (about 5
# minutes on an H200), from the project root with a built tree
# (tests/gpu/build_and_test.sh; builds nothing). Released sizes with seeded
# random weights (no checkpoint), bf16, one GPU:
#   1. one Next-DiT call at 1024x1024 (CFG pair, 128 + 8 caption tokens): bf16, int8, fp8 weights
#   2. Gemma3 (hidden_states[-2]) on 2x128, 1x128, 1x8 tokens: bf16, int8, fp8 weights
#   3. the VAE decode at 1024x1024, untiled and tiled under a 2 GiB cap
#   4. whole images at 1024x1024, 28 steps (text stage, DiT, VAE; baton bench image)
#   5. 8 queued prompts at 1024x1024, 28 steps (baton bench throughput)
# then the key lines next to the PyTorch baselines (../shared/baselines.md).
# Every table goes to the terminal and its JSON to BUILD_DIR/bench-results/.
# MEMORY_TARGETS=1 then runs bench/memory_targets_gpu.sh (issue 11's memory
# targets: whole images with every rank's allocator capped at its budget).
#
#   bash bench/performance_gpu.sh BUILD_DIR [cuda:N]
# Environment: ITERS (DiT calls timed, 10), IMAGES (whole images timed, 2),
# PROMPTS (8), STEPS (28), MEMORY_TARGETS (0), MPIRUN_FLAGS. SMOKE=1 runs the
# same on the CPU with the tiny/demo model at 64x64 (checks the script itself).
set -uo pipefail
build=${1:?usage: bench/performance_gpu.sh BUILD_DIR [cuda:N]}
device=${2:-cuda:0}
baton="$build/cli/baton"
iters=${ITERS:-10}
images=${IMAGES:-2}
prompts=${PROMPTS:-8}
steps=${STEPS:-28}
dtype=bf16 size=1024 model=random preset=()
if [ "${SMOKE:-0}" = 1 ]; then
  device=cpu dtype=fp32 size=64 model=demo preset=(--preset tiny) iters=2 images=1 prompts=${PROMPTS:-2} steps=${STEPS:-2}
  export BATON_CACHE_DIR=${BATON_CACHE_DIR:-$(mktemp -d /tmp/baton-perf.XXXXXX)}
fi
[ -f .gpu/env.sh ] && source .gpu/env.sh
gpu=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader -i "${device#cuda:}" 2>/dev/null || echo "$device")
out="$build/bench-results"
mkdir -p "$out"
stamp=$(date +%Y%m%d-%H%M%S)
json() { echo "$out/perf_${stamp}_$1.json"; }
status=0
echo "== performance_gpu.sh on $device ($gpu), $("$baton" --version 2>&1 | head -1)"

step() {  # step NAME TITLE ARGS... : one `baton bench` run, its table on screen, its JSON saved
  local name=$1 title=$2 start=$SECONDS
  shift 2
  echo
  echo "== $title"
  "$baton" bench "$@" --json-out "$(json "$name")" || { echo "  FAILED: baton bench $*"; status=1; }
  echo "   ($((SECONDS - start)) s)"
}

wh="${size}x${size}"
step dit "1. Next-DiT call, $wh, CFG pair: $dtype vs int8 vs fp8 weights" \
  dit --device "$device" --dtype "$dtype" "${preset[@]}" --size "$wh" --weights "$dtype,int8,fp8" --iters "$iters" --warmup 3
step text "2. Gemma3 (hidden_states[-2]): $dtype vs int8 vs fp8 weights" \
  text --device "$device" --dtype "$dtype" "${preset[@]}" --models gemma3 --weights "$dtype,int8,fp8" --iters "$iters" \
  --warmup 3
step vae "3. VAE decode, $wh: untiled, and tiled under a 2 GiB cap" \
  vae --device "$device" --dtype "$dtype" "${preset[@]}" --size "$wh" --iters 3 --warmup 1
step image "4. whole images, $wh, $steps steps, one device (text stage, DiT, VAE)" \
  image --model "$model" --devices "$device" --dtype "$dtype" --width "$size" --height "$size" --steps "$steps" \
  --iters "$images" --warmup 1
step throughput "5. $prompts queued prompts, $wh, $steps steps, one device" \
  throughput --model "$model" --devices "$device" --dtype "$dtype" --width "$size" --height "$size" --steps "$steps" \
  --prompts "$prompts" --warmup 1

if [ "${MEMORY_TARGETS:-0}" = 1 ]; then
  echo
  echo "== memory targets (bench/memory_targets_gpu.sh)"
  bash "$(dirname "$0")/memory_targets_gpu.sh" "$build" || status=1
fi

echo
echo "== key lines ($gpu; JSON in $out/perf_${stamp}_*.json)"
if command -v python3 > /dev/null; then
  python3 - "$out/perf_${stamp}" << 'EOF'
import json, sys
prefix = sys.argv[1]
def load(name):
    try:
        with open(f"{prefix}_{name}.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        print(f"  {name}: no result")
        return None
gib = lambda b: f"{b / 2**30:.2f} GiB"
if (j := load("dit")):
    for r in j["results"]:
        if "error" in r:
            print(f"  DiT call {r.get('size')} {r.get('weights')}: n/a ({r['error']})"); continue
        err = f", rel L2 vs dense {r['rel_l2_vs_dense']:.2e}" if "rel_l2_vs_dense" in r else ""
        print(f"  DiT call {r['size']} CFG pair, {r['weights']} weights: {r['median_ms']:.1f} ms median, "
              f"{r['tflops_per_s']:.0f} TFLOP/s, weights {gib(r['weight_bytes'])}, peak {gib(r['peak_allocated_bytes'])}{err}")
if (j := load("text")):
    for r in j["results"]:
        if r["batch"] != "2x128": continue
        err = f", rel L2 vs dense {r['rel_l2_vs_dense']:.2e}" if "rel_l2_vs_dense" in r else ""
        print(f"  Gemma3 2x128 tokens, {r['weights']} weights: {r['median_ms']:.1f} ms median, "
              f"weights {gib(r['weight_bytes'])}, peak {gib(r['peak_allocated_bytes'])}{err}")
if (j := load("vae")):
    for r in j["results"]:
        if "error" in r:
            print(f"  VAE {r.get('image')} {r.get('case')}: n/a ({r['error']})"); continue
        print(f"  VAE decode {r['image']} {r['case']} ({r['tiles']} tile(s)): {r['median_ms']:.1f} ms median, "
              f"peak {gib(r['peak_allocated_bytes'])}")
if (j := load("image")):
    stages = ", ".join(f"{r['stage']} {r['busy_seconds_per_image']:.2f} s" for r in j["results"])
    peaks = ", ".join(f"{p['device']} {gib(p['peak_bytes'])}" for p in j["peaks"])
    print(f"  whole image {j['width']}x{j['height']}, {j['steps']} steps: {j['seconds_per_image']:.2f} s median "
          f"({stages}); peak {peaks}")
if (j := load("throughput")):
    busy = ", ".join(f"{r['stage']} {100 * r['busy_fraction']:.0f}%" for r in j["results"])
    peaks = ", ".join(f"{p['device']} {gib(p['peak_bytes'])}" for p in j["peaks"])
    print(f"  throughput {j['prompts']} prompts {j['width']}x{j['height']}, {j['steps']} steps: "
          f"{j['images_per_minute']:.2f} images/minute (busy: {busy}); peak {peaks}")
EOF
else
  echo "  (no python3: read the tables above)"
fi
echo "== PyTorch baselines (../shared/baselines.md: one H200, PyTorch 2.11 cu130, bf16, released sizes, random weights)"
echo "  DiT call 1024x1024 CFG pair (128-token caption): eager 193.8 ms (320 TFLOP/s), torch.compile 136.2 ms (456 TFLOP/s); peak 7.28 GiB (weights 6.49 GiB)"
echo "  DiT call 512x512 CFG pair: eager 69.2 ms (209 TFLOP/s)"
echo "  Gemma3-4B text model 2x128 tokens: 37 ms, peak 7.46 GiB (weights 7.23 GiB, with the last layer)"
echo "  bf16 GEMM roofline: 790 TFLOP/s, so one 1024x1024 CFG call >= ~79 ms"
echo "  whole image (derived, not measured): 28 DiT calls = 5.43 s eager, 3.81 s compiled, before text encoders and VAE"
echo "== performance_gpu.sh: $([ $status -eq 0 ] && echo all ok || echo FAILED) (${SECONDS} s)"
exit $status
