#!/usr/bin/env bash
# Installs baton's dependencies and builds it.
#
#   Debian 12 / Ubuntu 24.04 with apt:  libtorch-dev (CPU, 1.13 on Debian) and the rest from apt.
#   A CUDA host with PyTorch installed:  libtorch 2.x from PyTorch, NCCL from its wheel; if
#                                        .gpu/env.sh exists (../shared/gpu/README.md) it is sourced.
#   A host without a package registry:   nothing is installed; what is missing is listed.
#
# Usage: scripts/setup.sh [--no-build] [--build-dir DIR] [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
build_type=Release
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --build-dir) build_dir="$2"; shift ;;
    --debug) build_type=Debug ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "setup: $*"; }

# A CUDA PyTorch decides where libtorch comes from.
torch_cuda=""
if command -v python3 >/dev/null 2>&1; then
  torch_cuda=$(python3 -c 'import torch; print(torch.version.cuda or "")' 2>/dev/null || true)
fi
if [ -n "$torch_cuda" ] && [ -f .gpu/env.sh ]; then
  # shellcheck disable=SC1091
  source .gpu/env.sh
fi

common_pkgs=(cmake ninja-build g++ pkg-config git ccache
  libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libpng-dev libyaml-cpp-dev libzmq3-dev cppzmq-dev libsentencepiece-dev
  libopenmpi-dev openmpi-bin libgtest-dev libgmock-dev)
pkgs=("${common_pkgs[@]}")
if [ -n "$torch_cuda" ]; then
  say "using PyTorch's libtorch (CUDA $torch_cuda)"
  # pip's libtorch.so exports std::filesystem functions that crash when called;
  # the system g++ links libstdc++.so first so those names bind to it. A g++
  # that links libstdc++ statically (as /opt/gcc's wrapper does) binds them
  # to libtorch's copies instead.
  cxx=${CXX:-g++}
  if [ "$($cxx -print-file-name=libstdc++.so 2>/dev/null)" = "libstdc++.so" ] && [ -x /usr/bin/g++ ]; then
    say "$cxx links libstdc++ statically; building with /usr/bin/g++ instead"
    export CXX=/usr/bin/g++ CC=/usr/bin/gcc
  fi
else
  pkgs+=(libtorch-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo=sudo
  if command -v apt-get >/dev/null 2>&1 && $sudo apt-get update -qq >/dev/null 2>&1 \
      && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
           "${missing[@]}" >/dev/null; then
    say "installed ${missing[*]}"
  else
    # No registry (the bare CUDA host): packages may be present without dpkg
    # knowing, so let CMake decide and only report here.
    say "could not install with apt; not registered as installed: ${missing[*]}"
    say "continuing: CMake will name anything it really cannot find"
  fi
else
  say "all packages present"
fi

[ "$do_build" -eq 1 ] || exit 0

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
compiler=()
[ -n "${CXX:-}" ] && compiler=(-DCMAKE_CXX_COMPILER="$CXX")
[ -n "${CC:-}" ] && compiler+=(-DCMAKE_C_COMPILER="$CC")
cmake -S . -B "$build_dir" "${generator[@]}" "${compiler[@]}" -DCMAKE_BUILD_TYPE="$build_type"
cmake --build "$build_dir" -j "$(nproc)"
say "built $build_dir/cli/baton"
