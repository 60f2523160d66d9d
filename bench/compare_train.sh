#!/bin/sh
# compare_train.sh: biLM training throughput of elmo.c (bench_train) against the PyTorch peer
# (../shared/peer/train_bench_torch.py, both of its LSTM modes), side by side in one run:
# options_default_small.json, vocabulary 50,000, batch 32, unroll 20, 4,096 negatives,
# 2 threads, 20 timed steps after 3 warm-up steps. Prints one JSON line per run.
#
#   bench/compare_train.sh [BUILD_DIR]     (default: build)
#
# elmo.c runs twice: --precision fp32 and bf16 (float32 master weights, bfloat16 products).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$here/$build ;; esac
peer=${PEER:-$here/../shared/peer}
opts=$peer/options_default_small.json
for lstm in fused explicit; do
    /usr/bin/python3 "$peer/train_bench_torch.py" --options "$opts" --lstm $lstm --batch-size 32 \
        --negatives 4096 --threads 2 --steps 20
done
for p in fp32 bf16; do
    "$build/bench_train" --options "$opts" --vocab-size 50000 --batch-size 32 --unroll-steps 20 \
        --negatives 4096 --steps 20 --threads 2 --precision $p
done
