/*
 * serve_metrics.h: the counters of `elmo serve`, written in the Prometheus text format
 * (GET /metrics): requests by status, sentences, tokens, batch sizes, queue depth, latency.
 */
#ifndef ELMO_SERVE_METRICS_H
#define ELMO_SERVE_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "io/util.h"

enum { SERVE_N_CODES = 10, SERVE_N_BATCH_BUCKETS = 12, SERVE_N_LAT_BUCKETS = 14 };

typedef struct {
    pthread_mutex_t lock;
    uint64_t requests[SERVE_N_CODES];           /* by status, see serve_metrics.c */
    uint64_t sentences, tokens;                 /* embedded */
    uint64_t batch_hist[SERVE_N_BATCH_BUCKETS]; /* batches by rows (cumulative at output) */
    uint64_t batches, batch_rows;
    uint64_t lat_hist[SERVE_N_LAT_BUCKETS]; /* POST /v1/embed latencies */
    uint64_t lat_count;
    double lat_sum;
} serve_metrics;

void serve_metrics_init(serve_metrics *m);
void serve_metrics_destroy(serve_metrics *m);
/* one answered request: its status, and (seconds >= 0) the latency of an embedding request */
void serve_metrics_request(serve_metrics *m, int status, double seconds);
void serve_metrics_embedded(serve_metrics *m, long sentences, long tokens);
void serve_metrics_batch(serve_metrics *m, int rows);
/* the text of GET /metrics; queue_sentences / queue_tokens waiting, requests in flight */
int serve_metrics_write(serve_metrics *m, elmo_strbuf *b, long queue_sentences, long queue_tokens,
                        long in_flight);

#endif
