#!/bin/sh
# compare_train.sh: biLM training throughput of elmo.c (bench_train) against the PyTorch peer
# (../shared/peer/train_bench_torch.py, both of its LSTM modes), side by side in one run:
# options_default_small.json, vocabulary 50,000, batch 32, unroll 20, 4,096 negatives,
# 2 threads, 20 timed steps after 3 warm-up steps. Prints one JSON line per run.
#
#   bench/compare_train.sh [BUILD_DIR]     (default: build)
#
# As in compare.sh, when OpenBLAS mis-detects the CPU both run with the better
# OPENBLAS_CORETYPE (bench_train re-executes itself with it; the peer gets it exported).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$here/$build ;; esac
peer=${PEER:-$here/../shared/peer}
opts=$peer/options_default_small.json
core=$("$build/bench_embed" --print-blas-core)
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ "$core" != "$(ELMO_NO_BLAS_FIX=1 "$build/bench_embed" --print-blas-core)" ]; then
    export OPENBLAS_CORETYPE=$core
    echo "OpenBLAS mis-detects this CPU: OPENBLAS_CORETYPE=$core for both implementations" >&2
fi
for lstm in fused explicit; do
    /usr/bin/python3 "$peer/train_bench_torch.py" --options "$opts" --lstm $lstm --batch-size 32 \
        --negatives 4096 --threads 2 --steps 20
done
"$build/bench_train" --options "$opts" --vocab-size 50000 --batch-size 32 --unroll-steps 20 \
    --negatives 4096 --steps 20 --threads 2
