"""A drop-in for AllenNLP 0.9's `allennlp.commands.elmo.ElmoEmbedder`, on libelmo.

    from elmo.compat import ElmoEmbedder
    ee = ElmoEmbedder(options_file, weight_file)
    ee.embed_sentence(["I", "ate", "an", "apple"])  # (3, 4, 1024) for the original model

Same methods, arguments and shapes: (L+1, n, 2P) float32 per sentence. One deliberate
difference: AllenNLP carries the LSTM states from batch to batch (so the same sentence
gives different vectors on different calls); here every sentence starts from zero state,
and the vectors are the same whatever the batch or the call.
"""
import os

import numpy as np

from . import Model

DEFAULT_BATCH_SIZE = 64


class ElmoEmbedder:
    def __init__(self, options_file=None, weight_file=None, cuda_device=-1, *, threads=2,
                 precision="fp32"):
        """options_file / weight_file: the biLM (None for both: elmo's default model).
        cuda_device is accepted for compatibility and ignored (CPU only)."""
        if options_file is None and weight_file is None:
            self.model = Model(threads=threads, precision=precision)
        else:
            self.model = Model(options=options_file, weights=weight_file, threads=threads,
                               precision=precision)
        self.cuda_device = cuda_device

    def _empty(self):
        return np.zeros((self.model.n_layers, 0, self.model.dim), dtype=np.float32)

    def batch_to_embeddings(self, batch):
        """(activations (B, L+1, T, 2P), mask (B, T)) as numpy arrays (AllenNLP returns torch
        tensors of the same shapes), padded with zeros."""
        outs = self.model.embed(batch, "all")
        T = max((o.shape[1] for o in outs), default=0)
        act = np.zeros((len(outs), self.model.n_layers, T, self.model.dim), dtype=np.float32)
        mask = np.zeros((len(outs), T), dtype=np.int64)
        for i, o in enumerate(outs):
            act[i, :, :o.shape[1]] = o
            mask[i, :o.shape[1]] = 1
        return act, mask

    def embed_sentence(self, sentence):
        """One tokenized sentence (a list of str) -> (L+1, n, 2P)."""
        return self.embed_batch([sentence])[0]

    def embed_batch(self, batch):
        """A list of tokenized sentences -> a list of (L+1, n_i, 2P) arrays."""
        return self.model.embed(list(batch), "all")

    def embed_sentences(self, sentences, batch_size=DEFAULT_BATCH_SIZE):
        """A generator of (L+1, n_i, 2P) arrays, one per sentence, computed in batches."""
        batch = []
        for s in sentences:
            batch.append(s)
            if len(batch) == batch_size:
                yield from self.model.embed(batch, "all", batch_size)
                batch = []
        if batch:
            yield from self.model.embed(batch, "all", batch_size)

    def embed_file(self, input_file, output_file_path, output_format="all",
                   batch_size=DEFAULT_BATCH_SIZE, forget_sentences=False, use_sentence_keys=False):
        """AllenNLP's `elmo` command: HDF5 with one dataset per line (named by its index) and
        "sentence_to_index". input_file: an open text file (or a path)."""
        if output_format not in ("all", "top", "average"):
            raise ValueError("output_format must be all, top or average, got %r" % (output_format,))
        if use_sentence_keys:
            raise ValueError("use_sentence_keys is not supported: datasets are named by line index")
        if isinstance(input_file, (str, bytes, os.PathLike)):
            with open(input_file, encoding="utf-8") as f:
                lines = [line.strip() for line in f]
        else:
            lines = [line.strip() for line in input_file]
        blank = [i for i, line in enumerate(lines) if line == ""]
        if blank:
            raise ValueError("Your input file contains empty lines at indexes %s. Please remove them."
                             % blank)
        self.model.embed_file(lines, output_file_path, layers=output_format,
                              batch_size=batch_size, forget_sentences=forget_sentences)
