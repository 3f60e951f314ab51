#!/usr/bin/env bash
# The memory targets of issue 11 on a CUDA host, from an existing build
# (builds nothing): the whole pipeline (text stage, DiT, VAE) at SIZE x SIZE
# with the released sizes and random weights (--model random), every rank's
# CUDA allocator capped at its budget, and each rank's measured peak (the
# "peak on DEVICE" lines of baton generate) printed against its cap:
#
#   a. 4 ranks at 6 GiB   (mpirun -np 4; on 4 GPUs, or all 4 sharing cuda:0)
#   b. 2 ranks at 10 GiB  (mpirun -np 2; on 2 GPUs, or both sharing cuda:0)
#   c. 1 process at 12 GiB with int8 weights, and with fp8 weights
#   d. 1 process at 12 GiB in bf16: the planner time-shares the text stage
#      (the text encoders loaded only while prompts are encoded)
#
#   bench/memory_targets_gpu.sh BUILD_DIR
# Environment: STEPS (4: peaks do not depend on the step count), SIZE (1024),
# PROMPTS (2: the second one makes a time-shared device swap again),
# OUT (a temporary folder), MPIRUN_FLAGS (extra mpirun options), TARGETS
# (which of a b c d to run; default all). SMOKE=1 runs the same on the CPU
# with the demo model at 64x64 (checks the script itself; the peaks are then
# the processes' max RSS, not allocator peaks). Exit status 1 when a run
# fails or a peak is over its cap.
set -uo pipefail
build=${1:?usage: bench/memory_targets_gpu.sh BUILD_DIR}
baton="$build/cli/baton"
out=${OUT:-$(mktemp -d /tmp/baton-memory-targets.XXXXXX)}
steps=${STEPS:-4}
size=${SIZE:-1024}
prompts=${PROMPTS:-2}
targets=${TARGETS:-a b c d}
smoke=${SMOKE:-0}
status=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun_cmd=(mpirun --oversubscribe --bind-to none ${MPIRUN_FLAGS:-})

if [ "$smoke" = 1 ]; then
  model=demo size=64 gpus=4
  export BATON_CACHE_DIR="$out/cache" OMP_NUM_THREADS=1
  dev() { echo cpu; }  # every "GPU" is a CPU rank
else
  model=random
  gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
  dev() { echo "cuda:$1"; }
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
fi
[ -x "$baton" ] || { echo "no baton at $baton (build the 'baton' target first)"; exit 1; }
mkdir -p "$out"
echo "== output in $out; $gpus GPU(s); ${size}x${size}, $steps steps, $prompts prompts, model $model"
for i in $(seq 1 "$prompts"); do echo "a lighthouse on a cliff at dusk, style $i"; done > "$out/prompts.txt"
common=(generate --model "$model" --prompt-file "$out/prompts.txt" --seed 100 --width "$size" --height "$size"
        --steps "$steps" --no-progress)

devices_for() {  # devices_for RANKS CAP -> cuda:0=CAP,cuda:1=CAP,... or all on one GPU when too few
  local list="" i
  for ((i = 0; i < $1; i++)); do
    local d=$(dev $([ "$gpus" -ge "$1" ] && echo $i || echo 0))
    list+="${list:+,}$d=$2"
  done
  echo "$list"
}

to_bytes() {  # "5.43 GiB" -> bytes
  awk -v v="$1" -v u="$2" 'BEGIN { m["B"] = 1; m["KiB"] = 2^10; m["MiB"] = 2^20; m["GiB"] = 2^30; m["TiB"] = 2^40;
                                  printf "%.0f", v * m[u] }'
}

printf "%-22s %-5s %-10s %-8s %-10s %s\n" target rank device cap peak within > "$out/table.txt"
# run NAME RANKS CAP ARGS...: one process (RANKS 1) or mpirun -np RANKS; the
# peaks of its log go into the table.
run() {
  local name=$1 ranks=$2 cap=$3
  shift 3
  echo "== $name: $ranks rank(s), each capped at $cap: $*"
  if [ "$ranks" = 1 ]; then
    "$baton" "${common[@]}" "$@" -o "$out/$name" > "$out/$name.log" 2>&1
  else
    "${mpirun_cmd[@]}" -np "$ranks" "$baton" "${common[@]}" "$@" -o "$out/$name" > "$out/$name.log" 2>&1
  fi
  local rc=$?
  grep -E "image\(s\) in|peak on|time-shared|text stage loaded|error" "$out/$name.log" | sed "s/^/  [$name] /"
  if [ $rc -ne 0 ]; then
    echo "  [$name] FAILED (exit $rc; see $out/$name.log)"
    printf "%-22s %-5s %-10s %-8s %-10s %s\n" "$name" - - "$cap" - "FAILED" >> "$out/table.txt"
    status=1
    return
  fi
  local cap_bytes peaks=0
  cap_bytes=$(to_bytes "${cap%[KMGT]iB}" "${cap: -3}")
  while read -r _ _ device value unit _; do
    local rank=0 bytes verdict
    [[ $device =~ ^r([0-9]+)/(.*)$ ]] && rank=${BASH_REMATCH[1]} device=${BASH_REMATCH[2]}
    bytes=$(to_bytes "$value" "$unit")
    verdict=$([ "$bytes" -le "$cap_bytes" ] && echo yes || echo OVER)
    [ "$verdict" = yes ] || status=1
    printf "%-22s %-5s %-10s %-8s %-10s %s\n" "$name" "$rank" "$device" "$cap" "$value $unit" "$verdict" >> "$out/table.txt"
    peaks=$((peaks + 1))
  done < <(grep -E "^ *peak on " "$out/$name.log")
  if [ $peaks -eq 0 ]; then
    echo "  [$name] FAIL: no peak reported"
    status=1
  fi
}

for t in $targets; do
  case $t in
    a) run 4x6GiB 4 6GiB --devices "$(devices_for 4 6GiB)" ;;
    b) run 2x10GiB 2 10GiB --devices "$(devices_for 2 10GiB)" ;;
    c) run 1x12GiB-int8 1 12GiB --devices "$(dev 0)=12GiB" --dtype int8
       run 1x12GiB-fp8 1 12GiB --devices "$(dev 0)=12GiB" --dtype fp8 ;;
    d) run 1x12GiB-bf16-shared 1 12GiB --devices "$(dev 0)=12GiB" --dtype bf16
       if [ "$smoke" != 1 ] && ! grep -q "time-shared" "$out/1x12GiB-bf16-shared.log"; then
         echo "  [1x12GiB-bf16-shared] note: the plan did not time-share the text stage"
       fi ;;
    *) echo "unknown target '$t' (use a b c d)"; exit 2 ;;
  esac
done

echo "== peaks against caps$([ "$smoke" = 1 ] && echo " (SMOKE: CPU max RSS, not allocator peaks)")"
cat "$out/table.txt"
echo "== memory_targets_gpu.sh: $([ $status -eq 0 ] && echo all within their caps || echo FAILED) (logs in $out)"
exit $status
