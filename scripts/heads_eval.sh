#!/usr/bin/env bash
# heads_eval.sh: every classification head (features x pooling) on three tasks, with fixed
# seeds: validation accuracy (to choose the default), test accuracy, and the wall time of
# `classify train` (features and epochs, the CLI's own "trained in" figure). Tasks from
# scripts/clf_tasks.py: spam (SpamAssassin; the biLM reads the first SPAM_MAX_TOKENS tokens, the
# bag of words the whole message), sms (first 20 tokens,
# 4,457 training messages), brown (genre of 3-sentence chunks, 15 classes, split by file).
# Environment: ELMO (build/elmo), MODEL (models/elmo-en-v3), OUT (data/heads-eval),
# TASKS ("sms brown spam"), VARIANTS ("bow elmo:mean ..."), SPAM_MAX_TOKENS (100),
# STANDARDIZE (no | yes: --standardize of the ELMo variants; "yes" runs are named *-std).
# A variant is FEATURES[:POOLING][/ng] (/ng: the bag of words with --ngrams 2 --char-ngrams 2-5).
# Prints one TSV line per run: task variant standardize valid_acc test_acc train_seconds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
MODEL=${MODEL:-models/elmo-en-v3}
OUT=${OUT:-data/heads-eval}
TASKS=${TASKS:-sms brown spam}
VARIANTS=${VARIANTS:-bow elmo:mean elmo:max elmo:mean+max elmo:attention elmo:cnn elmo+bow:mean elmo+bow:max elmo+bow:mean+max elmo+bow:attention elmo+bow:cnn}
mkdir -p "$OUT"
[[ -f data/spamassassin.tsv ]] || ELMO=$ELMO scripts/prepare_data.sh
/usr/bin/python3 scripts/clf_tasks.py "$ROOT" "$OUT/tasks"
for task in $TASKS; do
  case $task in
    spam) opts=(--tokenize simple --max-tokens "${SPAM_MAX_TOKENS:-100}") ;;
    sms) opts=(--tokenize simple --max-tokens 20) ;;
    brown) opts=(--tokenize whitespace --max-tokens 80) ;;
    *) echo "unknown task $task" >&2; exit 2 ;;
  esac
  for v in $VARIANTS; do
    ng=()
    base=$v
    if [[ $v == */ng ]]; then # bag of words with word bigrams and character 2-5-grams
      ng=(--ngrams 2 --char-ngrams 2-5)
      base=${v%/ng}
    fi
    feat=${base%%:*}
    pool=mean
    [[ $base == *:* ]] && pool=${base#*:}
    name=$task-${base//:/-}
    [[ ${#ng[@]} -gt 0 ]] && name=$name-ng
    std=${STANDARDIZE:-no}
    [[ $feat == bow ]] && std=no
    [[ $std == yes ]] && name=$name-std
    "$ELMO" classify train --train "$OUT/tasks/$task/train.tsv" --test "$OUT/tasks/$task/valid.tsv" \
      --format tsv "${opts[@]}" --features "$feat" --pooling "$pool" --standardize "$std" ${ng[@]+"${ng[@]}"} --epochs 10 --batch-size 60 \
      --hidden 256 --lr 1e-3 --seed 1 --model "$MODEL" --json --output "$OUT/$name.clf" \
      > "$OUT/$name.valid.json" 2> "$OUT/$name.log" || true
    "$ELMO" classify eval --classifier "$OUT/$name.clf" --model "$MODEL" --test "$OUT/tasks/$task/test.tsv" --format tsv \
      --json > "$OUT/$name.test.json" 2>> "$OUT/$name.log" || true
    va=$(grep -o '"accuracy": [0-9.]*' "$OUT/$name.valid.json" | cut -d' ' -f2 || true)
    te=$(grep -o '"accuracy": [0-9.]*' "$OUT/$name.test.json" | cut -d' ' -f2 || true)
    secs=$(grep -o 'trained in [0-9.]* s' "$OUT/$name.log" | cut -d' ' -f3 || true)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$task" "$v" "$std" "$va" "$te" "$secs"
  done
done
