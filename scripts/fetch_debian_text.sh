#!/usr/bin/env bash
# fetch_debian_text.sh: download the Debian packages that carry the v3 corpora's text
# (`apt-get download PKG=VERSION`, nothing is installed) into data/raw/ and extract them with
# `dpkg-deb -x`. Idempotent: a package already extracted at the pinned version is left alone.
# See docs/data.md ("v3 corpora").
#
#   data/raw/debian/<pkg>_<version>_all.deb  the package (apt checks it against the signed
#                                            archive; the sha256 below is checked again)
#   data/raw/<pkg>/                          its files (usr/share/...)
#   data/raw/<pkg>/.fetched                  "<pkg>=<version>", written last
#
# wordnet-base is fetched only for the contamination check and the word-sense evaluation:
# its example sentences are evaluation data and never go into a training corpus.
#
# Versions are Debian 12 (bookworm)'s. A point release can replace a version in the archive;
# apt-get then fails with "Version ... was not found": update the pin and its sha256 together.
# Needs `apt-get update` once (the script runs it when apt has no package lists).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA_DIR=${DATA_DIR:-$ROOT/data}
RAW=$DATA_DIR/raw

# package  version  sha256 of the .deb
PACKAGES=(
  "dict-gcide 0.48.5+nmu2 7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f"
  "sword-text-web 426.0-1 930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1"
  "dict-foldoc 20230119-1 745cbedb55c2da609cc88ee0284e9d11a67a11ae3709daf7bad0e895ac3294c3"
  "dict-jargon 4.4.7-3.1 405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1"
  "dict-devil 1.0-13.1 6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154"
  "debian-handbook 11.20220922 3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa"
  "gnome-user-docs 43.0-2 0d635a840747958ca84da778b40d341f1155603851f922c9a171f5a181d6a39f"
  "wordnet-base 1:3.0-37 61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752"
)

for tool in apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null ||
    { echo "fetch_debian_text.sh: needs $tool (a Debian system)" >&2; exit 1; }
done
if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  echo "fetch_debian_text.sh: no apt package lists: running apt-get update"
  apt-get update -qq
fi
mkdir -p "$RAW/debian"

for entry in "${PACKAGES[@]}"; do
  read -r pkg version sha <<<"$entry"
  spec="$pkg=$version"
  dest=$RAW/$pkg
  if [[ -f $dest/.fetched && $(cat "$dest/.fetched") == "$spec" ]]; then
    echo "fetch_debian_text.sh: $spec: already in $dest"
    continue
  fi
  echo "fetch_debian_text.sh: $spec: downloading"
  tmp=$(mktemp -d "$RAW/.fetch.XXXXXX")
  chmod 755 "$tmp"  # apt downloads as the _apt user where it can
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download -qq "$spec" 2>"$tmp/err"); then
    echo "fetch_debian_text.sh: apt-get download $spec failed:" >&2
    grep -v '^W: Download is performed unsandboxed' "$tmp/err" >&2 || true
    exit 1
  fi
  deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
  [[ -n $deb ]] || { echo "fetch_debian_text.sh: apt-get download $spec left no .deb" >&2; exit 1; }
  got=$(sha256sum "$deb" | cut -d' ' -f1)
  if [[ $got != "$sha" ]]; then
    echo "fetch_debian_text.sh: $(basename "$deb"): sha256 $got, expected $sha" >&2
    exit 1
  fi
  mkdir -p "$tmp/x"
  dpkg-deb -x "$deb" "$tmp/x"
  rm -rf "$dest"
  mv "$tmp/x" "$dest"
  mv "$deb" "$RAW/debian/"
  echo "$spec" >"$dest/.fetched"
  rm -rf "$tmp"
  trap - EXIT
  echo "fetch_debian_text.sh: $spec: $(find "$dest" -type f | wc -l) files in $dest"
done
