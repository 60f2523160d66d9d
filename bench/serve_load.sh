#!/usr/bin/env bash
# serve_load.sh: load test of `elmo serve` with wrk (Debian package wrk), on 127.0.0.1 only,
# against `elmo embed --batch-size 64` on the same sentences, model and threads, in one run.
#
#   bench/serve_load.sh [BUILD_DIR]      (default: build; needs elmo and bench_serve_latency)
#
# Environment:
#   MODELS="default small"   default = models/elmo-en-v3 (the default model; the README's figures
#                            name the model they were made with); small = random weights of the
#                            released small architecture (../shared/peer/options_small.json,
#                            generated once into $CACHE/small by `elmo random-model`)
#   DURATION=60 CONNECTIONS=64 LIMIT=512 THREADS=2 LAYERS=all MAX_DELAY_MS=5 EMBED_REPEAT=5
#   FORMATS="json"           answers to load-test: json, npy (Accept: application/x-npy), or both
#   PEER=DIR (../shared/peer)  CACHE=DIR (/tmp/elmo-bench-models)  OUT=FILE (/tmp/elmo-serve-load.txt)
#
# For each model:
#   1. `elmo embed --batch-size 64 --threads THREADS` on the first LIMIT sentences of
#      brown-2000.txt, EMBED_REPEAT times over (the server sees them cycled for DURATION s: its
#      token cache is warm, so is embed's after the first pass): its tokens/s (its own summary
#      line: reading, embedding, HDF5 writing);
#   2. `elmo serve --threads THREADS --max-batch 64` and wrk: CONNECTIONS connections (one
#      wrk thread) for DURATION s, every request one of those sentences (cycled), "layers":
#      LAYERS; words/s = the server's elmo_tokens_total over the run / wrk's duration; p50/p99
#      latency and errors from wrk;
#   3. one client, one sentence at a time (brown-200.txt, keep-alive): bench_serve_latency's
#      median over 3 rounds against the same sentences embedded in-process;
#   4. SIGTERM under load (6 s of wrk, the signal 3 s in): the requests in flight answered,
#      the exit status (must be 0) and how long the server took to exit.
# Also the CPU time (user + system) per 1,000 words of each: on a shared machine the
# words/s depend on what else runs, the CPU cost much less.
# Prints a Markdown table (also appended to OUT).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$here/$build ;; esac
peer=${PEER:-$here/../shared/peer}
cache=${CACHE:-/tmp/elmo-bench-models}
models=${MODELS:-default small}
duration=${DURATION:-60}
conns=${CONNECTIONS:-64}
limit=${LIMIT:-512}
threads=${THREADS:-2}
layers=${LAYERS:-all}
delay=${MAX_DELAY_MS:-5}
embed_repeat=${EMBED_REPEAT:-5}
formats=${FORMATS:-json}
out=${OUT:-/tmp/elmo-serve-load.txt}
command -v wrk >/dev/null || { echo "serve_load.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
for f in "$build/elmo" "$build/bench_serve_latency" "$peer/data/brown-2000.txt" "$peer/data/brown-200.txt"; do
    [ -e "$f" ] || { echo "serve_load.sh: missing $f" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/elmo-serve-load-XXXXXX)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
head -n "$limit" "$peer/data/brown-2000.txt" > "$tmp/sents.txt"
words=$(wc -w < "$tmp/sents.txt")
for _ in $(seq 1 "$embed_repeat"); do cat "$tmp/sents.txt"; done > "$tmp/embed_in.txt"

model_dir() {
    case $1 in
    default) echo "$here/models/elmo-en-v3" ;;
    *)
        if [ ! -s "$cache/$1/weights.hdf5" ]; then
            echo "generating random weights for $1 in $cache/$1" >&2
            "$build/elmo" random-model --options "$peer/options_$1.json" --output "$cache/$1" --seed 0 >&2
        fi
        echo "$cache/$1" ;;
    esac
}

# GET PATH from the server, by bash's /dev/tcp (no other client needed)
http_get() {
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3
    cat <&3
    exec 3<&-
}
metric() { http_get /metrics | awk -v k="$1" '$1 == k { print $2 }'; }
# CPU seconds (user + system) used so far by process $1
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
flags=$(grep -m1 '^flags' /proc/cpuinfo)
isa=""
for f in avx512f avx512_bf16 amx_bf16; do case " $flags " in *" $f "*) isa="$isa $f" ;; esac; done
{
    echo "elmo serve load test, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs: $cpu ($isa ), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "$conns connections for ${duration} s (wrk, 1 thread, 127.0.0.1), one sentence per request (first $limit of brown-2000.txt, $words words), layers $layers; server --threads $threads --max-batch 64 --max-delay-ms $delay; elmo embed on the same sentences $embed_repeat times over"
    echo
    echo "| model | elmo embed --batch-size 64, words/s | answers | elmo serve, words/s | ratio | requests | p50 ms | p99 ms | errors | CPU s per 1,000 words, embed / serve | one sentence: in-process median ms | HTTP median ms (JSON / npy) |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee -a "$out"

for m in $models; do
    dir=$(model_dir "$m")
    # 1. elmo embed, same sentences, batch 64
    /usr/bin/time -f "%U %S" -o "$tmp/embed.time" "$build/elmo" embed --model "$dir" --input "$tmp/embed_in.txt" \
        --output "$tmp/out.hdf5" --batch-size 64 --threads "$threads" --forget-sentences 2> "$tmp/embed.err"
    embed_wps=$(grep -o '([0-9]* tokens/s)' "$tmp/embed.err" | tail -1 | tr -dc 0-9)
    embed_cpu=$(awk -v w="$words" -v r="$embed_repeat" '{ printf "%.3f", ($1 + $2) * 1000 / (w * r) }' "$tmp/embed.time")
    # 2. the server under wrk
    : > "$tmp/serve.err" # exists before the server (started in the background) opens it
    "$build/elmo" serve --model "$dir" --port 0 --threads "$threads" --max-batch 64 --max-delay-ms "$delay" \
        2>> "$tmp/serve.err" &
    server_pid=$!
    port=""
    for _ in $(seq 1 600); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/serve.err")
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.err" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$port" ] || { echo "serve_load.sh: the server did not start" >&2; exit 1; }
    rows=()
    for fmt in $formats; do
        accept=""
        [ "$fmt" = npy ] && accept=application/x-npy
        tok0=$(metric elmo_tokens_total)
        cpu0=$(cpu_s "$server_pid")
        SENTENCES="$tmp/sents.txt" LAYERS="$layers" ACCEPT="$accept" wrk -t1 -c"$conns" -d"${duration}s" \
            --timeout 10s -s "$here/bench/serve_load.lua" "http://127.0.0.1:$port/v1/embed" > "$tmp/wrk.out"
        tok1=$(metric elmo_tokens_total)
        cpu1=$(cpu_s "$server_pid")
        serve_cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$tok0" -v t1="$tok1" 'BEGIN { printf "%.3f", (b - a) * 1000 / (t1 - t0) }')
        res=$(grep '^wrk_result' "$tmp/wrk.out")
        get() { echo "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
        dur=$(get duration_s)
        serve_wps=$(awk -v a="$tok0" -v b="$tok1" -v d="$dur" 'BEGIN { printf "%.0f", (b - a) / d }')
        errors=$(( $(get non2xx) + $(get connect) + $(get read) + $(get write) + $(get timeout) ))
        rows+=("$(printf '%s | %s | %.2f | %s | %s | %s | %s | %s / %s' "$fmt" "$serve_wps" \
            "$(awk -v a="$serve_wps" -v b="$embed_wps" 'BEGIN { print a / b }')" "$(get requests)" \
            "$(get p50_ms)" "$(get p99_ms)" "$errors" "$embed_cpu" "$serve_cpu")")
    done
    # 3. one client, one sentence at a time
    lat=$("$build/bench_serve_latency" --model "$dir" --port "$port" --input "$peer/data/brown-200.txt" \
        --threads "$threads" --rounds 3 --layers "$layers" 2>> "$tmp/lat.err")
    jget() { echo "$lat" | sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }
    # 4. SIGTERM under load: a wrk run of 6 s, the signal 3 s in
    SENTENCES="$tmp/sents.txt" LAYERS="$layers" wrk -t1 -c"$conns" -d6s --timeout 10s \
        -s "$here/bench/serve_load.lua" "http://127.0.0.1:$port/v1/embed" > "$tmp/wrk_term.out" &
    wrk_pid=$!
    sleep 3
    t0=$(date +%s.%N)
    kill -TERM "$server_pid"
    rc=0
    wait "$server_pid" || rc=$?
    t1=$(date +%s.%N)
    server_pid=""
    wait "$wrk_pid" || true
    drained=$(sed -n 's/.*: \([0-9]*\) requests in flight at the signal answered.*/\1/p' "$tmp/serve.err")
    term=$(grep '^wrk_result' "$tmp/wrk_term.out" | tr ' ' '\n' | sed -n 's/^non2xx=//p')
    echo "$m: SIGTERM under load: $drained requests in flight answered, exit status $rc after" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, $term non-2xx answers" >> "$tmp/term.txt"
    [ "$rc" = 0 ] || echo "serve_load.sh: elmo serve exited with $rc after SIGTERM" >&2
    for row in "${rows[@]}"; do
        printf '| %s | %s | %s | %s | %s / %s |\n' "$m" "$embed_wps" "$row" "$(jget inproc_median_ms)" \
            "$(jget http_json_median_ms)" "$(jget http_npy_median_ms)" | tee -a "$out"
    done
done
cat "$tmp/term.txt" | tee -a "$out"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
