"""Tests of the Python package `elmo` (unittest; pytest runs them too).

ctest runs them with PYTHONPATH=build/python, ELMO_FIXTURES (../shared/fixtures) and
ELMO_CLI (the elmo tool of the same build). They use the small AllenNLP fixture model
(2 layers, 2P = 32), and skip what needs a missing fixture, CLI or h5py.
"""
import json
import os
import resource
import subprocess
import tempfile
import threading
import time
import unittest

import numpy as np

import elmo
from elmo.compat import ElmoEmbedder

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.environ.get("ELMO_FIXTURES") or os.path.join(HERE, "..", "..", "..", "shared", "fixtures")
OPTIONS = os.path.join(FIXTURES, "allennlp-elmo", "options.json")
WEIGHTS = os.path.join(FIXTURES, "allennlp-elmo", "lm_weights.hdf5")
HAVE_FIXTURES = os.path.exists(WEIGHTS)
CLI = elmo._cli_path()
try:
    import h5py
except ImportError:
    h5py = None

SENTENCES = [
    "The first line .",
    "",
    "x\u00a0y \u3000 z",
    "averyveryveryveryveryveryveryveryveryverylongtokenindeed_over_fifty_bytes and more",
    "  padded   spaces  ",
    "Fish swam near the muddy bank of the stream , said the man who had seen them .",
    "a",
]


def allennlp_char_ids(word, W=50):
    """AllenNLP 0.9's ELMoCharacterMapper.convert_word_to_char_ids, written out."""
    bos, eos, bow, eow, pad = 256, 257, 258, 259, 260
    if word == "<S>":
        ids = [bow, bos, eow] + [pad] * (W - 3)
    elif word == "</S>":
        ids = [bow, eos, eow] + [pad] * (W - 3)
    else:
        enc = word.encode("utf-8", "ignore")[: W - 2]
        ids = [pad] * W
        ids[0] = bow
        for k, c in enumerate(enc, start=1):
            ids[k] = c
        ids[len(enc) + 1] = eow
    return [c + 1 for c in ids]


def run_cli(*args, stdin=None):
    r = subprocess.run([CLI] + list(args), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise AssertionError("elmo %s failed: %s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


def busy_cores(dt):
    """cores busy (all processes) over dt seconds, from /proc/stat"""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = read()
    time.sleep(dt)
    t1, i1 = read()
    return (os.cpu_count() or 1) * (1 - (i1 - i0) / max(t1 - t0, 1))


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


class TestCharIds(unittest.TestCase):
    def test_batch_to_ids_matches_allennlp(self):
        batch = [["The", "Second", "."], [], ["<S>", "</S>", "<S", "\u2022", "\u0100t", "é" * 30]]
        ids = elmo.batch_to_ids(batch)
        self.assertEqual(ids.dtype, np.int64)
        self.assertEqual(ids.shape, (3, 6, 50))
        want = np.zeros((3, 6, 50), dtype=np.int64)
        for b, sent in enumerate(batch):
            for t, tok in enumerate(sent):
                want[b, t] = allennlp_char_ids(tok)
        np.testing.assert_array_equal(ids, want)
        # the values of the conformance tests (tests/test_charmap.c)
        self.assertEqual(list(ids[0, 0, :6]), [259, 85, 105, 102, 260, 261])
        self.assertEqual(list(ids[2, 3, :6]), [259, 227, 129, 163, 260, 261])
        self.assertEqual(list(ids[2, 0, :4]), [259, 257, 260, 261])

    def test_strings_are_split_like_the_cli(self):
        self.assertEqual(elmo.split(" a\u00a0b\u3000c\td\u2028 "), ["a", "b", "c", "d"])
        np.testing.assert_array_equal(elmo.batch_to_ids(["The  cat\u00a0sat"]),
                                      elmo.batch_to_ids([["The", "cat", "sat"]]))

    def test_empty_batch(self):
        self.assertEqual(elmo.batch_to_ids([]).shape, (0, 0, 50))
        self.assertEqual(elmo.batch_to_ids([[], []]).shape, (2, 0, 50))


class TestScalarMix(unittest.TestCase):
    def test_against_numpy(self):
        rng = np.random.default_rng(0)
        layers = rng.standard_normal((3, 4, 5, 8)).astype(np.float32)
        w = np.array([0.5, -1.0, 2.0], dtype=np.float32)
        out = elmo.scalar_mix(layers, w, 1.5)
        self.assertEqual(out.shape, (4, 5, 8))
        s = np.exp(w - w.max())
        s /= s.sum()
        want = 1.5 * np.tensordot(s, layers, axes=1)
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
        # a list of arrays works too
        np.testing.assert_array_equal(elmo.scalar_mix(list(layers), w, 1.5), out)

    def test_bad_weights(self):
        with self.assertRaises(ValueError):
            elmo.scalar_mix(np.zeros((3, 2, 4), np.float32), [1.0, 2.0])


@unittest.skipUnless(HAVE_FIXTURES, "fixtures not found at " + FIXTURES)
class TestModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = elmo.Model(options=OPTIONS, weights=WEIGHTS, threads=1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.input = os.path.join(cls.tmp.name, "in.txt")
        with open(cls.input, "w", encoding="utf-8") as f:
            f.write("\n".join(SENTENCES) + "\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_info(self):
        info = self.m.info
        self.assertEqual(info["n_output_layers"], 3)
        self.assertEqual(info["output_dim"], 32)
        self.assertEqual(info["architecture"]["projection_dim"], 16)
        self.assertEqual(info["precision"], "fp32")
        self.assertEqual(len(info["fingerprint"]), 16)
        self.assertEqual(self.m.n_layers, 3)
        self.assertEqual(self.m.dim, 32)

    def test_shapes(self):
        all_ = self.m.embed(SENTENCES)
        counts = [len(s.split()) for s in SENTENCES]
        self.assertEqual([a.shape for a in all_], [(3, n, 32) for n in counts])
        self.assertTrue(all(a.dtype == np.float32 and a.flags.c_contiguous for a in all_))
        top = self.m.embed(SENTENCES, layers="top")
        avg = self.m.embed(SENTENCES, layers="average")
        for a, t, v in zip(all_, top, avg):
            self.assertEqual(t.shape, a.shape[1:])
            np.testing.assert_array_equal(t, a[2])
            np.testing.assert_array_equal(v, (a[0] + a[1] + a[2]) / np.float32(3))
        self.assertEqual(self.m.embed([]), [])

    def test_tokens_strings_batches_agree(self):
        ref = self.m.embed(SENTENCES, batch_size=64)
        for bs in (1, 3):
            for a, b in zip(ref, self.m.embed(SENTENCES, batch_size=bs)):
                np.testing.assert_array_equal(a, b)
        for a, b in zip(ref, self.m.embed([s.split() for s in SENTENCES])):
            np.testing.assert_array_equal(a, b)
        # a tuple of sentences, a generator of tokens
        np.testing.assert_array_equal(self.m.embed((("x", "y"),))[0], self.m.embed(["x y"])[0])

    def test_sentence_vectors(self):
        sv = self.m.sentence_vectors(SENTENCES)
        self.assertEqual(sv.shape, (len(SENTENCES), 32))
        self.assertEqual(sv.dtype, np.float32)
        np.testing.assert_array_equal(sv[1], np.zeros(32, np.float32))
        for s, v, a in zip(SENTENCES, sv, self.m.embed(SENTENCES, layers="average")):
            if a.shape[0]:
                np.testing.assert_allclose(v, a.mean(axis=0), rtol=1e-5, atol=1e-6)
        top = self.m.sentence_vectors(SENTENCES, layers="top")
        np.testing.assert_allclose(top[0], self.m.embed(SENTENCES[:1], "top")[0].mean(axis=0), rtol=1e-5, atol=1e-6)
        self.assertEqual(self.m.sentence_vectors([]).shape, (0, 32))

    @unittest.skipUnless(CLI, "the elmo CLI was not found (set ELMO_CLI)")
    def test_bit_identical_to_cli(self):
        # JSON lines (%.9g round-trips float32) and npy: no h5py needed
        for layers in ("all", "top", "average"):
            out = run_cli("embed", "--options", OPTIONS, "--weights", WEIGHTS, "--input", self.input,
                          "--output", "-", "--layers", layers, "--threads", "2")
            rows = [json.loads(line) for line in out.decode().splitlines()]
            got = self.m.embed(SENTENCES, layers=layers, batch_size=3)
            self.assertEqual([r["index"] for r in rows], list(range(len(SENTENCES))))
            for r, g in zip(rows, got):
                want = np.array(r["embedding"], dtype=np.float32).reshape(g.shape)
                self.assertTrue(np.array_equal(want, g), "layers=%s index %d" % (layers, r["index"]))
        npy = os.path.join(self.tmp.name, "mean.npy")
        run_cli("embed", "--options", OPTIONS, "--weights", WEIGHTS, "--input", self.input,
                "--output", npy, "--layers", "mean")
        self.assertTrue(np.array_equal(np.load(npy), self.m.sentence_vectors(SENTENCES)))

    @unittest.skipUnless(CLI, "the elmo CLI was not found (set ELMO_CLI)")
    def test_embed_file(self):
        out = os.path.join(self.tmp.name, "out.hdf5")
        self.m.embed_file(self.input, out, batch_size=2)
        with open(out, "rb") as f:
            self.assertEqual(f.read(8), b"\x89HDF\r\n\x1a\n")
        npy = os.path.join(self.tmp.name, "f.npy")
        self.m.embed_file(iter(SENTENCES), npy, layers="mean", output_format="npy")
        self.assertTrue(np.array_equal(np.load(npy), self.m.sentence_vectors(SENTENCES)))
        if h5py is None:
            return
        with h5py.File(out, "r") as h:
            for i, a in enumerate(self.m.embed(SENTENCES)):
                self.assertTrue(np.array_equal(h[str(i)][...], a))
            s2i = h["sentence_to_index"][0]  # AllenNLP's layout: one string in a (1,) dataset
            s2i = json.loads(s2i.decode() if isinstance(s2i, bytes) else s2i)
            self.assertEqual(s2i["The first line ."], "0")

    def test_errors(self):
        with self.assertRaises(elmo.ElmoError) as cm:
            elmo.Model(options="/nonexistent/o.json", weights=WEIGHTS)
        self.assertIn("/nonexistent/o.json: cannot open", str(cm.exception))
        with self.assertRaises(elmo.ElmoError) as cm:
            elmo.Model("/nonexistent/dir")
        self.assertIn("/nonexistent/dir/options.json", str(cm.exception))
        with self.assertRaises(elmo.ElmoError):
            elmo.Model(options=WEIGHTS, weights=WEIGHTS)  # not JSON
        with self.assertRaises(ValueError):
            elmo.Model(options=OPTIONS, weights=WEIGHTS, precision="fp8")
        with self.assertRaises(ValueError):
            elmo.Model(options=OPTIONS)
        with self.assertRaises(ValueError):
            self.m.embed(["a"], layers="middle")
        with self.assertRaises(ValueError):
            self.m.embed(["a"], batch_size=0)
        with self.assertRaises(ValueError):
            self.m.sentence_vectors(["a"], layers="all")
        with self.assertRaises(TypeError):
            self.m.embed("a single string")
        with self.assertRaises(TypeError):
            self.m.embed([["a", 3]])
        with self.assertRaises(TypeError):
            self.m.embed([None])
        with self.assertRaises(UnicodeEncodeError):
            self.m.embed(["bad \ud800 surrogate"])
        if CLI:
            with self.assertRaises(elmo.ElmoError) as cm:
                self.m.embed_file("/nonexistent/in.txt", os.path.join(self.tmp.name, "x.hdf5"))
            self.assertIn("/nonexistent/in.txt: cannot open", str(cm.exception))

    def test_gil_released(self):
        # one long call (a single batch) in another thread: this thread keeps running Python
        # meanwhile (with the GIL held through the call it would stand still until the end)
        sents = [("w%d " % (i % 50)) * (20 + i % 20) for i in range(400)]
        done = threading.Event()
        res = {}

        def work():
            t = time.perf_counter()
            res["out"] = self.m.embed(sents, layers="top", batch_size=len(sents))
            res["s"] = time.perf_counter() - t
            done.set()

        th = threading.Thread(target=work)
        th.start()
        ticks = 0
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)
        th.join()
        self.assertEqual(len(res["out"]), 400)
        if res["s"] < 0.05:
            self.skipTest("the call was too short to tell (%.3f s)" % res["s"])
        self.assertGreater(ticks, 10, "this thread ran %d times during a %.2f s embed" % (ticks, res["s"]))

    def test_two_threads_faster(self):
        """two Python threads on one model (1 worker each) beat one thread: the GIL is
        released. Timing: only on an idle machine with 2+ cores, best of 3 attempts."""
        if (os.cpu_count() or 1) < 2:
            self.skipTest("one core")
        m = elmo.Model(options=OPTIONS, weights=WEIGHTS, threads=1)
        sents = [("w%d " % (i % 50)) * (10 + i % 20) for i in range(300)]
        best = 0
        for _ in range(3):
            if busy_cores(0.3) > 0.5:
                continue
            t = time.perf_counter()
            m.embed(sents, "top")
            one = time.perf_counter() - t
            ts = [threading.Thread(target=m.embed, args=(sents, "top")) for _ in range(2)]
            t = time.perf_counter()
            for th in ts:
                th.start()
            for th in ts:
                th.join()
            best = max(best, 2 * one / (time.perf_counter() - t))
            if best > 1.3:
                return
        if best == 0:
            self.skipTest("the machine is busy: no timing")
        self.assertGreater(best, 1.3, "two threads did %.2fx the work of one per second" % best)

    def test_threads_agree(self):
        ref = self.m.embed(SENTENCES)
        outs = [None] * 4

        def work(i):
            outs[i] = self.m.embed(SENTENCES, batch_size=i + 1)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for o in outs:
            for a, b in zip(ref, o):
                np.testing.assert_array_equal(a, b)
        m2 = elmo.Model(options=OPTIONS, weights=WEIGHTS, threads=2)
        for a, b in zip(ref, m2.embed(SENTENCES)):
            np.testing.assert_array_equal(a, b)

    def test_no_leak(self):
        sent = [["The", "bank"]]
        for _ in range(1000):
            self.m.embed(sent)
            self.m.sentence_vectors(sent)
        before = rss_kib()
        for _ in range(10000):
            self.m.embed(sent)
            self.m.sentence_vectors(sent)
            elmo.batch_to_ids(sent)
        grown = rss_kib() - before
        self.assertLess(grown, 2048, "RSS grew by %d KiB over 10,000 calls" % grown)

    def test_token_vectors(self):
        tv = self.m.token_vectors(["The", "bank"])
        self.assertEqual(tv.shape, (2, 16))
        a = self.m.embed([["The", "bank"]])[0]
        np.testing.assert_allclose(tv, a[0, :, :16], rtol=1e-6, atol=1e-6)


@unittest.skipUnless(HAVE_FIXTURES, "fixtures not found at " + FIXTURES)
class TestCompat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ee = ElmoEmbedder(OPTIONS, WEIGHTS)

    def test_methods(self):
        toks = ["I", "ate", "an", "apple", "."]
        one = self.ee.embed_sentence(toks)
        self.assertEqual(one.shape, (3, 5, 32))
        batch = self.ee.embed_batch([toks, [], ["x"]])
        self.assertEqual([b.shape for b in batch], [(3, 5, 32), (3, 0, 32), (3, 1, 32)])
        np.testing.assert_array_equal(batch[0], one)
        gen = self.ee.embed_sentences(iter([toks, ["x"], toks]), batch_size=2)
        outs = list(gen)
        self.assertEqual(len(outs), 3)
        np.testing.assert_array_equal(outs[2], one)
        act, mask = self.ee.batch_to_embeddings([toks, ["x"]])
        self.assertEqual(act.shape, (2, 3, 5, 32))
        self.assertEqual(mask.tolist(), [[1] * 5, [1, 0, 0, 0, 0]])
        np.testing.assert_array_equal(act[1, :, :1], batch[2])

    @unittest.skipUnless(CLI, "the elmo CLI was not found (set ELMO_CLI)")
    def test_embed_file(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "e.hdf5")
            with open(os.path.join(d, "in.txt"), "w") as f:
                f.write("I ate an apple .\nx y\n")
            with open(os.path.join(d, "in.txt")) as f:
                self.ee.embed_file(f, out, output_format="top")
            self.assertTrue(os.path.exists(out))
            with self.assertRaises(ValueError):
                self.ee.embed_file(["a", "", "b"], out)


@unittest.skipUnless(elmo.default_model_dir(), "no default model")
class TestDefaultModel(unittest.TestCase):
    def test_loads(self):
        m = elmo.Model()
        self.assertEqual(m.path, elmo.default_model_dir())
        v = m.sentence_vectors(["The bank raised its rates ."])
        self.assertEqual(v.shape, (1, m.dim))
        self.assertTrue(np.isfinite(v).all())


if __name__ == "__main__":
    unittest.main()
