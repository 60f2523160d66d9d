/*
 * tagger.c: the ELMo sequence tagger (see tagger.h).
 *
 * Shapes: N tokens, K layers used (L+1 with the mix, 1 for the token ablation), D their width
 * (2P, or P for the token layer), Ds static vectors, I = D + Ds the head's input, C tags.
 * Parameters in one block updated by Adam: w (K), gamma, then the head.
 */
#include "tasks/tagger.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cJSON.h>

#include "io/checkpoint.h"
#include "tasks/featurize.h"
#include "tasks/head_file.h"
#include "tasks/mlp.h"
#include "train/optim.h"
#include "io/strmap.h"
#include "io/util.h"

#define TAG_MAGIC "ELMOTAG1"
#define TAG_VERSION 1

struct elmo_tagger {
    int layers, K, D, Ds, in, hidden, n_tags;
    char **tags;
    float *params;
    size_t n_params;
    elmo_mlp mlp;
    uint64_t bilm_fp, static_fp;
    char *bilm_dir, *static_path;
    elmo_strmap words; /* the training vocabulary (for the OOV accuracy) */
    elmo_model *bilm;
    elmo_static_vectors *sv;
};

void elmo_tagger_options_default(elmo_tagger_options *o) {
    memset(o, 0, sizeof *o);
    o->layers = ELMO_TAG_LAYERS_MIX;
    o->hidden = 256;
    o->epochs = 5;
    o->batch_tokens = 512;
    o->lr = 1e-3;
    o->seed = 1;
    o->threads = 2;
}

void elmo_tagger_free(elmo_tagger *t) {
    if (!t) return;
    for (int k = 0; t->tags && k < t->n_tags; k++) free(t->tags[k]);
    free(t->tags);
    elmo_free(t->params);
    free(t->bilm_dir);
    free(t->static_path);
    elmo_strmap_free(&t->words);
    free(t);
}

const char *elmo_tagger_tag(const elmo_tagger *t, int id) {
    return id >= 0 && id < t->n_tags ? t->tags[id] : "?";
}
int elmo_tagger_n_tags(const elmo_tagger *t) { return t->n_tags; }
const char *elmo_tagger_bilm_dir(const elmo_tagger *t) { return t->bilm_dir ? t->bilm_dir : ""; }
const char *elmo_tagger_static_path(const elmo_tagger *t) { return t->static_path; }

static float *tag_w(const elmo_tagger *t) { return t->params; }
static float *tag_gamma(const elmo_tagger *t) { return t->params + t->K; }

int elmo_tagger_mix(const elmo_tagger *t, float *s, float *gamma) {
    double mx = tag_w(t)[0], z = 0;
    for (int j = 1; j < t->K; j++) mx = tag_w(t)[j] > mx ? tag_w(t)[j] : mx;
    for (int j = 0; j < t->K; j++) z += exp(tag_w(t)[j] - mx);
    for (int j = 0; j < t->K; j++) s[j] = (float)(exp(tag_w(t)[j] - mx) / z);
    *gamma = *tag_gamma(t);
    return t->K;
}

static elmo_status alloc_params(elmo_tagger *t) {
    t->n_params =
        (size_t)t->K + 1 + elmo_mlp_count(t->in, t->hidden, t->n_tags == 2 ? 1 : t->n_tags);
    t->params = elmo_calloc(t->n_params, sizeof(float));
    if (!t->params) return elmo_fail(ELMO_ERR_NOMEM, "out of memory for the tagger");
    elmo_mlp_bind(&t->mlp, t->in, t->hidden, t->n_tags, t->params + t->K + 1);
    return ELMO_OK;
}

/* ---- training vocabulary */
static int known_word(const elmo_tagger *t, const char *w) {
    return elmo_strmap_find(&t->words, w, strlen(w)) >= 0;
}

/* Collect the distinct words of d. */
static elmo_status collect_words(elmo_tagger *t, const elmo_tagged_dataset *d) {
    for (size_t i = 0; i < d->n_tokens; i++)
        if (elmo_strmap_add(&t->words, d->words[i], strlen(d->words[i]), NULL) < 0)
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory collecting the training words");
    return ELMO_OK;
}

/* ---- the feature store: (N, K, D) floats in an unlinked, memory-mapped temporary file */
typedef struct {
    float *p;
    size_t bytes;
} fstore;

static elmo_status fstore_open(fstore *f, size_t floats) {
    memset(f, 0, sizeof *f);
    f->bytes = floats * sizeof(float);
    if (f->bytes == 0) f->bytes = 4096;
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/elmo-features-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return elmo_fail(ELMO_ERR_IO, "%s: cannot create the feature store: %s", path,
                         strerror(errno));
    unlink(path);
    if (ftruncate(fd, (off_t)f->bytes) != 0) {
        close(fd);
        return elmo_fail(ELMO_ERR_IO, "cannot size the feature store (%zu MB): %s", f->bytes >> 20,
                         strerror(errno));
    }
    void *p = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return elmo_fail(ELMO_ERR_NOMEM, "cannot map the feature store: %s", strerror(errno));
    f->p = p;
    return ELMO_OK;
}

static void fstore_close(fstore *f) {
    if (f->p) munmap(f->p, f->bytes);
    f->p = NULL;
}

typedef struct {
    const elmo_tagger *t;
    const elmo_tagged_dataset *d;
    float *store;
    int Dfull; /* the model's 2P */
} store_ctx;

/* emit: layers (L+1, n, 2P) of sentence i -> store rows (n, K, D) */
static void emit_store(size_t i, const float *layers, int n, void *user) {
    store_ctx *c = user;
    const elmo_tagger *t = c->t;
    size_t first = c->d->sent[i].first;
    for (int k = 0; k < n; k++) {
        float *dst = c->store + (first + k) * (size_t)t->K * t->D;
        for (int j = 0; j < t->K; j++)
            memcpy(dst + (size_t)j * t->D, layers + ((size_t)j * n + k) * c->Dfull,
                   sizeof(float) * t->D);
    }
}

typedef struct {
    elmo_tag_progress fn;
    void *user;
} prog;

static void on_embed(size_t done, size_t total, void *u) {
    prog *p = u;
    if (p->fn) p->fn("embed", done, total, 0, 0, p->user);
}

static elmo_status compute_features(const elmo_tagger *t, const elmo_tagged_dataset *d, fstore *fs,
                                    float **stat, int threads, prog *pg) {
    elmo_status s = fstore_open(fs, d->n_tokens * (size_t)t->K * t->D);
    if (s) return s;
    elmo_tok_seq *seqs = malloc(sizeof *seqs * (d->n ? d->n : 1));
    if (!seqs) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !s && i < d->n; i++)
        seqs[i] = (elmo_tok_seq){NULL, NULL, NULL, (int)d->sent[i].n, d->sent[i].words};
    if (!s) {
        elmo_session *sess;
        if (!(s = elmo_session_new(t->bilm, 64, threads, &sess))) {
            store_ctx c = {t, d, fs->p, elmo_model_output_dim(t->bilm)};
            s = elmo_embed_many(sess, t->bilm, d->n, seqs, emit_store, &c, on_embed, pg);
            elmo_session_free(sess);
        }
    }
    if (!s && t->Ds) {
        *stat = elmo_alloc(sizeof(float) * d->n_tokens * t->Ds);
        if (!*stat) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory for static vectors");
        for (size_t k = 0; !s && k < d->n_tokens; k++) {
            const float *v = elmo_static_get(t->sv, d->words[k], strlen(d->words[k]));
            if (v)
                memcpy(*stat + k * t->Ds, v, sizeof(float) * t->Ds);
            else
                memset(*stat + k * t->Ds, 0, sizeof(float) * t->Ds);
        }
    }
    free(seqs);
    if (s) fstore_close(fs);
    return s;
}

/* ---- batches of tokens */
typedef struct {
    const elmo_tagger *t;
    const float *store, *stat;
    int max_n;
    float *layers, *x, *h, *z, *dx, *dh, *dmix;
} tws;

static elmo_status tws_alloc(tws *w, const elmo_tagger *t, int max_n) {
    memset(w, 0, sizeof *w);
    w->t = t;
    w->max_n = max_n;
    int C = t->n_tags == 2 ? 1 : t->n_tags;
    w->layers = malloc(sizeof(float) * (size_t)max_n * t->K * t->D);
    w->x = malloc(sizeof(float) * (size_t)max_n * t->in);
    w->dx = malloc(sizeof(float) * (size_t)max_n * t->in);
    w->h = malloc(sizeof(float) * (size_t)max_n * (t->hidden ? t->hidden : 1));
    w->dh = malloc(sizeof(float) * (size_t)max_n * (t->hidden ? t->hidden : 1));
    w->z = malloc(sizeof(float) * (size_t)max_n * (C > 2 ? C : 2));
    w->dmix = malloc(sizeof(float) * (size_t)max_n * t->D);
    if (!w->layers || !w->x || !w->dx || !w->h || !w->dh || !w->z || !w->dmix)
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    return ELMO_OK;
}

static void tws_free(tws *w) {
    free(w->layers), free(w->x), free(w->dx), free(w->h), free(w->dh), free(w->z), free(w->dmix);
}

/* Inputs of tokens tok[0..n) of the store. */
static void gather(tws *w, const size_t *tok, int n) {
    const elmo_tagger *t = w->t;
    int K = t->K, D = t->D;
    for (int j = 0; j < K; j++)
        for (int b = 0; b < n; b++)
            memcpy(w->layers + ((size_t)j * n + b) * D, w->store + (tok[b] * K + j) * D,
                   sizeof(float) * D);
    elmo_scalar_mix(K, n, D, w->layers, NULL, tag_w(t), *tag_gamma(t), 0, w->dmix);
    for (int b = 0; b < n; b++) {
        memcpy(w->x + (size_t)b * t->in, w->dmix + (size_t)b * D, sizeof(float) * D);
        if (t->Ds)
            memcpy(w->x + (size_t)b * t->in + D, w->stat + tok[b] * t->Ds, sizeof(float) * t->Ds);
    }
}

static double train_batch(tws *w, const size_t *tok, int n, const int32_t *y, float *g) {
    const elmo_tagger *t = w->t;
    gather(w, tok, n);
    elmo_mlp_forward(&t->mlp, n, w->x, NULL, w->h, w->z);
    double loss = elmo_mlp_backward(&t->mlp, n, w->x, NULL, w->h, w->z, y, 1.0f / (float)n,
                                    g + t->K + 1, w->dx, w->dh);
    for (int b = 0; b < n; b++)
        memcpy(w->dmix + (size_t)b * t->D, w->dx + (size_t)b * t->in, sizeof(float) * t->D);
    elmo_scalar_mix_backward(t->K, n, t->D, w->layers, NULL, tag_w(t), *tag_gamma(t), 0, w->dmix, g,
                             g + t->K, NULL);
    return loss;
}

/* Argmax tags of tokens [a, a+n) of the store. */
static void predict_range(tws *w, size_t a, int n, int32_t *pred) {
    const elmo_tagger *t = w->t;
    size_t idx[1024] = {0};
    for (int b = 0; b < n; b++) idx[b] = a + (size_t)b;
    gather(w, idx, n);
    elmo_mlp_forward(&t->mlp, n, w->x, NULL, w->h, w->z);
    int C = t->mlp.out;
    for (int b = 0; b < n; b++) {
        const float *z = w->z + (size_t)b * C;
        if (t->mlp.binary) {
            pred[b] = z[0] > 0;
            continue;
        }
        int best = 0;
        for (int c = 1; c < C; c++)
            if (z[c] > z[best]) best = c;
        pred[b] = best;
    }
}

static void predict_all(tws *w, size_t n_tokens, int32_t *pred) {
    for (size_t a = 0; a < n_tokens; a += 1024) {
        int n = n_tokens - a < 1024 ? (int)(n_tokens - a) : 1024;
        predict_range(w, a, n, pred + a);
    }
}

static int tag_id(const elmo_tagger *t, const char *tag) {
    for (int k = 0; k < t->n_tags; k++)
        if (strcmp(t->tags[k], tag) == 0) return k;
    return -1;
}

static void score(const elmo_tagger *t, const elmo_tagged_dataset *d, const int32_t *pred,
                  elmo_tag_metrics *m) {
    memset(m, 0, sizeof *m);
    for (size_t k = 0; k < d->n_tokens; k++) {
        int gold = tag_id(t, d->tags[k]);
        int ok = gold >= 0 && pred[k] == gold;
        m->n_tokens++;
        m->correct += ok;
        m->n_unknown_tag += gold < 0;
        if (!known_word(t, d->words[k])) {
            m->n_oov++;
            m->correct_oov += ok;
        }
    }
}

/* The tag set (sorted, from ls), the biLM and static vectors the tagger is trained on, its
 * sizes. */
static elmo_status describe(elmo_tagger *t, const elmo_tagger_options *o, elmo_model *bilm,
                            const char *bilm_dir, elmo_static_vectors *sv, const char *sv_path,
                            const elmo_labelset *ls) {
    t->n_tags = ls->n;
    t->tags = calloc((size_t)ls->n, sizeof(char *));
    for (int k = 0; t->tags && k < ls->n; k++) t->tags[k] = strdup(elmo_labelset_name(ls, k));
    if (!t->tags) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    if (t->n_tags < 2) return elmo_fail(ELMO_ERR_ARG, "the training data has fewer than 2 tags");
    t->layers = o->layers;
    t->bilm = bilm;
    t->K = o->layers == ELMO_TAG_LAYERS_TOKEN ? 1 : elmo_model_n_output_layers(bilm);
    t->D = o->layers == ELMO_TAG_LAYERS_TOKEN ? elmo_model_config(bilm)->projection_dim
                                              : elmo_model_output_dim(bilm);
    t->bilm_fp = elmo_model_fingerprint(bilm);
    t->bilm_dir = strdup(bilm_dir ? bilm_dir : "");
    if (sv) {
        t->sv = sv;
        t->Ds = elmo_static_dim(sv);
        t->static_fp = elmo_static_fingerprint(sv);
        t->static_path = strdup(sv_path ? sv_path : "");
    }
    t->in = t->D + t->Ds;
    t->hidden = o->hidden;
    return ELMO_OK;
}

/* The training loop's state: gold tags, sentence order, the batch, Adam. */
typedef struct {
    const elmo_tagger_options *o;
    const elmo_tagged_dataset *train;
    int32_t *y;         /* (n_tokens) gold tag ids */
    size_t *order;      /* (n sentences) this epoch's order */
    size_t *tok;        /* (maxb) token indices of the batch */
    int32_t *yb;        /* (maxb) their gold tags */
    int maxb;           /* most tokens in a batch: a sentence longer than a batch is one */
    float *g, *m1, *m2; /* (n_params) gradient, Adam's moments */
    elmo_adam adam;
} tag_fit;

static elmo_status fit_alloc(tag_fit *f, const elmo_tagger *t, const elmo_labelset *ls) {
    const elmo_tagged_dataset *train = f->train;
    size_t longest = 0;
    for (size_t i = 0; i < train->n; i++)
        longest = train->sent[i].n > longest ? train->sent[i].n : longest;
    f->maxb = f->o->batch_tokens + (int)(longest < 4096 ? longest : 4096);
    f->y = malloc(sizeof(int32_t) * train->n_tokens);
    f->order = malloc(sizeof(size_t) * train->n);
    f->tok = malloc(sizeof(size_t) * (f->o->batch_tokens + 4096));
    f->yb = malloc(sizeof(int32_t) * (f->o->batch_tokens + 4096));
    f->g = elmo_calloc(t->n_params, sizeof(float));
    f->m1 = elmo_calloc(t->n_params, sizeof(float));
    f->m2 = elmo_calloc(t->n_params, sizeof(float));
    if (!f->y || !f->order || !f->tok || !f->yb || !f->g || !f->m1 || !f->m2)
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < train->n_tokens; k++) f->y[k] = elmo_labelset_id(ls, train->tags[k]);
    elmo_adam_init(&f->adam, (float)f->o->lr);
    return ELMO_OK;
}

static void fit_free(tag_fit *f) {
    free(f->y), free(f->order), free(f->tok), free(f->yb);
    elmo_free(f->g), elmo_free(f->m1), elmo_free(f->m2);
}

/* The batch from sentence order[*i] on: whole sentences while they fit in batch_tokens (at
 * least one, cut at maxb), into f->tok / f->yb. Returns its token count. */
static int next_batch(tag_fit *f, size_t *i) {
    const elmo_tagged_dataset *train = f->train;
    int n = 0;
    while (*i < train->n &&
           (n == 0 || n + (int)train->sent[f->order[*i]].n <= f->o->batch_tokens)) {
        const elmo_sentence *q = &train->sent[f->order[(*i)++]];
        for (size_t k = 0; k < q->n && n < f->maxb; k++) {
            f->tok[n] = q->first + k;
            f->yb[n++] = f->y[q->first + k];
        }
    }
    return n;
}

/* One epoch (number ep, from 0): Adam steps over the training sentences in a new random
 * order; *total: the summed loss. */
static elmo_status train_epoch(elmo_tagger *t, tws *w, tag_fit *f, elmo_rng *r, int ep,
                               double *total) {
    size_t ns = f->train->n;
    for (size_t i = 0; i < ns; i++) f->order[i] = i;
    for (size_t i = ns; i > 1; i--) {
        size_t j = (size_t)elmo_rng_below(r, i), tmp = f->order[i - 1];
        f->order[i - 1] = f->order[j];
        f->order[j] = tmp;
    }
    *total = 0;
    size_t i = 0;
    while (i < ns) {
        int n = next_batch(f, &i);
        if (n == 0) continue;
        memset(f->g, 0, sizeof(float) * t->n_params);
        *total += train_batch(w, f->tok, n, f->yb, f->g);
        if (!elmo_all_finite(t->n_params, f->g))
            return elmo_fail(ELMO_ERR_NUMERIC, "epoch %d: NaN or Inf in the gradient", ep + 1);
        elmo_adam_tick(&f->adam);
        elmo_adam_update(&f->adam, t->n_params, t->params, f->m1, f->m2, f->g);
    }
    return ELMO_OK;
}

/* Token accuracy on dev (features in w->store / w->stat) with the current parameters. */
static double dev_accuracy(const elmo_tagger *t, tws *w, const elmo_tagged_dataset *dev,
                           int32_t *pdev) {
    predict_all(w, dev->n_tokens, pdev);
    elmo_tag_metrics dm;
    score(t, dev, pdev, &dm);
    return dm.n_tokens ? (double)dm.correct / dm.n_tokens : 0;
}

elmo_status elmo_tagger_train(const elmo_tagger_options *o, elmo_model *bilm, const char *bilm_dir,
                              elmo_static_vectors *sv, const char *sv_path,
                              const elmo_tagged_dataset *train, const elmo_tagged_dataset *dev,
                              elmo_tag_progress progress, void *user, elmo_tagger **out) {
    *out = NULL;
    if (!bilm) return elmo_fail(ELMO_ERR_ARG, "the tagger needs a biLM");
    if (!train->tags || train->n_tokens == 0)
        return elmo_fail(ELMO_ERR_ARG, "no tagged training tokens");
    elmo_tagger *t = calloc(1, sizeof *t);
    if (!t) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_labelset ls;
    elmo_labelset_init(&ls);
    tag_fit f = {.o = o, .train = train};
    prog pg = {progress, user};
    fstore fs = {0}, fdev = {0};
    float *stat = NULL, *stat_dev = NULL;
    int32_t *pdev = NULL;
    tws w = {0};
    int wok = 0;
    elmo_status s = elmo_labelset_from_tags(&ls, train, ELMO_LABELS_SORTED);
    if (!s) s = describe(t, o, bilm, bilm_dir, sv, sv_path, &ls);
    if (!s) s = collect_words(t, train);
    if (!s) s = alloc_params(t);
    if (!s) s = fit_alloc(&f, t, &ls);
    if (!s) s = compute_features(t, train, &fs, &stat, o->threads, &pg);
    if (!s && dev) s = compute_features(t, dev, &fdev, &stat_dev, o->threads, &pg);
    if (!s && dev && !(pdev = malloc(sizeof(int32_t) * (dev->n_tokens ? dev->n_tokens : 1))))
        s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_rng r;
    elmo_rng_seed(&r, o->seed);
    if (!s) {
        elmo_mlp_init(&t->mlp, &r);
        *tag_gamma(t) = 1.0f;
        if (!(s = tws_alloc(&w, t, f.maxb > 1024 ? f.maxb : 1024))) wok = 1;
    }
    for (int ep = 0; !s && ep < o->epochs; ep++) {
        double total, dev_acc = -1;
        w.store = fs.p;
        w.stat = stat;
        s = train_epoch(t, &w, &f, &r, ep, &total);
        if (!s && dev) {
            w.store = fdev.p;
            w.stat = stat_dev;
            dev_acc = dev_accuracy(t, &w, dev, pdev);
        }
        if (progress)
            progress("train", (size_t)ep + 1, (size_t)o->epochs, total / train->n_tokens, dev_acc,
                     user);
    }
    if (wok) tws_free(&w);
    fstore_close(&fs);
    fstore_close(&fdev);
    elmo_free(stat), elmo_free(stat_dev);
    free(pdev);
    fit_free(&f);
    elmo_labelset_free(&ls);
    if (s) {
        elmo_tagger_free(t);
        return s;
    }
    *out = t;
    return ELMO_OK;
}

elmo_status elmo_tagger_predict(elmo_tagger *t, const elmo_tagged_dataset *d, int32_t *pred,
                                elmo_tag_progress progress, void *user) {
    if (!t->bilm) return elmo_fail(ELMO_ERR_STATE, "the tagger has no biLM attached");
    if (t->Ds && !t->sv) return elmo_fail(ELMO_ERR_STATE, "the tagger needs its static vectors");
    if (d->n_tokens == 0) return ELMO_OK;
    prog pg = {progress, user};
    fstore fs;
    float *stat = NULL;
    elmo_status s = compute_features(t, d, &fs, &stat, 2, &pg);
    if (s) return s;
    tws w;
    if (!(s = tws_alloc(&w, t, 1024))) {
        w.store = fs.p;
        w.stat = stat;
        predict_all(&w, d->n_tokens, pred);
        tws_free(&w);
    }
    fstore_close(&fs);
    elmo_free(stat);
    return s;
}

elmo_status elmo_tagger_evaluate(elmo_tagger *t, const elmo_tagged_dataset *d, elmo_tag_metrics *m,
                                 elmo_tag_progress progress, void *user) {
    int32_t *pred = malloc(sizeof(int32_t) * (d->n_tokens ? d->n_tokens : 1));
    if (!pred) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s = elmo_tagger_predict(t, d, pred, progress, user);
    if (!s) score(t, d, pred, m);
    free(pred);
    return s;
}

/* ---- files (head_file.h: the format the classifier shares) */
elmo_status elmo_tagger_save(const elmo_tagger *t, const char *path) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "kind", "elmo.c sequence tagger");
    cJSON_AddNumberToObject(m, "version", TAG_VERSION);
    cJSON_AddStringToObject(m, "layers", t->layers == ELMO_TAG_LAYERS_TOKEN ? "token" : "mix");
    elmo_head_desc h = {t->K,         t->D,        t->Ds,          t->hidden, t->bilm_fp,
                        t->static_fp, t->bilm_dir, t->static_path, t->n_tags, t->tags};
    elmo_head_desc_put(m, &h, "tags");
    elmo_ckpt_writer w;
    elmo_status s =
        elmo_head_file_begin(&w, path, TAG_MAGIC, TAG_VERSION, m, t->params, t->n_params);
    if (s) return s;
    elmo_ckpt_put(&w, "words", t->words.arena ? t->words.arena : "", t->words.used);
    return elmo_ckpt_commit(&w);
}

/* The tagger's description (m, of file path) into t. */
static elmo_status read_description(elmo_tagger *t, const cJSON *m, const char *path) {
    elmo_head_desc h;
    elmo_status s = elmo_head_desc_get(m, path, "tagger", "tags", "tag", 100000, &h);
    const cJSON *lay = cJSON_GetObjectItem(m, "layers");
    if (!s && (!cJSON_IsString(lay) || h.K < 1 || h.K > 64 || h.D < 1))
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: damaged tagger description", path);
    if (s) {
        elmo_head_desc_free(&h);
        return s;
    }
    t->layers =
        strcmp(lay->valuestring, "token") == 0 ? ELMO_TAG_LAYERS_TOKEN : ELMO_TAG_LAYERS_MIX;
    t->K = h.K, t->D = h.D, t->Ds = h.Ds, t->hidden = h.hidden;
    t->bilm_fp = h.bilm_fp, t->static_fp = h.static_fp;
    t->bilm_dir = h.bilm_dir, t->static_path = h.static_path; /* t owns them now */
    t->n_tags = h.n_names, t->tags = h.names;
    t->in = t->D + t->Ds;
    return ELMO_OK;
}

elmo_status elmo_tagger_load(const char *path, elmo_tagger **out) {
    *out = NULL;
    elmo_ckpt ck;
    cJSON *m;
    elmo_status s = elmo_head_file_open(path, TAG_MAGIC, TAG_VERSION, &ck, &m);
    elmo_tagger *t = s ? NULL : calloc(1, sizeof *t);
    const char *d;
    size_t nb;
    if (!s && !t) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    if (!s) s = read_description(t, m, path);
    /* the size the description implies is checked against the section before allocating it
     * (a damaged description can claim gigabytes) */
    if (!s) {
        size_t want =
            (size_t)t->K + 1 + elmo_mlp_count(t->in, t->hidden, t->n_tags == 2 ? 1 : t->n_tags);
        s = elmo_ckpt_get(&ck, "params", elmo_mul_size(want, sizeof(float)), &d, NULL);
    }
    if (!s) s = alloc_params(t);
    if (!s) memcpy(t->params, d, sizeof(float) * t->n_params);
    if (!s && !(s = elmo_ckpt_get(&ck, "words", SIZE_MAX, &d, &nb)))
        for (size_t i = 0; !s && i < nb;) { /* NUL-terminated words */
            size_t len = strnlen(d + i, nb - i);
            if (elmo_strmap_add(&t->words, d + i, len, NULL) < 0)
                s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
            i += len + 1;
        }
    cJSON_Delete(m);
    elmo_ckpt_free(&ck);
    if (s) {
        if (t) elmo_tagger_free(t);
        return s;
    }
    *out = t;
    return ELMO_OK;
}

elmo_status elmo_tagger_attach(elmo_tagger *t, elmo_model *bilm, elmo_static_vectors *sv) {
    if (!bilm) return elmo_fail(ELMO_ERR_ARG, "the tagger needs a biLM");
    int K = t->layers == ELMO_TAG_LAYERS_TOKEN ? 1 : elmo_model_n_output_layers(bilm);
    if (elmo_model_fingerprint(bilm) != t->bilm_fp || K != t->K)
        return elmo_fail(
            ELMO_ERR_STATE,
            "this tagger was trained with another biLM (%s); give that model with --model",
            t->bilm_dir && *t->bilm_dir ? t->bilm_dir : "unknown directory");
    if (t->Ds) {
        if (!sv)
            return elmo_fail(ELMO_ERR_ARG, "this tagger needs its static vectors (%s)",
                             t->static_path ? t->static_path : "?");
        if (elmo_static_fingerprint(sv) != t->static_fp || elmo_static_dim(sv) != t->Ds)
            return elmo_fail(ELMO_ERR_STATE,
                             "these static vectors are not the ones the tagger was trained with");
    }
    t->bilm = bilm;
    t->sv = sv;
    return ELMO_OK;
}

/* ---- the most-frequent-tag baseline */
elmo_status elmo_tag_baseline(const elmo_tagged_dataset *train, const elmo_tagged_dataset *test,
                              elmo_tag_metrics *m) {
    memset(m, 0, sizeof *m);
    elmo_labelset tags;
    elmo_labelset_init(&tags);
    elmo_status s = elmo_labelset_from_tags(&tags, train, ELMO_LABELS_SORTED);
    if (s) return s;
    /* (word, tag) counts: words[i] has counts[i * T .. i * T + T) */
    int T = tags.n;
    elmo_strmap words;
    elmo_strmap_init(&words);
    int32_t *counts = NULL;
    size_t ccap = 0, *overall = calloc((size_t)T, sizeof(size_t));
    if (!overall) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; !s && k < train->n_tokens; k++) {
        int added;
        int64_t w = elmo_strmap_add(&words, train->words[k], strlen(train->words[k]), &added);
        if (w >= 0 && (size_t)w >= ccap) {
            size_t nc = ccap ? ccap * 2 : 1 << 14;
            int32_t *n2 = realloc(counts, sizeof(int32_t) * nc * T);
            if (n2)
                counts = n2, ccap = nc;
            else
                w = -1;
        }
        if (w < 0) {
            s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
            break;
        }
        if (added) memset(counts + (size_t)w * T, 0, sizeof(int32_t) * T);
        int tg = elmo_labelset_id(&tags, train->tags[k]);
        counts[(size_t)w * T + tg]++;
        overall[tg]++;
    }
    int most = 0;
    for (int k = 1; !s && k < T; k++)
        if (overall[k] > overall[most]) most = k;
    for (size_t k = 0; !s && k < test->n_tokens; k++) {
        int64_t w = elmo_strmap_find(&words, test->words[k], strlen(test->words[k]));
        int pred = most;
        if (w >= 0) {
            const int32_t *c = counts + (size_t)w * T;
            pred = 0;
            for (int q = 1; q < T; q++)
                if (c[q] > c[pred]) pred = q;
        }
        int ok = strcmp(elmo_labelset_name(&tags, pred), test->tags[k]) == 0;
        m->n_tokens++;
        m->correct += ok;
        if (w < 0) {
            m->n_oov++;
            m->correct_oov += ok;
        }
    }
    free(counts);
    free(overall);
    elmo_strmap_free(&words);
    elmo_labelset_free(&tags);
    return s;
}
