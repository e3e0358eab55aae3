#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is needed
# (Debian packages, the Python venv with TensorFlow), builds, then runs the
# C++ unit tests, the C++ example against the installed library, the Python
# package (built and installed into the venv), the C++
# tests under AddressSanitizer + UBSan and ThreadSanitizer, the fuzzers
# (bounded time), the TensorFlow interop tests and the container image build
# (where a container engine can build it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
start=$SECONDS
"$root/scripts/install-deps.sh" --python
echo "== layering: includes and links point down the stack"
python3 "$root/scripts/check_layers.py"
"$root/scripts/build.sh"

echo "== C++ unit tests"
ctest --test-dir "$root/build" --output-on-failure -j "$(nproc)"

echo "== C++ example against the installed library"
# Installs recship into build/install (afresh, so nothing removed from the
# tree lingers there) and builds examples/cpp against it as an outside
# project would, warnings as errors.
rm -rf "$root/build/install"
cmake --install "$root/build" --prefix "$root/build/install" >"$root/build/install.log" ||
  { cat "$root/build/install.log"; exit 1; }
echo "installed into build/install"
# Every installed public header compiles on its own (none needs a private one).
(cd "$root/build/install/include" && find recship -name '*.h' -print0 | sort -z |
  xargs -0 -n 1 -P "$(nproc)" sh -c 'printf "#include \"%s\"\n" "$1" |
    c++ -std=c++20 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I. $(pkg-config --cflags eigen3) -x c++ - ||
    { echo "not self-contained: $1" >&2; exit 1; }' sh)
echo "public headers are self-contained"
cmake -S "$root/examples/cpp" -B "$root/build/example" -G Ninja \
  -DCMAKE_PREFIX_PATH="$root/build/install" -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >/dev/null
cmake --build "$root/build/example"
"$root/build/example/custom_model"

echo "== Python package"
# `pip install .` into the test venv: the tests import the installed package.
# Its CMake build (build/python) is kept, so a second install is quick.
"$root/build/venv/bin/pip" install -q --no-build-isolation "$root"

echo "== TensorFlow interop tests"
RECSHIP_BUILD_DIR="$root/build" "$root/build/venv/bin/python" -m pytest "$root/tests/python" -q

echo "== container image"
# Builds deploy/docker's image where an engine can; otherwise says why.
"$root/deploy/docker/build.sh" recship:test

# ASan + UBSan over the C++ tests and the fuzzers, TSan over the concurrent ones.
"$root/scripts/sanitize.sh" address thread

echo "== all tests passed in $((SECONDS - start)) s"
