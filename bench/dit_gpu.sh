#!/usr/bin/env bash
# The Next-DiT checks for a CUDA host, from an existing build (builds nothing):
# the dit_a golden on cuda:0 in fp32 and bf16, then the released-size benchmark
# (1024x1024 and 512x512, CFG pair of 128- and 8-token captions, bf16) with each
# SDPA kernel family. Extra arguments go to `baton bench dit` (e.g. --iters 20).
#
#   bench/dit_gpu.sh build-gpu
set -uo pipefail
build=${1:?usage: bench/dit_gpu.sh BUILD_DIR [baton bench dit options]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
golden="$root/tests/data/dit_a.safetensors"
status=0

echo "== dit_a golden on cuda:0, fp32 (tolerance 1e-4)"
"$build/cli/baton" verify --device cuda:0 --dtype fp32 "$golden" || status=1
echo "== dit_a golden on cuda:0, bf16 (2e-2; guided outputs x sqrt(s^2+(1-s)^2))"
"$build/cli/baton" verify --device cuda:0 --dtype bf16 "$golden" || status=1
echo "== attention alone (1024x1024, 128-token caption): SDPA families, native GQA vs repeated K/V"
"$build/cli/baton" bench dit --device cuda:0 --dtype bf16 --attention --sdpa auto,flash,cudnn,efficient || status=1
echo "== released size, bf16, random weights (PyTorch eager on an H200: 193.8 ms at 1024, 69.2 ms at 512)"
"$build/cli/baton" bench dit --device cuda:0 --dtype bf16 --size 1024x1024 --size 512x512 \
  --sdpa auto,flash,cudnn,efficient "$@" || status=1
echo "== dit_gpu.sh: $([ $status -eq 0 ] && echo all ok || echo FAILED)"
exit $status
