/* serve_batch.c: the dynamic batcher of `elmo serve` (see serve_batch.h). */
#include "serve_batch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bucket.h"
#include "io/util.h"

/* one request waiting for its sentences (on the requester's stack) */
typedef struct {
    int remaining; /* sentences not yet embedded */
    elmo_status status;
    char err[256];
} job;

/* one queued sentence */
typedef struct {
    const char *const *tok;
    int n;
    float *out;
    job *j;
    double t; /* when queued (elmo_now) */
} item;

struct serve_batcher {
    serve_batcher_opts o;
    elmo_session *sess;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* the batcher: something was queued, or stop */
    pthread_cond_t done; /* the requesters: a job finished */
    item *q;             /* (cap) queued sentences, oldest first */
    int nq, cap;
    long positions; /* sum over the queue of n + 2 */
    int expected;   /* requests being received */
    int busy;       /* the session is running (batcher thread or a requester) */
    int stop;
    /* the batcher's own copy of one window of items, and the batch arguments */
    item *win;
    int *len, *order, *starts;
    const char *const **bt;
    int *bn;
    float **bo;
};

/* absolute CLOCK_REALTIME time s seconds of elmo_now() from now, for pthread_cond_timedwait */
static struct timespec deadline_in(double s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (s < 0) s = 0;
    long long ns = ts.tv_nsec + (long long)(s * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

/* under the lock: wait for work, then for the batch to fill; returns items taken (0: stop) */
static int take_window(serve_batcher *b) {
    while (b->busy || (b->nq == 0 && !b->stop)) pthread_cond_wait(&b->work, &b->lock);
    if (b->nq == 0) return 0;
    for (;;) { /* a batch that is not full waits while more requests are coming */
        double left = b->q[0].t + b->o.max_delay_s - elmo_now();
        if (b->stop || b->nq >= b->o.max_batch || b->expected <= 0 || left <= 0) break;
        struct timespec ts = deadline_in(left);
        pthread_cond_timedwait(&b->work, &b->lock, &ts);
    }
    int window = b->o.max_batch * 4, m = b->nq < window ? b->nq : window;
    memcpy(b->win, b->q, sizeof(item) * (size_t)m);
    memmove(b->q, b->q + m, sizeof(item) * (size_t)(b->nq - m));
    b->nq -= m;
    for (int i = 0; i < m; i++) b->positions -= b->win[i].n + 2;
    return m;
}

/* run the m items of the window (longest first, similar lengths together); lock not held */
static void run_window(serve_batcher *b, int m) {
    for (int i = 0; i < m; i++) b->len[i] = b->win[i].n;
    elmo_bucket_order(m, b->len, m, b->order);
    int nb = elmo_bucket_batches(m, b->len, b->order, b->o.max_batch,
                                 elmo_bucket_budget(m, b->len, b->o.max_batch), b->starts);
    for (int k = 0; k < nb; k++) {
        int i0 = b->starts[k], rows = b->starts[k + 1] - i0;
        for (int r = 0; r < rows; r++) {
            const item *it = &b->win[b->order[i0 + r]];
            b->bt[r] = it->tok;
            b->bn[r] = it->n;
            b->bo[r] = it->out;
        }
        elmo_status s = elmo_embed(b->sess, rows, b->bt, b->bn, b->bo);
        if (b->o.metrics) serve_metrics_batch(b->o.metrics, rows);
        pthread_mutex_lock(&b->lock);
        for (int r = 0; r < rows; r++) {
            job *j = b->win[b->order[i0 + r]].j;
            if (s && !j->status) {
                j->status = s;
                snprintf(j->err, sizeof j->err, "%s", elmo_last_error());
            }
            j->remaining--;
        }
        pthread_cond_broadcast(&b->done);
        pthread_mutex_unlock(&b->lock);
    }
}

static void *batcher_main(void *arg) {
    serve_batcher *b = arg;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        int m = take_window(b);
        if (m == 0) break;
        b->busy = 1;
        pthread_mutex_unlock(&b->lock);
        run_window(b, m);
        pthread_mutex_lock(&b->lock);
        b->busy = 0;
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

static void batcher_free(serve_batcher *b) {
    elmo_session_free(b->sess);
    free(b->q);
    free(b->win);
    free(b->len);
    free(b->order);
    free(b->starts);
    free(b->bt);
    free(b->bn);
    free(b->bo);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->done);
    free(b);
}

elmo_status serve_batcher_start(const elmo_model *m, const serve_batcher_opts *o,
                                serve_batcher **out) {
    *out = NULL;
    serve_batcher *b = calloc(1, sizeof *b);
    if (!b) return ELMO_ERR_NOMEM;
    b->o = *o;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->work, NULL);
    pthread_cond_init(&b->done, NULL);
    int window = o->max_batch * 4;
    b->win = malloc(sizeof(item) * (size_t)window);
    b->len = malloc(sizeof(int) * (size_t)window);
    b->order = malloc(sizeof(int) * (size_t)window);
    b->starts = malloc(sizeof(int) * (size_t)(window + 1));
    b->bt = malloc(sizeof(*b->bt) * (size_t)o->max_batch);
    b->bn = malloc(sizeof(int) * (size_t)o->max_batch);
    b->bo = malloc(sizeof(float *) * (size_t)o->max_batch);
    elmo_status s = ELMO_OK;
    if (!b->win || !b->len || !b->order || !b->starts || !b->bt || !b->bn || !b->bo)
        s = ELMO_ERR_NOMEM;
    if (!s) s = elmo_session_new(m, o->max_batch, o->threads, &b->sess);
    if (!s && pthread_create(&b->thread, NULL, batcher_main, b) != 0) s = ELMO_ERR_NOMEM;
    if (s) {
        batcher_free(b);
        return s;
    }
    *out = b;
    return ELMO_OK;
}

void serve_batcher_stop(serve_batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    batcher_free(b);
}

void serve_batcher_expect(serve_batcher *b, int delta) {
    pthread_mutex_lock(&b->lock);
    b->expected += delta;
    if (delta < 0) pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
}

/* under the lock: room for n more items */
static int grow_queue(serve_batcher *b, int n) {
    if (b->nq + n <= b->cap) return 0;
    int nc = b->cap ? b->cap : 256;
    while (nc < b->nq + n) nc *= 2;
    item *q = realloc(b->q, sizeof(item) * (size_t)nc);
    if (!q) return -1;
    b->q = q;
    b->cap = nc;
    return 0;
}

int serve_batcher_run(serve_batcher *b, int n, const char *const *const *tokens,
                      const int *n_tokens, float *const *out, int expected, char *err,
                      size_t errsz) {
    long pos = 0;
    for (int s = 0; s < n; s++) pos += n_tokens[s] + 2;
    job j = {.remaining = n};
    double now = elmo_now();
    pthread_mutex_lock(&b->lock);
    b->expected -= expected ? 1 : 0;
    if (b->stop || grow_queue(b, n)) {
        int stopping = b->stop;
        pthread_cond_broadcast(&b->work);
        pthread_mutex_unlock(&b->lock);
        snprintf(err, errsz, "%s",
                 stopping ? "the server is shutting down" : "out of memory, retry later");
        return 503;
    }
    /* nothing queued, the session idle, no other request coming: this thread runs its own
     * sentences (saves two thread hand-offs for a lone client); otherwise queue them */
    int self = !b->busy && b->nq == 0 && b->expected <= 0 && n <= b->o.max_batch * 4;
    item *dst = self ? b->win : b->q + b->nq;
    for (int s = 0; s < n; s++)
        dst[s] = (item){.tok = tokens[s], .n = n_tokens[s], .out = out[s], .j = &j, .t = now};
    if (self) {
        b->busy = 1;
        pthread_mutex_unlock(&b->lock);
        run_window(b, n);
        pthread_mutex_lock(&b->lock);
        b->busy = 0;
        pthread_cond_broadcast(&b->work); /* sentences queued meanwhile */
    } else {
        b->nq += n;
        b->positions += pos;
        pthread_cond_broadcast(&b->work);
    }
    while (j.remaining > 0) pthread_cond_wait(&b->done, &b->lock);
    pthread_mutex_unlock(&b->lock);
    if (j.status) {
        snprintf(err, errsz, "embedding failed: %s", j.err);
        return 500;
    }
    return 0;
}

void serve_batcher_queue(serve_batcher *b, long *sentences, long *positions) {
    pthread_mutex_lock(&b->lock);
    *sentences = b->nq;
    *positions = b->positions;
    pthread_mutex_unlock(&b->lock);
}
