#!/bin/sh
# check_exports.sh LIBELMO_SO ELMO_H: the shared library exports exactly the functions that
# include/elmo.h marks ELMO_API (everything else is built with hidden visibility).
# Prints the two lists' differences and fails when they differ.
set -eu
lib=$1
header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the header's functions: the identifier before the first "(" of every ELMO_API declaration
sed -n 's/^ELMO_API [^(]*[^A-Za-z0-9_(]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$header" | sort -u > "$tmp/header"
# every symbol the library defines in its dynamic symbol table, whatever its kind
nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u > "$tmp/exported"
if [ ! -s "$tmp/header" ]; then
    echo "check_exports: no ELMO_API declaration found in $header" >&2
    exit 1
fi
if ! diff -u "$tmp/header" "$tmp/exported" > "$tmp/diff"; then
    echo "check_exports: $lib exports differ from the ELMO_API functions of $header" >&2
    echo "(- only in the header, + only exported)" >&2
    tail -n +3 "$tmp/diff" | grep '^[-+]' >&2
    exit 1
fi
echo "check_exports: $(wc -l < "$tmp/exported") symbols, exactly the ELMO_API functions of $header"
