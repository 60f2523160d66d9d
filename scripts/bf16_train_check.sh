#!/usr/bin/env bash
# bf16_train_check.sh: does bfloat16 mixed-precision training (`elmo train --precision bf16`:
# bfloat16 products, float32 master weights and Adagrad accumulators) reach the perplexity of
# float32 training? A shortened default-model recipe (scripts/train_default_model.sh: same
# corpora, vocabulary, shards, architecture and options) is run twice for STEPS steps from
# the same seed, once per precision, and both models are scored on the held-out Brown files
# (full softmax, float32 evaluation). Prints one JSON line per precision and the ratio; the
# goal is a held-out perplexity within 2 % of float32's.
#
#   scripts/bf16_train_check.sh          (STEPS=600 by default; ELMO, WORK, THREADS as the recipe)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
WORK=${WORK:-data/bf16-check}
STEPS=${STEPS:-600}
THREADS=${THREADS:-2}
TRAIN=(data/brown-train.txt data/sotu.txt data/moby-dick.txt)
HELDOUT=data/brown-heldout.txt

[[ -f data/brown-train.txt && -f data/sotu.txt && -f data/moby-dick.txt ]] || ELMO=$ELMO scripts/prepare_data.sh
mkdir -p "$WORK"
[[ -f $WORK/vocab.txt ]] || "$ELMO" vocab --input "${TRAIN[@]}" --min-count 3 --output "$WORK/vocab.txt"
[[ -f $WORK/shards/shard-063.txt ]] || "$ELMO" data shard --input "${TRAIN[@]}" --output-dir "$WORK/shards" --shards 64 --seed 1

for p in fp32 bf16; do
  if [[ ! -f $WORK/$p/softmax.hdf5 ]]; then
    rm -rf "$WORK/$p"
    start=$(date +%s)
    "$ELMO" train --options configs/elmo-en-small.json --vocab "$WORK/vocab.txt" --train "$WORK/shards/shard-*.txt" \
      --save-dir "$WORK/$p" --seed 1 --threads "$THREADS" --state-restart 1 --max-steps "$STEPS" \
      --checkpoint-every "$STEPS" --log-every 50 --precision "$p" 2> "$WORK/$p.log"
    echo "$p: $STEPS steps in $(( $(date +%s) - start )) s" >&2
  fi
  "$ELMO" perplexity --model "$WORK/$p" --input "$HELDOUT" --json | sed "s/^{/{\"precision\": \"$p\", /" | tee "$WORK/$p.ppl.json"
done
/usr/bin/python3 - "$WORK" <<'PY'
import json, sys
r = {p: json.load(open(f"{sys.argv[1]}/{p}.ppl.json")) for p in ("fp32", "bf16")}
a, b = r["fp32"]["mean_ppl"], r["bf16"]["mean_ppl"]
print(f"held-out perplexity: fp32 {a:.2f}, bf16 {b:.2f}, bf16 / fp32 = {b / a:.4f} "
      f"({'within' if abs(b / a - 1) <= 0.02 else 'NOT within'} 2 %)")
PY
