#!/usr/bin/env bash
# crash_trials.sh: many SIGKILL trials of `elmo train` and `elmo embed` (tests/test_crash.c,
# whose short version runs in ctest): after every kill, checkpoint.bin must read with every
# CRC valid and never go back a step, weights.hdf5 / softmax.hdf5 / vocab.txt must load, the
# next run resumes from them, the chain of killed runs ends bit-identical to a run never
# killed, and an embed output is either the previous complete file or the new complete one.
#
#   scripts/crash_trials.sh [TRAIN_TRIALS [EMBED_TRIALS]]     (default 30 and 20)
#
# Environment: BUILD (default build: its test_crash and elmo), ELMO_CRASH_SEED (kill times).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
[[ -x $BUILD/test_crash ]] || { echo "crash_trials: build $BUILD first (cmake --build $BUILD)" >&2; exit 2; }
export ELMO_CRASH_TRAIN=${1:-30} ELMO_CRASH_EMBED=${2:-20} OMP_NUM_THREADS=1
export ELMO_CRASH_EMBED_LINES=${ELMO_CRASH_EMBED_LINES:-20000}
cd "$BUILD"
./test_crash 2>&1 | grep -E 'crash trials|OK|FAILED|ERROR|error|differs|disappeared|not complete'
