#!/usr/bin/env bash
# Sanitizer builds with clang, and the C++ tests under them. Arguments pick
# the builds (default both):
#   address  AddressSanitizer + UndefinedBehaviorSanitizer (with LeakSanitizer)
#            over every C++ unit test, then the libFuzzer targets for a bounded
#            time; build/asan.
#   thread   ThreadSanitizer over the tests that run servers, hash tables,
#            sessions and remote calls; build/tsan.
# A report fails the run. Suppressions (tests/sanitizers/*.supp) name only
# third-party false positives.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc)"
kinds=("$@")
((${#kinds[@]})) || kinds=(address thread)

configure() {  # configure <dir> <sanitizer>
  [[ -f "$1/build.ninja" ]] && return
  cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_COMPILER=clang++ \
    -DRECSHIP_SANITIZE="$2" -DRECSHIP_BUILD_BENCH=OFF >/dev/null
}

for kind in "${kinds[@]}"; do
  case "$kind" in
    address)
      echo "== C++ tests and fuzzers under AddressSanitizer + UndefinedBehaviorSanitizer"
      configure "$root/build/asan" address
      cmake --build "$root/build/asan" -j "$jobs" --target cpp_tests fuzz_targets
      export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
      export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
      ctest --test-dir "$root/build/asan" --output-on-failure -j "$jobs" -L cpp
      ctest --test-dir "$root/build/asan" --output-on-failure -L fuzz
      ;;
    thread)
      echo "== server, hash table and remote-call tests under ThreadSanitizer"
      configure "$root/build/tsan" thread
      cmake --build "$root/build/tsan" -j "$jobs" --target cpp_tests
      export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp"
      ctest --test-dir "$root/build/tsan" --output-on-failure -j "$jobs" -L cpp
      ;;
    *)
      echo "sanitize.sh: unknown build '$kind' (address or thread)" >&2
      exit 2
      ;;
  esac
done
