/*
 * classify.c: the ELMo text classifier and its bag-of-words baseline (see classify.h).
 *
 * Parameters, in one block updated by Adam: w (K) and gamma (1) of the scalar mix and the
 * pooling's own (ELMo features only: attention's v (D), the CNN's U (D, 3 D) and c (D);
 * pooling.h), then the head (mlp.h). Shapes:
 * n texts, K = L+1 layers, D = 2P, E the pooled width (D, or 2 D for mean+max), Ds the
 * static-vector size, the dense input E + Ds, and the head's input I = E + Ds (+ the number of
 * bag-of-words terms: then the input is one sparse row, the dense part first).
 */
#include "tasks/classify.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "io/checkpoint.h"
#include "kernels/matmul.h"
#include "tasks/head_file.h"
#include "tasks/mlp.h"
#include "train/optim.h"
#include "io/strmap.h"
#include "text/textdata.h"
#include "io/util.h"

#define CLASSIFIER_MAGIC "ELMOCLF1"
/* 3: bow_max_tokens; 2: pooling, attention, elmo+bow; 1: mean of ELMo, or bow */
#define CLASSIFIER_VERSION 3

struct elmo_classifier {
    int features;
    elmo_tokenizer tok;
    int max_tokens, bow_max_tokens; /* tokens per text for the biLM and the bag of words */
    int n_classes;
    char **labels;
    int standardize;
    int word_ngrams, char_lo, char_hi; /* bag-of-words terms (for_each_term) */
    int pooling, P, E;                 /* pooling, statistics per text and width (pooling.h) */
    float *norm; /* standardisation: mean (S, K, D) then 1/sd (S, K, D); S = max(P, 1) */
    int K, D, Ds, in, hidden;
    float *params; /* [w (K) | gamma | pooling's | head] for ELMo, [head] for bow */
    size_t n_params;
    elmo_mlp mlp;
    uint64_t bilm_fp, static_fp;
    char *bilm_dir, *static_path;
    /* bag of words */
    int n_terms;
    elmo_strmap terms; /* term -> id */
    float *idf;
    /* attached at run time (not owned) */
    elmo_model *bilm;
    elmo_static_vectors *sv;
};

void elmo_classifier_options_default(elmo_classifier_options *o) {
    memset(o, 0, sizeof *o);
    o->features = ELMO_FEAT_ELMO;
    o->pooling = ELMO_POOL_MEAN;
    o->standardize = 0;
    o->tokenizer = ELMO_TOK_WHITESPACE;
    o->hidden = 256;
    o->epochs = 10;
    o->batch_size = 60;
    o->lr = 1e-3;
    o->seed = 1;
    o->threads = 2;
    o->bow_max_terms = 50000;
    o->word_ngrams = 1;
}

static float *mix_w(const elmo_classifier *c) { return c->params; }
static float *mix_gamma(const elmo_classifier *c) { return c->params + c->K; }
static float *pool_params(const elmo_classifier *c) { return c->params + c->K + 1; }
/* the CNN's U (D, 3 D) is pool_params; its bias c (D) follows */
static size_t cnn_bias_offset(const elmo_classifier *c) { return (size_t)3 * c->D * c->D; }
static int has_elmo(const elmo_classifier *c) { return c->features != ELMO_FEAT_BOW; }
/* attention and the CNN read every token's layers (kept in bfloat16) */
static int keeps_tokens(const elmo_classifier *c) {
    return has_elmo(c) && (c->pooling == ELMO_POOL_ATTN || c->pooling == ELMO_POOL_CNN);
}
static size_t norm_count(const elmo_classifier *c) {
    return 2 * (size_t)(c->P ? c->P : 1) * c->K * c->D;
}
static int has_bow(const elmo_classifier *c) { return c->features != ELMO_FEAT_ELMO; }
static int dense_width(const elmo_classifier *c) { return has_elmo(c) ? c->E + c->Ds : 0; }
static size_t head_offset(const elmo_classifier *c) {
    if (!has_elmo(c)) return 0;
    return (size_t)c->K + 1 + elmo_pool_n_params(c->pooling, c->D);
}

/* Allocate the parameter block and bind the head. */
static elmo_status alloc_params(elmo_classifier *c) {
    size_t nh = elmo_mlp_count(c->in, c->hidden, c->n_classes == 2 ? 1 : c->n_classes);
    c->n_params = head_offset(c) + nh;
    c->params = elmo_calloc(c->n_params, sizeof(float));
    if (!c->params) return elmo_fail(ELMO_ERR_NOMEM, "out of memory for the classifier");
    elmo_mlp_bind(&c->mlp, c->in, c->hidden, c->n_classes, c->params + head_offset(c));
    return ELMO_OK;
}

void elmo_classifier_free(elmo_classifier *c) {
    if (!c) return;
    for (int k = 0; c->labels && k < c->n_classes; k++) free(c->labels[k]);
    free(c->labels);
    elmo_strmap_free(&c->terms);
    free(c->idf);
    free(c->norm);
    elmo_free(c->params);
    free(c->bilm_dir);
    free(c->static_path);
    free(c);
}

int elmo_classifier_n_classes(const elmo_classifier *c) { return c->n_classes; }
const char *elmo_classifier_label(const elmo_classifier *c, int k) {
    return k >= 0 && k < c->n_classes ? c->labels[k] : NULL;
}
int elmo_classifier_label_id(const elmo_classifier *c, const char *name) {
    for (int k = 0; k < c->n_classes; k++)
        if (strcmp(c->labels[k], name) == 0) return k;
    return -1;
}
int elmo_classifier_features(const elmo_classifier *c) { return c->features; }
int elmo_classifier_pooling(const elmo_classifier *c) { return c->pooling; }
const char *elmo_classifier_bilm_dir(const elmo_classifier *c) {
    return c->bilm_dir ? c->bilm_dir : "";
}
const char *elmo_classifier_static_path(const elmo_classifier *c) { return c->static_path; }
int elmo_classifier_max_tokens(const elmo_classifier *c) { return c->max_tokens; }

elmo_tokenizer elmo_classifier_tokenizer(const elmo_classifier *c) { return c->tok; }

int elmo_classifier_mix(const elmo_classifier *c, float *s, float *gamma) {
    if (!has_elmo(c)) return 0;
    const float *w = mix_w(c);
    double mx = w[0], z = 0;
    for (int j = 1; j < c->K; j++) mx = w[j] > mx ? w[j] : mx;
    for (int j = 0; j < c->K; j++) z += exp(w[j] - mx);
    for (int j = 0; j < c->K; j++) s[j] = (float)(exp(w[j] - mx) / z);
    *gamma = *mix_gamma(c);
    return c->K;
}

/* ---- bag of words */
static void lower(const char *s, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = 0;
}

static int term_id(const elmo_classifier *c, const char *t, size_t n) {
    return (int)elmo_strmap_find(&c->terms, t, n);
}

/* The terms of a text, each given to fn (which returns nonzero to stop): its lower-cased
 * tokens; with word_ngrams N > 1, the word n-grams 2..N (tokens joined by a space); with
 * char_hi > 0, the byte n-grams char_lo..char_hi of every token padded by a space on both
 * sides (sklearn's "char_wb"), marked by a leading \x01. */
typedef int (*term_fn)(const char *t, size_t n, void *ctx);

static int for_each_term(const elmo_classifier *c, const elmo_tok_seq *q, term_fn fn, void *ctx) {
    char buf[1024], gram[1100];
    for (int t = 0; t < q->n; t++) {
        size_t len = q->ln[t] < sizeof buf - 1 ? q->ln[t] : sizeof buf - 1;
        lower(q->text + q->st[t], len, buf);
        if (fn(buf, len, ctx)) return 1;
        len = len < 255 ? len : 255; /* n-grams of the first 255 bytes */
        for (int k = 2; k <= c->word_ngrams && t + 1 >= k; k++) { /* tokens t-k+1 .. t */
            size_t g = 0;
            for (int u = t - k + 1; u <= t; u++) {
                size_t l = q->ln[u] < 255 ? q->ln[u] : 255;
                if (g) gram[g++] = ' ';
                lower(q->text + q->st[u], l, gram + g);
                g += l;
            }
            if (fn(gram, g, ctx)) return 1;
        }
        if (c->char_hi <= 0) continue;
        gram[0] = ' ';
        memcpy(gram + 1, buf, len);
        gram[len + 1] = ' ';
        size_t L = len + 2;
        for (int k = c->char_lo; k <= c->char_hi && (size_t)k <= L; k++)
            for (size_t a = 0; a + (size_t)k <= L; a++) {
                char m[64];
                m[0] = 1;
                memcpy(m + 1, gram + a, (size_t)k);
                if (fn(m, (size_t)k + 1, ctx)) return 1;
            }
    }
    return 0;
}

typedef struct {
    uint32_t key;
    int df;
} term_df;

static const elmo_strmap *g_terms; /* qsort has no context argument in C11 */

static int by_df(const void *a, const void *b) {
    const term_df *x = a, *y = b;
    if (x->df != y->df) return x->df > y->df ? -1 : 1;
    return strcmp(elmo_strmap_key(g_terms, x->key), elmo_strmap_key(g_terms, y->key));
}

typedef struct {
    elmo_strmap *all;
    term_df *df;
    size_t *last, cap, text; /* last[key]: the last text (1-based) that counted the term */
} df_ctx;

static int count_df(const char *t, size_t n, void *u) {
    df_ctx *d = u;
    int added;
    int64_t key = elmo_strmap_add(d->all, t, n, &added);
    if (key >= 0 && (size_t)key >= d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 1 << 15;
        term_df *nd = realloc(d->df, nc * sizeof *nd);
        if (nd) d->df = nd;
        size_t *nl = nd ? realloc(d->last, nc * sizeof *nl) : NULL;
        if (nl)
            d->last = nl, d->cap = nc;
        else
            key = -1;
    }
    if (key < 0) return 1;
    if (added) {
        d->df[key] = (term_df){(uint32_t)key, 0};
        d->last[key] = 0;
    }
    if (d->last[key] != d->text) {
        d->df[key].df++;
        d->last[key] = d->text;
    }
    return 0;
}

/* The vocabulary of the bag of words: the max_terms terms (for_each_term) of highest document
 * frequency (ties in byte order), with their smooth idf ln((1+n)/(1+df)) + 1. */
static elmo_status build_terms(elmo_classifier *c, const elmo_tokenized *tk, int max_terms) {
    elmo_strmap all;
    elmo_strmap_init(&all);
    df_ctx d = {&all, NULL, NULL, 0, 0};
    elmo_status s = ELMO_OK;
    for (size_t i = 0; i < tk->count && !s; i++) {
        d.text = i + 1;
        if (for_each_term(c, &tk->seq[i], count_df, &d))
            s = elmo_fail(ELMO_ERR_NOMEM, "out of memory building the bag of words");
    }
    term_df *df = d.df;
    size_t *last = d.last;
    if (!s) {
        g_terms = &all;
        qsort(df, all.n, sizeof *df, by_df);
        size_t keep = all.n < (size_t)max_terms ? all.n : (size_t)max_terms;
        c->idf = malloc(sizeof(float) * (keep ? keep : 1));
        if (!c->idf) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        for (size_t k = 0; !s && k < keep; k++) {
            if (elmo_strmap_add(&c->terms, elmo_strmap_key(&all, df[k].key),
                                elmo_strmap_keylen(&all, df[k].key), NULL) < 0)
                s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
            else
                c->idf[k] = (float)(log((1.0 + tk->count) / (1.0 + df[k].df)) + 1.0);
        }
        c->n_terms = (int)keep;
    }
    free(df);
    free(last);
    elmo_strmap_free(&all);
    return s;
}

/* tf-idf rows, L2-normalised, as CSR. */
typedef struct {
    int64_t *ptr;
    int32_t *idx;
    float *val;
} csr_store;

static void csr_free(csr_store *x) {
    free(x->ptr);
    free(x->idx);
    free(x->val);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static int count_term(const char *t, size_t n, void *u) {
    (void)t, (void)n;
    ++*(size_t *)u;
    return 0;
}

typedef struct {
    const elmo_classifier *c;
    int32_t *idx;
    int64_t pos;
} id_ctx;

static int add_id(const char *t, size_t n, void *u) {
    id_ctx *x = u;
    int id = term_id(x->c, t, n);
    if (id >= 0) x->idx[x->pos++] = id;
    return 0;
}

static elmo_status bow_features(const elmo_classifier *c, const elmo_tokenized *tk,
                                csr_store *out) {
    size_t total = 0;
    for (size_t i = 0; i < tk->count; i++) for_each_term(c, &tk->seq[i], count_term, &total);
    out->ptr = malloc(sizeof(int64_t) * (tk->count + 1));
    out->idx = malloc(sizeof(int32_t) * (total ? total : 1));
    out->val = malloc(sizeof(float) * (total ? total : 1));
    if (!out->ptr || !out->idx || !out->val) {
        csr_free(out);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    int64_t pos = 0;
    out->ptr[0] = 0;
    for (size_t i = 0; i < tk->count; i++) {
        int64_t start = pos;
        id_ctx ic = {c, out->idx, pos};
        for_each_term(c, &tk->seq[i], add_id, &ic);
        pos = ic.pos;
        /* counts of each term, times idf, normalised */
        qsort(out->idx + start, (size_t)(pos - start), sizeof(int32_t), cmp_i32);
        int64_t w = start;
        double ss = 0;
        for (int64_t k = start; k < pos;) {
            int64_t e = k;
            while (e < pos && out->idx[e] == out->idx[k]) e++;
            float v = (float)(e - k) * c->idf[out->idx[k]];
            out->idx[w] = out->idx[k];
            out->val[w++] = v;
            ss += (double)v * v;
            k = e;
        }
        float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0;
        for (int64_t k = start; k < w; k++) out->val[k] *= inv;
        pos = w;
        out->ptr[i + 1] = pos;
    }
    return ELMO_OK;
}

/* ---- ELMo features: per-layer statistics (n, P, K, D), or every token's layers (attention,
 * cnn), and static means (n, Ds) */
typedef struct {
    float *stats;    /* (n, P, K, D) for mean, max, mean+max */
    uint16_t *tok;   /* attention, cnn: text i's layers (K, n_i, D) in bfloat16 at tok_off[i] K D */
    size_t *tok_off; /* (n + 1) */
    int max_n;       /* the longest text kept (tokens) */
    float *stat;     /* (n, Ds) */
    csr_store bow;
} feat_store;

static void feat_free(feat_store *f) {
    elmo_free(f->stats);
    elmo_free(f->tok);
    free(f->tok_off);
    elmo_free(f->stat);
    csr_free(&f->bow);
    memset(f, 0, sizeof *f);
}

typedef struct {
    const elmo_classifier *c;
    feat_store *f;
} emit_ctx;

static void emit_features(size_t i, const float *layers, int n, void *user) {
    emit_ctx *e = user;
    const elmo_classifier *c = e->c;
    size_t KD = (size_t)c->K * c->D;
    if (n == 0) return;
    if (keeps_tokens(c)) {
        uint16_t *dst = e->f->tok + e->f->tok_off[i] * KD;
        for (size_t k = 0; k < (size_t)n * KD; k++) dst[k] = elmo_pool_to_bf16(layers[k]);
    } else {
        elmo_pool_stats(c->pooling, c->K, n, c->D, layers, e->f->stats + i * c->P * KD);
    }
}

typedef struct {
    elmo_classifier_progress fn;
    void *user;
    size_t base, total; /* prediction a chunk at a time: the texts before it, and all (0: the
                         * embedding's own count) */
} prog_ctx;

static void on_embed_progress(size_t done, size_t total, void *u) {
    prog_ctx *p = u;
    if (p->fn) p->fn("embed", p->base + done, p->total ? p->total : total, 0, p->user);
}

/* Room for the ELMo features of the tokenized texts (attention, cnn: within the token
 * budget). */
static elmo_status alloc_elmo_features(const elmo_classifier *c, const elmo_tokenized *tk,
                                       feat_store *f) {
    size_t n = tk->count, KD = (size_t)c->K * c->D;
    if (!keeps_tokens(c)) {
        f->stats = elmo_alloc(sizeof(float) * n * c->P * KD);
        if (!f->stats)
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory for the features of %zu texts", n);
        return ELMO_OK;
    }
    f->tok_off = malloc(sizeof(size_t) * (n + 1));
    if (!f->tok_off) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    f->tok_off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        f->tok_off[i + 1] = f->tok_off[i] + (size_t)tk->seq[i].n;
        f->max_n = tk->seq[i].n > f->max_n ? tk->seq[i].n : f->max_n;
    }
    double bytes = (double)f->tok_off[n] * KD * sizeof(uint16_t);
    if (bytes > (double)ELMO_CLASSIFIER_TOKEN_BUDGET)
        return elmo_fail(ELMO_ERR_ARG,
                         "%s pooling keeps every token's layers: %zu texts of %zu tokens need "
                         "%.0f MiB, over the %zu MiB budget; give a smaller --max-tokens",
                         elmo_pool_name(c->pooling), n, f->tok_off[n], bytes / 1048576.0,
                         ELMO_CLASSIFIER_TOKEN_BUDGET >> 20);
    f->tok = elmo_alloc(sizeof(uint16_t) * (f->tok_off[n] ? f->tok_off[n] : 1) * KD);
    if (!f->tok)
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory for the token layers of %zu texts", n);
    return ELMO_OK;
}

static elmo_status elmo_features(elmo_classifier *c, const elmo_tokenized *tk, feat_store *f,
                                 int threads, prog_ctx *pc) {
    elmo_status st = alloc_elmo_features(c, tk, f);
    if (!st && c->Ds && !(f->stat = elmo_alloc(sizeof(float) * tk->count * c->Ds)))
        st = elmo_fail(ELMO_ERR_NOMEM, "out of memory for features");
    elmo_session *s;
    if (!st) st = elmo_session_new(c->bilm, 64, threads, &s);
    if (st) return st;
    emit_ctx ec = {c, f};
    st = elmo_embed_many(s, c->bilm, tk->count, tk->seq, emit_features, &ec, on_embed_progress, pc);
    elmo_session_free(s);
    if (st || !c->Ds) return st;
    /* the mean of the static vectors of the tokens found (zero when none is) */
    for (size_t i = 0; i < tk->count; i++) {
        const elmo_tok_seq *q = &tk->seq[i];
        float *out = f->stat + i * c->Ds;
        int found = 0;
        memset(out, 0, sizeof(float) * c->Ds);
        for (int t = 0; t < q->n; t++) {
            const float *v = elmo_static_get(c->sv, q->text + q->st[t], q->ln[t]);
            if (!v) continue;
            for (int d = 0; d < c->Ds; d++) out[d] += v[d];
            found++;
        }
        if (found)
            for (int d = 0; d < c->Ds; d++) out[d] /= (float)found;
    }
    return ELMO_OK;
}

/* ---- the head on a batch: inputs from features */
typedef struct {
    const elmo_classifier *c;
    const feat_store *f;
    /* workspace */
    float *layers; /* (K, B, D) */
    float *x, *dx; /* (B, E + Ds): the dense input (the whole input without bow) */
    float *h, *z, *dh, *dmix;
    float *tl, *mixed, *alpha, *dmixed; /* attention: (K, T, D), (T, D), (T), (T, D) */
    float *win, *act;                   /* cnn: windows (T, 3 D), activations (T, D) */
    int32_t *arg;                       /* cnn: each text's peak token per filter (B, D) */
    int max_b;
} batch_ws;

/* Text i's token layers (K, n, D) as float into w->tl; returns n. */
static int load_tokens(batch_ws *w, size_t i) {
    const feat_store *f = w->f;
    size_t KD = (size_t)w->c->K * w->c->D, n = f->tok_off[i + 1] - f->tok_off[i];
    const uint16_t *src = f->tok + f->tok_off[i] * KD;
    for (size_t k = 0; k < n * KD; k++) w->tl[k] = elmo_pool_from_bf16(src[k]);
    const float *mu = w->c->norm, *is = mu ? mu + KD : NULL;
    int D = w->c->D;
    for (size_t j = 0; mu && j < (size_t)w->c->K; j++)
        for (size_t t = 0; t < n; t++) {
            float *x = w->tl + (j * n + t) * D;
            for (int d = 0; d < D; d++) x[d] = (x[d] - mu[j * D + d]) * is[j * D + d];
        }
    return (int)n;
}

/* Gather statistic p of rows idx[0..B) into w->layers (K, B, D). */
static void gather_stat(batch_ws *w, const size_t *idx, int B, int p) {
    const elmo_classifier *c = w->c;
    int K = c->K, D = c->D;
    for (int j = 0; j < K; j++)
        for (int b = 0; b < B; b++)
            memcpy(w->layers + ((size_t)j * B + b) * D,
                   w->f->stats + ((idx[b] * c->P + p) * K + j) * D, sizeof(float) * D);
}

/* The dense inputs x (B, E + Ds) of rows idx[0..B). */
static void batch_inputs(batch_ws *w, const size_t *idx, int B) {
    const elmo_classifier *c = w->c;
    int D = c->D, dn = dense_width(c);
    for (int b = 0; keeps_tokens(c) && b < B; b++) {
        int n = load_tokens(w, idx[b]);
        float *out = w->x + (size_t)b * dn;
        if (c->pooling == ELMO_POOL_ATTN)
            elmo_attn_pool_forward(c->K, n, D, w->tl, mix_w(c), *mix_gamma(c), pool_params(c),
                                   w->mixed, w->alpha, out);
        else
            elmo_cnn_pool_forward(c->K, n, D, D, w->tl, mix_w(c), *mix_gamma(c), pool_params(c),
                                  pool_params(c) + cnn_bias_offset(c), w->mixed, w->win, w->act,
                                  w->arg + (size_t)b * D, out);
    }
    for (int p = 0; p < c->P; p++) {
        gather_stat(w, idx, B, p);
        elmo_scalar_mix(c->K, B, D, w->layers, NULL, mix_w(c), *mix_gamma(c), 0, w->dmix);
        for (int b = 0; b < B; b++)
            memcpy(w->x + (size_t)b * dn + (size_t)p * D, w->dmix + (size_t)b * D,
                   sizeof(float) * D);
    }
    if (c->Ds)
        for (int b = 0; b < B; b++)
            memcpy(w->x + (size_t)b * dn + c->E, w->f->stat + idx[b] * c->Ds,
                   sizeof(float) * c->Ds);
}

/* Given dx (B, E + Ds), the gradients of the scalar mix (and of the pooling's own
 * parameters) into g. x (B, E + Ds) still holds the forward's inputs. */
static void pooling_backward(batch_ws *w, const size_t *idx, int B, float *g) {
    const elmo_classifier *c = w->c;
    int D = c->D, dn = dense_width(c);
    float *gp = g + c->K + 1; /* the pooling's own */
    for (int b = 0; keeps_tokens(c) && b < B; b++) {
        int n = load_tokens(w, idx[b]);
        const float *dout = w->dx + (size_t)b * dn;
        if (c->pooling == ELMO_POOL_ATTN) { /* the forward again (cheaper than keeping it) */
            elmo_attn_pool_forward(c->K, n, D, w->tl, mix_w(c), *mix_gamma(c), pool_params(c),
                                   w->mixed, w->alpha, w->dmix);
            elmo_attn_pool_backward(c->K, n, D, w->tl, mix_w(c), *mix_gamma(c), pool_params(c),
                                    w->mixed, w->alpha, dout, w->dmixed, g, g + c->K, gp);
        } else {
            elmo_cnn_pool_backward(c->K, n, D, D, w->tl, mix_w(c), *mix_gamma(c), pool_params(c),
                                   w->arg + (size_t)b * D, w->x + (size_t)b * dn, dout, w->mixed,
                                   w->dmixed, g, g + c->K, gp, gp + cnn_bias_offset(c));
        }
    }
    for (int p = 0; p < c->P; p++) {
        gather_stat(w, idx, B, p);
        for (int b = 0; b < B; b++)
            memcpy(w->dmix + (size_t)b * D, w->dx + (size_t)b * dn + (size_t)p * D,
                   sizeof(float) * D);
        elmo_scalar_mix_backward(c->K, B, D, w->layers, NULL, mix_w(c), *mix_gamma(c), 0, w->dmix,
                                 g, g + c->K, NULL);
    }
}

/* For bow, the rows of a batch are not contiguous: gather them into a small CSR whose columns
 * start at dn (the dense part x (B, dn), columns 0..dn-1, goes beside it: elmo_csr.dense). */
typedef struct {
    int64_t *ptr;
    int32_t *idx;
    float *val;
    size_t cap;
} bow_batch;

static elmo_status gather_bow(const csr_store *all, const size_t *idx, int B, int dn,
                              bow_batch *bb) {
    size_t nnz = 0;
    for (int b = 0; b < B; b++) nnz += (size_t)(all->ptr[idx[b] + 1] - all->ptr[idx[b]]);
    if (nnz > bb->cap) {
        int32_t *ni = realloc(bb->idx, sizeof(int32_t) * nnz);
        float *nv = ni ? realloc(bb->val, sizeof(float) * nnz) : NULL;
        if (ni) bb->idx = ni;
        if (nv) bb->val = nv;
        if (!ni || !nv)
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory for a batch of the bag of words");
        bb->cap = nnz;
    }
    size_t p = 0;
    bb->ptr[0] = 0;
    for (int b = 0; b < B; b++) {
        for (int64_t k = all->ptr[idx[b]]; k < all->ptr[idx[b] + 1]; k++, p++) {
            bb->idx[p] = all->idx[k] + dn;
            bb->val[p] = all->val[k];
        }
        bb->ptr[b + 1] = (int64_t)p;
    }
    return ELMO_OK;
}

static elmo_status ws_alloc(batch_ws *w, const elmo_classifier *c, const feat_store *f, int max_b) {
    memset(w, 0, sizeof *w);
    w->c = c;
    w->f = f;
    w->max_b = max_b;
    int C = c->n_classes == 2 ? 1 : c->n_classes, dn = dense_width(c) ? dense_width(c) : 1;
    size_t T = f->max_n ? (size_t)f->max_n : 1, D = c->D ? (size_t)c->D : 1;
    w->layers = malloc(sizeof(float) * (size_t)(c->K ? c->K : 1) * max_b * D);
    w->x = malloc(sizeof(float) * (size_t)max_b * dn);
    w->dx = malloc(sizeof(float) * (size_t)max_b * dn);
    w->h = malloc(sizeof(float) * (size_t)max_b * (c->hidden ? c->hidden : 1));
    w->dh = malloc(sizeof(float) * (size_t)max_b * (c->hidden ? c->hidden : 1));
    w->z = malloc(sizeof(float) * (size_t)max_b * (C > 2 ? C : 2));
    w->dmix = malloc(sizeof(float) * (size_t)max_b * D);
    if (keeps_tokens(c)) {
        w->tl = malloc(sizeof(float) * (size_t)c->K * T * D);
        w->mixed = malloc(sizeof(float) * T * D);
        w->alpha = malloc(sizeof(float) * T);
        w->dmixed = malloc(sizeof(float) * T * D);
        if (!w->tl || !w->mixed || !w->alpha || !w->dmixed)
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    if (keeps_tokens(c) && c->pooling == ELMO_POOL_CNN) {
        w->win = malloc(sizeof(float) * T * 3 * D);
        w->act = malloc(sizeof(float) * T * D);
        w->arg = malloc(sizeof(int32_t) * (size_t)max_b * D);
        if (!w->win || !w->act || !w->arg) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    if (!w->layers || !w->x || !w->dx || !w->h || !w->dh || !w->z || !w->dmix)
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    return ELMO_OK;
}

static void ws_free(batch_ws *w) {
    free(w->layers), free(w->x), free(w->dx), free(w->h), free(w->dh), free(w->z), free(w->dmix);
    free(w->tl), free(w->mixed), free(w->alpha), free(w->dmixed);
    free(w->win), free(w->act), free(w->arg);
}

/* Forward (and backward into g when labels != NULL) of a batch; probs (B, classes) when
 * not NULL; *loss: the summed loss (0 without labels). */
static elmo_status run_batch(batch_ws *w, const size_t *idx, int B, const int32_t *labels, float *g,
                             float *probs, bow_batch *bb, double *loss) {
    const elmo_classifier *c = w->c;
    *loss = 0;
    int dn = dense_width(c);
    elmo_csr sx = {0};
    const elmo_csr *psx = NULL;
    const float *x = NULL;
    if (has_elmo(c)) batch_inputs(w, idx, B);
    if (has_bow(c)) {
        elmo_status s = gather_bow(&w->f->bow, idx, B, dn, bb);
        if (s) return s;
        sx = (elmo_csr){bb->ptr, bb->idx, bb->val, dn ? w->x : NULL, dn};
        psx = &sx;
    } else {
        x = w->x;
    }
    elmo_mlp_forward(&c->mlp, B, x, psx, w->h, w->z);
    if (probs) elmo_mlp_probs(&c->mlp, B, w->z, probs);
    if (!labels) return ELMO_OK;
    float *gh = g + head_offset(c);
    *loss = elmo_mlp_backward(&c->mlp, B, x, psx, w->h, w->z, labels, 1.0f / (float)B, gh,
                              x ? w->dx : NULL, w->dh);
    if (!has_elmo(c)) return ELMO_OK;
    if (psx) { /* dx of the dense columns (the first dn rows of the first layer) */
        if (c->hidden > 0)
            elmo_mm(0, 1, B, dn, c->hidden, w->dh, c->hidden, c->mlp.W1, c->hidden, 0.0f, w->dx,
                    dn);
        else
            elmo_mm(0, 1, B, dn, c->mlp.out, w->z, c->mlp.out, c->mlp.W2, c->mlp.out, 0.0f, w->dx,
                    dn);
    }
    pooling_backward(w, idx, B, g);
    return ELMO_OK;
}

/* Standardisation of the ELMo features: per statistic, layer and dimension, the mean and
 * 1/sd over the training texts (attention: over every token of the training texts), so that
 * every input of the head is on the same scale whatever the layer. Beside the bag of words the
 * scale is 1/(sd sqrt(E)): the pooled ELMo part then has an expected squared norm of 1, as the
 * L2-normalised tf-idf row has, and neither part drowns the other (unit variance per column
 * would give it E, and the head would all but ignore the words). The scale is part of the
 * stored 1/sd, so a file predicts as it was trained. */
static elmo_status compute_norm(elmo_classifier *c, const feat_store *f, size_t n) {
    size_t KD = (size_t)c->K * c->D, S = c->P ? (size_t)c->P : 1;
    double block = has_bow(c) ? 1.0 / sqrt((double)c->E) : 1.0;
    double *acc = calloc(2 * S * KD, sizeof(double));
    c->norm = malloc(sizeof(float) * 2 * S * KD);
    if (!acc || !c->norm) {
        free(acc);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        size_t rows = c->P ? 1 : f->tok_off[i + 1] - f->tok_off[i];
        for (size_t r = 0; r < rows; r++, count++)
            for (size_t p = 0; p < S; p++)
                for (size_t j = 0; j < (size_t)c->K; j++)
                    for (size_t d = 0; d < (size_t)c->D; d++) {
                        double v =
                            c->P ? f->stats[((i * S + p) * c->K + j) * c->D + d]
                                 : elmo_pool_from_bf16(
                                       f->tok[(f->tok_off[i] * c->K + j * rows + r) * c->D + d]);
                        acc[(p * c->K + j) * c->D + d] += v;
                        acc[S * KD + (p * c->K + j) * c->D + d] += v * v;
                    }
    }
    for (size_t k = 0; k < S * KD; k++) {
        double mu = acc[k] / (double)(count ? count : 1),
               var = acc[S * KD + k] / (double)(count ? count : 1) - mu * mu;
        c->norm[k] = (float)mu;
        c->norm[S * KD + k] = (float)(block / sqrt(var > 1e-12 ? var : 1e-12));
    }
    free(acc);
    return ELMO_OK;
}

/* The cached statistics standardised in place (attention: when the tokens are loaded). */
static void apply_norm(const elmo_classifier *c, feat_store *f, size_t n) {
    if (!c->norm || !c->P) return;
    size_t M = (size_t)c->P * c->K * c->D;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < M; k++)
            f->stats[i * M + k] = (f->stats[i * M + k] - c->norm[k]) * c->norm[M + k];
}

static elmo_status make_features(elmo_classifier *c, size_t n, const char *const *texts,
                                 const size_t *lens, int threads, prog_ctx *pc, feat_store *f,
                                 int build_vocab, int bow_max_terms) {
    memset(f, 0, sizeof *f);
    /* tk: the tokens the biLM reads (the bag of words' alone without ELMo features); tb: the
     * bag of words' own, when it reads another number than the biLM */
    elmo_tokenized tk, tb;
    int first = has_elmo(c) ? c->max_tokens : c->bow_max_tokens;
    elmo_status s = elmo_tokenize_all(c->tok, n, texts, lens, first, &tk);
    if (s) return s;
    for (size_t i = 0; i < n; i++)
        if (tk.seq[i].n == 0) {
            elmo_tokenized_free(&tk);
            return elmo_fail(ELMO_ERR_FORMAT, "text %zu has no tokens", pc->base + i + 1);
        }
    int own_tb = has_bow(c) && c->bow_max_tokens != first;
    if (own_tb)
        s = elmo_tokenize_all(c->tok, n, texts, lens, c->bow_max_tokens, &tb);
    else
        tb = tk;
    if (!s && has_bow(c)) {
        if (build_vocab) s = build_terms(c, &tb, bow_max_terms);
        if (!s) s = bow_features(c, &tb, &f->bow);
    }
    if (own_tb) elmo_tokenized_free(&tb);
    if (!s && has_elmo(c)) s = elmo_features(c, &tk, f, threads, pc);
    if (!s && has_elmo(c) && build_vocab && c->standardize) s = compute_norm(c, f, n);
    if (!s && has_elmo(c)) apply_norm(c, f, n);
    elmo_tokenized_free(&tk);
    if (s) feat_free(f);
    return s;
}

/* A new classifier's settings from the options, its labels, and the feature dimensions of
 * the biLM and the static vectors (the bag of words' are known once its terms are). */
static elmo_status classifier_setup(elmo_classifier *c, const elmo_classifier_options *o,
                                    elmo_model *bilm, const char *bilm_dir, elmo_static_vectors *sv,
                                    const char *sv_path, const char *const *labels, int n_classes) {
    c->features = o->features;
    c->pooling = o->features == ELMO_FEAT_BOW ? ELMO_POOL_MEAN : o->pooling;
    c->standardize = o->features != ELMO_FEAT_BOW && o->standardize;
    c->word_ngrams = o->word_ngrams > 1 ? o->word_ngrams : 1;
    c->char_lo = o->char_lo, c->char_hi = o->char_hi;
    if (c->word_ngrams > 3 || c->char_hi > 8 ||
        (c->char_hi > 0 && (c->char_lo < 1 || c->char_lo > c->char_hi)))
        return elmo_fail(ELMO_ERR_ARG, "word n-grams up to 3, character n-grams within 1..8");
    c->tok = o->tokenizer;
    c->max_tokens = o->max_tokens;
    c->bow_max_tokens = o->bow_max_tokens;
    c->hidden = o->hidden;
    c->n_classes = n_classes;
    if (!(c->labels = calloc((size_t)n_classes, sizeof(char *))))
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n_classes; k++)
        if (!(c->labels[k] = strdup(labels[k]))) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    if (!has_elmo(c)) return ELMO_OK;
    c->bilm = bilm;
    c->K = elmo_model_n_output_layers(bilm);
    c->D = elmo_model_output_dim(bilm);
    c->P = elmo_pool_n_stats(c->pooling);
    c->E = elmo_pool_width(c->pooling, c->D);
    c->bilm_fp = elmo_model_fingerprint(bilm);
    c->bilm_dir = strdup(bilm_dir ? bilm_dir : "");
    if (sv) {
        c->sv = sv;
        c->Ds = elmo_static_dim(sv);
        c->static_fp = elmo_static_fingerprint(sv);
        c->static_path = strdup(sv_path ? sv_path : "");
    }
    c->in = c->E + c->Ds;
    return ELMO_OK;
}

elmo_status elmo_classifier_train(const elmo_classifier_options *o, elmo_model *bilm,
                                  const char *bilm_dir, elmo_static_vectors *sv,
                                  const char *sv_path, const char *const *labels, int n_classes,
                                  const elmo_classifier_item *items, size_t n,
                                  elmo_classifier_progress progress, void *user,
                                  elmo_classifier **out) {
    *out = NULL;
    if (n_classes < 2 || n_classes > 1000)
        return elmo_fail(ELMO_ERR_ARG, "need 2 to 1000 classes, got %d", n_classes);
    if (n == 0) return elmo_fail(ELMO_ERR_ARG, "no training examples");
    if (o->features != ELMO_FEAT_BOW && !bilm)
        return elmo_fail(ELMO_ERR_ARG, "ELMo features need a biLM");
    if (o->pooling < ELMO_POOL_MEAN || o->pooling > ELMO_POOL_CNN)
        return elmo_fail(ELMO_ERR_ARG, "unknown pooling %d", o->pooling);
    elmo_classifier *c = calloc(1, sizeof *c);
    if (!c) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s = classifier_setup(c, o, bilm, bilm_dir, sv, sv_path, labels, n_classes);
    const char **texts = malloc(sizeof(char *) * n);
    size_t *lens = malloc(sizeof(size_t) * n);
    int32_t *y = malloc(sizeof(int32_t) * n);
    if (!texts || !lens || !y) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !s && i < n; i++) {
        texts[i] = items[i].text;
        lens[i] = items[i].len;
        y[i] = items[i].label;
        if (y[i] < 0 || y[i] >= n_classes)
            s = elmo_fail(ELMO_ERR_ARG, "example %zu: label out of range", i + 1);
    }
    prog_ctx pc = {progress, user, 0, 0};
    feat_store fs = {0};
    if (!s) s = make_features(c, n, texts, lens, o->threads, &pc, &fs, 1, o->bow_max_terms);
    if (!s && has_bow(c)) c->in = dense_width(c) + c->n_terms;
    if (!s) s = alloc_params(c);
    float *g = NULL, *m1 = NULL, *m2 = NULL;
    size_t *order = malloc(sizeof(size_t) * n);
    batch_ws w;
    bow_batch bb = {0};
    int wsok = 0;
    if (!s) {
        elmo_rng r;
        elmo_rng_seed(&r, o->seed);
        elmo_mlp_init(&c->mlp, &r);
        if (has_elmo(c)) *mix_gamma(c) = 1.0f;          /* w = 0: equal weights; v = 0: the mean */
        if (has_elmo(c) && c->pooling == ELMO_POOL_CNN) /* U Glorot-uniform, c = 0 */
            elmo_glorot_init(&r, pool_params(c), 3 * c->D, c->D);
        g = elmo_calloc(c->n_params, sizeof(float));
        m1 = elmo_calloc(c->n_params, sizeof(float));
        m2 = elmo_calloc(c->n_params, sizeof(float));
        bb.ptr = malloc(sizeof(int64_t) * (o->batch_size + 1));
        if (!g || !m1 || !m2 || !order || !bb.ptr) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        if (!s && !(s = ws_alloc(&w, c, &fs, o->batch_size))) wsok = 1;
        elmo_adam adam;
        elmo_adam_init(&adam, (float)o->lr);
        int32_t yb[4096];
        for (int ep = 0; !s && ep < o->epochs; ep++) {
            for (size_t i = 0; i < n; i++) order[i] = i;
            for (size_t i = n; i > 1; i--) { /* shuffle with the seeded generator */
                size_t j = (size_t)elmo_rng_below(&r, i), t = order[i - 1];
                order[i - 1] = order[j];
                order[j] = t;
            }
            double total = 0;
            for (size_t b0 = 0; b0 < n; b0 += (size_t)o->batch_size) {
                int B = n - b0 < (size_t)o->batch_size ? (int)(n - b0) : o->batch_size;
                for (int b = 0; b < B; b++) yb[b] = y[order[b0 + b]];
                memset(g, 0, sizeof(float) * c->n_params);
                double l;
                if ((s = run_batch(&w, order + b0, B, yb, g, NULL, &bb, &l))) break;
                total += l;
                if (!elmo_all_finite(c->n_params, g)) {
                    s = elmo_fail(ELMO_ERR_NUMERIC, "epoch %d: NaN or Inf in the gradient", ep + 1);
                    break;
                }
                elmo_adam_tick(&adam);
                elmo_adam_update(&adam, c->n_params, c->params, m1, m2, g);
            }
            if (progress) progress("train", (size_t)ep + 1, (size_t)o->epochs, total / n, user);
        }
    }
    if (wsok) ws_free(&w);
    free(bb.ptr), free(bb.idx), free(bb.val);
    elmo_free(g), elmo_free(m1), elmo_free(m2);
    free(order), free(texts), free(lens), free(y);
    feat_free(&fs);
    if (s) {
        elmo_classifier_free(c);
        return s;
    }
    *out = c;
    return ELMO_OK;
}

elmo_status elmo_classifier_predict(elmo_classifier *c, const char *const *texts,
                                    const size_t *lens, size_t n, float *probs,
                                    elmo_classifier_progress progress, void *user) {
    if (n == 0) return ELMO_OK;
    if (has_elmo(c) && !c->bilm)
        return elmo_fail(ELMO_ERR_STATE, "the classifier has no biLM attached");
    if (c->Ds && !c->sv)
        return elmo_fail(ELMO_ERR_STATE, "the classifier needs its static vectors");
    /* a chunk of texts at a time: features, then the head in batches; the kept token layers
     * of attention and CNN pooling stay within the budget however many texts there are (the
     * results do not depend on the batching) */
    enum { CHUNK = 1024, BATCH = 256 };
    prog_ctx pc = {progress, user, 0, n};
    bow_batch bb = {0};
    size_t idx[BATCH];
    elmo_status s = ELMO_OK;
    if (!(bb.ptr = malloc(sizeof(int64_t) * (BATCH + 1))))
        s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (size_t c0 = 0; !s && c0 < n; c0 += CHUNK) {
        size_t m = n - c0 < CHUNK ? n - c0 : CHUNK;
        feat_store fs;
        batch_ws w;
        pc.base = c0;
        if ((s = make_features(c, m, texts + c0, lens + c0, 2, &pc, &fs, 0, 0))) break;
        if (!(s = ws_alloc(&w, c, &fs, BATCH))) {
            for (size_t b0 = 0; !s && b0 < m; b0 += BATCH) {
                int B = m - b0 < BATCH ? (int)(m - b0) : BATCH;
                for (int b = 0; b < B; b++) idx[b] = b0 + b;
                double l;
                s = run_batch(&w, idx, B, NULL, NULL, probs + (c0 + b0) * c->n_classes, &bb, &l);
            }
        }
        ws_free(&w);
        feat_free(&fs);
    }
    free(bb.ptr), free(bb.idx), free(bb.val);
    return s;
}

/* ---- files (head_file.h: the format the tagger shares) */
elmo_status elmo_classifier_save(const elmo_classifier *c, const char *path) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "kind", "elmo.c text classifier");
    cJSON_AddNumberToObject(m, "version", CLASSIFIER_VERSION);
    cJSON_AddStringToObject(m, "features",
                            c->features == ELMO_FEAT_BOW        ? "bow"
                            : c->features == ELMO_FEAT_ELMO_BOW ? "elmo+bow"
                                                                : "elmo");
    cJSON_AddStringToObject(m, "pooling", elmo_pool_name(c->pooling));
    cJSON_AddBoolToObject(m, "standardize", c->norm != NULL);
    cJSON_AddNumberToObject(m, "word_ngrams", c->word_ngrams);
    cJSON_AddNumberToObject(m, "char_ngram_min", c->char_lo);
    cJSON_AddNumberToObject(m, "char_ngram_max", c->char_hi);
    cJSON_AddStringToObject(m, "tokenize", c->tok == ELMO_TOK_SIMPLE ? "simple" : "whitespace");
    cJSON_AddNumberToObject(m, "max_tokens", c->max_tokens);
    cJSON_AddNumberToObject(m, "bow_max_tokens", c->bow_max_tokens);
    cJSON_AddNumberToObject(m, "input", c->in);
    elmo_head_desc h = {c->K,         c->D,        c->Ds,          c->hidden,    c->bilm_fp,
                        c->static_fp, c->bilm_dir, c->static_path, c->n_classes, c->labels};
    elmo_head_desc_put(m, &h, "labels");
    elmo_ckpt_writer w;
    elmo_status s = elmo_head_file_begin(&w, path, CLASSIFIER_MAGIC, CLASSIFIER_VERSION, m,
                                         c->params, c->n_params);
    if (s) return s;
    if (c->norm) elmo_ckpt_put(&w, "norm", c->norm, sizeof(float) * norm_count(c));
    if (has_bow(c)) {
        elmo_strbuf b = {0};
        for (int k = 0; k < c->n_terms; k++)
            elmo_strbuf_add(&b, elmo_strmap_key(&c->terms, (size_t)k),
                            elmo_strmap_keylen(&c->terms, (size_t)k) + 1);
        elmo_ckpt_put(&w, "terms", b.p ? b.p : "", b.n);
        elmo_strbuf_free(&b);
        elmo_ckpt_put(&w, "idf", c->idf, sizeof(float) * c->n_terms);
    }
    return elmo_ckpt_commit(&w);
}

/* The classifier's description (m, of file path, format version `version`) into c. */
static elmo_status read_description(elmo_classifier *c, const cJSON *m, const char *path,
                                    int version) {
    elmo_head_desc h;
    elmo_status s = elmo_head_desc_get(m, path, "classifier", "labels", "label", 1000, &h);
    const cJSON *feat = cJSON_GetObjectItem(m, "features"),
                *tok = cJSON_GetObjectItem(m, "tokenize");
    if (!s &&
        (!cJSON_IsString(feat) || !cJSON_IsString(tok) || elmo_head_json_int(m, "input", &c->in) ||
         elmo_head_json_int(m, "max_tokens", &c->max_tokens)))
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: damaged classifier description", path);
    if (s) {
        elmo_head_desc_free(&h);
        return s;
    }
    c->K = h.K, c->D = h.D, c->Ds = h.Ds, c->hidden = h.hidden;
    c->bilm_fp = h.bilm_fp, c->static_fp = h.static_fp;
    c->bilm_dir = h.bilm_dir, c->static_path = h.static_path; /* c owns them now */
    c->n_classes = h.n_names, c->labels = h.names;
    const cJSON *pool = cJSON_GetObjectItem(m, "pooling"); /* version 2 */
    c->features = strcmp(feat->valuestring, "bow") == 0 ? ELMO_FEAT_BOW : ELMO_FEAT_ELMO;
    if (version >= 2 && strcmp(feat->valuestring, "elmo+bow") == 0)
        c->features = ELMO_FEAT_ELMO_BOW;
    c->pooling =
        version >= 2 && cJSON_IsString(pool) ? elmo_pool_parse(pool->valuestring) : ELMO_POOL_MEAN;
    if (c->pooling < 0)
        return elmo_fail(ELMO_ERR_FORMAT, "%s: unknown pooling '%s'", path, pool->valuestring);
    c->P = has_elmo(c) ? elmo_pool_n_stats(c->pooling) : 0;
    c->standardize =
        version >= 2 && has_elmo(c) && cJSON_IsTrue(cJSON_GetObjectItem(m, "standardize"));
    c->word_ngrams = 1;
    if (cJSON_GetObjectItem(m, "word_ngrams") && /* version 2 (absent: words only) */
        (elmo_head_json_int(m, "word_ngrams", &c->word_ngrams) ||
         elmo_head_json_int(m, "char_ngram_min", &c->char_lo) ||
         elmo_head_json_int(m, "char_ngram_max", &c->char_hi)))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: bad n-gram settings", path);
    if (c->word_ngrams < 1 || c->word_ngrams > 3 || c->char_hi > 8 ||
        (c->char_hi > 0 && (c->char_lo < 1 || c->char_lo > c->char_hi)))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: bad n-gram settings", path);
    c->bow_max_tokens = c->max_tokens; /* before version 3 the bag of words saw the same */
    if (version >= 3 &&
        (elmo_head_json_int(m, "bow_max_tokens", &c->bow_max_tokens) || c->bow_max_tokens < 0))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: bad bow_max_tokens", path);
    c->E = has_elmo(c) ? elmo_pool_width(c->pooling, c->D) : 0;
    c->tok = strcmp(tok->valuestring, "simple") == 0 ? ELMO_TOK_SIMPLE : ELMO_TOK_WHITESPACE;
    if (c->K > 64 || c->D > 1 << 16 || (c->features == ELMO_FEAT_ELMO && c->in != c->E + c->Ds))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: inconsistent classifier description", path);
    return ELMO_OK;
}

elmo_status elmo_classifier_load(const char *path, elmo_classifier **out) {
    *out = NULL;
    elmo_ckpt ck;
    cJSON *m;
    elmo_status s = elmo_head_file_open(path, CLASSIFIER_MAGIC, CLASSIFIER_VERSION, &ck, &m);
    elmo_classifier *c = s ? NULL : calloc(1, sizeof *c);
    const char *d;
    if (!s && !c) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    if (!s) s = read_description(c, m, path, ck.version);
    if (!s && has_bow(c)) {
        size_t nt;
        if (!(s = elmo_ckpt_get(&ck, "terms", SIZE_MAX, &d, &nt))) {
            int count = 0;
            for (size_t i = 0; !s && i < nt; count++) {
                size_t len = strnlen(d + i, nt - i);
                if (elmo_strmap_add(&c->terms, d + i, len, NULL) != count)
                    s = elmo_fail(ELMO_ERR_FORMAT, "%s: damaged bag-of-words terms", path);
                i += len + 1;
            }
            c->n_terms = count;
            if (!s && c->in != dense_width(c) + count)
                s = elmo_fail(ELMO_ERR_FORMAT, "%s: inconsistent bag-of-words size", path);
        }
        if (!s && !(s = elmo_ckpt_get(&ck, "idf", sizeof(float) * c->n_terms, &d, NULL))) {
            c->idf = malloc(sizeof(float) * (c->n_terms ? c->n_terms : 1));
            if (c->idf)
                memcpy(c->idf, d, sizeof(float) * c->n_terms);
            else
                s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        }
    }
    /* the size the description implies is checked against the section before allocating it
     * (a damaged description can claim gigabytes) */
    if (!s) {
        size_t want =
            head_offset(c) + elmo_mlp_count(c->in, c->hidden, c->n_classes == 2 ? 1 : c->n_classes);
        s = elmo_ckpt_get(&ck, "params", elmo_mul_size(want, sizeof(float)), &d, NULL);
    }
    if (!s) s = alloc_params(c);
    if (!s) memcpy(c->params, d, sizeof(float) * c->n_params);
    if (!s && c->standardize &&
        !(s = elmo_ckpt_get(&ck, "norm", sizeof(float) * norm_count(c), &d, NULL))) {
        if ((c->norm = malloc(sizeof(float) * norm_count(c))))
            memcpy(c->norm, d, sizeof(float) * norm_count(c));
        else
            s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(m);
    elmo_ckpt_free(&ck);
    if (s) {
        if (c) elmo_classifier_free(c);
        return s;
    }
    *out = c;
    return ELMO_OK;
}

elmo_status elmo_classifier_attach(elmo_classifier *c, elmo_model *bilm, elmo_static_vectors *sv) {
    if (!has_elmo(c)) return ELMO_OK;
    if (!bilm) return elmo_fail(ELMO_ERR_ARG, "the classifier needs a biLM");
    if (elmo_model_fingerprint(bilm) != c->bilm_fp || elmo_model_n_output_layers(bilm) != c->K ||
        elmo_model_output_dim(bilm) != c->D)
        return elmo_fail(
            ELMO_ERR_STATE,
            "this classifier was trained with another biLM (%s); give that model with --model",
            c->bilm_dir && *c->bilm_dir ? c->bilm_dir : "unknown directory");
    if (c->Ds) {
        if (!sv)
            return elmo_fail(ELMO_ERR_ARG, "this classifier needs its static vectors (%s)",
                             c->static_path ? c->static_path : "?");
        if (elmo_static_fingerprint(sv) != c->static_fp || elmo_static_dim(sv) != c->Ds)
            return elmo_fail(
                ELMO_ERR_STATE,
                "these static vectors are not the ones the classifier was trained with (%s)",
                c->static_path ? c->static_path : "?");
    }
    c->bilm = bilm;
    c->sv = sv;
    return ELMO_OK;
}

void elmo_classifier_text_vector_slow(const elmo_classifier *c, const float *layers, int n,
                                      float *x) {
    int D = c->D, S = c->P ? c->P : 1;
    size_t KD = (size_t)c->K * D;
    float *tmp = malloc(sizeof(float) * (size_t)(n ? n : 1) * KD);
    float *mixed = malloc(sizeof(float) * (size_t)(n ? n : 1) * D);
    float *alpha = malloc(sizeof(float) * (size_t)(n ? n : 1));
    memset(x, 0, sizeof(float) * c->E);
    for (int p = 0; tmp && mixed && alpha && n > 0 && p < S; p++) {
        /* every token standardised with statistic p's constants (the mean and the maximum
         * commute with a positive affine map per dimension) */
        memcpy(tmp, layers, sizeof(float) * n * KD);
        for (size_t j = 0; c->norm && j < (size_t)c->K; j++)
            for (int t = 0; t < n; t++)
                for (int d = 0; d < D; d++) {
                    size_t k = ((size_t)p * c->K + j) * D + d;
                    tmp[(j * n + t) * D + d] =
                        (tmp[(j * n + t) * D + d] - c->norm[k]) * c->norm[S * KD + k];
                }
        if (c->pooling == ELMO_POOL_ATTN) {
            elmo_attn_pool_forward(c->K, n, D, tmp, mix_w(c), *mix_gamma(c), pool_params(c), mixed,
                                   alpha, x);
            break;
        }
        if (c->pooling == ELMO_POOL_CNN) { /* the convolution as plain sums, window by window */
            elmo_scalar_mix(c->K, n, D, tmp, NULL, mix_w(c), *mix_gamma(c), 0, mixed);
            const float *U = pool_params(c), *cb = U + cnn_bias_offset(c);
            for (int f = 0; f < D; f++) {
                double best = -INFINITY;
                for (int t = 0; t < n; t++) {
                    double a = 0;
                    for (int s = -1; s <= 1; s++)
                        for (int d = 0; t + s >= 0 && t + s < n && d < D; d++)
                            a += (double)U[((size_t)f * 3 + s + 1) * D + d] *
                                 mixed[(size_t)(t + s) * D + d];
                    best = a > best ? a : best;
                }
                x[f] = (float)fmax(best + cb[f], 0.0);
            }
            break;
        }
        int is_mean = c->pooling == ELMO_POOL_MEAN || (c->pooling == ELMO_POOL_MEANMAX && p == 0);
        if (is_mean) {
            elmo_scalar_mix(c->K, n, D, tmp, NULL, mix_w(c), *mix_gamma(c), 0, mixed);
            for (int t = 0; t < n; t++)
                for (int d = 0; d < D; d++) x[p * D + d] += mixed[(size_t)t * D + d] / (float)n;
            continue;
        }
        float sw[64], g; /* max: the maximum of each layer, mixed (pooling.h) */
        elmo_classifier_mix(c, sw, &g);
        for (int d = 0; d < D; d++) {
            double v = 0;
            for (int j = 0; j < c->K; j++) {
                float mx = tmp[(size_t)j * n * D + d];
                for (int t = 1; t < n; t++) mx = fmaxf(mx, tmp[((size_t)j * n + t) * D + d]);
                v += sw[j] * mx;
            }
            x[p * D + d] = (float)(g * v);
        }
    }
    free(tmp), free(mixed), free(alpha);
}

void elmo_classifier_head_probs(const elmo_classifier *c, const float *x, float *probs) {
    float *h = malloc(sizeof(float) * (c->hidden ? c->hidden : 1)), z[1024];
    if (!h) return;
    elmo_mlp_forward(&c->mlp, 1, x, NULL, h, z);
    elmo_mlp_probs(&c->mlp, 1, z, probs);
    free(h);
}

void elmo_classifier_metrics_compute(int n_classes, size_t n, const int *gold, const float *probs,
                                     elmo_classifier_metrics *m) {
    memset(m, 0, sizeof *m);
    m->n_classes = n_classes;
    m->n = n;
    int C = n_classes < 16 ? n_classes : 16;
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * n_classes;
        int best = 0;
        for (int k = 1; k < n_classes; k++)
            if (p[k] > p[best]) best = k;
        m->correct += best == gold[i];
        if (gold[i] < C && best < C) m->confusion[gold[i]][best]++;
    }
    for (int k = 0; k < C; k++) {
        size_t tp = m->confusion[k][k], pred = 0, sup = 0;
        for (int j = 0; j < C; j++) {
            pred += m->confusion[j][k];
            sup += m->confusion[k][j];
        }
        m->support[k] = sup;
        m->precision[k] = pred ? (double)tp / pred : 0;
        m->recall[k] = sup ? (double)tp / sup : 0;
        m->f1[k] = m->precision[k] + m->recall[k] > 0
                       ? 2 * m->precision[k] * m->recall[k] / (m->precision[k] + m->recall[k])
                       : 0;
    }
}
