/*
 * token_cache.h: bounded LRU cache of token vectors (N = entries, P floats each), keyed by
 * the token's character ids (W int16), which determine the vector exactly.
 */
#ifndef ELMO_TOKEN_CACHE_H
#define ELMO_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct elmo_token_cache elmo_token_cache;

elmo_token_cache *elmo_token_cache_new(size_t max_entries, int W, int P);
void elmo_token_cache_free(elmo_token_cache *tc);
/* Vector of ids, or NULL; a hit becomes the most recently used entry. */
const float *elmo_token_cache_get(elmo_token_cache *tc, const int16_t *ids);
/* Insert (evicting the least recently used entry when full). */
void elmo_token_cache_put(elmo_token_cache *tc, const int16_t *ids, const float *vec);
size_t elmo_token_cache_size(const elmo_token_cache *tc);
void elmo_token_cache_stats(const elmo_token_cache *tc, uint64_t *hits, uint64_t *misses);

#endif
