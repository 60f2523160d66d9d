#!/bin/sh
# compare.sh: elmo.c against the PyTorch peer (../shared/peer/bench_torch.py), side by side in
# one run, on random weights of the released architectures (no download needed).
#
#   bench/compare.sh [BUILD_DIR]        (default: build; needs BUILD_DIR/elmo and bench_embed)
#
# Environment:
#   PEER=DIR        the peer's folder (default: ../shared/peer next to the checkout)
#   CACHE=DIR       where the random models are generated once (default: /tmp/elmo-bench-models)
#   MODELS="original small"   architectures to run
#   LIMIT=512 BATCH=64 THREADS=2 WAIT_IDLE=60 REPEAT=1
#   OUT=FILE        raw JSON lines of every run (default: /tmp/elmo-compare.jsonl)
#   ABLATE=1        also elmo.c without the token cache, with 1 thread, and on the plain
#                   reference path (1/32 of the sentences: it is slow): what each part contributes
#
# Runs, for each architecture: batch mode (the first LIMIT sentences of brown-2000.txt,
# batch BATCH, THREADS threads; elmo.c in file order like the peer, and with its length
# bucketing) and single-sentence mode (brown-200.txt one sentence at a time; elmo.c also with
# the optional float16 recurrent weights). Then prints a Markdown table with the ratios.
#
# OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons (Sapphire/Emerald Rapids) and
# falls back to its generic SSE kernels, 5x slower; PyTorch on Debian uses the same OpenBLAS
# for its matrix products. elmo.c's inference calls no BLAS (its own kernels, src/gemm.h), but
# bench_embed's sgemm measurement (the machine's limit) does and re-executes itself with
# OPENBLAS_CORETYPE set (src/blas.h); for a fair comparison this script exports the same
# setting for the peer.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$here/$build ;; esac
peer=${PEER:-$here/../shared/peer}
cache=${CACHE:-/tmp/elmo-bench-models}
models=${MODELS:-original small}
limit=${LIMIT:-512}
batch=${BATCH:-64}
threads=${THREADS:-2}
wait_idle=${WAIT_IDLE:-60}
repeat=${REPEAT:-1}
out=${OUT:-/tmp/elmo-compare.jsonl}
py=/usr/bin/python3
for f in "$build/elmo" "$build/bench_embed" "$peer/bench_torch.py" "$peer/data/brown-2000.txt"; do
    [ -e "$f" ] || { echo "compare.sh: missing $f" >&2; exit 1; }
done

# the OpenBLAS kernels elmo.c picks (bench_embed reports them), also for the peer
core=$("$build/bench_embed" --print-blas-core)
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ "$core" != "$(ELMO_NO_BLAS_FIX=1 "$build/bench_embed" --print-blas-core)" ]; then
    export OPENBLAS_CORETYPE=$core
    echo "OpenBLAS mis-detects this CPU: OPENBLAS_CORETYPE=$core for both implementations" >&2
fi

mkdir -p "$cache"
for m in $models; do
    if [ ! -s "$cache/$m/weights.hdf5" ]; then
        echo "generating random weights for $m in $cache/$m" >&2
        "$build/elmo" random-model --options "$peer/options_$m.json" --output "$cache/$m" --seed 0
    fi
done

: > "$out"
run_peer() { # model mode(batch|single)
    m=$1
    if [ "$2" = single ]; then
        "$py" "$peer/bench_torch.py" --options "$cache/$m/options.json" --weights "$cache/$m/weights.hdf5" \
            --input "$peer/data/brown-200.txt" --single --threads "$threads" --wait-idle "$wait_idle"
    else
        "$py" "$peer/bench_torch.py" --options "$cache/$m/options.json" --weights "$cache/$m/weights.hdf5" \
            --input "$peer/data/brown-2000.txt" --limit "$limit" --batch-size "$batch" --threads "$threads" \
            --wait-idle "$wait_idle"
    fi | sed "s/^{/{\"run\": \"$m $2\", /" >> "$out"
}
run_elmo() { # model mode label [extra args]
    m=$1 mode=$2 label=$3
    shift 3
    if [ "$mode" = single ]; then
        "$build/bench_embed" --model "$cache/$m" --input "$peer/data/brown-200.txt" --single \
            --threads "$threads" --wait-idle "$wait_idle" --label "$label" "$@"
    else
        "$build/bench_embed" --model "$cache/$m" --input "$peer/data/brown-2000.txt" --limit "$limit" \
            --batch-size "$batch" --threads "$threads" --wait-idle "$wait_idle" --label "$label" "$@"
    fi 2>/dev/null | sed "s/^{/{\"run\": \"$m $mode\", /" >> "$out"
}

i=0
while [ $i -lt "$repeat" ]; do
    for m in $models; do
        echo "== $m, batch $batch" >&2
        run_peer "$m" batch
        run_elmo "$m" batch elmo.c
        run_elmo "$m" batch "elmo.c bucketed" --bucket 16
        if [ "${ABLATE:-0}" = 1 ]; then # what each part contributes: elmo.c without it
            run_elmo "$m" batch "elmo.c, no token cache" --cache 0
            run_elmo "$m" batch "elmo.c, 1 thread" --threads 1
            run_elmo "$m" batch "elmo.c, plain path" --reference --limit $((limit / 32)) --batch-size 16
        fi
        echo "== $m, one sentence at a time" >&2
        run_peer "$m" single
        run_elmo "$m" single elmo.c
        run_elmo "$m" single "elmo.c fp16" --fp16 --no-sgemm
    done
    i=$((i + 1))
done

"$py" - "$out" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(run, impl, key):
    v = [r[key] for r in rows if r['run'] == run and r['impl'] == impl and key in r]
    return statistics.median(v) if v else None
def fmt(x, d=0):
    return '-' if x is None else f'{x:,.{d}f}'
sg = [r for r in rows if r['impl'] == 'elmo.c' and r.get('sgemm_gflops_2048')]
print()
if sg:
    r = sg[0]
    print(f"Machine: sgemm {r['threads']} threads {fmt(r['sgemm_gflops_2048'])} GFLOP/s (2048^3), "
          f"OpenBLAS kernels {r['blas_core']}; other processes' load during the runs: "
          f"{max(x.get('other_cpu', 0) for x in rows):.2f} cores at most")
    print()
print('| architecture, mode | peer (PyTorch) | elmo.c | ratio | elmo.c bucketed | ratio | limit | elmo.c, fraction of limit |')
print('|---|---:|---:|---:|---:|---:|---:|---:|')
for m in dict.fromkeys(r['run'].split()[0] for r in rows):
    run = f'{m} batch'
    p, e, b = med(run, 'elmo_ref', 'tokens_per_s'), med(run, 'elmo.c', 'tokens_per_s'), med(run, 'elmo.c bucketed', 'tokens_per_s')
    lim, limh, fr = med(run, 'elmo.c', 'limit_words_per_s'), med(run, 'elmo.c', 'limit_words_per_s_at_hits'), med(run, 'elmo.c', 'fraction_of_limit')
    limc, hit = med(run, 'elmo.c', 'limit_words_per_s_cached'), med(run, 'elmo.c', 'cache_hit')
    if p or e:
        print(f"| {m}, batch (words/s) | {fmt(p)} | {fmt(e)} | {fmt(e / p if p and e else None, 2)}x | {fmt(b)} | "
              f"{fmt(b / p if p and b else None, 2)}x | {fmt(limh)} at {fmt(100 * hit if hit is not None else None)}% cache hits "
              f"({fmt(lim)} dense, {fmt(limc)} all cached) | {fmt(100 * fr if fr else None)}% |")
    run = f'{m} single'
    p, e, f16 = med(run, 'elmo_ref', 'median_ms'), med(run, 'elmo.c', 'median_ms'), med(run, 'elmo.c fp16', 'median_ms')
    lim, fr = med(run, 'elmo.c', 'limit_ms_median_sentence'), med(run, 'elmo.c', 'fraction_of_latency_limit')
    if p or e:
        print(f"| {m}, one sentence (median ms) | {fmt(p, 1)} | {fmt(e, 1)} | {fmt(p / e if p and e else None, 2)}x lower | "
              f"{fmt(f16, 1)} (fp16) | {fmt(p / f16 if p and f16 else None, 2)}x lower | {fmt(lim, 1)} | {fmt(100 * fr if fr else None)}% |")
    run = f'{m} batch'
    pr, er = med(run, 'elmo_ref', 'max_rss_mb'), med(run, 'elmo.c', 'max_rss_mb')
    w = med(run, 'elmo.c', 'weights_mb')
    if pr or er:
        print(f"| {m}, peak RSS at batch {rows[0].get('batch_size', '')} (MB) | {fmt(pr)} | {fmt(er)} "
              f"({fmt(er / w if er and w else None, 2)}x the weights) | {fmt(pr / er if pr and er else None, 2)}x less | | | weights {fmt(w)} MB | |")
    e16 = med(f'{m} single', 'elmo.c fp16', 'fp16_max_abs_diff')
    if e16 is not None:
        print(f"| {m}, fp16 error (max / RMS abs diff) | | {e16:.2g} / {med(f'{m} single', 'elmo.c fp16', 'fp16_rms_diff'):.2g} | | | | | |")
abl = [i for i in dict.fromkeys(r['impl'] for r in rows) if i.startswith('elmo.c, ')]
if abl:
    print()
    print('| architecture, batch | ' + ' | '.join(['elmo.c'] + abl) + ' |')
    print('|---|' + '---:|' * (len(abl) + 1))
    for m in dict.fromkeys(r['run'].split()[0] for r in rows):
        run = f'{m} batch'
        print(f'| {m} (words/s) | ' + ' | '.join(fmt(med(run, i, 'tokens_per_s')) for i in ['elmo.c'] + abl) + ' |')
print(f"\n(raw runs: {sys.argv[1]})")
EOF
