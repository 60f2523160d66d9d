/*
 * bilm.h: internal extras of the session (bilm.c) for benchmarks and tools: where the time
 * of elmo_embed goes, and how many token vectors came from the cache.
 */
#ifndef ELMO_BILM_H
#define ELMO_BILM_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

typedef struct {
    double encode_s;          /* token encoder: cache lookups, char CNN, highway, projection */
    double lstm_s;            /* both LSTM stacks (wall time, the two directions in parallel) */
    uint64_t tokens_computed; /* token positions encoded (cache misses), boundaries included */
    uint64_t tokens_cached;   /* token positions served by the cache */
} elmo_session_stats;

void elmo_session_get_stats(const elmo_session *s, elmo_session_stats *out);
void elmo_session_clear_stats(elmo_session *s);
/* The token cache's bound in entries (the default unless set). */
size_t elmo_session_token_cache_cap(const elmo_session *s);

#endif
