#!/bin/sh
# check_layers.sh SRC_DIR [LIBELMO_A]: no layer of the library reaches up (docs/architecture.md).
# The layers, bottom up: io kernels core text train tasks. A file of src/<layer>/ may include
# only "<layer>/..." of its own layer or of one below it; with the static library, an object
# of a layer may likewise use only symbols defined by its own layer or one below it (this also
# catches a call through include/elmo.h to a function defined higher up).
set -eu
src=$1
lib=${2:-}
layers="io kernels core text train tasks"
rank() {
    r=0
    for l in $layers; do
        [ "$l" = "$1" ] && { echo $r; return; }
        r=$((r + 1))
    done
    echo -1
}
bad=0
for layer in $layers; do
    me=$(rank "$layer")
    for f in "$src/$layer"/*; do
        for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z]*\)\/.*/\1/p' "$f"); do
            them=$(rank "$inc")
            if [ "$them" -gt "$me" ]; then
                echo "check_layers: ${f#"$src"/} includes from $inc/, a layer above $layer/" >&2
                bad=1
            fi
        done
    done
done
if [ -n "$lib" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # object file (charmap.c.o) -> layer of its source file
    for layer in $layers; do
        for f in "$src/$layer"/*.c; do echo "$(basename "$f").o $layer"; done
    done > "$tmp/layer_of"
    nm -A --defined-only "$lib" | awk '$2 ~ /^[TDBRC]$/ {split($1, a, ":"); print $3, a[2]}' \
        | sort -u > "$tmp/defs"
    nm -A --undefined-only "$lib" | awk '{split($1, a, ":"); print $NF, a[2]}' | sort -u > "$tmp/uses"
    # user object, user layer, symbol, defining layer
    awk -v ranks="$layers" '
        BEGIN { n = split(ranks, r, " "); for (i = 1; i <= n; i++) rank[r[i]] = i }
        FILENAME == ARGV[1] { layer[$1] = $2; next }
        FILENAME == ARGV[2] { def[$1] = $2; next }
        ($1 in def) && ($2 in layer) && (def[$1] in layer) {
            u = layer[$2]; d = layer[def[$1]]
            if (rank[d] > rank[u]) printf "%s (%s/) uses %s of %s (%s/)\n", $2, u, $1, def[$1], d
        }' "$tmp/layer_of" "$tmp/defs" "$tmp/uses" > "$tmp/up"
    if [ -s "$tmp/up" ]; then
        sed 's/^/check_layers: /' "$tmp/up" >&2
        bad=1
    fi
fi
[ $bad -eq 0 ] && echo "check_layers: no layer of $src reaches up ($layers)"
exit $bad
