/*
 * serve_proto.h: the wire format of `elmo serve` (no HTTP here, so that it can be fuzzed):
 * parsing a POST /v1/embed body, selecting the requested layers from the biLM's output, and
 * writing the answer as JSON or npy.
 *
 * Request: {"sentences": ["The bank .", ["pre", "tokenized"]], "layers": "all"}. A string is
 * split on whitespace as `elmo embed` splits a line; a list is taken as the tokens. "layers"
 * (default "all") selects the shape per sentence of n tokens:
 *   all (L+1, n, 2P) | top (n, 2P) | average (n, 2P) | mean (2P): the mean over the tokens of
 *   the average layer (TF-Hub's "default"); zeros for an empty sentence.
 */
#ifndef ELMO_SERVE_PROTO_H
#define ELMO_SERVE_PROTO_H

#include <stddef.h>

#include "io/util.h"

typedef enum { SERVE_ALL = 0, SERVE_TOP, SERVE_AVERAGE, SERVE_MEAN } serve_layers;

const char *serve_layers_name(serve_layers l);

typedef struct {
    int n;                /* sentences */
    int *n_tokens;        /* (n) tokens per sentence */
    const char ***tokens; /* (n) each points into tok: that sentence's tokens */
    const char **tok;     /* (total) NUL-terminated tokens, pointing into text */
    char *text;           /* the tokens' bytes, back to back */
    long total;           /* sum of n_tokens */
    serve_layers layers;
} serve_request;

/* Parse a request body of len bytes. Returns 0, or the HTTP status (400 malformed or wrong
 * types, 413 more than max_tokens tokens in all) with a one-line message in err. On success
 * *r owns its memory (serve_request_free); on failure *r is empty. */
int serve_request_parse(const char *body, size_t len, long max_tokens, serve_request *r, char *err,
                        size_t errsz);
void serve_request_free(serve_request *r);

/* Floats per sentence of n tokens in the selected shape (K = L+1 layers of width D). */
size_t serve_selected_size(serve_layers l, int K, int n, int D);
/* The selected output of one sentence from the biLM's raw (K, n, D) output into dst (of
 * serve_selected_size floats), computed exactly as `elmo embed` computes it. */
void serve_select(serve_layers l, int K, int n, int D, const float *raw, float *dst);

/* {"model": "<fingerprint>", "layers": "...", "embeddings": [...]}: sel[b] is sentence b's
 * selected output, its numbers written by serve_float_format (serve_float.h). -1 when out of
 * memory, -2 when a value is NaN or infinite (JSON has no number for it). */
int serve_write_json(elmo_strbuf *b, const char *fingerprint, serve_layers l, int K, int D, int n,
                     const int *n_tokens, const float *const *sel);

/* 1 when the n sentences' outputs stack into one array: "mean", or equal lengths. */
int serve_npy_possible(serve_layers l, int n, const int *n_tokens);
/* npy (format 1.0, little-endian float32) of the stacked outputs: (N, 2P) for mean,
 * (N, L+1, n, 2P) for all, (N, n, 2P) for top/average. -1 when out of memory. */
int serve_write_npy(elmo_strbuf *b, serve_layers l, int K, int D, int n, const int *n_tokens,
                    const float *const *sel);

/* {"error": "<msg>"} followed by a newline. -1 when out of memory. */
int serve_write_error(elmo_strbuf *b, const char *msg);

#endif
