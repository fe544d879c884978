#!/usr/bin/env bash
# Installs the system packages and Python tools that building and testing apitap need.
# Idempotent; needs root on Debian (bookworm or later).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential pkg-config libpcap-dev libcap2-bin tshark tcpdump iproute2 ethtool curl jq wrk
      python3 python3-pip prometheus chromium debootstrap postgresql nghttp2-client
      nghttp2-server apache2)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo not found; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
python3 -m pip install -q --disable-pip-version-check -r "$(dirname "$0")/../requirements-test.txt" 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check --break-system-packages -r "$(dirname "$0")/../requirements-test.txt"
