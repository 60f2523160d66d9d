#!/bin/sh
# compare_train.sh: biLM training throughput of elmo.c (bench_train) against the PyTorch peer
# (../shared/peer/train_bench_torch.py, both of its LSTM modes), side by side in one run:
# options_default_small.json, vocabulary 50,000, batch 32, unroll 20, 4,096 negatives,
# 2 threads, STEPS (default 60) timed steps after 3 warm-up steps: 60 steps are ~4 s of
# elmo.c's bf16 step, long enough that a moment of another tenant's load on the machine does
# not decide the figure (20 steps, 1.4 s, varied by 10 % from run to run). Prints one JSON
# line per run.
#
#   bench/compare_train.sh [BUILD_DIR]     (default: build)
#
# elmo.c runs twice: --precision fp32 and bf16 (float32 master weights, bfloat16 products).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
steps=${STEPS:-60}
case $build in /*) ;; *) build=$here/$build ;; esac
peer=${PEER:-$here/../shared/peer}
opts=$peer/options_default_small.json
for lstm in fused explicit; do
    /usr/bin/python3 "$peer/train_bench_torch.py" --options "$opts" --lstm $lstm --batch-size 32 \
        --negatives 4096 --threads 2 --steps "$steps"
done
for p in fp32 bf16; do
    "$build/bench_train" --options "$opts" --vocab-size 50000 --batch-size 32 --unroll-steps 20 \
        --negatives 4096 --steps "$steps" --threads 2 --precision $p
done
