#!/usr/bin/env bash
# The distributed pipeline on a CUDA host (issue 9), from an existing build
# (builds nothing; docs/distributed.md). Released sizes with random weights
# (--model random: no checkpoint needed), bf16, NCCL between GPU ranks:
#
#   1. throughput: PROMPTS queued prompts at SIZE on 1 GPU, then on 2 and 4
#      GPUs under mpirun: images per minute (loading excluded) and scaling
#      efficiency against 1 GPU;
#   2. partition parity: every image of the 2- and 4-GPU runs must equal the
#      1-GPU image of its seed within bf16 tolerance (png_compare: mean abs
#      diff <= 1 of 255);
#   3. four ranks sharing cuda:0, each capped at CAP (8GiB), running the whole
#      pipeline (in bf16 the planner splits Gemma over two of them): every
#      rank's measured peak must be within its cap.
#
#   bench/distributed_gpu.sh BUILD_DIR
# Environment: STEPS (20), SIZE (1024), PROMPTS (8), CAP (8GiB), GPUS (all
# visible), OUT (a temporary folder), MPIRUN_FLAGS (extra mpirun options).
# SMOKE=1 runs the same on the CPU with the demo model at 64x64 (checks the
# script itself; no GPU needed).
set -uo pipefail
build=${1:?usage: bench/distributed_gpu.sh BUILD_DIR}
baton="$build/cli/baton"
compare="$build/tests/gpu/png_compare"
out=${OUT:-$(mktemp -d /tmp/baton-distributed.XXXXXX)}
steps=${STEPS:-20}
size=${SIZE:-1024}
prompts=${PROMPTS:-8}
cap=${CAP:-8GiB}
smoke=${SMOKE:-0}
status=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun_cmd=(mpirun --oversubscribe --bind-to none ${MPIRUN_FLAGS:-})

if [ "$smoke" = 1 ]; then
  model=demo size=64 steps=${STEPS:-3} gpus=4 cap=1GiB
  export BATON_CACHE_DIR="$out/cache" OMP_NUM_THREADS=1
  dev() { echo cpu; }  # every "GPU" is a CPU rank
  shared_devices="cpu=$cap,cpu=$cap,cpu=$cap,cpu=$cap"
else
  model=random
  gpus=${GPUS:-$(nvidia-smi -L 2>/dev/null | wc -l)}
  dev() { echo "cuda:$1"; }
  shared_devices="cuda:0=$cap,cuda:0=$cap,cuda:0=$cap,cuda:0=$cap"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
fi
echo "== output in $out; $gpus GPU(s); $size x $size, $steps steps, model $model"
mkdir -p "$out"
for i in $(seq 1 "$prompts"); do echo "prompt $i: a lighthouse on a cliff at dusk, style $i"; done > "$out/prompts.txt"
common=(generate --model "$model" --seed 100 --width "$size" --height "$size" --steps "$steps" --no-progress)

devices_for() {  # devices_for N -> cuda:0,cuda:1,... (one per rank)
  local list="" i
  for ((i = 0; i < $1; i++)); do list+="${list:+,}$(dev $i)"; done
  echo "$list"
}

run() {  # run NAME RANKS ARGS... : 1 rank = one process; its log in $out/NAME.log
  local name=$1 ranks=$2
  shift 2
  if [ "$ranks" = 1 ]; then
    "$baton" "${common[@]}" "$@" > "$out/$name.log" 2>&1
  else
    "${mpirun_cmd[@]}" -np "$ranks" "$baton" "${common[@]}" "$@" > "$out/$name.log" 2>&1
  fi
  local rc=$?
  grep -E "image\(s\) in|busy|peak on|channels to|error" "$out/$name.log" | sed "s/^/  [$name] /"
  [ $rc -eq 0 ] || { echo "  [$name] FAILED (exit $rc; see $out/$name.log)"; status=1; }
  return $rc
}

seconds_of() { sed -n 's/^\([0-9]*\) image(s) in \([0-9.]*\) s.*/\2/p' "$out/$1.log" | tail -1; }

echo "== 1+2. $prompts queued prompts on 1, then 2 and 4 GPUs (NCCL between DiT ranks)"
declare -A ipm
for n in 1 2 4; do
  [ "$gpus" -ge $n ] || { echo "  (skipping $n GPUs: $gpus visible)"; continue; }
  run "gpus$n" $n --devices "$(devices_for $n)" --prompt-file "$out/prompts.txt" -o "$out/gpus$n" || continue
  s=$(seconds_of "gpus$n")
  ipm[$n]=$(awk -v p="$prompts" -v s="$s" 'BEGIN { printf "%.2f", p * 60 / s }')
  if [ $n = 1 ]; then
    echo "  throughput 1 GPU: ${ipm[1]} images/minute ($prompts in $s s)"
    continue
  fi
  eff=$(awk -v a="${ipm[$n]}" -v b="${ipm[1]:-0}" -v n=$n 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b / n; else print "n/a" }')
  echo "  throughput $n GPUs: ${ipm[$n]} images/minute ($prompts in $s s), scaling efficiency $eff"
  if [ "$smoke" != 1 ] && ! grep -q "nccl" "$out/gpus$n.log"; then
    echo "  [gpus$n] FAIL: no NCCL channel (is NCCL compiled in? baton --version)"
    status=1
  fi
  # Every image against the 1-GPU image of the same seed: the partition must not change it.
  for png in "$out/gpus1"/*.png; do
    "$compare" "$png" "$out/gpus$n/$(basename "$png")" --max-mean 1.0 || status=1
  done
done

echo "== 3. four ranks sharing $(dev 0), each capped at $cap"
if run shared 4 --devices "$shared_devices" --prompt-file "$out/prompts.txt" -o "$out/shared"; then
  cap_bytes=$(numfmt --from=iec-i --suffix=B "$cap" 2>/dev/null | tr -d B || echo 0)
  grep -E "peak on r[0-3]/" "$out/shared.log" | while read -r _ _ device value unit _; do
    bytes=$(numfmt --from=iec-i "${value}${unit:0:1}i" 2>/dev/null || echo 0)
    verdict=$([ "$bytes" -le "$cap_bytes" ] && echo "within" || echo "OVER")
    echo "  $device peak $value $unit: $verdict the cap of $cap"
  done | tee "$out/shared.peaks"
  grep -q OVER "$out/shared.peaks" && status=1
  [ -s "$out/shared.peaks" ] || { echo "  FAIL: no GPU rank reported a peak"; status=1; }
  grep -E "rank [0-3] \(idle\)" "$out/shared.log" | sed 's/^/  (the plan left it idle) /'
fi

echo "== distributed_gpu.sh: $([ $status -eq 0 ] && echo all ok || echo FAILED) (logs in $out)"
exit $status
