#!/usr/bin/env python3
"""wsd_data.py: WordNet's example sentences as a word-sense nearest-neighbour test set
(Python stdlib only; evaluation data: never train on it).

usage: wsd_data.py WORDNET_DIR OUT.tsv
Reads WORDNET_DIR/data.{noun,verb,adj,adv} (Debian wordnet-base: /usr/share/wordnet). For every
synset, every example sentence (the double-quoted parts of its gloss) and every one-word lemma
of the synset that occurs in the example as a token (case-insensitive, first occurrence), one
use: the word with its part of speech, the sense (synset offset), the token's index and the
tokenized sentence. Kept: the senses with at least two uses (so that every use has a
same-sense neighbour), and the words (lemma + part of speech) left with at least two senses. Output, sorted by word: word TAB sense TAB index TAB tokens (space-separated).
"""
import os
import re
import sys

TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*|[^\sA-Za-z0-9]")


def synsets(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  ") or "|" not in line:
                continue  # licence header
            head, gloss = line.split("|", 1)
            p = head.split()
            pos, n = p[2], int(p[3], 16)
            words = [re.sub(r"\(.*\)$", "", p[4 + 2 * k]).lower() for k in range(n)]
            yield p[0] + pos, pos, words, re.findall(r'"([^"]+)"', gloss)


def main(wn, out):
    uses = {}
    for name in ("noun", "verb", "adj", "adv"):
        for sense, pos, words, examples in synsets(os.path.join(wn, "data." + name)):
            pos = "a" if pos == "s" else pos
            for ex in examples:
                toks = TOKEN.findall(ex)
                low = [t.lower() for t in toks]
                for w in set(words):
                    if "_" in w or w not in low:
                        continue
                    uses.setdefault(f"{w}/{pos}", []).append((sense, low.index(w), " ".join(toks)))
    rows = []
    for word in sorted(uses):
        count = {}
        for s, _, _ in uses[word]:
            count[s] = count.get(s, 0) + 1
        us = [x for x in uses[word] if count[x[0]] >= 2]  # a use can find its own sense
        if len({s for s, _, _ in us}) >= 2:
            rows += [(word, s, i, t) for s, i, t in us]
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for w, s, i, t in rows:
            f.write(f"{w}\t{s}\t{i}\t{t}\n")
    os.replace(tmp, out)
    print(f"{len(rows)} uses of {len({r[0] for r in rows})} words", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
