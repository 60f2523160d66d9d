#!/usr/bin/env bash
# Install the Debian packages elmo.c needs to build and test (Debian 12).
# Optional extras: ELMO_DEPS_EXTRA="openmpi-bin libopenmpi-dev" scripts/deps.sh
set -euo pipefail
pkgs="build-essential cmake pkg-config libopenblas-dev libhdf5-dev libcjson-dev libcmocka-dev ${ELMO_DEPS_EXTRA:-}"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
echo "deps: ok ($pkgs)"
