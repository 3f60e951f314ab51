#!/usr/bin/env bash
# Every golden file on a CUDA device in float32 (1e-4) and bf16 (2e-2; see
# baton verify --help for the guided outputs), from an existing build.
#   bash tests/gpu/verify_all.sh [build-dir] [device]
set -uo pipefail
build=${1:-build-gpu}
device=${2:-cuda:0}
status=0
for dtype in fp32 bf16; do
  echo "== baton verify --device $device --dtype $dtype"
  "$build/cli/baton" verify --device "$device" --dtype "$dtype" tests/data/*.safetensors || status=1
done
exit $status
