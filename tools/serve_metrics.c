/* serve_metrics.c: Prometheus counters of `elmo serve` (see serve_metrics.h). */
#include "serve_metrics.h"

#include <string.h>

static const int CODES[SERVE_N_CODES] = {200, 400, 401, 404, 405, 406, 413, 500, 503, 0};
static const int BATCH_LE[SERVE_N_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 0};
static const double LAT_LE[SERVE_N_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25,  0.5,    1,     2.5,  5,     10,   0};

void serve_metrics_init(serve_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
}

void serve_metrics_destroy(serve_metrics *m) { pthread_mutex_destroy(&m->lock); }

void serve_metrics_request(serve_metrics *m, int status, double seconds) {
    int c = 0;
    while (c < SERVE_N_CODES - 1 && CODES[c] != status) c++; /* last: any other status */
    int b = 0;
    while (b < SERVE_N_LAT_BUCKETS - 1 && seconds > LAT_LE[b]) b++;
    pthread_mutex_lock(&m->lock);
    m->requests[c]++;
    if (seconds >= 0) {
        m->lat_hist[b]++;
        m->lat_count++;
        m->lat_sum += seconds;
    }
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_embedded(serve_metrics *m, long sentences, long tokens) {
    pthread_mutex_lock(&m->lock);
    m->sentences += (uint64_t)sentences;
    m->tokens += (uint64_t)tokens;
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_batch(serve_metrics *m, int rows) {
    int b = 0;
    while (b < SERVE_N_BATCH_BUCKETS - 1 && rows > BATCH_LE[b]) b++;
    pthread_mutex_lock(&m->lock);
    m->batch_hist[b]++;
    m->batches++;
    m->batch_rows += (uint64_t)rows;
    pthread_mutex_unlock(&m->lock);
}

int serve_metrics_write(serve_metrics *m, elmo_strbuf *b, long queue_sentences, long queue_tokens,
                        long in_flight) {
    serve_metrics s;
    pthread_mutex_lock(&m->lock);
    s = *m; /* a consistent copy (the lock member is not used) */
    pthread_mutex_unlock(&m->lock);
    int bad =
        elmo_strbuf_printf(b, "# HELP elmo_requests_total HTTP requests answered, by status.\n"
                              "# TYPE elmo_requests_total counter\n");
    for (int c = 0; c < SERVE_N_CODES && !bad; c++)
        bad = CODES[c] ? elmo_strbuf_printf(b, "elmo_requests_total{code=\"%d\"} %llu\n", CODES[c],
                                            (unsigned long long)s.requests[c])
                       : elmo_strbuf_printf(b, "elmo_requests_total{code=\"other\"} %llu\n",
                                            (unsigned long long)s.requests[c]);
    bad =
        bad ||
        elmo_strbuf_printf(
            b,
            "# HELP elmo_sentences_total Sentences embedded.\n# TYPE elmo_sentences_total counter\n"
            "elmo_sentences_total %llu\n"
            "# HELP elmo_tokens_total Tokens embedded.\n# TYPE elmo_tokens_total counter\n"
            "elmo_tokens_total %llu\n"
            "# HELP elmo_queue_sentences Sentences waiting for a batch.\n# TYPE "
            "elmo_queue_sentences gauge\n"
            "elmo_queue_sentences %ld\n"
            "# HELP elmo_queue_tokens Tokens waiting for a batch.\n# TYPE elmo_queue_tokens gauge\n"
            "elmo_queue_tokens %ld\n"
            "# HELP elmo_requests_in_flight Requests being received or processed.\n"
            "# TYPE elmo_requests_in_flight gauge\nelmo_requests_in_flight %ld\n"
            "# HELP elmo_batch_rows Sentences per biLM batch.\n# TYPE elmo_batch_rows histogram\n",
            (unsigned long long)s.sentences, (unsigned long long)s.tokens, queue_sentences,
            queue_tokens, in_flight);
    uint64_t cum = 0;
    for (int i = 0; i < SERVE_N_BATCH_BUCKETS && !bad; i++) {
        cum += s.batch_hist[i];
        bad = BATCH_LE[i] ? elmo_strbuf_printf(b, "elmo_batch_rows_bucket{le=\"%d\"} %llu\n",
                                               BATCH_LE[i], (unsigned long long)cum)
                          : elmo_strbuf_printf(b, "elmo_batch_rows_bucket{le=\"+Inf\"} %llu\n",
                                               (unsigned long long)cum);
    }
    bad =
        bad || elmo_strbuf_printf(b,
                                  "elmo_batch_rows_sum %llu\nelmo_batch_rows_count %llu\n"
                                  "# HELP elmo_request_seconds Latency of POST /v1/embed.\n"
                                  "# TYPE elmo_request_seconds histogram\n",
                                  (unsigned long long)s.batch_rows, (unsigned long long)s.batches);
    cum = 0;
    for (int i = 0; i < SERVE_N_LAT_BUCKETS && !bad; i++) {
        cum += s.lat_hist[i];
        bad = LAT_LE[i] > 0
                  ? elmo_strbuf_printf(b, "elmo_request_seconds_bucket{le=\"%g\"} %llu\n",
                                       LAT_LE[i], (unsigned long long)cum)
                  : elmo_strbuf_printf(b, "elmo_request_seconds_bucket{le=\"+Inf\"} %llu\n",
                                       (unsigned long long)cum);
    }
    return bad ||
           elmo_strbuf_printf(b, "elmo_request_seconds_sum %.6f\nelmo_request_seconds_count %llu\n",
                              s.lat_sum, (unsigned long long)s.lat_count);
}
