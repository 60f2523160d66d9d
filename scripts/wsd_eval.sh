#!/usr/bin/env bash
# wsd_eval.sh: the word-sense nearest-neighbour measure of a biLM on WordNet's example
# sentences (Debian wordnet-base; evaluation data only, never trained on): per layer (0 = the
# context-free token layer, 1..L the LSTM layers) and for the average of the layers, the
# fraction of uses whose nearest neighbour (cosine, leave-one-out among the other uses of the
# same word and part of speech) has the same sense; the chance level; and a reference without
# a biLM (bag_of_context: the tf-idf vector of the sentence's other words).
# Environment: MODEL (models/elmo-en-v3), WORDNET (/usr/share/wordnet), BUILD (build),
# OUT (data/wsd-eval).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODEL=${MODEL:-models/elmo-en-v3}
WORDNET=${WORDNET:-/usr/share/wordnet}
BUILD=${BUILD:-build}
OUT=${OUT:-data/wsd-eval}
[[ -f $WORDNET/data.noun ]] || { echo "wsd_eval: $WORDNET/data.noun not found (apt-get install wordnet-base)" >&2; exit 1; }
mkdir -p "$OUT"
/usr/bin/python3 scripts/wsd_data.py "$WORDNET" "$OUT/uses.tsv"
"$BUILD/wsd_eval" "$MODEL" "$OUT/uses.tsv"
