/*
 * static_vectors.h: static word vectors (GloVe or word2vec text format) for concatenation
 * with ELMo (internal). GloVe: "word v1 ... vD" per line; word2vec text: the same after a
 * first line "count dim". Every line must have the same dimension (an error names the line).
 */
#ifndef ELMO_STATIC_VECTORS_H
#define ELMO_STATIC_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

typedef struct elmo_static_vectors elmo_static_vectors;

elmo_status elmo_static_load(const char *path, elmo_static_vectors **out);
void elmo_static_free(elmo_static_vectors *sv);
int elmo_static_dim(const elmo_static_vectors *sv);
size_t elmo_static_size(const elmo_static_vectors *sv);
/* The vector of a word (exact match, then lower-cased ASCII); NULL when missing. */
const float *elmo_static_get(const elmo_static_vectors *sv, const char *w, size_t len);
/* Mean of the vectors of the tokens found into out (dim); returns how many were found
 * (out is zero when none). */
int elmo_static_mean(const elmo_static_vectors *sv, size_t n, const char *const *tok,
                     const size_t *len, float *out);
uint64_t elmo_static_fingerprint(const elmo_static_vectors *sv);

#endif
