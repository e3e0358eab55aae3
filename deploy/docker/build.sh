#!/usr/bin/env bash
# Builds the image (deploy/docker/Dockerfile) from the repository: docker or
# podman, whichever is there and running. Exits 0 without building, saying
# why, when neither can build here (no engine, no daemon, or no way to pull
# the Debian base image); any other failure is an error.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tag="${1:-recship:latest}"
for engine in docker podman; do
  command -v "$engine" >/dev/null || continue
  if ! "$engine" info >/dev/null 2>&1; then
    echo "container image not built: $engine cannot reach its daemon" >&2
    exit 0
  fi
  if ! "$engine" pull -q debian:bookworm >/dev/null 2>&1; then
    echo "container image not built: $engine cannot pull debian:bookworm" >&2
    exit 0
  fi
  exec "$engine" build -f "$root/deploy/docker/Dockerfile" -t "$tag" "$root"
done
echo "container image not built: no docker or podman on this machine" >&2
