#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install what is needed, build,
# and run `recship demo`: synthesize a DeepFM checkpoint, export it
# standalone and distributed, serve both layouts on loopback, and check that
# their predictions agree. Extra arguments go to `recship demo`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
mkdir -p "$root/build"
echo "== building recship (log: build/build.log)"
"$root/scripts/build.sh" recship > "$root/build/build.log" 2>&1 || { tail -50 "$root/build/build.log"; exit 1; }
exec "$root/build/recship" demo "$@"
