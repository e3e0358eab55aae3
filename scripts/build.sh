#!/usr/bin/env bash
# Configures and builds recship in build/ (Release with debug info, Ninja).
# Arguments name targets to build (default: everything, tests and benchmarks).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc)"
if [[ ! -f "$root/build/build.ninja" ]]; then
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$root/build" -j "$jobs" "${targets[@]}"
