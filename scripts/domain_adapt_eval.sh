#!/usr/bin/env bash
# domain_adapt_eval.sh: does continuing the biLM on the task's own text help the task?
# SpamAssassin (data/spamassassin.tsv, scripts/prepare_data.sh) split 80/20 after a fixed
# shuffle (Python's random, seed 42) into $OUT/train.tsv and $OUT/test.tsv; the default model
# continued for STEPS steps (`elmo train --init-from`, with its vocabulary and --state-restart
# 1 as it was trained) on the TRAINING messages' text only (their first MAX_TOKENS tokens, one
# message per line, punctuation split off); then the same classifier trained on train.tsv and
# evaluated on test.tsv with each biLM. Prints one JSON line per (model, features) and the
# held-out perplexity of both biLMs on the test messages' text.
# A model shipped without softmax.hdf5 (the default, elmo-en-v3) first learns a new softmax with
# the biLM frozen for FREEZE_STEPS steps, then STEPS steps train everything; its own
# perplexity is then not measured (it has no softmax).
# Environment: ELMO (build/elmo), MODEL (models/elmo-en-v3), STEPS (1000), FREEZE_STEPS (300),
# MAX_TOKENS (400), PRECISION (bf16 for the adaptation's training: fp32 | bf16), FEATURES
# ("elmo elmo+bow"), OUT (data/spam-da).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
MODEL=${MODEL:-models/elmo-en-v3}
STEPS=${STEPS:-1000}
FREEZE_STEPS=${FREEZE_STEPS:-300}
total=$STEPS
freeze=()
if [[ ! -f $MODEL/softmax.hdf5 ]]; then
  freeze=(--freeze-steps "$FREEZE_STEPS")
  total=$((STEPS + FREEZE_STEPS))
fi
MAX_TOKENS=${MAX_TOKENS:-400}
PRECISION=${PRECISION:-bf16}
FEATURES=${FEATURES:-elmo elmo+bow}
OUT=${OUT:-data/spam-da}
mkdir -p "$OUT"
[[ -f data/spamassassin.tsv ]] || ELMO=$ELMO scripts/prepare_data.sh

# the split, and the training messages' text (tokenized like --tokenize simple, roughly)
/usr/bin/python3 - "$OUT" "$MAX_TOKENS" <<'PY'
import random, re, sys
out, max_tokens = sys.argv[1], int(sys.argv[2])
lines = open("data/spamassassin.tsv", encoding="utf-8", errors="replace").read().splitlines()
random.Random(42).shuffle(lines)
cut = int(0.8 * len(lines))
for name, part in (("train", lines[:cut]), ("test", lines[cut:])):
    open(f"{out}/{name}.tsv", "w", encoding="utf-8").write("\n".join(part) + "\n")
    with open(f"{out}/{name}-text.txt", "w", encoding="utf-8") as f:
        for l in part:
            text = l.split("\t", 1)[1] if "\t" in l else l
            toks = re.findall(r"\w+|[^\w\s]", text)[:max_tokens]
            if toks: f.write(" ".join(toks) + "\n")
PY
echo "split: $(wc -l < "$OUT/train.tsv") training, $(wc -l < "$OUT/test.tsv") test messages" >&2

# the adaptation: continue the default model on the training messages' text
if [[ ! -s "$OUT/adapted/weights.hdf5" ]]; then
  "$ELMO" train --init-from "$MODEL" --vocab "$MODEL/vocab.txt" --train "$OUT/train-text.txt" \
    --save-dir "$OUT/adapted" --batch-size 64 --unroll-steps 20 --negatives 4096 --state-restart 1 \
    --max-steps "$total" "${freeze[@]}" --checkpoint-every 250 --precision "$PRECISION" --seed 1 --force
fi
for m in "$MODEL" "$OUT/adapted"; do
  [[ -f $m/softmax.hdf5 ]] || { echo "{\"model\": \"$m\", \"perplexity_on_test_text\": null}"; continue; }
  echo "{\"model\": \"$m\", \"perplexity_on_test_text\": $("$ELMO" perplexity --model "$m" --input "$OUT/test-text.txt" --json 2>/dev/null)}"
done

common=(--train "$OUT/train.tsv" --test "$OUT/test.tsv" --format tsv --no-header --text-column 1 --label-column 0
        --tokenize simple --max-tokens "$MAX_TOKENS" --epochs 10 --batch-size 60 --hidden 256 --lr 1e-3 --seed 1 --json)
for feat in $FEATURES; do
  for m in "$MODEL" "$OUT/adapted"; do
    tag=$(basename "$m")
    "$ELMO" classify train "${common[@]}" --features "$feat" --model "$m" --output "$OUT/$tag-$feat.clf" \
      > "$OUT/$tag-$feat.json"
    echo "{\"model\": \"$m\", \"features\": \"$feat\", \"result\": $(cat "$OUT/$tag-$feat.json")}"
  done
done
