"""ELMo (Peters et al., 2018) biLM embeddings from Python over libelmo: numpy in and out.

    import elmo
    model = elmo.Model()                      # the default model (or a directory, or
                                              # options=..., weights=...)
    vecs = model.embed(["The bank raised rates .", ["Fish", "swam"]])
    vecs[0].shape                             # (L+1, 5, 2P) float32
    model.sentence_vectors(["a sentence", ""])  # (2, 2P): mean over tokens, zeros if empty

Sentences are strings (split on whitespace exactly as `elmo embed` splits a line) or lists
of tokens. Every sentence starts from zero LSTM state, so results never depend on the batch
or on earlier calls, and are bit-identical to `elmo embed` on the same text. The biLM runs
in C with the GIL released: threads calling one model at once run in parallel.
"""
import os
import shutil
import subprocess

import numpy as np

from . import _elmo
from ._elmo import ElmoError, split

__all__ = ["Model", "ElmoError", "batch_to_ids", "scalar_mix", "split", "default_model_dir"]
__version__ = _elmo.LIB_VERSION


# <prefix>/lib/python3.X/{site,dist}-packages/elmo -> <prefix>: a relocated install
_PREFIX = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def default_model_dir():
    """The default model directory as `elmo` finds it: $ELMO_MODEL, else models/elmo-en-v3
    of the install prefix or of the source tree; None when there is none."""
    env = os.environ.get("ELMO_MODEL")
    if env:
        return env
    here = os.path.join(_PREFIX, "share", "elmo", "models", "elmo-en-v3")
    for d in [here] + _elmo.DEFAULT_MODEL_DIRS.split(os.pathsep):
        if d and os.access(os.path.join(d, "weights.hdf5"), os.R_OK):
            return d
    return None


def _cli_path():
    """The `elmo` command-line tool: $ELMO_CLI, the one built or installed with this
    package, else the first on PATH."""
    env = os.environ.get("ELMO_CLI")
    if env:
        return env
    for p in [os.path.join(_PREFIX, "bin", "elmo")] + _elmo.CLI_PATHS.split(os.pathsep):
        if p and os.access(p, os.X_OK):
            return p
    return shutil.which("elmo")


def batch_to_ids(sentences, max_chars=50):
    """AllenNLP's `batch_to_ids`: int64 (B, T, max_chars) character ids of B sentences
    (lists of tokens, or strings split on whitespace), T the longest sentence's length.
    Each token: begin-of-word, its UTF-8 bytes (at most max_chars - 2), end-of-word, padding,
    all + 1; positions beyond a sentence's length are 0. No <S> / </S> is added (the
    strings "<S>" and "</S>" get the sentence-boundary encodings, as in AllenNLP)."""
    return _elmo.batch_to_ids(sentences, max_chars)


def scalar_mix(layers, weights, gamma=1.0, mask=None, layer_norm=False):
    """ELMo's scalar mix: gamma * sum_k softmax(weights)_k * layers[k].

    layers: (K, ..., D) array or a list of K arrays of shape (..., D); weights: K raw
    (pre-softmax) scalars; mask (...): positions to include in the layer normalisation
    (layer_norm=True only). Returns float32 (..., D)."""
    arr = np.asarray(layers, dtype=np.float32)
    if arr.ndim < 2:
        raise ValueError("layers must have shape (K, ..., D), got %r" % (arr.shape,))
    mid = arr.shape[1:-1]
    n = int(np.prod(mid)) if mid else 1
    flat = np.ascontiguousarray(arr.reshape(arr.shape[0], n, arr.shape[-1]))
    w = np.ascontiguousarray(np.asarray(weights, dtype=np.float32).reshape(-1))
    m = None
    if mask is not None:
        m = np.ascontiguousarray(np.asarray(mask).reshape(-1) != 0, dtype=np.uint8)
    out = _elmo.scalar_mix(flat, w, float(gamma), m, bool(layer_norm))
    return out.reshape(mid + (arr.shape[-1],))


class Model:
    """A pre-trained biLM (bilm-tf / AllenNLP layout: options.json + weights.hdf5).

    Model()                     the default model (see default_model_dir)
    Model("path/to/dir")        DIR/options.json + DIR/weights.hdf5
    Model(options=..., weights=...)
    threads: worker threads per call (1 or 2 are useful); precision: "fp32" (default,
    conformant and bit-identical to `elmo embed`), "bf16", "int8" (bf16 with int8 recurrent
    weights: lowest latency for one sentence at a time) or "auto"."""

    def __init__(self, path=None, *, options=None, weights=None, threads=2, precision="fp32"):
        if path is not None and (options is not None or weights is not None):
            raise ValueError("give either a model directory or options and weights, not both")
        if options is None and weights is None:
            if path is None:
                path = default_model_dir()
                if path is None:
                    raise ElmoError("no model given and no default model found "
                                    "(pass a model directory or set ELMO_MODEL)")
            path = os.fspath(path)
            options = os.path.join(path, "options.json")
            weights = os.path.join(path, "weights.hdf5")
        elif options is None or weights is None:
            raise ValueError("options and weights go together")
        self.path = path
        self.options_file = os.fspath(options)
        self.weights_file = os.fspath(weights)
        self.threads = int(threads)
        self._m = _elmo._Model(self.options_file, self.weights_file, self.threads, precision)
        cfg = self._m.config()
        self.precision = cfg["precision"]
        self.n_layers = cfg["n_output_layers"]  # L + 1
        self.dim = cfg["output_dim"]            # 2P

    @property
    def info(self):
        """Architecture, output dimensions, fingerprint and precision of the model."""
        cfg = self._m.config()
        arch = {k: cfg[k] for k in (
            "lstm_dim", "projection_dim", "n_layers", "cell_clip", "proj_clip",
            "use_skip_connections", "char_embed_dim", "filters", "n_highway", "n_characters",
            "max_characters_per_token", "activation")}
        return {
            "architecture": arch,
            "n_output_layers": cfg["n_output_layers"],
            "output_dim": cfg["output_dim"],
            "n_params": cfg["n_params"],
            "flops_per_token": cfg["flops_per_token"],
            "fingerprint": cfg["fingerprint"],
            "precision": cfg["precision"],
            "threads": cfg["threads"],
            "options_file": self.options_file,
            "weights_file": self.weights_file,
        }

    def __repr__(self):
        return "elmo.Model(%r, layers=%d, dim=%d, precision=%r)" % (
            self.path or self.weights_file, self.n_layers, self.dim, self.precision)

    def embed(self, sentences, layers="all", batch_size=64):
        """One float32 array per sentence: (L+1, n, 2P) for layers="all", (n, 2P) for "top"
        (the last LSTM layer) or "average" (the mean of the L+1 layers)."""
        return self._m.embed(sentences, layers, batch_size)

    def sentence_vectors(self, sentences, layers="average", batch_size=64):
        """(N, 2P) float32: each sentence's mean over its tokens of the layer average (or
        of the top layer); zeros for an empty sentence. `elmo embed --layers mean`."""
        return self._m.sentence_vectors(sentences, layers, batch_size)

    def token_vectors(self, tokens):
        """(N, P) float32: the context-free token vectors (layer 0, not duplicated)."""
        return self._m.token_vectors(tokens)

    def embed_file(self, input, output, layers="all", batch_size=64, output_format="hdf5",
                   forget_sentences=False, stateful=False):
        """`elmo embed` on a text file (one sentence per line), run by the command-line tool
        with this model: writes its HDF5 file (or npy / jsonl, see `elmo embed --help`).
        input: a path, or an iterable of lines (a file object, a list of str)."""
        cli = _cli_path()
        if not cli:
            raise ElmoError("embed_file needs the elmo command-line tool: not found "
                            "(build or install it, put it on PATH or set ELMO_CLI)")
        args = [cli, "embed", "--options", self.options_file, "--weights", self.weights_file,
                "--output", os.fspath(output), "--layers", layers, "--batch-size",
                str(batch_size), "--threads", str(self.threads)]
        if output_format != "hdf5":
            args += ["--output-format", output_format]
        if self.precision != "fp32":
            args += ["--precision", self.precision]
        if forget_sentences:
            args.append("--forget-sentences")
        if stateful:
            args.append("--stateful")
        data = None
        if isinstance(input, (str, bytes, os.PathLike)):
            args += ["--input", os.fspath(input)]
        else:
            args += ["--input", "-"]
            data = "".join(line if line.endswith("\n") else line + "\n"
                           for line in input).encode("utf-8")
        r = subprocess.run(args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            lines = [x for x in r.stderr.decode("utf-8", "replace").splitlines() if x.strip()]
            raise ElmoError(lines[-1] if lines else "elmo embed failed (exit %d)" % r.returncode)
        return r.stdout if os.fspath(output) == "-" else None


from . import compat  # noqa: E402,F401  (elmo.compat.ElmoEmbedder)
