/*
 * ngram.c: interpolated modified Kneser-Ney n-gram language models (see ngram.h).
 *
 * Training reads the text once: every prediction adds one to the raw count of its longest
 * n-gram (order N, or the shorter n-gram that begins with the start token near the start of
 * a sentence). The lower orders are then derived top-down: each distinct (k+1)-gram
 * x y1..yk adds one to the continuation count of y1..yk. Finally each order's count-of-counts
 * give its discounts and one pass per order fills the context table (a(h .), N1, N2, N3+).
 */
#include "tasks/ngram.h"
#include "train/vocab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/textio.h"
#include "io/util.h"

#define NG_MAX_LINE ((size_t)16 << 20) /* bytes per line of text or vocabulary */

/* ------------------------------------------------------------------------------------------ */
/* Open-addressing hash table of fixed-width uint32 tuples: each slot is kw key words followed
 * by vw value words; a slot is empty while its first value word is 0 (every stored count is
 * at least 1). Linear probing, power-of-two capacity, load factor at most 0.7. */

typedef struct {
    int kw, vw, stride;
    size_t cap, n;
    uint32_t *slots;
} ng_table;

static uint64_t ng_hash(const uint32_t *key, int kw) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)kw;
    for (int i = 0; i < kw; i++) {
        h = (h ^ key[i]) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return h;
}

static elmo_status ng_table_init(ng_table *t, int kw, int vw, size_t cap) {
    memset(t, 0, sizeof *t);
    t->kw = kw;
    t->vw = vw;
    t->stride = kw + vw;
    t->cap = cap;
    t->slots = elmo_calloc(cap * (size_t)t->stride, sizeof(uint32_t));
    return t->slots ? ELMO_OK : ELMO_ERR_NOMEM;
}

static void ng_table_free(ng_table *t) {
    elmo_free(t->slots);
    memset(t, 0, sizeof *t);
}

static size_t ng_table_bytes(const ng_table *t) {
    return t->cap * (size_t)t->stride * sizeof(uint32_t);
}

static inline int ng_key_eq(const uint32_t *a, const uint32_t *b, int kw) {
    for (int i = 0; i < kw; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* Value words of key, or NULL when absent. */
static uint32_t *ng_find(const ng_table *t, const uint32_t *key) {
    size_t mask = t->cap - 1, j = (size_t)ng_hash(key, t->kw) & mask;
    for (;; j = (j + 1) & mask) {
        uint32_t *s = t->slots + j * (size_t)t->stride;
        if (s[t->kw] == 0) return NULL;
        if (ng_key_eq(s, key, t->kw)) return s + t->kw;
    }
}

static elmo_status ng_grow(ng_table *t) {
    if (t->cap > ((size_t)1 << 40)) return elmo_fail(ELMO_ERR_NOMEM, "n-gram table too large");
    ng_table nt;
    if (ng_table_init(&nt, t->kw, t->vw, t->cap * 2))
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory growing an n-gram table to %zu slots",
                         t->cap * 2);
    size_t mask = nt.cap - 1;
    for (size_t i = 0; i < t->cap; i++) {
        const uint32_t *s = t->slots + i * (size_t)t->stride;
        if (s[t->kw] == 0) continue;
        size_t j = (size_t)ng_hash(s, t->kw) & mask;
        while (nt.slots[j * (size_t)nt.stride + (size_t)nt.kw] != 0) j = (j + 1) & mask;
        memcpy(nt.slots + j * (size_t)nt.stride, s, sizeof(uint32_t) * (size_t)t->stride);
    }
    nt.n = t->n;
    ng_table_free(t);
    *t = nt;
    return ELMO_OK;
}

/* Value words of key, inserted (zeroed) when absent; the caller must make the first value word
 * non-zero. NULL (error set) when out of memory. */
static uint32_t *ng_upsert(ng_table *t, const uint32_t *key) {
    if ((t->n + 1) * 10 > t->cap * 7 && ng_grow(t)) return NULL;
    size_t mask = t->cap - 1, j = (size_t)ng_hash(key, t->kw) & mask;
    for (;; j = (j + 1) & mask) {
        uint32_t *s = t->slots + j * (size_t)t->stride;
        if (s[t->kw] == 0) {
            memcpy(s, key, sizeof(uint32_t) * (size_t)t->kw);
            t->n++;
            return s + t->kw;
        }
        if (ng_key_eq(s, key, t->kw)) return s + t->kw;
    }
}

static elmo_status ng_add(uint32_t *v, uint32_t x) {
    if (v[0] > UINT32_MAX - x)
        return elmo_fail(ELMO_ERR_NOMEM, "an n-gram count exceeds 2^32 - 1 (corpus too large)");
    v[0] += x;
    return ELMO_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading sentences as id sequences                                                          */

typedef struct {
    const elmo_vocab *v;
    int reverse;
    size_t *starts, *lens, tcap;
    uint32_t *ids; /* start, words, end */
    size_t icap;
    uint64_t n_sentences, n_words, n_oov;
} ng_reader;

typedef elmo_status (*ng_sentence_fn)(void *ctx, const uint32_t *t, size_t len);

static void ng_reader_free(ng_reader *r) {
    free(r->starts);
    free(r->lens);
    free(r->ids);
}

/* Call fn(ctx, t, n + 2) for every line of path with t = start w.. end in reading order. */
static elmo_status ng_read_file(ng_reader *rd, const char *path, ng_sentence_fn fn, void *ctx) {
    elmo_line_reader r;
    elmo_status s = elmo_line_reader_open(&r, path, NG_MAX_LINE);
    if (s) return s;
    const elmo_vocab *v = rd->v;
    uint32_t start = rd->reverse ? elmo_vocab_eos(v) : elmo_vocab_bos(v),
             end = rd->reverse ? elmo_vocab_bos(v) : elmo_vocab_eos(v);
    int got;
    while (!(s = elmo_line_reader_next(&r, &got)) && got) {
        size_t n = elmo_split_whitespace(r.line, r.len, rd->starts, rd->lens, rd->tcap);
        if (n > rd->tcap) {
            size_t nc = n + n / 2 + 16;
            size_t *ns = realloc(rd->starts, nc * sizeof *ns);
            if (ns) rd->starts = ns;
            size_t *nl = realloc(rd->lens, nc * sizeof *nl);
            if (nl) rd->lens = nl;
            if (!ns || !nl) {
                s = elmo_fail(ELMO_ERR_NOMEM, "%s:%llu: out of memory", r.name,
                              (unsigned long long)r.lineno);
                break;
            }
            rd->tcap = nc;
            n = elmo_split_whitespace(r.line, r.len, rd->starts, rd->lens, rd->tcap);
        }
        if (n + 2 > rd->icap) {
            size_t nc = n + n / 2 + 16;
            uint32_t *ni = realloc(rd->ids, nc * sizeof *ni);
            if (!ni) {
                s = elmo_fail(ELMO_ERR_NOMEM, "%s:%llu: out of memory", r.name,
                              (unsigned long long)r.lineno);
                break;
            }
            rd->ids = ni;
            rd->icap = nc;
        }
        uint32_t *t = rd->ids;
        t[0] = start;
        t[n + 1] = end;
        for (size_t i = 0; i < n; i++) {
            uint32_t id = elmo_vocab_id(v, r.line + rd->starts[i], rd->lens[i]);
            rd->n_oov += id == elmo_vocab_unk(v);
            t[rd->reverse ? n - i : 1 + i] = id;
        }
        rd->n_words += n;
        rd->n_sentences++;
        if ((s = fn(ctx, t, n + 2))) break;
    }
    elmo_line_reader_close(&r);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Model                                                                                      */

struct elmo_ngram {
    const elmo_vocab *v;
    int order, reverse;
    uint32_t start, end;
    double p0;                              /* 1 / (V - 1) */
    ng_table ng[ELMO_NGRAM_MAX_ORDER + 1];  /* [k]: k-grams, value = adjusted count */
    ng_table ctx[ELMO_NGRAM_MAX_ORDER + 1]; /* [k]: (k-1)-word contexts: a(h .), N1, N2, N3+ */
    double disc[ELMO_NGRAM_MAX_ORDER + 1][3];
    uint64_t n_sentences, n_words, n_oov;
};

void elmo_ngram_free(elmo_ngram *m) {
    if (!m) return;
    for (int k = 0; k <= ELMO_NGRAM_MAX_ORDER; k++) {
        ng_table_free(&m->ng[k]);
        ng_table_free(&m->ctx[k]);
    }
    free(m);
}

static elmo_status count_sentence(void *ctx, const uint32_t *t, size_t len) {
    elmo_ngram *m = ctx;
    int N = m->order;
    for (size_t i = 1; i < len; i++) {
        /* the longest n-gram ending at i: order N, or t[0..i] when the sentence start is near */
        int k = i + 1 >= (size_t)N ? N : (int)i + 1;
        uint32_t *c = ng_upsert(&m->ng[k], t + i + 1 - (size_t)k);
        if (!c) return ELMO_ERR_NOMEM;
        elmo_status s = ng_add(c, 1);
        if (s) return s;
    }
    return ELMO_OK;
}

/* Chen & Goodman's modified discounts from count-of-counts, with the fallback of ngram.h. */
static void estimate_discounts(const uint64_t n[5], double d[3]) {
    double Y = n[1] > 0 && n[2] > 0 ? (double)n[1] / ((double)n[1] + 2.0 * (double)n[2]) : 0.5;
    double fb = Y > 0 && Y < 1 ? Y : 0.5;
    for (int c = 1; c <= 3; c++) {
        double x = NAN;
        if (n[c] > 0) x = c - (c + 1) * Y * (double)n[c + 1] / (double)n[c];
        d[c - 1] = isfinite(x) && x > 0 && x < c ? x : fb;
    }
}

elmo_status elmo_ngram_train(const elmo_vocab *v, const char *const *files, int n_files, int order,
                             int reverse, elmo_ngram **out) {
    *out = NULL;
    if (!v) return elmo_fail(ELMO_ERR_ARG, "ngram: no vocabulary");
    if (order < 1 || order > ELMO_NGRAM_MAX_ORDER)
        return elmo_fail(ELMO_ERR_ARG, "ngram: order must be in [1, %d], got %d",
                         ELMO_NGRAM_MAX_ORDER, order);
    if (n_files < 1 || !files) return elmo_fail(ELMO_ERR_ARG, "ngram: no training files");
    if (elmo_vocab_size(v) < 2) return elmo_fail(ELMO_ERR_ARG, "ngram: vocabulary too small");
    elmo_ngram *m = calloc(1, sizeof *m);
    if (!m) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    m->v = v;
    m->order = order;
    m->reverse = reverse ? 1 : 0;
    m->start = reverse ? elmo_vocab_eos(v) : elmo_vocab_bos(v);
    m->end = reverse ? elmo_vocab_bos(v) : elmo_vocab_eos(v);
    m->p0 = 1.0 / (double)(elmo_vocab_size(v) - 1);
    elmo_status s = ELMO_OK;
    for (int k = 1; k <= order && !s; k++) {
        if (ng_table_init(&m->ng[k], k, 1, (size_t)1 << 12) ||
            ng_table_init(&m->ctx[k], k - 1, 4, k == 1 ? 16 : (size_t)1 << 12))
            s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    ng_reader rd = {.v = v, .reverse = m->reverse};
    for (int f = 0; f < n_files && !s; f++) s = ng_read_file(&rd, files[f], count_sentence, m);
    ng_reader_free(&rd);
    m->n_sentences = rd.n_sentences;
    m->n_words = rd.n_words;
    m->n_oov = rd.n_oov;
    if (!s && rd.n_sentences == 0)
        s = elmo_fail(ELMO_ERR_FORMAT, "%s%s: no sentences (empty file%s)", files[0],
                      n_files > 1 ? " and the other training files" : "", n_files > 1 ? "s" : "");
    /* lower orders: continuation counts from the distinct n-grams one order up */
    for (int k = order - 1; k >= 1 && !s; k--) {
        const ng_table *up = &m->ng[k + 1];
        for (size_t i = 0; i < up->cap && !s; i++) {
            const uint32_t *e = up->slots + i * (size_t)up->stride;
            if (e[up->kw] == 0) continue;
            uint32_t *c = ng_upsert(&m->ng[k], e + 1);
            s = c ? ng_add(c, 1) : ELMO_ERR_NOMEM;
        }
    }
    /* discounts and context statistics */
    for (int k = 1; k <= order && !s; k++) {
        const ng_table *t = &m->ng[k];
        uint64_t cc[5] = {0};
        for (size_t i = 0; i < t->cap; i++) {
            uint32_t a = t->slots[i * (size_t)t->stride + (size_t)t->kw];
            if (a >= 1 && a <= 4) cc[a]++;
        }
        estimate_discounts(cc, m->disc[k]);
        for (size_t i = 0; i < t->cap && !s; i++) {
            const uint32_t *e = t->slots + i * (size_t)t->stride;
            uint32_t a = e[t->kw];
            if (a == 0) continue;
            uint32_t *c = ng_upsert(&m->ctx[k], e);
            if (!c) {
                s = ELMO_ERR_NOMEM;
                break;
            }
            s = ng_add(c, a);
            c[a >= 3 ? 3 : a]++;
        }
    }
    if (s) {
        elmo_ngram_free(m);
        return s;
    }
    *out = m;
    return ELMO_OK;
}

double elmo_ngram_logprob(const elmo_ngram *m, const uint32_t *hist, int n_hist, uint32_t w) {
    if (w >= elmo_vocab_size(m->v) || w == m->start) return -INFINITY;
    if (n_hist < 0) n_hist = 0;
    int nh = n_hist < m->order - 1 ? n_hist : m->order - 1;
    uint32_t key[ELMO_NGRAM_MAX_ORDER];
    double p = m->p0;
    for (int k = 1; k <= nh + 1; k++) {
        /* key = the last k - 1 words of the history, then w */
        if (k > 1) memcpy(key, hist + n_hist - (k - 1), sizeof(uint32_t) * (size_t)(k - 1));
        key[k - 1] = w;
        const uint32_t *c = ng_find(&m->ctx[k], key);
        if (!c) break; /* unseen context: so are the longer ones (each extends a shorter one) */
        const double *d = m->disc[k];
        const uint32_t *e = ng_find(&m->ng[k], key);
        double a = e ? (double)e[0] : 0.0;
        double disc = a <= 0 ? 0 : d[a >= 3 ? 2 : (int)a - 1];
        double gamma = d[0] * c[1] + d[1] * c[2] + d[2] * c[3];
        p = (fmax(a - disc, 0.0) + gamma * p) / (double)c[0];
    }
    return log(p);
}

uint32_t elmo_ngram_start_id(const elmo_ngram *m) { return m->start; }
uint32_t elmo_ngram_end_id(const elmo_ngram *m) { return m->end; }

void elmo_ngram_get_info(const elmo_ngram *m, elmo_ngram_info *out) {
    memset(out, 0, sizeof *out);
    out->order = m->order;
    out->reverse = m->reverse;
    out->vocab_size = elmo_vocab_size(m->v);
    out->n_sentences = m->n_sentences;
    out->n_words = m->n_words;
    out->n_oov = m->n_oov;
    for (int k = 1; k <= m->order; k++) {
        out->n_ngrams[k - 1] = m->ng[k].n;
        for (int c = 0; c < 3; c++) out->discount[k - 1][c] = m->disc[k][c];
        out->bytes += ng_table_bytes(&m->ng[k]) + ng_table_bytes(&m->ctx[k]);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation                                                                                 */

typedef struct {
    const elmo_ngram *m;
    double nll, nll_unk;
    uint64_t n_pred, n_unk;
} ng_eval_ctx;

static elmo_status score_sentence(void *ctx, const uint32_t *t, size_t len) {
    ng_eval_ctx *e = ctx;
    int N = e->m->order;
    for (size_t i = 1; i < len; i++) {
        size_t h = i < (size_t)N - 1 ? i : (size_t)N - 1;
        double lp = elmo_ngram_logprob(e->m, t + i - h, (int)h, t[i]);
        e->nll -= lp;
        e->n_pred++;
        if (t[i] == elmo_vocab_unk(e->m->v)) {
            e->nll_unk -= lp;
            e->n_unk++;
        }
    }
    return ELMO_OK;
}

elmo_status elmo_ngram_evaluate(const elmo_ngram *m, const char *path, elmo_ngram_eval *out) {
    memset(out, 0, sizeof *out);
    ng_eval_ctx e = {.m = m};
    ng_reader rd = {.v = m->v, .reverse = m->reverse};
    elmo_status s = ng_read_file(&rd, path, score_sentence, &e);
    ng_reader_free(&rd);
    if (s) return s;
    out->n_sentences = rd.n_sentences;
    out->n_words = rd.n_words;
    out->n_oov = rd.n_oov;
    out->n_predictions = e.n_pred;
    out->nll = e.nll;
    out->n_unk_targets = e.n_unk;
    out->nll_unk = e.nll_unk;
    return ELMO_OK;
}
