#!/usr/bin/env bash
# Install the Debian packages elmo.c needs to build and test (Debian 12).
# Open MPI (openmpi-bin, libopenmpi-dev) is optional for the build (mpirun -np N elmo train /
# embed; CMake finds it) and installed here so that CI runs the MPI test.
# Extra packages: ELMO_DEPS_EXTRA="pkg ..." scripts/deps.sh
set -euo pipefail
# clang-14 + libclang-rt-14-dev: the libFuzzer targets (scripts/fuzz.sh); valgrind: the
# memcheck test (scripts/valgrind.sh); time: peak memory in scripts/resource_limits.sh;
# libmicrohttpd-dev: `elmo serve` (optional for the build); wrk: bench/serve_load.sh;
# clang-format-14: the formatting check (ctest check_format, .clang-format).
pkgs="build-essential cmake pkg-config libdnnl-dev libhdf5-dev libcjson-dev libcmocka-dev openmpi-bin libopenmpi-dev clang-14 libclang-rt-14-dev valgrind time libmicrohttpd-dev wrk clang-format-14 ${ELMO_DEPS_EXTRA:-}"
# python3-dev + python3-numpy: the Python package (python/; optional for the build, built and
# tested by ctest when found); python3-pytest runs its tests (else unittest); python3-h5py:
# they also read the HDF5 output when present.
pkgs="$pkgs python3-dev python3-numpy python3-pytest python3-h5py"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
echo "deps: ok ($pkgs)"
