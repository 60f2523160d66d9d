#!/usr/bin/env bash
# resource_limits.sh: the large-input measurements of the README's "Robustness" section
# (peak resident memory with /usr/bin/time -v, wall time, and what elmo said). Too big for
# CI; tests/test_robustness.c runs the cheap variants.
#
#   1. a 1 GB input with no line break (file, and the same through a pipe on stdin):
#      elmo embed refuses it at the 64 MiB line limit, with bounded memory;
#   2. a LINES-line input (default 10,000,000, one short sentence per line, --layers top):
#      with --forget-sentences the memory stays flat; without it sentence_to_index (the
#      text of every distinct line) grows with the input; measured at LINES/10 and LINES;
#   3. options.json whose dimensions claim terabytes: refused before allocating;
#   4. a vocabulary of WORDS distinct words (default 10,000,000): elmo vocab builds it,
#      elmo train (tiny model, sampled softmax, 2 steps) and elmo ngram run on it.
#
#   scripts/resource_limits.sh [tests...]     tests: longline lines options vocab (default all)
#
# Environment: ELMO (default build/elmo), WORK (default a new directory under /tmp, removed
# at the end unless KEEP=1), LINES, WORDS. Needs ~15 GB of free disk for the defaults.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ELMO=$(realpath "${ELMO:-$ROOT/build/elmo}")
FIX=$(cd "$ROOT/.." && pwd)/shared/fixtures
LINES=${LINES:-10000000}
WORDS=${WORDS:-10000000}
WORK=${WORK:-$(mktemp -d /tmp/elmo-limits-XXXXXX)}
mkdir -p "$WORK"
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=1
MODEL=(--options "$FIX/bilm-tf/model/options.json" --weights "$FIX/bilm-tf/model/lm_weights.hdf5")
tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=(longline lines options vocab)

# measure NAME CMD...: one line "NAME: exit E, peak RSS X MiB, T s: <last stderr line>"
measure() {
  local name=$1
  shift
  local tv="$WORK/time.txt" err="$WORK/stderr.txt"
  set +e
  /usr/bin/time -v -o "$tv" "$@" >/dev/null 2>"$err"
  local rc=$?
  set -e
  local kb wall
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv")
  printf '%-34s exit %-3s peak RSS %7.1f MiB  wall %9s  %s\n' "$name" "$rc" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" \
    "$wall" "$(grep -v '^\s*$' "$err" | tail -1 | cut -c1-150)"
}

for t in "${tests[@]}"; do
  case $t in
  longline)
    f="$WORK/oneline.txt"
    head -c 1073741824 /dev/zero | tr '\0' 'a' >"$f"
    measure "1 GB, no line break (file)" "$ELMO" embed "${MODEL[@]}" --input "$f" --output "$WORK/o.hdf5"
    measure "1 GB, no line break (stdin pipe)" sh -c "cat '$f' | '$ELMO' embed --options '$FIX/bilm-tf/model/options.json' --weights '$FIX/bilm-tf/model/lm_weights.hdf5' --input - --output '$WORK/o.hdf5'"
    rm -f "$f"
    ;;
  lines)
    for n in $((LINES / 10)) "$LINES"; do
      f="$WORK/lines.txt"
      awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "sentence %d is here .\n", i }' >"$f"
      measure "$n lines, --forget-sentences" "$ELMO" embed "${MODEL[@]}" --input "$f" --output "$WORK/l.hdf5" \
        --layers top --batch-size 256 --forget-sentences --threads 2
      printf '%-34s output %s\n' "" "$(du -h "$WORK/l.hdf5" | cut -f1)"
      rm -f "$WORK/l.hdf5"
      measure "$n lines, sentence_to_index" "$ELMO" embed "${MODEL[@]}" --input "$f" --output "$WORK/l.hdf5" \
        --layers top --batch-size 256 --threads 2
      rm -f "$WORK/l.hdf5" "$f"
    done
    ;;
  options)
    printf '%s' '{"lstm": {"dim": 1048576, "projection_dim": 1048576, "n_layers": 16}, "char_cnn": {"embedding": {"dim": 4096}, "filters": [[1, 1048576]], "n_highway": 16, "max_characters_per_token": 50}}' >"$WORK/huge.json"
    measure "terabyte options.json (embed)" "$ELMO" embed --options "$WORK/huge.json" --weights "$FIX/bilm-tf/model/lm_weights.hdf5" \
      --input "$FIX/bilm-tf/train/data.txt" --output "$WORK/h.hdf5"
    measure "terabyte options.json (train)" "$ELMO" train --options "$WORK/huge.json" --vocab "$FIX/bilm-tf/train/vocab.txt" \
      --train "$FIX/bilm-tf/train/data.txt" --save-dir "$WORK/huge-train" --max-steps 1
    # 40 GB: under the library's 64 GiB bound, over this machine's memory
    printf '%s' '{"lstm": {"dim": 32768, "projection_dim": 8192, "n_layers": 2}, "char_cnn": {"embedding": {"dim": 16}, "filters": [[1, 8192]], "max_characters_per_token": 50}}' >"$WORK/big.json"
    measure "40 GB options.json (embed)" "$ELMO" embed --options "$WORK/big.json" --weights "$FIX/bilm-tf/model/lm_weights.hdf5" \
      --input "$FIX/bilm-tf/train/data.txt" --output "$WORK/h.hdf5"
    ;;
  vocab)
    f="$WORK/words.txt"
    awk -v n="$WORDS" 'BEGIN { for (i = 0; i < n; i++) { printf "w%d", i; printf (i % 20 == 19 ? "\n" : " ") } print "" }' >"$f"
    measure "elmo vocab, $WORDS distinct words" "$ELMO" vocab --input "$f" --output "$WORK/vocab.txt"
    printf '%-34s vocabulary of %s lines\n' "" "$(wc -l <"$WORK/vocab.txt")"
    printf '%s' '{"lstm": {"dim": 16, "projection_dim": 8, "n_layers": 1}, "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 8], [2, 8]], "n_highway": 0, "n_characters": 261, "max_characters_per_token": 10, "activation": "relu"}, "n_negative_samples_batch": 64}' >"$WORK/tiny.json"
    measure "elmo train, that vocabulary" "$ELMO" train --options "$WORK/tiny.json" --vocab "$WORK/vocab.txt" \
      --train "$f" --save-dir "$WORK/vtrain" --max-steps 2 --batch-size 4 --unroll-steps 5 --shuffle-lines 1000
    head -1000 "$f" >"$WORK/test.txt"
    measure "elmo ngram, that vocabulary" "$ELMO" ngram --vocab "$WORK/vocab.txt" --train "$f" --test "$WORK/test.txt"
    rm -rf "$f" "$WORK/vtrain"
    ;;
  *) echo "unknown test $t" >&2; exit 2 ;;
  esac
done
