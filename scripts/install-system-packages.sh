#!/usr/bin/env bash
# Installs the Debian packages in scripts/system-packages.txt (plus any extra list files given).
# Used by .ci/run, the README set-up and the Dockerfile, so the three cannot drift.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lists=("$here/system-packages.txt" "$@")
mapfile -t pkgs < <(cat "${lists[@]}" | sed 's/#.*//' | awk 'NF')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
