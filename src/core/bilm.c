/*
 * bilm.c: the biLM forward pass (docs/architecture.md): model loading, sessions (workspace +
 * LSTM state store), and elmo_embed, which strings the layer kernels together:
 *
 *   ids (N, W)  --char CNN, highway, projection-->  tok (N, P)        token layer (cached)
 *   tok  --forward LSTM stack (RNN_0)-->   fw_l (N, P)    l = 0..L-1
 *   tok  --backward LSTM stack (RNN_1) on each sentence reversed-->   bw_l (N, P)
 *   output layer 0 = [tok ; tok], layer l+1 = [fw_l ; bw_l], <S> and </S> removed.
 *
 * N counts the real positions of the batch (tokens plus the two boundaries per sentence);
 * padding positions are never computed. The LSTMs run on a packed time-major layout with
 * rows sorted by decreasing length (see elmo_packing), so each step is one GEMM over the
 * rows still running.
 *
 * Threads (a session's 2 workers; BLAS single-threaded inside them, never oversubscribed):
 *   - token encoder: cache misses split in two halves (64 or more), or, for fewer (one
 *     sentence), the two products of each highway layer on one thread each;
 *   - LSTMs: the forward and backward LMs concurrently, one per worker.
 * Memory: the weights (2 MB aligned, huge pages where available), each worker's arena
 * (encoder scratch, then the LSTM's G and u: the phases never overlap), the packed batch and
 * the bounded token cache. Nothing is allocated once the buffers have grown to the batch.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/bilm.h"
#include "core/lanes.h"
#include "kernels/matmul.h"
#include "io/h5io.h"
#include "core/model.h"
#include "core/options.h"
#include "core/token_cache.h"
#include "io/util.h"

#define ENC_CHUNK 128 /* tokens per char-CNN/highway pass: bounds the workspace */
#define ELMO_CACHE_BYTES ((size_t)12 << 20) /* default bound of the token cache */

/* ------------------------------------------------------------------------------------------ */
/* Model                                                                                      */

/* The weight block, 2 MB aligned and (where transparent huge pages are on "madvise") backed
 * by huge pages: the LSTM steps stream tens of MB of weights each, and with 4 KB pages every
 * row of a (512, 16384) matrix is another page (TLB misses). Freed by elmo_params_free. */
static elmo_status params_alloc_huge(const elmo_config *c, elmo_params *p) {
    size_t n = elmo_params_count(c), align = (size_t)2 << 20;
    if (n == SIZE_MAX || n > ELMO_MAX_ALLOC / sizeof(float))
        return elmo_fail(ELMO_ERR_NOMEM, "the model is too large");
    size_t bytes = (n * sizeof(float) + align - 1) / align * align;
    void *mem = NULL;
    if (posix_memalign(&mem, align, bytes) != 0)
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory for %zu MB of weights", bytes >> 20);
#ifdef MADV_HUGEPAGE
    madvise(mem, bytes, MADV_HUGEPAGE); /* advice only */
#endif
    memset(mem, 0, bytes);
    elmo_params_bind(c, p, mem);
    return ELMO_OK;
}

elmo_status elmo_model_load(const char *options_path, const char *weights_path, elmo_model **out) {
    elmo_clear_error();
    *out = NULL;
    elmo_model *m = calloc(1, sizeof *m);
    if (!m) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s = elmo_config_load(options_path, &m->cfg);
    if (!s) s = params_alloc_huge(&m->cfg, &m->w);
    if (!s) s = elmo_weights_read(weights_path, &m->cfg, &m->w);
    if (!s && !(m->weights_path = realpath(weights_path, NULL)))
        s = elmo_fail(ELMO_ERR_IO, "%s: cannot resolve the path", weights_path);
    if (!s) s = elmo_model_prepare(m);
    if (!s) {
        m->fingerprint = elmo_model_compute_fingerprint(m);
        s = elmo_model_prepare_f32(m); /* in place: m->w now holds the kernels' layout */
    }
    elmo_release_free_memory(); /* the reading's and reordering's temporaries */
    if (s) {
        elmo_model_free(m);
        return s;
    }
    *out = m;
    return ELMO_OK;
}

elmo_status elmo_model_load_dir(const char *dir, elmo_model **out) {
    char *o = elmo_path_join(dir, "options.json"), *w = elmo_path_join(dir, "weights.hdf5");
    elmo_status s =
        (o && w) ? elmo_model_load(o, w, out) : elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    free(o);
    free(w);
    return s;
}

void elmo_model_free(elmo_model *m) {
    if (!m) return;
    elmo_params_free(&m->w);
    elmo_model_mats_free(&m->f32);
    elmo_model_mats_free(&m->low);
    elmo_free(m->conv_pad_mem);
    free(m->weights_path);
    free(m);
}

const elmo_config *elmo_model_config(const elmo_model *m) { return &m->cfg; }
int elmo_model_n_output_layers(const elmo_model *m) { return m->cfg.n_layers + 1; }
int elmo_model_output_dim(const elmo_model *m) { return 2 * m->cfg.projection_dim; }

int64_t elmo_model_n_params(const elmo_model *m) {
    elmo_tensor t[ELMO_MAX_TENSORS];
    int n = elmo_params_tensors(&m->cfg, &m->w, t);
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        int64_t c = 1;
        for (int i = 0; i < t[k].rank; i++) c *= (int64_t)t[k].dims[i];
        total += c;
    }
    return total;
}

double elmo_model_flops_per_token(const elmo_model *m) {
    return elmo_config_cnn_flops(&m->cfg) + elmo_config_lstm_flops(&m->cfg);
}

double elmo_model_lstm_flops_per_token(const elmo_model *m) {
    return elmo_config_lstm_flops(&m->cfg);
}

elmo_status elmo_precision_parse(const char *name, elmo_precision *out) {
    static const char *const names[] = {"fp32", "bf16", "auto", "int8"};
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (elmo_precision)i;
            return ELMO_OK;
        }
    return elmo_fail(ELMO_ERR_ARG, "unknown precision '%s' (fp32, bf16, int8 or auto)",
                     name ? name : "");
}

const char *elmo_precision_name(elmo_precision p) {
    static const char *const names[] = {"fp32", "bf16", "auto", "int8"};
    return (unsigned)p < 4 ? names[p] : "fp32";
}

/* The float32 weights again after bf16 released them: read from the file they came from,
 * which must still hold the same weights. */
static elmo_status restore_f32(elmo_model *m) {
    if (!m->f32_released) return ELMO_OK;
    elmo_status s = elmo_weights_read(m->weights_path, &m->cfg, &m->w);
    if (s) return elmo_fail(s, "cannot restore the float32 weights: %s", elmo_last_error());
    if (elmo_model_compute_fingerprint(m) != m->fingerprint)
        return elmo_fail(ELMO_ERR_STATE,
                         "%s: the weights changed since the model was loaded; load it again",
                         m->weights_path);
    if ((s = elmo_model_prepare_f32(m))) return s;
    m->f32_released = 0;
    return ELMO_OK;
}

elmo_status elmo_model_set_precision(elmo_model *m, elmo_precision p) {
    elmo_clear_error();
    if (p == ELMO_PRECISION_AUTO)
        p = elmo_bf16_is_faster() ? ELMO_PRECISION_BF16 : ELMO_PRECISION_FP32;
    if (p != ELMO_PRECISION_FP32 && p != ELMO_PRECISION_BF16 && p != ELMO_PRECISION_INT8)
        return elmo_fail(ELMO_ERR_ARG, "unknown precision %d", (int)p);
    if (p == m->precision) return ELMO_OK;
    /* back to float32 first (the reduced sets are made from it) */
    elmo_status s = restore_f32(m);
    if (s) return s;
    m->mats = &m->f32;
    elmo_model_mats_free(&m->low);
    m->precision = ELMO_PRECISION_FP32;
    if (p != ELMO_PRECISION_FP32) {
        s = elmo_model_prepare_low(m, p); /* gives the float32 memory back */
        if (s) {
            restore_f32(m); /* best effort: the model stays usable in float32 */
            return s;
        }
        m->mats = &m->low;
        m->precision = p;
    }
    elmo_release_free_memory(); /* the conversion's temporaries */
    return ELMO_OK;
}

elmo_precision elmo_model_precision(const elmo_model *m) { return m->precision; }

/* ------------------------------------------------------------------------------------------ */
/* Session                                                                                    */

/* Grow-only buffer. */
typedef struct {
    void *p;
    size_t cap;
} buf;

static void *need(buf *b, size_t bytes) {
    if (bytes <= b->cap) return b->p;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < bytes) cap *= 2;
    elmo_free(b->p); /* contents are not kept */
    b->p = NULL;
    b->cap = 0;
    void *p = elmo_alloc(cap);
    if (!p) return NULL;
    elmo_release_free_memory(); /* the old buffer's pages */
    b->p = p;
    b->cap = cap;
    return p;
}

/* Per-thread scratch. The arena serves the token encoder (char-CNN workspace, (ENC_CHUNK, F)
 * CNN output, (ENC_CHUNK, 2F) highway products) and then the LSTM phase (G, u), which never
 * overlap in time: one buffer instead of two bounds the peak memory. */
typedef struct {
    elmo_charcnn_ws cnn;
    float *cnn_y;       /* (ENC_CHUNK, F), in the arena */
    float *hw;          /* (ENC_CHUNK, 2F), in the arena */
    buf arena, x, h, c; /* x: the LSTM's packed input and output (N, P) */
    buf y;              /* the reference path's second layer buffer */
} worker;

struct elmo_session {
    const elmo_model *m;
    int max_rows, threads, stateful, reference;
    float *st_h[2][ELMO_MAX_LAYERS]; /* (max_rows, P) */
    float *st_c[2][ELMO_MAX_LAYERS]; /* (max_rows, H) */
    float *st_mem;
    worker wk[2];
    elmo_token_cache *cache;
    size_t cache_cap;
    elmo_params ref; /* the plain weights for the reference path, made on first use */
    buf ids, tok, miss, order, len, start, steps, offs, outp, rowp;
    buf lanes, rows; /* lane packing: (4, B) per sentence and lane; (2, N) per packed row */
    elmo_session_stats stats;
};

static size_t up64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Bytes of the encoder's part of the arena. */
static size_t enc_bytes(const elmo_config *c) {
    return elmo_charcnn_ws_bytes(c) + up64(sizeof(float) * (size_t)ENC_CHUNK * c->n_filters) +
           up64(sizeof(float) * (size_t)ENC_CHUNK * 2 * c->n_filters);
}

/* Bytes of the LSTM phase's part for a batch of B rows: G (max(B, window rows), 4H), u (B, H). */
static size_t lstm_bytes(const elmo_config *c, int B) {
    int wr = elmo_lstm_window_rows(c), grows = B > wr ? B : wr;
    return up64(sizeof(float) * (size_t)grows * 4 * c->lstm_dim) +
           up64(sizeof(float) * (size_t)B * c->lstm_dim);
}

/* Make w's arena hold the encoder and point its encoder buffers into it. */
static elmo_status worker_bind_encoder(const elmo_config *c, worker *w) {
    char *a = need(&w->arena, enc_bytes(c));
    if (!a) return ELMO_ERR_NOMEM;
    elmo_charcnn_ws_bind(c, &w->cnn, a);
    a += elmo_charcnn_ws_bytes(c);
    w->cnn_y = (float *)a;
    w->hw = (float *)(a + up64(sizeof(float) * (size_t)ENC_CHUNK * c->n_filters));
    return ELMO_OK;
}

static void worker_free(worker *w) {
    buf *b[] = {&w->arena, &w->x, &w->y, &w->h, &w->c};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) elmo_free(b[i]->p);
}

elmo_status elmo_session_new(const elmo_model *m, int max_rows, int threads, elmo_session **out) {
    elmo_clear_error();
    *out = NULL;
    if (!m) return elmo_fail(ELMO_ERR_ARG, "elmo_session_new: no model");
    if (max_rows < 1 || max_rows > (1 << 20))
        return elmo_fail(ELMO_ERR_ARG, "elmo_session_new: max_rows %d out of range [1, 1048576]",
                         max_rows);
    if (threads < 0 || threads > 256)
        return elmo_fail(ELMO_ERR_ARG, "elmo_session_new: threads %d out of range", threads);
    elmo_session *s = calloc(1, sizeof *s);
    if (!s) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    const elmo_config *c = &m->cfg;
    s->m = m;
    s->max_rows = max_rows;
    s->threads = threads < 1 ? 1 : threads;
    /* default cache bound: 65536 entries, fewer for wide vectors so that it stays within
     * ELMO_CACHE_BYTES (a key, a vector and the index per entry) */
    size_t per_entry =
        sizeof(float) * (size_t)c->projection_dim + sizeof(int16_t) * c->max_chars + 32;
    s->cache_cap = ELMO_CACHE_BYTES / per_entry < 65536 ? ELMO_CACHE_BYTES / per_entry : 65536;
    elmo_status st = ELMO_OK;
    for (int k = 0; k < 2 && !st; k++) st = worker_bind_encoder(c, &s->wk[k]);
    if (st) {
        elmo_session_free(s);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory creating a session");
    }
    /* our own threads do the parallel work; BLAS runs single-threaded inside them */
    elmo_mm_set_threads(1);
    *out = s;
    return ELMO_OK;
}

/* The recurrent state store, zero, made on the first stateful batch (a stateless session
 * never needs it). */
static elmo_status state_alloc(elmo_session *s) {
    const elmo_config *c = &s->m->cfg;
    int L = c->n_layers, P = c->projection_dim, H = c->lstm_dim;
    size_t per = (size_t)s->max_rows * (P + H);
    s->st_mem = elmo_calloc((size_t)2 * L * per, sizeof(float));
    if (!s->st_mem) return elmo_fail(ELMO_ERR_NOMEM, "out of memory for the session's state");
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < L; l++) {
            s->st_h[d][l] = s->st_mem + (size_t)(d * L + l) * per;
            s->st_c[d][l] = s->st_h[d][l] + (size_t)s->max_rows * P;
        }
    return ELMO_OK;
}

void elmo_session_free(elmo_session *s) {
    if (!s) return;
    elmo_free(s->st_mem);
    for (int k = 0; k < 2; k++) worker_free(&s->wk[k]);
    elmo_token_cache_free(s->cache);
    elmo_params_free(&s->ref);
    buf *b[] = {&s->ids,   &s->tok,  &s->miss, &s->order, &s->len,   &s->start,
                &s->steps, &s->offs, &s->outp, &s->rowp,  &s->lanes, &s->rows};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) elmo_free(b[i]->p);
    free(s);
}

void elmo_session_set_stateful(elmo_session *s, int stateful) { s->stateful = stateful != 0; }

void elmo_session_reset(elmo_session *s) {
    const elmo_config *c = &s->m->cfg;
    if (!s->st_mem) return; /* no state yet: all zero */
    memset(s->st_mem, 0,
           sizeof(float) * (size_t)2 * c->n_layers * s->max_rows *
               (c->projection_dim + c->lstm_dim));
}

elmo_status elmo_session_reset_row(elmo_session *s, int row) {
    if (row < 0 || row >= s->max_rows)
        return elmo_fail(ELMO_ERR_ARG, "elmo_session_reset_row: row %d outside [0, %d)", row,
                         s->max_rows);
    const elmo_config *c = &s->m->cfg;
    if (!s->st_mem) return ELMO_OK; /* no state yet: all zero */
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < c->n_layers; l++) {
            memset(s->st_h[d][l] + (size_t)row * c->projection_dim, 0,
                   sizeof(float) * c->projection_dim);
            memset(s->st_c[d][l] + (size_t)row * c->lstm_dim, 0, sizeof(float) * c->lstm_dim);
        }
    return ELMO_OK;
}

void elmo_session_set_token_cache(elmo_session *s, size_t max_entries) {
    elmo_token_cache_free(s->cache);
    s->cache = NULL;
    s->cache_cap = max_entries;
}

void elmo_session_set_reference(elmo_session *s, int on) { s->reference = on != 0; }

void elmo_session_get_stats(const elmo_session *s, elmo_session_stats *out) { *out = s->stats; }
size_t elmo_session_token_cache_cap(const elmo_session *s) { return s->cache_cap; }
void elmo_session_clear_stats(elmo_session *s) { memset(&s->stats, 0, sizeof s->stats); }

/* ------------------------------------------------------------------------------------------ */
/* Running two tasks on two threads                                                           */

typedef void (*task_fn)(void *);
typedef struct {
    task_fn fn;
    void *arg;
} task;

static void *task_main(void *p) {
    task *t = p;
    t->fn(t->arg);
    return NULL;
}

/* Run fn(a) and fn(b), concurrently when parallel (falls back to serial if no thread). */
static void run_pair(task_fn fn, void *a, void *b, int parallel) {
    pthread_t th;
    task tb = {fn, b};
    if (parallel && pthread_create(&th, NULL, task_main, &tb) == 0) {
        fn(a);
        pthread_join(th, NULL);
    } else {
        fn(a);
        fn(b);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Token encoder                                                                              */

/* tok (N, P) of ids (N, W), in chunks, on worker w. */
static void encode_range(const elmo_session *s, worker *w, int N, const int16_t *ids, float *tok) {
    const elmo_model *m = s->m;
    const elmo_config *c = &m->cfg;
    int W = c->max_chars, F = c->n_filters, P = c->projection_dim;
    for (int n0 = 0; n0 < N; n0 += ENC_CHUNK) {
        int n = N - n0 < ENC_CHUNK ? N - n0 : ENC_CHUNK;
        const int16_t *id = ids + (size_t)n0 * W;
        if (s->reference) {
            elmo_charcnn_forward_ref(c, &s->ref, n, id, w->cnn_y);
            elmo_highway_forward_ref(c, &s->ref, n, w->cnn_y);
            elmo_projection_forward_ref(c, &s->ref, n, w->cnn_y, tok + (size_t)n0 * P);
        } else {
            elmo_charcnn_forward(m, n, id, w->cnn_y, &w->cnn);
            elmo_highway_forward(m, n, w->cnn_y, w->hw);
            elmo_projection_forward(m, n, w->cnn_y, tok + (size_t)n0 * P);
        }
        (void)F;
    }
}

typedef struct {
    const elmo_session *s;
    worker *w;
    int N;
    const int16_t *ids;
    float *tok;
} enc_job;

static void enc_task(void *p) {
    enc_job *j = p;
    encode_range(j->s, j->w, j->N, j->ids, j->tok);
}

/* Few tokens (one sentence) on two threads: the char CNN on one, then each highway layer's
 * two products on one thread each (they are bound by streaming the (F, F) weights, so
 * splitting the tokens would stream every matrix twice). n <= ENC_CHUNK. */
typedef struct {
    const elmo_model *m;
    int i, which, N;
    const float *x;
    float *out;
} hw_job;

static void hw_task(void *p) {
    hw_job *j = p;
    elmo_highway_product(j->m, j->i, j->which, j->N, j->x, j->out);
}

static void encode_few_par(const elmo_session *s, int N, const int16_t *ids, float *tok) {
    const elmo_model *m = s->m;
    const elmo_config *c = &m->cfg;
    worker *w = (worker *)&s->wk[0];
    int F = c->n_filters;
    elmo_charcnn_forward(m, N, ids, w->cnn_y, &w->cnn);
    for (int i = 0; i < c->n_highway; i++) {
        hw_job a = {m, i, 0, N, w->cnn_y, w->hw}, b = {m, i, 1, N, w->cnn_y, w->hw + (size_t)N * F};
        run_pair(hw_task, &a, &b, 1);
        elmo_highway_combine(c, &m->w, i, N, w->cnn_y, w->hw, w->hw + (size_t)N * F);
    }
    elmo_projection_forward(m, N, w->cnn_y, tok);
}

/* The reference path's plain weights, unpacked from the model on first use. */
static elmo_status ensure_ref(elmo_session *s) {
    if (!s->reference || s->ref.mem) return ELMO_OK;
    elmo_status st = elmo_model_unpack(s->m, &s->ref);
    return st ? elmo_fail(st, "out of memory for the reference path's weights") : ELMO_OK;
}

/* tok (N, P) for ids (N, W): cached vectors where possible, the rest computed (split over
 * the session's threads). */
static elmo_status encode_tokens(elmo_session *s, int N, const int16_t *ids, float *tok) {
    double t0 = elmo_now();
    elmo_status rs = ensure_ref(s);
    if (rs) return rs;
    const elmo_config *c = &s->m->cfg;
    int W = c->max_chars, P = c->projection_dim;
    const int16_t *todo = ids;
    float *todo_tok = tok;
    int n_todo = N;
    int *miss = NULL;
    if (s->cache_cap > 0 && !s->reference) {
        if (!s->cache && !(s->cache = elmo_token_cache_new(s->cache_cap, W, P)))
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory for the token cache");
        miss = need(&s->miss, sizeof(int) * (size_t)N + sizeof(int16_t) * (size_t)N * W + 64);
        /* the missed tokens' vectors go to worker 0's LSTM input buffer, free until the
         * LSTM phase (which needs it at this size) */
        float *mtok = need(&s->wk[0].x, sizeof(float) * (size_t)N * P);
        if (!miss || !mtok) return ELMO_ERR_NOMEM;
        int16_t *mids = (int16_t *)(miss + N + 16);
        n_todo = 0;
        for (int n = 0; n < N; n++) {
            const float *v = elmo_token_cache_get(s->cache, ids + (size_t)n * W);
            if (v) {
                memcpy(tok + (size_t)n * P, v, sizeof(float) * P);
            } else {
                memcpy(mids + (size_t)n_todo * W, ids + (size_t)n * W, sizeof(int16_t) * W);
                miss[n_todo++] = n;
            }
        }
        todo = mids;
        todo_tok = mtok;
    }
    if (n_todo > 0 && n_todo < 64 && s->threads > 1 && !s->reference && c->n_highway > 0) {
        encode_few_par(s, n_todo, todo, todo_tok);
    } else if (n_todo > 0) {
        int par = s->threads > 1 && n_todo >= 64;
        int half = par ? n_todo / 2 : n_todo;
        enc_job a = {s, &s->wk[0], half, todo, todo_tok};
        enc_job b = {s, &s->wk[1], n_todo - half, todo + (size_t)half * W,
                     todo_tok + (size_t)half * P};
        run_pair(enc_task, &a, &b, par);
    }
    if (miss) {
        for (int k = 0; k < n_todo; k++) {
            const float *v = todo_tok + (size_t)k * P;
            memcpy(tok + (size_t)miss[k] * P, v, sizeof(float) * P);
            elmo_token_cache_put(s->cache, todo + (size_t)k * W, v);
        }
    }
    s->stats.tokens_computed += (uint64_t)n_todo;
    s->stats.tokens_cached += (uint64_t)(N - n_todo);
    s->stats.encode_s += elmo_now() - t0;
    return ELMO_OK;
}

elmo_status elmo_token_vectors(elmo_session *s, int N, const char *const *tokens, float *out) {
    elmo_clear_error();
    if (N < 0) return elmo_fail(ELMO_ERR_ARG, "elmo_token_vectors: N < 0");
    int W = s->m->cfg.max_chars;
    int16_t *ids = need(&s->ids, sizeof(int16_t) * (size_t)(N ? N : 1) * W);
    if (!ids) return ELMO_ERR_NOMEM;
    for (int n = 0; n < N; n++) elmo_char_ids(tokens[n], strlen(tokens[n]), W, ids + (size_t)n * W);
    return encode_tokens(s, N, ids, out);
}

/* ------------------------------------------------------------------------------------------ */
/* The biLM over a batch                                                                      */

typedef struct {
    elmo_session *s;
    int d; /* direction: 0 forward LM, 1 backward LM */
    int B, N;
    const int *order; /* (B) sorted row -> batch index (a stateful batch's rows) */
    const int *len;   /* (B) positions per batch row, boundaries included */
    const int *rsent; /* (N) per packed row: its sentence (batch index) */
    const int *rpos;  /* (N) per packed row: its position in the sentence's direction */
    const int *start; /* (B) first packed-by-sentence position of each batch row */
    const elmo_packing *pk;
    const float *tok;  /* (N, P) in sentence order (the reference path's input) */
    float *const *out; /* per sentence (L+1, n_b, 2P) */
    elmo_status status;
} dir_job;

static void direction_task(void *p) {
    dir_job *j = p;
    elmo_session *s = j->s;
    const elmo_config *c = &s->m->cfg;
    const elmo_params *w = &s->m->w;
    worker *wk = &s->wk[j->d];
    int P = c->projection_dim, H = c->lstm_dim, B = j->B, d = j->d;
    /* x (N, P): the packed input (gathered by elmo_embed_ids), then each layer's output
     * (elmo_lstm_forward) */
    float *x = wk->x.p;
    /* the arena (sized by elmo_embed_ids) is free once the token encoder is done */
    float *G = wk->arena.p;
    float *u =
        (float *)((char *)wk->arena.p + lstm_bytes(c, B) - up64(sizeof(float) * (size_t)B * H));
    float *h = need(&wk->h, sizeof(float) * (size_t)B * P);
    float *cs = need(&wk->c, sizeof(float) * (size_t)B * H);
    if (!x || !G || !u || !h || !cs) {
        j->status = ELMO_ERR_NOMEM;
        return;
    }
    const elmo_packing *pk = j->pk;
    for (int l = 0; l < c->n_layers; l++) {
        /* initial state of each sorted row: its slot in the store, or zero */
        for (int i = 0; i < B; i++) {
            int b = j->order[i];
            if (s->stateful) {
                memcpy(h + (size_t)i * P, s->st_h[d][l] + (size_t)b * P, sizeof(float) * P);
                memcpy(cs + (size_t)i * H, s->st_c[d][l] + (size_t)b * H, sizeof(float) * H);
            } else {
                memset(h + (size_t)i * P, 0, sizeof(float) * P);
                memset(cs + (size_t)i * H, 0, sizeof(float) * H);
            }
        }
        const elmo_model_mats *mt = s->m->mats;
        elmo_lstm_cell cell = {mt->lx[d][l], mt->lh[d][l], w->lstm_b[d][l], mt->lp[d][l]};
        /* residual connection above the first layer (the recurrent state keeps the
         * pre-residual h) */
        int residual = c->use_skip_connections && l > 0;
        elmo_lstm_forward(c, &cell, pk, !s->stateful, residual, x, h, cs, G, u);
        if (s->stateful)
            for (int i = 0; i < B; i++) {
                int b = j->order[i];
                memcpy(s->st_h[d][l] + (size_t)b * P, h + (size_t)i * P, sizeof(float) * P);
                memcpy(s->st_c[d][l] + (size_t)b * H, cs + (size_t)i * H, sizeof(float) * H);
            }
        /* scatter to the outputs: layer l+1, columns d*P .. d*P+P-1, boundaries dropped */
        for (int r = 0; r < pk->offs[pk->T]; r++) {
            int b = j->rsent[r], n = j->len[b] - 2, q = j->rpos[r];
            int pos = d == 0 ? q : j->len[b] - 1 - q;
            if (pos < 1 || pos > n) continue;
            float *o = j->out[b] + ((size_t)(l + 1) * n + (pos - 1)) * 2 * P + (size_t)d * P;
            memcpy(o, x + (size_t)r * P, sizeof(float) * P);
        }
    }
}

/* Plain reference: one sentence at a time, direct loops (for testing the fast path). */
static void direction_task_ref(void *p) {
    dir_job *j = p;
    elmo_session *s = j->s;
    const elmo_config *c = &s->m->cfg;
    const elmo_params *w = &s->ref;
    int P = c->projection_dim, H = c->lstm_dim, d = j->d;
    worker *wk = &s->wk[d];
    int maxlen = 0;
    for (int b = 0; b < j->B; b++) maxlen = j->len[b] > maxlen ? j->len[b] : maxlen;
    float *x = need(&wk->x, sizeof(float) * (size_t)maxlen * P);
    float *y = need(&wk->y, sizeof(float) * (size_t)maxlen * P);
    float *h = need(&wk->h, sizeof(float) * P), *cs = need(&wk->c, sizeof(float) * H);
    if (!x || !y || !h || !cs) {
        j->status = ELMO_ERR_NOMEM;
        return;
    }
    for (int b = 0; b < j->B; b++) {
        int len = j->len[b], n = len - 2;
        for (int t = 0; t < len; t++)
            memcpy(x + (size_t)t * P,
                   j->tok + (size_t)(j->start[b] + (d == 0 ? t : len - 1 - t)) * P,
                   sizeof(float) * P);
        for (int l = 0; l < c->n_layers; l++) {
            if (s->stateful) {
                memcpy(h, s->st_h[d][l] + (size_t)b * P, sizeof(float) * P);
                memcpy(cs, s->st_c[d][l] + (size_t)b * H, sizeof(float) * H);
            } else {
                memset(h, 0, sizeof(float) * P);
                memset(cs, 0, sizeof(float) * H);
            }
            elmo_lstm_forward_ref(c, w->lstm_w[d][l], w->lstm_b[d][l], w->lstm_p[d][l], len, x, h,
                                  cs, y);
            if (s->stateful) {
                memcpy(s->st_h[d][l] + (size_t)b * P, h, sizeof(float) * P);
                memcpy(s->st_c[d][l] + (size_t)b * H, cs, sizeof(float) * H);
            }
            if (c->use_skip_connections && l > 0)
                for (size_t k = 0; k < (size_t)len * P; k++) y[k] += x[k];
            for (int t = 0; t < len; t++) {
                int pos = d == 0 ? t : len - 1 - t;
                if (pos < 1 || pos > n) continue;
                memcpy(j->out[b] + ((size_t)(l + 1) * n + (pos - 1)) * 2 * P + (size_t)d * P,
                       y + (size_t)t * P, sizeof(float) * P);
            }
            memcpy(x, y, sizeof(float) * (size_t)len * P);
        }
    }
}

/* The LSTMs' packed inputs: packed row (t, i) holds position q = rpos of sentence b =
 * rsent, which started at step t - q in lane i: the forward LSTM's input is position q,
 * the backward one's position len-1-q. The forward rows come from tok (N, P), which is the
 * backward buffer's memory; the backward rows then from the forward copy, where position
 * p of that sentence is row offs[t - q + p] + i. */
static void gather_inputs(elmo_session *s, const elmo_packing *pk, const int *rsent,
                          const int *rpos, const int *len, const int *start, const float *tok) {
    int P = s->m->cfg.projection_dim;
    size_t row = sizeof(float) * P;
    float *x0 = s->wk[0].x.p, *x1 = s->wk[1].x.p;
    for (int r = 0; r < pk->offs[pk->T]; r++)
        memcpy(x0 + (size_t)r * P, tok + (size_t)(start[rsent[r]] + rpos[r]) * P, row);
    for (int t = 0; t < pk->T; t++)
        for (int i = 0; i < pk->steps[t]; i++) {
            int r = pk->offs[t] + i, q = rpos[r], p = len[rsent[r]] - 1 - q;
            memcpy(x1 + (size_t)r * P, x0 + (size_t)(pk->offs[t - q + p] + i) * P, row);
        }
}

/* The rows below which an LSTM step is bound by reading its recurrent weights rather than
 * by arithmetic (lanes.h), where laying sentences into lanes measured faster: bfloat16
 * weights on our AMX kernel, too large for a core's cache (the original architecture's 16
 * MB per layer; file-order batches of 64 Brown sentences, bench_embed: about +6 %, best at
 * 32 of 16-48). Elsewhere 0, one row per sentence: with elmo-en-v3's 1.5 MB a step is not
 * bound by memory and lanes cost 5 %; float32 on oneDNN (whose per-row rate drops with
 * fewer rows) and int8 weights measured no gain. ELMO_LANE_KNEE overrides. */
static int lane_knee(const elmo_session *s) {
    const char *e = getenv("ELMO_LANE_KNEE");
    if (e && *e) return atoi(e);
    const elmo_config *c = &s->m->cfg;
    const elmo_mat *wh = s->m->mats->lh[0][0];
    size_t wh_bytes = sizeof(uint16_t) * (size_t)c->projection_dim * 4 * c->lstm_dim;
    return wh && strcmp(elmo_mat_impl(wh), "own:amx-bf16") == 0 && wh_bytes >= (8u << 20) ? 32 : 0;
}

elmo_status elmo_embed_ids(elmo_session *s, int B, const int16_t *const *ids, const int *n_tokens,
                           float *const *out) {
    elmo_clear_error();
    const elmo_config *c = &s->m->cfg;
    int W = c->max_chars, P = c->projection_dim;
    if (B < 0) return elmo_fail(ELMO_ERR_ARG, "elmo_embed: negative batch size");
    if (B == 0) return ELMO_OK;
    long failures0 = elmo_mm_failures();
    if (s->stateful && B > s->max_rows)
        return elmo_fail(ELMO_ERR_STATE,
                         "elmo_embed: batch of %d sentences exceeds the session's %d state rows", B,
                         s->max_rows);
    if (s->stateful && !s->st_mem && state_alloc(s)) return ELMO_ERR_NOMEM;
    /* positions: <S> tokens </S> per sentence */
    size_t N = 0;
    int T = 0;
    for (int b = 0; b < B; b++) {
        if (n_tokens[b] < 0 || n_tokens[b] > (1 << 24))
            return elmo_fail(ELMO_ERR_ARG, "elmo_embed: sentence %d has %d tokens", b, n_tokens[b]);
        N += (size_t)n_tokens[b] + 2;
        if (n_tokens[b] + 2 > T) T = n_tokens[b] + 2;
    }
    if (N > (1u << 30)) return elmo_fail(ELMO_ERR_ARG, "elmo_embed: batch too large");
    int16_t *idb = need(&s->ids, sizeof(int16_t) * N * W);
    /* tok (N, P), the token vectors in sentence order: in the backward LSTM's input buffer
     * (gather_inputs moves them out before it is used), its own buffer on the reference
     * path */
    float *x0 = need(&s->wk[0].x, sizeof(float) * N * P);
    float *tok = s->reference ? need(&s->tok, sizeof(float) * N * P)
                              : need(&s->wk[1].x, sizeof(float) * N * P);
    int *order = need(&s->order, sizeof(int) * B), *len = need(&s->len, sizeof(int) * B);
    int *start = need(&s->start, sizeof(int) * B);
    /* steps: at most one per position (one lane) */
    int *steps = need(&s->steps, sizeof(int) * N), *offs = need(&s->offs, sizeof(int) * (N + 1));
    int *lw = need(&s->lanes, sizeof(int) * 4 * (size_t)B),
        *rw = need(&s->rows, sizeof(int) * 2 * N);
    if (!idb || !x0 || !tok || !order || !len || !start || !steps || !offs || !lw || !rw)
        return ELMO_ERR_NOMEM;
    size_t pos = 0;
    for (int b = 0; b < B; b++) {
        start[b] = (int)pos;
        len[b] = n_tokens[b] + 2;
        elmo_char_ids("<S>", 3, W, idb + pos * W);
        memcpy(idb + (pos + 1) * W, ids[b], sizeof(int16_t) * (size_t)n_tokens[b] * W);
        elmo_char_ids("</S>", 4, W, idb + (pos + 1 + n_tokens[b]) * W);
        pos += len[b];
    }
    /* the workers' arenas: the encoder now, the LSTM phase next */
    for (int k = 0; k < 2; k++)
        if (s->wk[k].arena.cap < lstm_bytes(c, B) &&
            (!need(&s->wk[k].arena, lstm_bytes(c, B)) || worker_bind_encoder(c, &s->wk[k])))
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory in elmo_embed");
    elmo_status st = encode_tokens(s, (int)N, idb, tok);
    if (st) return st;
    /* layer 0: [tok ; tok] */
    for (int b = 0; b < B; b++) {
        int n = n_tokens[b];
        for (int t = 0; t < n; t++) {
            const float *v = tok + (size_t)(start[b] + 1 + t) * P;
            float *o = out[b] + (size_t)t * 2 * P;
            memcpy(o, v, sizeof(float) * P);
            memcpy(o + P, v, sizeof(float) * P);
        }
    }
    /* packing: rows sorted by decreasing length (stable) */
    for (int b = 0; b < B; b++) order[b] = b;
    for (int i = 1; i < B; i++) { /* insertion sort: batches are small */
        int v = order[i], k = i;
        while (k > 0 && len[order[k - 1]] < len[v]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = v;
    }
    /* lanes: the sorted sentences laid end to end into rows where that saves steps
     * (stateless only: a stateful batch keeps one row per sentence, its state slot) */
    int *slen = lw, *lane = lw + B, *first = lw + 2 * B, *ltot = lw + 3 * B;
    for (int i = 0; i < B; i++) slen[i] = len[order[i]];
    int nl = s->stateful ? B : elmo_lanes_count(B, slen, lane_knee(s));
    T = elmo_lanes_pack(B, slen, nl, lane, first);
    for (int k = 0; k < nl; k++) ltot[k] = 0;
    for (int i = 0; i < B; i++)
        if (first[i] + slen[i] > ltot[lane[i]]) ltot[lane[i]] = first[i] + slen[i];
    offs[0] = 0;
    for (int t = 0, i = nl; t < T; t++) { /* lanes are numbered by decreasing total */
        while (i > 0 && ltot[i - 1] <= t) i--;
        steps[t] = i;
        offs[t + 1] = offs[t] + i;
    }
    int *rsent = rw, *rpos = rw + N;
    for (int i = 0; i < B; i++)
        for (int q = 0; q < slen[i]; q++) {
            int r = offs[first[i] + q] + lane[i];
            rsent[r] = order[i];
            rpos[r] = q;
        }
    elmo_packing pk = {T, steps, offs, nl < B ? rpos : NULL};
    if (!s->reference) gather_inputs(s, &pk, rsent, rpos, len, start, tok);
    double t0 = elmo_now();
    dir_job jobs[2];
    for (int d = 0; d < 2; d++)
        jobs[d] =
            (dir_job){s, d, B, (int)N, order, len, rsent, rpos, start, &pk, tok, out, ELMO_OK};
    run_pair(s->reference ? direction_task_ref : direction_task, &jobs[0], &jobs[1],
             s->threads > 1);
    s->stats.lstm_s += elmo_now() - t0;
    for (int d = 0; d < 2; d++)
        if (jobs[d].status) return elmo_fail(jobs[d].status, "out of memory in elmo_embed");
    if (elmo_mm_failures() != failures0) /* a product filled its output with NaN */
        return elmo_fail(ELMO_ERR_NOMEM,
                         "elmo_embed: a matrix product failed inside oneDNN (out of memory?)");
    return ELMO_OK;
}

elmo_status elmo_embed(elmo_session *s, int B, const char *const *const *tokens,
                       const int *n_tokens, float *const *out) {
    elmo_clear_error();
    if (B < 0) return elmo_fail(ELMO_ERR_ARG, "elmo_embed: negative batch size");
    int W = s->m->cfg.max_chars;
    size_t N = 0;
    for (int b = 0; b < B; b++) {
        if (n_tokens[b] < 0) return elmo_fail(ELMO_ERR_ARG, "elmo_embed: negative token count");
        N += (size_t)n_tokens[b];
    }
    int16_t *ids = need(&s->outp, sizeof(int16_t) * (N ? N : 1) * W);
    const int16_t **rows = need(&s->rowp, sizeof(*rows) * (B ? B : 1));
    if (!ids || !rows) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (int b = 0; b < B; b++) {
        rows[b] = ids + k * W;
        for (int t = 0; t < n_tokens[b]; t++, k++)
            elmo_char_ids(tokens[b][t], strlen(tokens[b][t]), W, ids + k * W);
    }
    return elmo_embed_ids(s, B, rows, n_tokens, out);
}
