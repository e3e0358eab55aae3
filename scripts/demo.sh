#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install, build, run the demo:
# read what TensorFlow wrote, then train-folder -> export -> inspect a CTR model.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
mkdir -p "$root/build"
"$root/scripts/build.sh" > "$root/build/build.log" 2>&1 || { cat "$root/build/build.log"; exit 1; }
recship="$root/build/recship"
work="$root/build/demo"
rm -rf "$work"

echo "== recship inspect examples/model_dir (a training checkpoint TensorFlow wrote)"
"$recship" inspect --verify "$root/examples/model_dir"
echo
echo "== recship inspect examples/saved_model (a SavedModel TensorFlow wrote)"
"$recship" inspect --verify "$root/examples/saved_model" | tail -8
echo
echo "== recship synth: a CTR training folder (examples/ctr.json, 100k ids per table, 4 shards)"
"$recship" synth --model "$root/examples/ctr.json" --out "$work/model" --ids 100000 --num-ps 4
echo
echo "== recship export --mode standalone (copy, then shared embeddings)"
"$recship" export --model "$root/examples/ctr.json" --model-dir "$work/model" \
  --export-dir-base "$work/export" --global-step 1 --json
"$recship" export --model "$root/examples/ctr.json" --model-dir "$work/model" \
  --export-dir-base "$work/export_shared" --global-step 1 --shared-embedding --json
echo
echo "== recship warmup, then an export that ships it"
"$recship" warmup --saved-model "$work/export/1" --out "$work/warmup" --count 8
"$recship" export --model "$root/examples/ctr.json" --model-dir "$work/model" \
  --export-dir-base "$work/export" --global-step 2 --warmup-file "$work/warmup"
echo
echo "== recship inspect --verify the export"
"$recship" inspect --verify "$work/export"
