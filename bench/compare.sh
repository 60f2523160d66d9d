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
#   SUMMARY_ONLY=1  print the tables of an earlier run's OUT without running anything
#   ABLATE=1        also elmo.c without the token cache, with 1 thread, and on the plain
#                   reference path (1/32 of the sentences: it is slow): what each part contributes
#
# Runs, for each architecture: batch mode (the first LIMIT sentences of brown-2000.txt,
# batch BATCH, THREADS threads; elmo.c in file order like the peer, and with its length
# bucketing) and single-sentence mode (brown-200.txt one sentence at a time), each in float32
# and in bfloat16 (the peer: --dtype bfloat16, its weights cast; elmo.c: --precision bf16), and
# one sentence at a time also with elmo.c's --precision int8 (int8 recurrent weights).
# Then biLM training (bench/compare_train.sh: the peer's two LSTM modes, elmo.c fp32 and
# bf16) unless TRAIN=0. Prints Markdown tables with the ratios; the machine's limit comes from
# oneDNN's matmul rates measured by bench_embed in the same run (fp32 and bf16), and the CPU
# model and the ISA oneDNN uses are printed with them.
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

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $("$build/bench_embed" --print-backend)" >&2

mkdir -p "$cache"
for m in $models; do
    if [ ! -s "$cache/$m/weights.hdf5" ]; then
        echo "generating random weights for $m in $cache/$m" >&2
        "$build/elmo" random-model --options "$peer/options_$m.json" --output "$cache/$m" --seed 0
    fi
done

[ "${SUMMARY_ONLY:-0}" = 1 ] || : > "$out"
run_peer() { # model mode(batch|single) dtype(float32|bfloat16)
    m=$1 dt=$3
    if [ "$2" = single ]; then
        "$py" "$peer/bench_torch.py" --options "$cache/$m/options.json" --weights "$cache/$m/weights.hdf5" \
            --input "$peer/data/brown-200.txt" --single --threads "$threads" --wait-idle "$wait_idle" --dtype "$dt"
    else
        "$py" "$peer/bench_torch.py" --options "$cache/$m/options.json" --weights "$cache/$m/weights.hdf5" \
            --input "$peer/data/brown-2000.txt" --limit "$limit" --batch-size "$batch" --threads "$threads" \
            --wait-idle "$wait_idle" --dtype "$dt"
    fi | sed "s/^{/{\"run\": \"$m $2\", \"label\": \"peer $dt\", /" >> "$out"
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
    fi 2>/dev/null | sed "s/^{/{\"run\": \"$m $mode\", \"label\": \"$label\", /" >> "$out"
}

i=0
[ "${SUMMARY_ONLY:-0}" = 1 ] && i=$repeat # the table of an earlier run's OUT only
while [ $i -lt "$repeat" ]; do
    for m in $models; do
        echo "== $m, batch $batch" >&2
        run_peer "$m" batch float32
        run_peer "$m" batch bfloat16
        run_elmo "$m" batch elmo.c
        run_elmo "$m" batch "elmo.c bucketed" --bucket 16
        run_elmo "$m" batch "elmo.c bf16" --precision bf16
        run_elmo "$m" batch "elmo.c bf16 bucketed" --precision bf16 --bucket 16
        if [ "${ABLATE:-0}" = 1 ]; then # what each part contributes: elmo.c without it
            run_elmo "$m" batch "elmo.c, no token cache" --cache 0
            run_elmo "$m" batch "elmo.c, 1 thread" --threads 1
            run_elmo "$m" batch "elmo.c, plain path" --reference --limit $((limit / 32)) --batch-size 16
        fi
        echo "== $m, one sentence at a time" >&2
        run_peer "$m" single float32
        run_peer "$m" single bfloat16
        run_elmo "$m" single elmo.c
        run_elmo "$m" single "elmo.c bf16" --precision bf16
        run_elmo "$m" single "elmo.c int8" --precision int8
    done
    i=$((i + 1))
done
if [ "${TRAIN:-1}" = 1 ] && [ "${SUMMARY_ONLY:-0}" != 1 ]; then
    echo "== training (options_default_small, batch 32, unroll 20, 4,096 negatives, V 50,000)" >&2
    "$here/bench/compare_train.sh" "$build" | sed 's/^{/{"run": "train", /' >> "$out"
fi

"$py" - "$out" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(run, label, key):
    v = [r[key] for r in rows if r['run'] == run and r.get('label') == label and r.get(key) is not None]
    return statistics.median(v) if v else None
def fmt(x, d=0):
    return '-' if x is None else f'{x:,.{d}f}'
def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else '-'
print()
for lab in ('elmo.c', 'elmo.c bf16'):
    sg = [r for r in rows if r.get('label') == lab and r.get('matmul_gflops_2048')]
    if sg:
        r = sg[0]
        print(f"Machine ({r['precision']}): oneDNN matmul {r['threads']} threads {fmt(r['matmul_gflops_2048'])} GFLOP/s (2048^3), "
              f"{fmt(r['matmul_gflops_lstm_batch'])} (LSTM batch), {fmt(r['matmul_gflops_step'], 1)} (one-row step); {r['backend']}, LSTM product {r['lstm_impl']}")
print(f"Other processes' load during the runs: {max(x.get('other_cpu', 0) for x in rows):.2f} cores at most")
print()
models = list(dict.fromkeys(r['run'].split()[0] for r in rows if r['run'] != 'train'))
print('| architecture, mode | peer fp32 | peer bf16 | elmo.c fp32 (bucketed) | elmo.c bf16 (bucketed) | bf16: elmo.c / peer bf16 | limit fp32 / bf16 |')
print('|---|---:|---:|---:|---:|---:|---:|')
for m in models:
    run = f'{m} batch'
    p32, p16 = med(run, 'peer float32', 'tokens_per_s'), med(run, 'peer bfloat16', 'tokens_per_s')
    e32, e32b = med(run, 'elmo.c', 'tokens_per_s'), med(run, 'elmo.c bucketed', 'tokens_per_s')
    e16, e16b = med(run, 'elmo.c bf16', 'tokens_per_s'), med(run, 'elmo.c bf16 bucketed', 'tokens_per_s')
    l32, l16 = med(run, 'elmo.c', 'limit_words_per_s_at_hits'), med(run, 'elmo.c bf16', 'limit_words_per_s_at_hits')
    print(f"| {m}, batch (words/s) | {fmt(p32)} | {fmt(p16)} | {fmt(e32)} ({fmt(e32b)}) | {fmt(e16)} ({fmt(e16b)}) | "
          f"{ratio(e16, p16)} ({ratio(e16b, p16)}) | {fmt(l32)} / {fmt(l16)} |")
    run = f'{m} single'
    p32, p16 = med(run, 'peer float32', 'median_ms'), med(run, 'peer bfloat16', 'median_ms')
    e32, e16, e8 = med(run, 'elmo.c', 'median_ms'), med(run, 'elmo.c bf16', 'median_ms'), med(run, 'elmo.c int8', 'median_ms')
    print(f"| {m}, one sentence (median ms) | {fmt(p32, 1)} | {fmt(p16, 1)} | {fmt(e32, 1)} | {fmt(e16, 1)}; int8 {fmt(e8, 1)} | "
          f"{ratio(p16, e16)} lower | {fmt(med(run, 'elmo.c', 'limit_ms_median_sentence'), 1)} / {fmt(med(run, 'elmo.c bf16', 'limit_ms_median_sentence'), 1)} |")
    run = f'{m} batch'
    pr, er, er16 = med(run, 'peer float32', 'max_rss_mb'), med(run, 'elmo.c', 'max_rss_mb'), med(run, 'elmo.c bf16', 'max_rss_mb')
    pr16 = med(run, 'peer bfloat16', 'max_rss_mb')
    print(f"| {m}, peak RSS batch (MB) | {fmt(pr)} | {fmt(pr16)} | {fmt(er)} | {fmt(er16)} | | weights file {fmt(med(run, 'elmo.c', 'weights_mb'))} MB |")
    for lab in ('bf16', 'int8'):
        e, rms = med(f'{m} single', f'elmo.c {lab}', 'max_abs_diff_vs_fp32'), med(f'{m} single', f'elmo.c {lab}', 'rms_diff_vs_fp32')
        if e is not None:
            print(f"| {m}, {lab} error vs fp32 (max / RMS abs diff, 32 sentences) | | | | {e:.2g} / {rms:.2g} | | |")
abl = [i for i in dict.fromkeys(r.get('label') for r in rows) if i and i.startswith('elmo.c, ')]
if abl:
    print()
    print('| architecture, batch | ' + ' | '.join(['elmo.c'] + abl) + ' |')
    print('|---|' + '---:|' * (len(abl) + 1))
    for m in models:
        print(f'| {m} (words/s) | ' + ' | '.join(fmt(med(f"{m} batch", i, "tokens_per_s")) for i in ['elmo.c'] + abl) + ' |')
tr = [r for r in rows if r['run'] == 'train']
if tr:
    print()
    print('| training (options_default_small, b32, unroll 20, 4,096 negatives) | tokens/s | peak RSS MB |')
    print('|---|---:|---:|')
    for r in tr:
        name = r.get('impl', 'peer (PyTorch)') + (' ' + r['precision'] if 'precision' in r else '') + \
            (', --lstm ' + r['lstm'] if 'lstm' in r else '')
        print(f"| {name} | {fmt(r.get('tokens_per_s'))} | {fmt(r.get('peak_rss_mb') or r.get('max_rss_mb'))} |")
print(f"\n(raw runs: {sys.argv[1]})")
EOF
