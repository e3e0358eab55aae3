#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install, build, run the demo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
mkdir -p "$root/build"
"$root/scripts/build.sh" > "$root/build/build.log" 2>&1 || { cat "$root/build/build.log"; exit 1; }
echo "== recship inspect examples/model_dir (a training checkpoint TensorFlow wrote)"
"$root/build/recship" inspect --verify "$root/examples/model_dir"
echo
echo "== recship inspect examples/saved_model (a SavedModel TensorFlow wrote)"
"$root/build/recship" inspect --verify "$root/examples/saved_model"
