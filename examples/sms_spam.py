#!/usr/bin/python3
"""sms_spam.py: the ELMo spam tutorial (TF-Hub + Keras) in Python on elmo's sentence vectors.

    PYTHONPATH=build/python /usr/bin/python3 examples/sms_spam.py spam.csv
    PYTHONPATH=build/python /usr/bin/python3 examples/sms_spam.py data/spamassassin.tsv

Input: Kaggle's SMS Spam Collection `spam.csv` (columns v1 = ham/spam, v2 = text, Latin-1),
or this project's converted SpamAssassin e-mails (`data/spamassassin.tsv`, label<TAB>text, made
by scripts/prepare_data.sh; sorted by class, so they are shuffled first: --shuffle 42).
As in the tutorial: the first 4,457 rows train, the rest test; each text is one vector, the
mean over its tokens of the average of the biLM's layers (TF-Hub's "default" output,
Model.sentence_vectors); a logistic regression on top (scikit-learn's when python3-sklearn is
installed, else a small numpy one). Prints accuracy, spam precision / recall and the times.
"""
import argparse
import csv
import random
import re
import sys
import time

import numpy as np

import elmo

TOKEN = re.compile(r"\w+|[^\w\s]")


def read(path):
    """(labels 0/1, texts)"""
    rows = []
    if path.endswith(".tsv"):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                label, _, text = line.rstrip("\n").partition("\t")
                rows.append((label, text))
    else:
        with open(path, encoding="latin-1", newline="") as f:
            for r in csv.DictReader(f):
                rows.append((r["v1"], r["v2"]))
    bad = sorted({lab for lab, _ in rows} - {"ham", "spam"})
    if bad:
        sys.exit("%s: labels must be ham or spam, got %r" % (path, bad[:3]))
    return [int(lab == "spam") for lab, _ in rows], [t for _, t in rows]


def logistic_numpy(x, y, epochs=300, lr=0.5, l2=1e-4):
    """full-batch gradient descent on standardised features; returns predict(x) -> 0/1"""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(epochs):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = p - y
        w -= lr * (z.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    return lambda q: (((q - mu) / sd) @ w + b > 0).astype(int)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="spam.csv (Kaggle layout) or a label<TAB>text .tsv")
    ap.add_argument("--model", help="biLM directory (default: elmo's default model)")
    ap.add_argument("--train-rows", type=int, default=4457)
    ap.add_argument("--shuffle", type=int, default=None,
                    help="shuffle the rows with this seed first (default: 42 for .tsv, none for .csv)")
    ap.add_argument("--max-tokens", type=int, default=400, help="first tokens of each text")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    t0 = time.perf_counter()
    y, texts = read(a.input)
    seed = a.shuffle if a.shuffle is not None else (42 if a.input.endswith(".tsv") else None)
    if seed is not None:
        order = list(range(len(y)))
        random.Random(seed).shuffle(order)
        y, texts = [y[i] for i in order], [texts[i] for i in order]
    if len(y) <= a.train_rows:
        sys.exit("%s: %d rows, need more than --train-rows %d" % (a.input, len(y), a.train_rows))
    tokens = [TOKEN.findall(t)[:a.max_tokens] for t in texts]
    model = elmo.Model(a.model, threads=a.threads)
    t1 = time.perf_counter()
    x = model.sentence_vectors(tokens)
    t2 = time.perf_counter()
    y = np.array(y)
    n = a.train_rows
    try:
        from sklearn.linear_model import LogisticRegression
        clf = LogisticRegression(max_iter=2000).fit(x[:n], y[:n])
        predict, which = clf.predict, "scikit-learn LogisticRegression"
    except ImportError:
        predict, which = logistic_numpy(x[:n], y[:n]), "numpy logistic regression"
    pred = predict(x[n:])
    t3 = time.perf_counter()
    truth = y[n:]
    tp = int(((pred == 1) & (truth == 1)).sum())
    fp = int(((pred == 1) & (truth == 0)).sum())
    fn = int(((pred == 0) & (truth == 1)).sum())
    words = sum(map(len, tokens))
    print("%d texts (%d train, %d test), %d words; model %s, %s" % (
        len(y), n, len(y) - n, words, model.path, which))
    print("accuracy %.2f %%, spam precision %.2f %%, spam recall %.2f %%" % (
        100 * float((pred == truth).mean()), 100 * tp / max(tp + fp, 1), 100 * tp / max(tp + fn, 1)))
    print("time: load %.2f s, embed %.2f s (%.0f words/s), train + test %.2f s, total %.2f s" % (
        t1 - t0, t2 - t1, words / (t2 - t1), t3 - t2, t3 - t0))


if __name__ == "__main__":
    main()
