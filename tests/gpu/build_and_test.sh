#!/usr/bin/env bash
# On the CUDA host, from the project root: build with CUDA/NCCL and run the
# test suite (../shared/gpu/README.md). Prints the key lines for issue notes.
#   bash tests/gpu/build_and_test.sh [build-dir]
set -euo pipefail
build=${1:-build-gpu}
[ -f .gpu/env.sh ] && source .gpu/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
start=$(date +%s)
scripts/setup.sh --build-dir "$build" > "$build.setup.log" 2>&1 || { tail -50 "$build.setup.log"; exit 1; }
grep -E "baton .*torch|CUDA|NCCL" "$build.setup.log" | head -5 || true
echo "build: $(( $(date +%s) - start )) s"
"$build/cli/baton" --version
status=0
ctest --test-dir "$build" --output-on-failure -j8 > "$build.ctest.log" 2>&1 || status=$?
grep -E "tests passed|tests failed|\(Failed\)|\(Skipped\)|Total Test time" "$build.ctest.log" || true
exit $status
