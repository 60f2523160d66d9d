#!/usr/bin/env python3
"""heads_table.py: the markdown table of scripts/heads_eval.sh's output lines (stdin or files):
one row per variant (features, pooling, standardisation), validation and test accuracy per
task, and the mean validation accuracy over the tasks that ran (their number in parentheses). The
training times of the runs are in the TSV lines (6th column)."""
import fileinput

TASKS = ["sms", "spam", "brown"]
runs = {}
for line in fileinput.input():
    f = line.rstrip("\n").split("\t")
    if len(f) != 6:
        continue
    task, variant, std, va, te, secs = f
    runs.setdefault((variant, std), {})[task] = (va, te, secs)


def pct(x):
    return f"{100 * float(x):.1f}" if x else "–"


print("| features | pooling | standardize | " + " | ".join(f"{t} valid | {t} test" for t in TASKS)
      + " | mean valid |")
print("|---|---|---|" + "---:|---:|" * len(TASKS) + "---:|")
for (variant, std), r in sorted(runs.items(), key=lambda kv: kv[0]):
    feat, _, pool = variant.partition(":")
    if feat.endswith("/ng"):
        feat = feat[:-3] + " (+ word 2-grams, char 2-5-grams)"
    if pool.endswith("/ng"):
        pool, feat = pool[:-3], feat + " (+ word 2-grams, char 2-5-grams)"
    cells, vals = [], []
    for t in TASKS:
        va, te, _ = r.get(t, ("", "", ""))
        cells += [pct(va), pct(te)]
        if va:
            vals.append(float(va))
    mean = f"{100 * sum(vals) / len(vals):.1f} ({len(vals)})" if vals else "–"
    print(f"| {feat} | {pool or '–'} | {std if not feat.startswith('bow') else '–'} | " + " | ".join(cells) + f" | {mean} |")
