/*
 * serve_batch.h: dynamic batching for `elmo serve`. Request threads queue their sentences
 * and wait; one batcher thread owns the elmo_session and runs the queued sentences of all
 * requests together: a batch starts when max_batch sentences wait, when the oldest has waited
 * max_delay, or at once when no other request is being received (a lone client does not wait;
 * when nothing is queued and the session is idle, its own thread runs it, without hand-off).
 * The sentences taken are run longest first in batches of similar lengths (length bucketing,
 * as `elmo embed`). Stateless: every sentence's result is bit-identical whatever the batch.
 */
#ifndef ELMO_SERVE_BATCH_H
#define ELMO_SERVE_BATCH_H

#include <stddef.h>

#include "elmo.h"
#include "serve_metrics.h"

typedef struct serve_batcher serve_batcher;

typedef struct {
    int max_batch;          /* sentences per biLM batch */
    double max_delay_s;     /* longest wait of a sentence for its batch to fill */
    int threads;            /* threads of the session */
    serve_metrics *metrics; /* batch sizes are counted here (may be NULL) */
} serve_batcher_opts;

elmo_status serve_batcher_start(const elmo_model *m, const serve_batcher_opts *o,
                                serve_batcher **out);
/* Finish everything queued, stop the thread, free. */
void serve_batcher_stop(serve_batcher *b);

/* A request is being received (+1) / was queued or given up (-1): while some are, a batch
 * that is not full waits for them (up to max_delay). */
void serve_batcher_expect(serve_batcher *b, int delta);

/* Embed n sentences (tokens[s]: n_tokens[s] tokens) into out[s] (L+1, n_tokens[s], 2P);
 * blocks until done. expected: this request was announced by serve_batcher_expect(b, +1)
 * (withdrawn as it is queued). Returns 0; 503 with err when stopping; 500 with err when the
 * library fails. */
int serve_batcher_run(serve_batcher *b, int n, const char *const *const *tokens,
                      const int *n_tokens, float *const *out, int expected, char *err,
                      size_t errsz);

/* What waits in the queue now. */
void serve_batcher_queue(serve_batcher *b, long *sentences, long *positions);

#endif
