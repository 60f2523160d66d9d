#!/bin/sh
# check_format.sh SOURCE_DIR [CLANG_FORMAT]: every C file of the project (src, tools, include,
# tests, bench, fuzz, python/src) is as SOURCE_DIR/.clang-format formats it (clang-format-14,
# Debian package clang-format-14; another version may format differently). Lists the files
# that are not and fails; FIX=1 formats them in place instead.
set -eu
root=$1
cf=${2:-clang-format-14}
cd "$root"
files=$(find src tools include tests bench fuzz python/src -name '*.[ch]' | sort)
if [ "${FIX:-0}" = 1 ]; then
    "$cf" -i $files
    echo "check_format: formatted $(echo "$files" | wc -l) files"
    exit 0
fi
bad=""
for f in $files; do
    "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
    echo "check_format: not formatted (FIX=1 tests/check_format.sh . formats them):" >&2
    for f in $bad; do echo "  $f" >&2; done
    exit 1
fi
echo "check_format: $(echo "$files" | wc -l) files formatted as .clang-format says"
