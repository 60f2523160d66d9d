#!/usr/bin/python3
"""bench_python.py: the Python package against `elmo embed`, side by side in one run.

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_python.py [--model DIR] [--peer]

Measures, on the first --limit sentences of ../shared/peer/data/brown-2000.txt (batch
--batch-size, --threads threads, stateless, all layers):
  - Model.embed words/s (model already loaded; the call alone), `elmo embed` words/s (the
    figure it prints: from after loading the model to the HDF5 file complete) and, when
    bench_embed is next to the CLI, the C library alone (bench_embed --bucket 16), alternating,
    --repeat times each; the best of each and the ratios;
  - `import elmo` + loading the model, in a fresh interpreter (median of 5);
  - two Python threads embedding half the sentences each against one thread embedding all
    (models with 1 worker thread each: the GIL is released while the biLM runs);
  - before each, waits (--wait-idle S) for the machine to be idle (it may be shared);
  - with --peer: the PyTorch peer (../shared/peer/bench_torch.py) on the same sentences.
Words exclude the sentence-boundary tokens. Prints one JSON line and a Markdown summary.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def busy_cores(dt=1.0):
    """cores busy over dt seconds (all processes), from /proc/stat"""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = read()
    time.sleep(dt)
    t1, i1 = read()
    return (os.cpu_count() or 1) * (1 - (i1 - i0) / max(t1 - t0, 1))


def wait_idle(limit_s):
    """wait (up to limit_s) until under 0.3 cores are busy; returns the last load seen"""
    t = time.time()
    load = busy_cores()
    while load > 0.3 and time.time() - t < limit_s:
        load = busy_cores()
    return load


def cli_run(cli, model_args, path, batch, threads, out):
    r = subprocess.run([cli, "embed"] + model_args + ["--input", path, "--output", out,
                        "--batch-size", str(batch), "--threads", str(threads)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    m = re.search(r"(\d+) tokens in ([0-9.]+) s", r.stderr.decode())
    return int(m.group(1)) / float(m.group(2))


def lib_run(bench, model_dir, path, batch, threads):
    """bench_embed (the C library alone, bucketed as elmo embed and Model.embed are)"""
    r = subprocess.run([bench, "--model", model_dir, "--input", path, "--batch-size", str(batch),
                        "--threads", str(threads), "--bucket", "16", "--no-sgemm", "--wait-idle", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return json.loads(r.stdout.decode().strip().splitlines()[-1])["tokens_per_s"]


def import_time(model_dir, n=5):
    code = ("import time; t = time.perf_counter(); import elmo; m = elmo.Model(%r); "
            "print(time.perf_counter() - t)" % (model_dir,))
    ts = []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, check=True)
        ts.append(float(out.stdout))
    return statistics.median(ts)


def two_threads(elmo, model_args, sents, batch):
    """words/s of one Python thread over all sentences, and of two threads over half each"""
    kw = {"options": model_args["options"], "weights": model_args["weights"], "threads": 1}
    m1, m2 = elmo.Model(**kw), elmo.Model(**kw)
    words = sum(len(s.split()) for s in sents)
    t = time.perf_counter()
    m1.embed(sents, "top", batch)
    one = words / (time.perf_counter() - t)
    half = len(sents) // 2
    ts = [threading.Thread(target=m.embed, args=(part, "top", batch))
          for m, part in ((m1, sents[:half]), (m2, sents[half:]))]
    t = time.perf_counter()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    two = words / (time.perf_counter() - t)
    return one, two


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model directory (default: the default model)")
    ap.add_argument("--input", default=os.path.join(ROOT, "..", "shared", "peer", "data", "brown-2000.txt"))
    ap.add_argument("--limit", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cli", default=None, help="the elmo tool (default: the one built with the package)")
    ap.add_argument("--peer", action="store_true", help="also run ../shared/peer/bench_torch.py")
    ap.add_argument("--label", default="")
    ap.add_argument("--wait-idle", type=float, default=60, metavar="S",
                    help="before each run, wait up to S s for an idle machine")
    a = ap.parse_args()

    import elmo
    model_dir = a.model or elmo.default_model_dir()
    cli = a.cli or elmo._cli_path()
    with open(a.input, encoding="utf-8") as f:
        sents = [line.rstrip("\n") for _, line in zip(range(a.limit), f)]
    words = sum(len(s.split()) for s in sents)
    tmp = tempfile.TemporaryDirectory()
    path = os.path.join(tmp.name, "in.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(sents) + "\n")
    out = os.path.join(tmp.name, "out.hdf5")
    paths = {"options": os.path.join(model_dir, "options.json"),
             "weights": os.path.join(model_dir, "weights.hdf5")}
    margs = ["--model", model_dir]

    # a fresh model per run: its sessions' token caches start empty, as the CLI's do
    elmo.Model(model_dir, threads=a.threads).embed(["warm up the page cache"], "all")
    bench = os.path.join(os.path.dirname(cli), "bench_embed")
    py, cl, lib = [], [], []
    loads = []
    for _ in range(a.repeat):
        loads.append(wait_idle(a.wait_idle))
        m = elmo.Model(model_dir, threads=a.threads)
        t = time.perf_counter()
        m.embed(sents, "all", a.batch_size)
        py.append(words / (time.perf_counter() - t))
        cl.append(cli_run(cli, margs, path, a.batch_size, a.threads, out))
        if os.access(bench, os.X_OK):
            lib.append(lib_run(bench, model_dir, path, a.batch_size, a.threads))
    wait_idle(a.wait_idle)
    imp = import_time(model_dir)
    wait_idle(a.wait_idle)
    one, two = two_threads(elmo, paths, sents, a.batch_size)
    res = {"label": a.label, "model": model_dir, "sentences": len(sents), "words": words,
           "batch_size": a.batch_size, "threads": a.threads,
           "python_words_per_s": max(py), "cli_words_per_s": max(cl),
           "python_runs": py, "cli_runs": cl, "ratio": max(py) / max(cl),
           "lib_words_per_s": max(lib) if lib else None, "lib_runs": lib,
           "ratio_lib": max(py) / max(lib) if lib else None,
           "other_load_before_runs": loads, "import_and_load_s": imp, "one_thread_words_per_s": one,
           "two_threads_words_per_s": two}
    if a.peer:
        peer = os.path.join(ROOT, "..", "shared", "peer", "bench_torch.py")
        r = subprocess.run(["/usr/bin/python3", peer, "--options", paths["options"], "--weights",
                            paths["weights"], "--input", a.input, "--limit", str(a.limit),
                            "--batch-size", str(a.batch_size), "--threads", str(a.threads),
                            "--wait-idle", "0"], stdout=subprocess.PIPE, check=True)
        pj = json.loads(r.stdout.decode().strip().splitlines()[-1])
        res["peer"] = pj
        pw = pj.get("tokens_per_s")
        if pw:
            res["python_vs_peer"] = max(py) / pw
    print(json.dumps(res))
    print("| %s | Model.embed | elmo embed | C library | Model.embed / elmo embed | / library "
          "| import + load | 1 thread | 2 threads |" % (a.label or "run"))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("| %d sentences, %d words, batch %d | %.0f words/s | %.0f words/s | %s | %.3f | %s | %.3f s | %.0f | %.0f |" % (
        len(sents), words, a.batch_size, max(py), max(cl), "%.0f words/s" % max(lib) if lib else "-",
        max(py) / max(cl), "%.3f" % (max(py) / max(lib)) if lib else "-", imp, one, two))
    if "peer" in res:
        print("PyTorch peer: %s words/s; Model.embed / peer = %.2f" % (
            res["peer"].get("tokens_per_s"), res.get("python_vs_peer", float("nan"))))


if __name__ == "__main__":
    main()
