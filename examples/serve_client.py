#!/usr/bin/env python3
"""A client of `elmo serve` using only the Python standard library.

    build/elmo serve --port 8080 &
    python3 examples/serve_client.py --url http://127.0.0.1:8080 "The bank raised its rates ." \
        "We had a picnic on the river bank ."

Prints the model, each sentence's shape, and the cosine similarity of the sentence vectors
("layers": "mean"). With --api-key-file, sends the key as a bearer token.
"""
import argparse
import json
import math
import sys
import urllib.error
import urllib.request


class ElmoClient:
    def __init__(self, url="http://127.0.0.1:8080", api_key=None, timeout=60):
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = "Bearer " + api_key
        self.timeout = timeout

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, headers=self.headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:  # 400, 401, 413, 503...: {"error": "..."}
            try:
                msg = json.loads(e.read()).get("error", "")
            except ValueError:
                msg = e.reason
            raise RuntimeError("elmo serve: HTTP %d: %s" % (e.code, msg)) from None

    def model(self):
        return self._call("GET", "/v1/model")

    def embed(self, sentences, layers="all"):
        """sentences: strings (split on whitespace by the server) or lists of tokens.
        Returns one nested list per sentence: (L+1, n, 2P) for "all", (n, 2P) for "top" and
        "average", (2P) for "mean"."""
        return self._call("POST", "/v1/embed", {"sentences": sentences, "layers": layers})["embeddings"]


def shape(x):
    s = []
    while isinstance(x, list):
        s.append(len(x))
        x = x[0] if x else None
    return tuple(s)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sentences", nargs="*", default=["The bank raised its interest rates .",
                                                     "We had a picnic on the river bank ."])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--api-key-file")
    ap.add_argument("--layers", default="all", choices=["all", "top", "average", "mean"])
    args = ap.parse_args()
    key = open(args.api_key_file).readline().strip() if args.api_key_file else None
    client = ElmoClient(args.url, key)
    info = client.model()
    print("model %s (%s), %d layers of width %d" % (info["fingerprint"], info["precision"],
                                                    info["output_layers"], info["output_dim"]))
    for s, e in zip(args.sentences, client.embed(args.sentences, args.layers)):
        print("%-50s layers=%s shape=%s" % (s[:50], args.layers, shape(e)))
    vecs = client.embed(args.sentences, "mean")
    for i in range(len(vecs)):
        for j in range(i + 1, len(vecs)):
            print("cosine(sentence %d, sentence %d) = %.4f" % (i, j, cosine(vecs[i], vecs[j])))


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError) as e:
        sys.exit(str(e))
