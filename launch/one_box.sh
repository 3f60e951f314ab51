#!/usr/bin/env bash
# baton on one box with N GPUs (docs/cluster.md).
#
#   launch/one_box.sh [-n RANKS] [--dry-run] -- BATON-ARGS...
#
#   launch/one_box.sh -- serve --model /models/NewBie --listen tcp://127.0.0.1:7690
#   launch/one_box.sh -n 4 -- batch prompts.jsonl --out results --model /models/NewBie
#
# Without -n: one process drives every GPU of the box with a thread each.
# With -n N: `mpirun -np N` on localhost, one rank per GPU (each rank takes the
# GPU of its local rank). Environment: BATON (the executable, default: baton on
# PATH), MPIRUN (default: mpirun), MPIRUN_ARGS (extra mpirun options).
set -euo pipefail

ranks=""
dry_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) ranks="${2:?-n needs a number}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[[ $# -gt 0 ]] || { echo "one_box.sh: give the baton command after --, e.g. -- serve --model DIR" >&2; exit 2; }
if [[ -n "$ranks" && ! "$ranks" =~ ^[1-9][0-9]*$ ]]; then
  echo "one_box.sh: -n needs a positive number of ranks, got '$ranks'" >&2; exit 2
fi

baton="${BATON:-baton}"
if [[ -z "$ranks" ]]; then
  cmd=("$baton" "$@")
else
  # --bind-to none: each rank runs several threads (data plane, stages).
  cmd=("${MPIRUN:-mpirun}" -np "$ranks" --host "localhost:$ranks" --bind-to none)
  # The variables baton reads reach every rank (those that are set).
  for v in BATON_LOG_LEVEL BATON_CACHE_DIR BATON_TRANSPORT_ADDRESS LD_LIBRARY_PATH PATH; do
    [[ -n "${!v:-}" ]] && cmd+=(-x "$v")
  done
  # shellcheck disable=SC2206  # MPIRUN_ARGS is a list of words on purpose
  [[ -n "${MPIRUN_ARGS:-}" ]] && cmd+=(${MPIRUN_ARGS})
  cmd+=("$baton" "$@")
fi

if [[ $dry_run == 1 ]]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
exec "${cmd[@]}"
