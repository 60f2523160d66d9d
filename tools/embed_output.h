/*
 * embed_output.h: where `elmo embed` writes its results: the AllenNLP HDF5 file (one dataset
 * per line, named by its index), one .npy array (every line's result stacked: all lines must
 * have the same shape), or JSON lines ({"index": i, "embedding": nested arrays}, a file or
 * stdout). Files appear only when complete (temporary file, then rename).
 */
#ifndef ELMO_EMBED_OUTPUT_H
#define ELMO_EMBED_OUTPUT_H

#include <stdint.h>

#include "elmo.h"

typedef enum { EMBED_HDF5, EMBED_NPY, EMBED_JSONL } embed_format;

/* "hdf5" | "npy" | "jsonl"; -1 for anything else */
int embed_format_parse(const char *name, embed_format *out);

typedef struct embed_output embed_output;

/* path "-" is stdout (JSON lines only). The destination is created now: a bad path fails
 * before any long work. */
elmo_status embed_output_open(const char *path, embed_format fmt, embed_output **out);

/* The result of line `index` (0-based), rank 1..3 dims, float32. Lines may come in any order
 * (the length-bucketed order): HDF5 datasets are named by index; npy and JSON lines are
 * written in line order, results ahead of the next line waiting in memory (at most one
 * window of lines). npy refuses a shape different from the first line's (ELMO_ERR_SHAPE). */
elmo_status embed_output_put(embed_output *o, uint64_t index, int rank, const uint64_t *dims,
                             const float *data);

/* A string dataset (HDF5 only: sentence_to_index); the other formats ignore it. */
elmo_status embed_output_put_string(embed_output *o, const char *name, const char *text);

/* Finish and move into place; frees o (also on failure). */
elmo_status embed_output_commit(embed_output *o);
/* Remove what was written; frees o. NULL is fine. */
void embed_output_abort(embed_output *o);

#endif
