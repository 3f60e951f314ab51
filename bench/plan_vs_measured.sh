#!/usr/bin/env bash
# Issue 8's check on the CUDA host: the planner's estimate (weights + activations
# + the GPU library workspace) against the measured peak of each stage, run on
# one GPU with random weights at the released sizes:
#   - the released DiT at 512x512 and 1024x1024 with both CFG branches of 128-token
#     captions in one microbatch (what baselines.md measured for PyTorch: 7.28 GiB at 1024),
#     and at the planner's default sizing (512-token captions, one branch per microbatch);
#   - the text stage (Gemma3 + Jina, 2 prompts) at 128 and 512 tokens;
#   - the VAE decode at 1024x1024.
# Prints each table (estimate, measured peak, ratio) and a verdict per row; the bar
# is a ratio within 10 % (0.90..1.10). JSON goes to <build>/bench-results/.
#   bash bench/plan_vs_measured.sh [build-dir] [device] [baton bench options...]
#   (defaults: build-gpu cuda:0; e.g. "build cpu --preset tiny" tries it on a CPU)
set -uo pipefail
build=${1:-build-gpu}
device=${2:-cuda:0}
shift $(( $# < 2 ? $# : 2 ))
baton="$build/cli/baton"
[ -x "$baton" ] || { echo "plan_vs_measured.sh: $baton not found (build the baton target)" >&2; exit 1; }
out="$build/bench-results"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
status=0
common=(--device "$device" --dtype bf16 --iters 3 --warmup 1 "$@")
run() {
  local name=$1
  shift
  echo "== $name"
  "$baton" bench memory "${common[@]}" "$@" --json-out "$out/plan_vs_measured_$name.json" || status=1
}
run dit_512_cfg128 --width 512 --height 512 --caption-tokens 128 --microbatch 2 --stages dit
run dit_1024_cfg128 --width 1024 --height 1024 --caption-tokens 128 --microbatch 2 --stages dit
run dit_1024_plan --width 1024 --height 1024 --caption-tokens 512 --microbatch 1 --stages dit
run text_128 --caption-tokens 128 --stages text
run text_512 --caption-tokens 512 --stages text
run vae_1024 --width 1024 --height 1024 --stages vae

echo "== summary (bar: measured / estimate within 0.90..1.10)"
if command -v python3 >/dev/null; then
  python3 - "$out"/plan_vs_measured_*.json <<'PY' || status=1
import json, sys
bad = 0
for path in sys.argv[1:]:
    j = json.load(open(path))
    for r in j["results"]:
        if "ratio" not in r:
            print(f"{path}: {r['stage']}: n/a ({r.get('error', '')})"); bad += 1; continue
        ok = 0.90 <= r["ratio"] <= 1.10
        bad += not ok
        print(f"{j['width']}x{j['height']} {j['caption_tokens']:>3} tok x{j['microbatch_samples']}  {r['stage']:<45} "
              f"estimate {r['estimate_bytes'] / 2**30:6.3f} GiB  measured {r['peak_bytes'] / 2**30:6.3f} GiB  "
              f"ratio {r['ratio']:.3f}  {'ok' if ok else 'OUTSIDE 10 %'}")
sys.exit(1 if bad else 0)
PY
else
  echo "(no python3: read the meas/est column of the tables above)"
fi
echo "== plan_vs_measured.sh: $([ $status -eq 0 ] && echo all within 10 % || echo FAILED or outside the bar)"
exit $status
