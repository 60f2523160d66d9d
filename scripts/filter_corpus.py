#!/usr/bin/env python3
"""filter_corpus.py: clean a tokenized corpus (one sentence per line, tokens separated by one
space, as `elmo data text` writes it) and keep evaluation text out of it. See docs/data.md.

    filter_corpus.py [--exclude FILE]... [--check-only] [--min N] [--max N] IN [OUT]

A line is dropped (in this order, each drop counted under its reason) when it
  short/long      has fewer than --min (3) or more than --max (150) tokens;
  non-letters     has fewer than 60 % letters among its non-space characters, or fewer than
                  half of its tokens contain a letter (tables, numbers, code, markup);
  replacement     contains U+FFFD (undecodable bytes);
  duplicate       is an exact duplicate of an earlier kept line;
  excluded        shares text with an --exclude file (tokenized the same way): it equals an
                  excluded sentence, or contains one of its 8-token windows (case-folded).
                  Excluded sentences shorter than 8 tokens only match whole lines.

--check-only applies the "excluded" rule alone (every other rule off), for corpora that are
otherwise used as they are (Brown training part, SOTU, Moby Dick); with OUT it writes the lines
that pass, without OUT it only reports.
The kept lines go to OUT (OUT.tmp.<pid>, renamed when complete); counts go to stderr.
"""
import argparse
import collections
import os
import sys

N = 8  # the window that counts as shared text


def load_excluded(paths):
    whole, grams = set(), set()
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                toks = line.lower().split()
                if not toks:
                    continue
                whole.add(" ".join(toks))
                for i in range(len(toks) - N + 1):
                    grams.add(" ".join(toks[i:i + N]))
    return whole, grams


def contaminated(toks, whole, grams):
    low = [t.lower() for t in toks]
    if " ".join(low) in whole:
        return True
    return any(" ".join(low[i:i + N]) in grams for i in range(len(low) - N + 1))


def noisy(line, toks):
    chars = [c for c in line if not c.isspace()]
    letters = sum(c.isalpha() for c in chars)
    if letters < 0.6 * len(chars):
        return True
    return sum(any(c.isalpha() for c in t) for t in toks) < 0.5 * len(toks)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--min", type=int, default=3)
    ap.add_argument("--max", type=int, default=150)
    ap.add_argument("input")
    ap.add_argument("output", nargs="?")
    a = ap.parse_args()
    if not a.check_only and not a.output:
        ap.error("OUT is required unless --check-only")
    if a.output and os.path.abspath(a.output) == os.path.abspath(a.input):
        ap.error("OUT must differ from IN")
    for p in [a.input] + a.exclude:
        if not os.path.isfile(p):
            sys.exit(f"filter_corpus.py: {p}: no such file")
    whole, grams = load_excluded(a.exclude)
    counts = collections.Counter()
    seen = set()
    tmp = f"{a.output}.tmp.{os.getpid()}" if a.output else None
    out = open(tmp, "w", encoding="utf-8") if tmp else None
    examples = []
    try:
        with open(a.input, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                toks = line.split(" ") if line else []
                counts["in"] += 1
                counts["in tokens"] += len(toks)
                reason = None
                if not a.check_only:
                    if len(toks) < a.min or len(toks) > a.max:
                        reason = "short/long"
                    elif noisy(line, toks):
                        reason = "non-letters"
                    elif "\ufffd" in line:
                        reason = "replacement"
                    elif line in seen:
                        reason = "duplicate"
                if reason is None and contaminated(toks, whole, grams):
                    reason = "excluded"
                    if len(examples) < 5:
                        examples.append(line)
                if reason:
                    counts[reason] += 1
                    continue
                if out:
                    out.write(line + "\n")
                if not a.check_only:
                    seen.add(line)
                counts["kept"] += 1
                counts["kept tokens"] += len(toks)
        if out:
            out.close()
            os.replace(tmp, a.output)
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
    name = os.path.basename(a.input)
    parts = ", ".join(f"{k} {counts[k]}" for k in
                      ("short/long", "non-letters", "replacement", "duplicate", "excluded"))
    print(f"filter_corpus.py: {name}: {counts['in']} lines -> {counts['kept']} kept "
          f"({counts['kept tokens']} tokens); dropped: {parts}", file=sys.stderr)
    for e in examples:
        print(f"  excluded: {e[:160]}", file=sys.stderr)


if __name__ == "__main__":
    main()
