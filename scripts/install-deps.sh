#!/usr/bin/env bash
# Installs what recship needs on Debian 12: the apt packages in
# scripts/apt-packages.txt and, with --python, the test venv in build/venv.
# Idempotent: installs only what is missing, so a second run takes a second.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
with_python=0
[[ "${1:-}" == "--python" ]] && with_python=1

sudo_cmd=()
[[ "$(id -u)" == 0 ]] || sudo_cmd=(sudo)

mapfile -t packages < <(grep -v '^\s*#' "$root/scripts/apt-packages.txt" | grep -v '^\s*$')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ((with_python)); then
  venv="$root/build/venv"
  req="$root/tests/python/requirements.txt"
  nodeps="$root/tests/python/requirements-nodeps.txt"
  stamp="$venv/.requirements.sha256"
  want="$(cat "$req" "$nodeps" | sha256sum | cut -d' ' -f1)"
  if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "== creating the test venv in build/venv (tensorflow-cpu, numpy, pytest, tensorflow-serving-api)"
    mkdir -p "$root/build"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -r "$req"
    "$venv/bin/pip" install -q --no-deps -r "$nodeps"
    echo "$want" > "$stamp"
  fi
fi
