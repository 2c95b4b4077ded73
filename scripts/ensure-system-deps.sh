#!/usr/bin/env bash
# Make sure the system programs the gateway, its tests or its benchmarks need are present.
# Installs them with apt-get when it can (root, or passwordless sudo); otherwise says what to run.
set -euo pipefail
declare -A pkg=([redis]=redis-server [redis-cli]=redis-tools [chromium]=chromium [wrk]=wrk [promtool]=prometheus)
declare -A bin=([redis]=redis-server [redis-cli]=redis-cli [chromium]=chromium [wrk]=wrk [promtool]=promtool)
missing=()
for want in "$@"; do
  command -v "${bin[$want]}" >/dev/null 2>&1 || missing+=("${pkg[$want]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "Missing: ${missing[*]}. Run: sudo apt-get install -y ${missing[*]}" >&2; exit 1
    fi
  fi
  echo "Installing ${missing[*]} with apt-get ..." >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "Missing: ${missing[*]}. Install them with your package manager (e.g. brew install redis)." >&2
exit 1
