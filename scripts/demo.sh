#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install, build, run the demo:
# read what TensorFlow wrote, then train-folder -> export -> inspect a CTR model,
# export it distributed, serve both layouts and compare their predictions.
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
echo
echo "== recship export --mode distributed: entry + 4 shards, one version"
"$recship" export --model "$root/examples/ctr.json" --model-dir "$work/model" \
  --export-dir-base "$work/distributed" --mode distributed --global-step-as-timestamp

# Servers on free loopback ports; every one is stopped when the demo ends.
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# serve NAME LOG ARGS...: starts `recship serve` and waits until it listens.
serve() {
  local log="$work/$2.log" chosen; chosen=$(free_port)
  "$recship" serve --port "$chosen" "${@:3}" > "$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "serving on" "$log" && break; sleep 0.1; done
  grep -q "serving on" "$log" || { cat "$log"; exit 1; }
  printf -v "$1" '%s' "$chosen"
}
echo
echo "== recship serve: the standalone export, and the distributed layout (entry + 4 shard processes)"
serve standalone_port standalone --model_name ctr --model_base_path "$work/export"
addresses=""
for i in 0 1 2 3; do
  serve port "ps_$i" --model_name "ctr:ps_$i" --model_base_path "$work/distributed/ps_$i"
  addresses+="${addresses:+,}ps_$i=127.0.0.1:$port"
done
serve entry_port entry --model_name ctr --model_base_path "$work/distributed/entry" \
  --remote_addresses "$addresses"
grep -h "loaded in\|serving on" "$work"/standalone.log "$work"/entry.log

inputs=(--input 'user_id=[1, 2, 99999999]' --input 'item_id=[3, 4, 5]'
        --input 'context=[[0.1, 0.2, 0.3, 0.4], [1, 1, 1, 1], [0, 0, 0, 0]]'
        --input 'clicked_items_indices=[[0, 0], [0, 1], [2, 0]]'
        --input 'clicked_items_values=[5, 6, 7]' --input 'clicked_items_dense_shape=[3, 2]')
echo
echo "== recship predict, both layouts"
"$recship" predict --server "127.0.0.1:$standalone_port" --model-name ctr "${inputs[@]}" \
  > "$work/standalone.json"
"$recship" predict --server "127.0.0.1:$entry_port" --model-name ctr "${inputs[@]}" \
  > "$work/distributed.json"
python3 - "$work/standalone.json" "$work/distributed.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["outputs"]["prediction"] for p in sys.argv[1:])
print(f"{'row':>4} {'standalone':>12} {'distributed':>12}")
for i, (x, y) in enumerate(zip(a, b)):
    print(f"{i:>4} {x[0]:>12.6f} {y[0]:>12.6f}")
ok = all(abs(x[0] - y[0]) <= 1e-5 * max(1.0, abs(x[0])) for x, y in zip(a, b))
print("the two layouts agree" if ok else "the two layouts DISAGREE")
sys.exit(0 if ok else 1)
PY
