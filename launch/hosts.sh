#!/usr/bin/env bash
# baton across hosts with an MPI hostfile: one rank per GPU slot (docs/cluster.md).
#
#   launch/hosts.sh HOSTFILE [--dry-run] -- BATON-ARGS...
#
#   launch/hosts.sh launch/hostfile.example -- batch prompts.jsonl --out /shared/results --model /shared/NewBie
#
# HOSTFILE lists "host slots=GPUS" lines (launch/hostfile.example); the number
# of ranks is the sum of the slots. Rank 0 (the first host) coordinates: it
# reads the prompts and writes the results, so --out must be writable there
# (a shared folder lets any host read them). The model folder must exist at the
# same path on every host. Environment: BATON, MPIRUN, MPIRUN_ARGS as in
# one_box.sh; BATON_TRANSPORT_ADDRESS picks the address ranks publish when a
# host has several networks.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "hosts.sh: usage: hosts.sh HOSTFILE [--dry-run] -- BATON-ARGS..." >&2; exit 2; }
hostfile="$1"; shift
dry_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) dry_run=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[[ -r "$hostfile" ]] || { echo "hosts.sh: cannot read hostfile '$hostfile'" >&2; exit 2; }
[[ $# -gt 0 ]] || { echo "hosts.sh: give the baton command after --" >&2; exit 2; }

# Sum of "slots=N" (a host without slots= counts 1); comments and blank lines skipped.
ranks=$(awk '!/^[[:space:]]*(#|$)/ { n = 1; for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) { split($i, a, "="); n = a[2] } s += n }
             END { print s + 0 }' "$hostfile")
[[ "$ranks" -ge 1 ]] || { echo "hosts.sh: $hostfile lists no host" >&2; exit 2; }

cmd=("${MPIRUN:-mpirun}" -np "$ranks" --hostfile "$hostfile" --map-by slot --bind-to none)
# The variables baton reads reach every rank (those that are set).
for v in BATON_LOG_LEVEL BATON_CACHE_DIR BATON_TRANSPORT_ADDRESS LD_LIBRARY_PATH PATH; do
  [[ -n "${!v:-}" ]] && cmd+=(-x "$v")
done
# shellcheck disable=SC2206
[[ -n "${MPIRUN_ARGS:-}" ]] && cmd+=(${MPIRUN_ARGS})
cmd+=("${BATON:-baton}" "$@")

if [[ $dry_run == 1 ]]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
exec "${cmd[@]}"
