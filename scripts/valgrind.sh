#!/usr/bin/env bash
# valgrind.sh: memcheck of the elmo CLI on the fixtures: `elmo embed` (a few sentences; all
# layers with 2 threads, then top layer stateful in batches of 2) and a short `elmo train`
# (tests/test_train.c's tiny model on ../shared/fixtures/bilm-tf/train: 20 steps with two
# checkpoints and exports, then 5 more with --resume). Passes with zero errors and zero
# definitely or indirectly lost bytes; prints one summary line per run.
#
#   scripts/valgrind.sh [path/to/elmo]    (default: builds build-vg, RelWithDebInfo)
#
# No suppressions are needed. OMP_NUM_THREADS=1: oneDNN's OpenMP pool is left out (elmo's
# threads are still used). ELMO_NATIVE=OFF for the default build: valgrind does not decode
# AVX-512, which -march=native may emit; at run time, under valgrind, the CPU reports AVX2,
# and both oneDNN and our own kernel pick their AVX2 code (ONEDNN_MAX_CPU_ISA=AVX2 makes sure).
# ctest runs this script in builds with ELMO_NATIVE=OFF; .ci/run runs it on its own build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIX=$(cd "$ROOT/.." && pwd)/shared/fixtures
ELMO=${1:-}
if [[ -z $ELMO ]]; then
  cmake -S "$ROOT" -B "$ROOT/build-vg" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DELMO_NATIVE=OFF \
    -DELMO_BUILD_TESTS=OFF >/dev/null
  cmake --build "$ROOT/build-vg" -j2 --target elmo_cli >/dev/null
  ELMO=$ROOT/build-vg/elmo
fi
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/elmo-valgrind-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=1 ONEDNN_MAX_CPU_ISA=AVX2

cat >"$WORK/tiny.json" <<'EOF'
{"lstm": {"dim": 16, "projection_dim": 8, "n_layers": 2, "cell_clip": 3, "proj_clip": 3,
 "use_skip_connections": true}, "char_cnn": {"embedding": {"dim": 4},
 "filters": [[1, 8], [2, 8], [3, 16], [4, 32], [5, 64]], "n_highway": 1, "n_characters": 261,
 "max_characters_per_token": 10, "activation": "tanh"}, "dropout": 0.1,
 "all_clip_norm_val": 1.0, "n_negative_samples_batch": 16}
EOF
cat "$ROOT/examples/sentences.txt" "$FIX/bilm-tf/train/data.txt" >"$WORK/sentences.txt"

fails=0
vg() { # name, args...
  local name=$1
  shift
  local log="$WORK/$name.log"
  set +e
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$ELMO" "$@" >"$log" 2>&1
  local rc=$?
  set -e
  local errors definite indirect possibly
  errors=$(grep -o 'ERROR SUMMARY: [0-9,]* errors' "$log" | tail -1 | awk '{print $3}')
  definite=$(grep -o 'definitely lost: [0-9,]* bytes' "$log" | tail -1 | awk '{print $3}')
  indirect=$(grep -o 'indirectly lost: [0-9,]* bytes' "$log" | tail -1 | awk '{print $3}')
  possibly=$(grep -o 'possibly lost: [0-9,]* bytes' "$log" | tail -1 | awk '{print $3}')
  # "All heap blocks were freed" leaves no LEAK SUMMARY: nothing lost
  printf 'valgrind %-14s exit %-3s errors %s, definitely lost %s, indirectly lost %s, possibly lost %s bytes\n' \
    "$name" "$rc" "${errors:-?}" "${definite:-0}" "${indirect:-0}" "${possibly:-0}"
  if [[ $rc -ne 0 || ${errors:-1} != 0 ]]; then
    fails=$((fails + 1))
    grep -E -A20 '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ bytes in)' "$log" | head -80 >&2 || true
    tail -5 "$log" >&2 || true
  fi
}

vg embed embed --options "$FIX/bilm-tf/model/options.json" --weights "$FIX/bilm-tf/model/lm_weights.hdf5" \
  --input "$WORK/sentences.txt" --output "$WORK/all.hdf5" --threads 2
vg embed-stateful embed --options "$FIX/allennlp-elmo/options.json" --weights "$FIX/allennlp-elmo/lm_weights.hdf5" \
  --input "$WORK/sentences.txt" --output "$WORK/top.hdf5" --layers top --stateful --batch-size 2
vg train train --options "$WORK/tiny.json" --vocab "$FIX/bilm-tf/train/vocab.txt" \
  --train "$FIX/bilm-tf/train/data.txt" --save-dir "$WORK/model" --batch-size 2 --unroll-steps 10 \
  --seed 7 --max-steps 20 --checkpoint-every 10 --threads 2
vg train-resume train --options "$WORK/tiny.json" --vocab "$FIX/bilm-tf/train/vocab.txt" \
  --train "$FIX/bilm-tf/train/data.txt" --save-dir "$WORK/model" --batch-size 2 --unroll-steps 10 \
  --seed 7 --max-steps 25 --checkpoint-every 10 --threads 2 --resume
echo "valgrind summary: 4 runs, $fails with errors or leaks"
[[ $fails -eq 0 ]]
