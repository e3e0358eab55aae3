#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is needed
# (Debian packages, the Python venv with TensorFlow), builds, then runs the
# C++ unit tests, the fuzzers (bounded time) and the TensorFlow interop tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
start=$SECONDS
"$root/scripts/install-deps.sh" --python
"$root/scripts/build.sh"

echo "== C++ unit tests"
ctest --test-dir "$root/build" --output-on-failure -j "$(nproc)"

echo "== fuzzers (clang, libFuzzer, bounded time)"
if [[ ! -f "$root/build/fuzz/build.ninja" ]]; then
  cmake -S "$root" -B "$root/build/fuzz" -G Ninja -DRECSHIP_FUZZ=ON \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$root/build/fuzz" -j "$(nproc)"
ctest --test-dir "$root/build/fuzz" --output-on-failure

echo "== TensorFlow interop tests"
RECSHIP_BUILD_DIR="$root/build" "$root/build/venv/bin/python" -m pytest "$root/tests/python" -q

echo "== all tests passed in $((SECONDS - start)) s"
