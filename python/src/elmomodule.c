/*
 * elmomodule.c: elmo._elmo, the CPython extension of the `elmo` package, over the public API
 * of libelmo (include/elmo.h) only.
 *
 * Text goes in as Python strings (split on whitespace exactly as `elmo embed` splits a line)
 * or lists of tokens; character ids are made in C; numpy arrays are allocated here (owned by
 * Python) and filled in place by the library, batch by batch, with the GIL released while the
 * biLM runs. Stateless only: every sentence starts from zero state, so results do not depend
 * on batching and are bit-identical to `elmo embed` (same ids, same kernels, same reductions).
 *
 * Shapes: B sentences, n tokens of a sentence, K = L+1 output layers, D = 2P output width,
 * W characters per token.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"

static PyObject *ElmoError;

/* ElmoError with the library's message of the last failing call of this OS thread. */
static PyObject *raise_lib(elmo_status s) {
    const char *m = elmo_last_error();
    PyErr_SetString(ElmoError, m && *m ? m : elmo_status_name(s));
    return NULL;
}

/* ---- sentences to character ids ------------------------------------------------------- */

typedef struct {
    Py_ssize_t B;
    int W;
    int *n;       /* (B) tokens per sentence */
    size_t *off;  /* (B) first id row of each sentence */
    int16_t *ids; /* (rows, W) */
    size_t rows, rcap;
    size_t *tst, *tln, tcap; /* whitespace split scratch */
} prepared;

static void prepared_free(prepared *p) {
    free(p->n);
    free(p->off);
    free(p->ids);
    free(p->tst);
    free(p->tln);
    memset(p, 0, sizeof *p);
}

static int grow_rows(prepared *p, size_t more) {
    if (p->rows + more <= p->rcap) return 0;
    size_t nc = (p->rows + more) * 2 + 256;
    if (nc > SIZE_MAX / ((size_t)p->W * sizeof(int16_t))) goto nomem;
    int16_t *ni = realloc(p->ids, nc * (size_t)p->W * sizeof(int16_t));
    if (!ni) goto nomem;
    p->ids = ni;
    p->rcap = nc;
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

/* One sentence given as a str: split as `elmo embed` splits a line. */
static int add_text(prepared *p, Py_ssize_t b, PyObject *s) {
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(s, &len);
    if (!text) return -1;
    size_t nt = elmo_split_whitespace(text, (size_t)len, p->tst, p->tln, p->tcap);
    if (nt > p->tcap) {
        size_t nc = nt * 2;
        size_t *a = realloc(p->tst, sizeof(size_t) * nc);
        if (a) p->tst = a;
        size_t *c = realloc(p->tln, sizeof(size_t) * nc);
        if (c) p->tln = c;
        if (!a || !c) {
            PyErr_NoMemory();
            return -1;
        }
        p->tcap = nc;
        elmo_split_whitespace(text, (size_t)len, p->tst, p->tln, p->tcap);
    }
    if (nt > INT_MAX / 2) {
        PyErr_Format(PyExc_ValueError, "sentence %zd: too many tokens (%zu)", b, nt);
        return -1;
    }
    if (grow_rows(p, nt)) return -1;
    for (size_t t = 0; t < nt; t++)
        elmo_char_ids(text + p->tst[t], p->tln[t], p->W, p->ids + (p->rows + t) * (size_t)p->W);
    p->n[b] = (int)nt;
    p->rows += nt;
    return 0;
}

/* One sentence given as a sequence of str tokens. */
static int add_tokens(prepared *p, Py_ssize_t b, PyObject *item) {
    PyObject *seq =
        PySequence_Fast(item, "each sentence must be a str or a sequence of str tokens");
    if (!seq) return -1;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(seq);
    PyObject **toks = PySequence_Fast_ITEMS(seq);
    int rc = -1;
    if (nt > INT_MAX / 2) {
        PyErr_Format(PyExc_ValueError, "sentence %zd: too many tokens (%zd)", b, nt);
        goto out;
    }
    if (grow_rows(p, (size_t)nt)) goto out;
    for (Py_ssize_t t = 0; t < nt; t++) {
        if (!PyUnicode_Check(toks[t])) {
            PyErr_Format(PyExc_TypeError, "sentence %zd, token %zd: expected str, got %s", b, t,
                         Py_TYPE(toks[t])->tp_name);
            goto out;
        }
        Py_ssize_t len;
        const char *tok = PyUnicode_AsUTF8AndSize(toks[t], &len);
        if (!tok) goto out;
        elmo_char_ids(tok, (size_t)len, p->W, p->ids + (p->rows + (size_t)t) * (size_t)p->W);
    }
    p->n[b] = (int)nt;
    p->rows += (size_t)nt;
    rc = 0;
out:
    Py_DECREF(seq);
    return rc;
}

/* sentences: a sequence of str or of token sequences. Fills p (free with prepared_free). */
static int prepare(PyObject *sentences, int W, prepared *p) {
    memset(p, 0, sizeof *p);
    p->W = W;
    if (PyUnicode_Check(sentences) || PyBytes_Check(sentences)) {
        PyErr_SetString(PyExc_TypeError,
                        "sentences must be a list of sentences (str or token lists), not a single "
                        "string: wrap it in a list");
        return -1;
    }
    PyObject *seq =
        PySequence_Fast(sentences, "sentences must be a sequence of str or token lists");
    if (!seq) return -1;
    Py_ssize_t B = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    int rc = -1;
    p->B = B;
    p->n = malloc(sizeof(int) * (size_t)(B ? B : 1));
    p->off = malloc(sizeof(size_t) * (size_t)(B ? B : 1));
    if (!p->n || !p->off) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t b = 0; b < B; b++) {
        p->off[b] = p->rows;
        if (PyUnicode_Check(items[b]) ? add_text(p, b, items[b]) : add_tokens(p, b, items[b]))
            goto out;
    }
    rc = 0;
out:
    Py_DECREF(seq);
    if (rc) prepared_free(p);
    return rc;
}

/* ---- the Model object ---------------------------------------------------------------- */

#define SESSION_POOL 8

typedef struct {
    PyObject_HEAD elmo_model *m;
    int threads;
    pthread_mutex_t mu; /* guards pool */
    elmo_session *pool[SESSION_POOL];
    int npool;
} ModelObject;

/* A session for this call: from the pool, or a new one. Called without the GIL. */
static elmo_status session_get(ModelObject *self, elmo_session **out) {
    pthread_mutex_lock(&self->mu);
    elmo_session *s = self->npool > 0 ? self->pool[--self->npool] : NULL;
    pthread_mutex_unlock(&self->mu);
    if (s) {
        *out = s;
        return ELMO_OK;
    }
    return elmo_session_new(self->m, 64, self->threads, out);
}

static void session_put(ModelObject *self, elmo_session *s) {
    if (!s) return;
    pthread_mutex_lock(&self->mu);
    if (self->npool < SESSION_POOL) {
        self->pool[self->npool++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&self->mu);
    elmo_session_free(s);
}

static void Model_dealloc(ModelObject *self) {
    for (int i = 0; i < self->npool; i++) elmo_session_free(self->pool[i]);
    self->npool = 0;
    elmo_model_free(self->m);
    self->m = NULL;
    pthread_mutex_destroy(&self->mu);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Model_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    (void)args;
    (void)kw;
    ModelObject *self = (ModelObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    pthread_mutex_init(&self->mu, NULL);
    return (PyObject *)self;
}

/* _Model(options_path, weights_path, threads=2, precision="fp32") */
static int Model_init(ModelObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"options", "weights", "threads", "precision", NULL};
    PyObject *opath = NULL, *wpath = NULL;
    int threads = 2;
    const char *precision = "fp32";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O&|is", kwlist, PyUnicode_FSConverter, &opath,
                                     PyUnicode_FSConverter, &wpath, &threads, &precision))
        goto fail;
    if (self->m) {
        PyErr_SetString(PyExc_RuntimeError, "Model is already initialised");
        goto fail;
    }
    if (threads < 1 || threads > 256) {
        PyErr_Format(PyExc_ValueError, "threads must be in [1, 256], got %d", threads);
        goto fail;
    }
    elmo_precision prec;
    if (elmo_precision_parse(precision, &prec) != ELMO_OK) {
        PyErr_Format(PyExc_ValueError, "precision must be fp32, bf16, int8 or auto, got '%s'",
                     precision);
        goto fail;
    }
    elmo_status s;
    elmo_model *m = NULL;
    Py_BEGIN_ALLOW_THREADS s =
        elmo_model_load(PyBytes_AS_STRING(opath), PyBytes_AS_STRING(wpath), &m);
    if (!s) s = elmo_model_set_precision(m, prec);
    Py_END_ALLOW_THREADS if (s) {
        elmo_model_free(m);
        raise_lib(s);
        goto fail;
    }
    self->m = m;
    self->threads = threads;
    Py_DECREF(opath);
    Py_DECREF(wpath);
    return 0;
fail:
    Py_XDECREF(opath);
    Py_XDECREF(wpath);
    return -1;
}

static int check_loaded(ModelObject *self) {
    if (self->m) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Model is not initialised");
    return -1;
}

/* ---- embedding: batches, reductions -------------------------------------------------- */

enum { MODE_ALL, MODE_TOP, MODE_AVERAGE, MODE_MEAN_AVERAGE, MODE_MEAN_TOP };

static int parse_mode(const char *s, int sentence) {
    if (!sentence) {
        if (strcmp(s, "all") == 0) return MODE_ALL;
        if (strcmp(s, "top") == 0) return MODE_TOP;
        if (strcmp(s, "average") == 0) return MODE_AVERAGE;
        PyErr_Format(PyExc_ValueError, "layers must be 'all', 'top' or 'average', got '%s'", s);
    } else {
        if (strcmp(s, "average") == 0) return MODE_MEAN_AVERAGE;
        if (strcmp(s, "top") == 0) return MODE_MEAN_TOP;
        PyErr_Format(PyExc_ValueError, "layers must be 'average' or 'top', got '%s'", s);
    }
    return -1;
}

/* One sentence's (K, n, D) output reduced into dst. The arithmetic is the CLI's
 * (tools/cmd_embed.c): average = (sum over layers in order, float) / K; sentence mean =
 * (sum over tokens in order, double) / n, rounded to float; empty sentence: zeros. */
static void reduce_one(int mode, int K, int n, int D, const float *src, float *dst) {
    size_t nd = (size_t)n * D;
    switch (mode) {
        case MODE_TOP: memcpy(dst, src + (size_t)(K - 1) * nd, sizeof(float) * nd); break;
        case MODE_AVERAGE:
            for (size_t q = 0; q < nd; q++) {
                float acc = 0;
                for (int l = 0; l < K; l++) acc += src[(size_t)l * nd + q];
                dst[q] = acc / (float)K;
            }
            break;
        case MODE_MEAN_AVERAGE:
        case MODE_MEAN_TOP:
            for (int d = 0; d < D; d++) {
                double sum = 0;
                for (int t = 0; t < n; t++) {
                    size_t q = (size_t)t * D + d;
                    float v;
                    if (mode == MODE_MEAN_TOP) {
                        v = src[(size_t)(K - 1) * nd + q];
                    } else {
                        float acc = 0;
                        for (int l = 0; l < K; l++) acc += src[(size_t)l * nd + q];
                        v = acc / (float)K;
                    }
                    sum += v;
                }
                dst[d] = n > 0 ? (float)(sum / n) : 0.0f;
            }
            break;
    }
}

/* Processing order: windows of 16 batches sorted longest first (stable), cut at batch_size
 * sentences or at the positions of a typical batch plus a quarter (what `elmo embed` does
 * by default; only speed and memory depend on it). */
typedef struct {
    const int *n;
    int i;
} len_idx;

static int cmp_len_desc(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    int nx = x->n[x->i], ny = y->n[y->i];
    if (nx != ny) return nx > ny ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* order (B), starts (B + 1): returns the number of batches, -1 out of memory */
static Py_ssize_t plan_batches(const prepared *p, int batch_size, Py_ssize_t *order,
                               Py_ssize_t *starts) {
    Py_ssize_t B = p->B, window = (Py_ssize_t)batch_size * 16, nb = 0;
    len_idx *tmp = malloc(sizeof(len_idx) * (size_t)(window < B ? window : (B ? B : 1)));
    if (!tmp) return -1;
    for (Py_ssize_t w0 = 0; w0 < B; w0 += window) {
        Py_ssize_t m = B - w0 < window ? B - w0 : window;
        long total = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            tmp[i].n = p->n;
            tmp[i].i = (int)(w0 + i);
            total += (long)p->n[w0 + i] + 2;
        }
        qsort(tmp, (size_t)m, sizeof *tmp, cmp_len_desc);
        long batches = (long)((m + batch_size - 1) / batch_size);
        long budget = total / batches + total / batches / 4 + 1;
        int rows = 0;
        long pos = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            long q = (long)p->n[tmp[i].i] + 2;
            if (rows == 0 || rows == batch_size || pos + q > budget) {
                starts[nb++] = w0 + i;
                rows = 0;
                pos = 0;
            }
            order[w0 + i] = tmp[i].i;
            rows++;
            pos += q;
        }
    }
    starts[nb] = B;
    free(tmp);
    return nb;
}

/* Run every sentence of p; dst[b] receives sentence b's result for mode. The GIL is held on
 * entry and exit and released around each batch; Ctrl-C is honoured between batches.
 * Returns 0, or -1 with a Python exception set. */
static int run_embed(ModelObject *self, const prepared *p, int batch_size, int mode, float **dst) {
    int K = elmo_model_n_output_layers(self->m), D = elmo_model_output_dim(self->m), W = p->W;
    Py_ssize_t B = p->B;
    Py_ssize_t *order = malloc(sizeof(Py_ssize_t) * (size_t)(B + 1));
    Py_ssize_t *starts = malloc(sizeof(Py_ssize_t) * (size_t)(B + 1));
    const int16_t **rowp = malloc(sizeof(*rowp) * (size_t)batch_size);
    int *bn = malloc(sizeof(int) * (size_t)batch_size);
    float **out = malloc(sizeof(float *) * (size_t)batch_size);
    float *scratch = NULL;
    size_t scap = 0;
    elmo_session *sess = NULL;
    elmo_status s = ELMO_OK;
    int rc = -1;
    Py_ssize_t nb;
    if (!order || !starts || !rowp || !bn || !out ||
        (nb = plan_batches(p, batch_size, order, starts)) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS s = session_get(self, &sess);
    Py_END_ALLOW_THREADS if (s) {
        raise_lib(s);
        goto done;
    }
    for (Py_ssize_t bi = 0; bi < nb; bi++) {
        int m = (int)(starts[bi + 1] - starts[bi]);
        const Py_ssize_t *ord = order + starts[bi];
        size_t need = 1;
        for (int k = 0; k < m; k++) need += (size_t)K * p->n[ord[k]] * D;
        if (mode != MODE_ALL && need > scap) {
            free(scratch);
            scap = need + need / 4;
            if (!(scratch = malloc(sizeof(float) * scap))) {
                PyErr_NoMemory();
                goto done;
            }
        }
        size_t o = 0;
        for (int k = 0; k < m; k++) {
            Py_ssize_t b = ord[k];
            rowp[k] = p->ids + p->off[b] * (size_t)W;
            bn[k] = p->n[b];
            out[k] = mode == MODE_ALL ? dst[b] : scratch + o;
            o += (size_t)K * p->n[b] * D;
        }
        Py_BEGIN_ALLOW_THREADS s = elmo_embed_ids(sess, m, rowp, bn, out);
        if (!s && mode != MODE_ALL)
            for (int k = 0; k < m; k++) reduce_one(mode, K, bn[k], D, out[k], dst[ord[k]]);
        Py_END_ALLOW_THREADS if (s) {
            raise_lib(s);
            goto done;
        }
        if (PyErr_CheckSignals()) goto done;
    }
    rc = 0;
done:
    if (sess) {
        Py_BEGIN_ALLOW_THREADS session_put(self, sess);
        Py_END_ALLOW_THREADS
    }
    free(order);
    free(starts);
    free(rowp);
    free(bn);
    free(out);
    free(scratch);
    return rc;
}

static int parse_batch_size(int batch_size) {
    if (batch_size >= 1 && batch_size <= 65536) return 0;
    PyErr_Format(PyExc_ValueError, "batch_size must be in [1, 65536], got %d", batch_size);
    return -1;
}

/* embed(sentences, layers="all", batch_size=64) -> list of float32 arrays */
static PyObject *Model_embed(ModelObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"sentences", "layers", "batch_size", NULL};
    PyObject *sentences;
    const char *layers = "all";
    int batch_size = 64, mode;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|si", kwlist, &sentences, &layers, &batch_size))
        return NULL;
    if (check_loaded(self) || (mode = parse_mode(layers, 0)) < 0 || parse_batch_size(batch_size))
        return NULL;
    int K = elmo_model_n_output_layers(self->m), D = elmo_model_output_dim(self->m);
    prepared p;
    if (prepare(sentences, elmo_model_config(self->m)->max_chars, &p)) return NULL;
    PyObject *list = PyList_New(p.B);
    float **dst = malloc(sizeof(float *) * (size_t)(p.B ? p.B : 1));
    if (!list || !dst) {
        if (!dst) PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t b = 0; b < p.B; b++) {
        npy_intp dims[3] = {K, p.n[b], D};
        PyObject *a = mode == MODE_ALL ? PyArray_SimpleNew(3, dims, NPY_FLOAT32)
                                       : PyArray_SimpleNew(2, dims + 1, NPY_FLOAT32);
        if (!a) goto fail;
        PyList_SET_ITEM(list, b, a);
        dst[b] = (float *)PyArray_DATA((PyArrayObject *)a);
    }
    if (run_embed(self, &p, batch_size, mode, dst)) goto fail;
    free(dst);
    prepared_free(&p);
    return list;
fail:
    Py_XDECREF(list);
    free(dst);
    prepared_free(&p);
    return NULL;
}

/* sentence_vectors(sentences, layers="average", batch_size=64) -> (B, D) float32 */
static PyObject *Model_sentence_vectors(ModelObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"sentences", "layers", "batch_size", NULL};
    PyObject *sentences;
    const char *layers = "average";
    int batch_size = 64, mode;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|si", kwlist, &sentences, &layers, &batch_size))
        return NULL;
    if (check_loaded(self) || (mode = parse_mode(layers, 1)) < 0 || parse_batch_size(batch_size))
        return NULL;
    int D = elmo_model_output_dim(self->m);
    prepared p;
    if (prepare(sentences, elmo_model_config(self->m)->max_chars, &p)) return NULL;
    npy_intp dims[2] = {p.B, D};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    float **dst = malloc(sizeof(float *) * (size_t)(p.B ? p.B : 1));
    if (!a || !dst) {
        if (!dst) PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t b = 0; b < p.B; b++) dst[b] = (float *)PyArray_DATA((PyArrayObject *)a) + b * D;
    if (run_embed(self, &p, batch_size, mode, dst)) goto fail;
    free(dst);
    prepared_free(&p);
    return a;
fail:
    Py_XDECREF(a);
    free(dst);
    prepared_free(&p);
    return NULL;
}

/* token_vectors(tokens) -> (N, P) float32: context-free token vectors (layer 0, once) */
static PyObject *Model_token_vectors(ModelObject *self, PyObject *arg) {
    if (check_loaded(self)) return NULL;
    PyObject *seq = PySequence_Fast(arg, "tokens must be a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t N = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    const char **toks = malloc(sizeof(char *) * (size_t)(N ? N : 1));
    PyObject *a = NULL;
    elmo_session *sess = NULL;
    elmo_status s = ELMO_OK;
    if (!toks) {
        PyErr_NoMemory();
        goto out;
    }
    if (N > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many tokens");
        goto out;
    }
    for (Py_ssize_t i = 0; i < N; i++) {
        if (!PyUnicode_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "token %zd: expected str, got %s", i,
                         Py_TYPE(items[i])->tp_name);
            goto out;
        }
        Py_ssize_t len;
        if (!(toks[i] = PyUnicode_AsUTF8AndSize(items[i], &len))) goto out;
        if (strlen(toks[i]) != (size_t)len) {
            PyErr_Format(PyExc_ValueError, "token %zd contains a NUL character", i);
            goto out;
        }
    }
    npy_intp dims[2] = {N, elmo_model_config(self->m)->projection_dim};
    if (!(a = PyArray_SimpleNew(2, dims, NPY_FLOAT32))) goto out;
    float *dst = PyArray_DATA((PyArrayObject *)a);
    Py_BEGIN_ALLOW_THREADS s = session_get(self, &sess);
    if (!s && N > 0) s = elmo_token_vectors(sess, (int)N, toks, dst);
    session_put(self, sess);
    Py_END_ALLOW_THREADS if (s) {
        Py_CLEAR(a);
        raise_lib(s);
    }
out:
    free(toks);
    Py_DECREF(seq);
    return a;
}

/* config() -> dict of the options, derived sizes and identity of the model */
static PyObject *Model_config(ModelObject *self, PyObject *unused) {
    (void)unused;
    if (check_loaded(self)) return NULL;
    const elmo_config *c = elmo_model_config(self->m);
    PyObject *filters = PyList_New(c->n_banks);
    if (!filters) return NULL;
    for (int i = 0; i < c->n_banks; i++) {
        PyObject *f = Py_BuildValue("[ii]", c->filter_width[i], c->filter_count[i]);
        if (!f) {
            Py_DECREF(filters);
            return NULL;
        }
        PyList_SET_ITEM(filters, i, f);
    }
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)elmo_model_fingerprint(self->m));
    return Py_BuildValue(
        "{s:i,s:i,s:i,s:d,s:d,s:O,s:i,s:N,s:i,s:i,s:i,s:s,s:i,s:i,s:L,s:s,s:s,s:d,s:i}", "lstm_dim",
        c->lstm_dim, "projection_dim", c->projection_dim, "n_layers", c->n_layers, "cell_clip",
        (double)c->cell_clip, "proj_clip", (double)c->proj_clip, "use_skip_connections",
        c->use_skip_connections ? Py_True : Py_False, "char_embed_dim", c->char_embed_dim,
        "filters", filters, "n_highway", c->n_highway, "n_characters", c->n_characters,
        "max_characters_per_token", c->max_chars, "activation",
        c->activation == ELMO_ACT_TANH ? "tanh" : "relu", "n_output_layers",
        elmo_model_n_output_layers(self->m), "output_dim", elmo_model_output_dim(self->m),
        "n_params", (long long)elmo_model_n_params(self->m), "fingerprint", fp, "precision",
        elmo_precision_name(elmo_model_precision(self->m)), "flops_per_token",
        elmo_model_flops_per_token(self->m), "threads", self->threads);
}

static PyMethodDef Model_methods[] = {
    {"embed", (PyCFunction)(void (*)(void))Model_embed, METH_VARARGS | METH_KEYWORDS,
     "embed(sentences, layers='all', batch_size=64) -> list of float32 arrays"},
    {"sentence_vectors", (PyCFunction)(void (*)(void))Model_sentence_vectors,
     METH_VARARGS | METH_KEYWORDS,
     "sentence_vectors(sentences, layers='average', batch_size=64) -> (B, D) float32"},
    {"token_vectors", (PyCFunction)Model_token_vectors, METH_O,
     "token_vectors(tokens) -> (N, P) float32 context-free token vectors"},
    {"config", (PyCFunction)Model_config, METH_NOARGS, "config() -> dict"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "elmo._elmo._Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "_Model(options, weights, threads=2, precision='fp32'): a loaded biLM",
    .tp_new = Model_new,
    .tp_init = (initproc)Model_init,
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_methods = Model_methods,
};

/* ---- module functions ---------------------------------------------------------------- */

/* batch_to_ids(sentences, max_chars=50) -> int64 (B, T, W): AllenNLP's batch_to_ids */
static PyObject *mod_batch_to_ids(PyObject *mod, PyObject *args, PyObject *kw) {
    (void)mod;
    static char *kwlist[] = {"sentences", "max_chars", NULL};
    PyObject *sentences;
    int W = 50;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i", kwlist, &sentences, &W)) return NULL;
    if (W < 3 || W > 4096) {
        PyErr_Format(PyExc_ValueError, "max_chars must be in [3, 4096], got %d", W);
        return NULL;
    }
    prepared p;
    if (prepare(sentences, W, &p)) return NULL;
    int T = 0;
    for (Py_ssize_t b = 0; b < p.B; b++) T = p.n[b] > T ? p.n[b] : T;
    npy_intp dims[3] = {p.B, T, W};
    PyObject *a = PyArray_ZEROS(3, dims, NPY_INT64, 0);
    if (a) {
        int64_t *dst = PyArray_DATA((PyArrayObject *)a);
        for (Py_ssize_t b = 0; b < p.B; b++) {
            const int16_t *src = p.ids + p.off[b] * (size_t)W;
            int64_t *row = dst + (size_t)b * T * W;
            for (size_t q = 0; q < (size_t)p.n[b] * W; q++) row[q] = src[q];
        }
    }
    prepared_free(&p);
    return a;
}

/* scalar_mix(layers (K,N,D) float32, weights (K) float32, gamma, mask (N) uint8 or None,
 * layer_norm) -> (N, D) float32 */
static PyObject *mod_scalar_mix(PyObject *mod, PyObject *args, PyObject *kw) {
    (void)mod;
    static char *kwlist[] = {"layers", "weights", "gamma", "mask", "layer_norm", NULL};
    PyObject *lo, *wo, *mo = Py_None;
    double gamma = 1.0;
    int layer_norm = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|dOp", kwlist, &lo, &wo, &gamma, &mo,
                                     &layer_norm))
        return NULL;
    PyArrayObject *L = NULL, *Wt = NULL, *M = NULL, *out = NULL;
    L = (PyArrayObject *)PyArray_FROMANY(lo, NPY_FLOAT32, 3, 3, NPY_ARRAY_IN_ARRAY);
    if (!L) goto fail;
    Wt = (PyArrayObject *)PyArray_FROMANY(wo, NPY_FLOAT32, 1, 1, NPY_ARRAY_IN_ARRAY);
    if (!Wt) goto fail;
    npy_intp K = PyArray_DIM(L, 0), N = PyArray_DIM(L, 1), D = PyArray_DIM(L, 2);
    if (PyArray_DIM(Wt, 0) != K) {
        PyErr_Format(PyExc_ValueError, "weights has %zd values for %zd layers",
                     (Py_ssize_t)PyArray_DIM(Wt, 0), (Py_ssize_t)K);
        goto fail;
    }
    if (K > INT_MAX || N > INT_MAX || D > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "layers too large");
        goto fail;
    }
    if (mo != Py_None) {
        M = (PyArrayObject *)PyArray_FROMANY(mo, NPY_UINT8, 1, 1,
                                             NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
        if (!M) goto fail;
        if (PyArray_DIM(M, 0) != N) {
            PyErr_Format(PyExc_ValueError, "mask has %zd values for %zd positions",
                         (Py_ssize_t)PyArray_DIM(M, 0), (Py_ssize_t)N);
            goto fail;
        }
    }
    npy_intp dims[2] = {N, D};
    out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out) goto fail;
    elmo_status s;
    const float *lp = PyArray_DATA(L), *wp = PyArray_DATA(Wt);
    const uint8_t *mp = M ? PyArray_DATA(M) : NULL;
    float *op = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS s =
        elmo_scalar_mix((int)K, (int)N, (int)D, lp, mp, wp, (float)gamma, layer_norm, op);
    Py_END_ALLOW_THREADS if (s) {
        raise_lib(s);
        goto fail;
    }
    Py_DECREF(L);
    Py_DECREF(Wt);
    Py_XDECREF(M);
    return (PyObject *)out;
fail:
    Py_XDECREF(L);
    Py_XDECREF(Wt);
    Py_XDECREF(M);
    Py_XDECREF(out);
    return NULL;
}

/* split(text) -> list of str: the tokens `elmo embed` sees in a line */
static PyObject *mod_split(PyObject *mod, PyObject *arg) {
    (void)mod;
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (!text) return NULL;
    size_t nt = elmo_split_whitespace(text, (size_t)len, NULL, NULL, 0);
    size_t *st = malloc(sizeof(size_t) * (nt ? nt : 1)),
           *ln = malloc(sizeof(size_t) * (nt ? nt : 1));
    PyObject *list = NULL;
    if (!st || !ln) {
        PyErr_NoMemory();
        goto out;
    }
    elmo_split_whitespace(text, (size_t)len, st, ln, nt);
    if (!(list = PyList_New((Py_ssize_t)nt))) goto out;
    for (size_t t = 0; t < nt; t++) {
        PyObject *s = PyUnicode_DecodeUTF8(text + st[t], (Py_ssize_t)ln[t], "strict");
        if (!s) {
            Py_CLEAR(list);
            goto out;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)t, s);
    }
out:
    free(st);
    free(ln);
    return list;
}

static PyObject *mod_cpu_has_native_bf16(PyObject *mod, PyObject *unused) {
    (void)mod;
    (void)unused;
    return PyBool_FromLong(elmo_cpu_has_native_bf16());
}

static PyMethodDef module_methods[] = {
    {"batch_to_ids", (PyCFunction)(void (*)(void))mod_batch_to_ids, METH_VARARGS | METH_KEYWORDS,
     "batch_to_ids(sentences, max_chars=50) -> int64 (B, T, max_chars) character ids"},
    {"scalar_mix", (PyCFunction)(void (*)(void))mod_scalar_mix, METH_VARARGS | METH_KEYWORDS,
     "scalar_mix(layers, weights, gamma=1.0, mask=None, layer_norm=False) -> (N, D) float32"},
    {"split", (PyCFunction)mod_split, METH_O,
     "split(text) -> tokens, as `elmo embed` splits a line"},
    {"cpu_has_native_bf16", (PyCFunction)mod_cpu_has_native_bf16, METH_NOARGS,
     "True when the CPU has native bf16 matrix instructions"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT,
                                        "elmo._elmo",
                                        "ELMo biLM (libelmo) for Python: the C extension.",
                                        -1,
                                        module_methods,
                                        NULL,
                                        NULL,
                                        NULL,
                                        NULL};

#ifndef ELMO_DEFAULT_MODEL_DIRS
#define ELMO_DEFAULT_MODEL_DIRS ""
#endif
#ifndef ELMO_CLI_PATHS
#define ELMO_CLI_PATHS ""
#endif

PyMODINIT_FUNC PyInit__elmo(void) {
    import_array();
    if (PyType_Ready(&ModelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    ElmoError = PyErr_NewExceptionWithDoc(
        "elmo.ElmoError", "An error reported by libelmo (its one-line message).", NULL, NULL);
    if (!ElmoError || PyModule_AddObject(m, "ElmoError", ElmoError) < 0) goto fail;
    Py_INCREF(ElmoError); /* the module's reference; ours stays */
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(m, "_Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(&ModelType);
        goto fail;
    }
    /* where the build put the default model and the CLI (os.pathsep-separated candidates) */
    if (PyModule_AddStringConstant(m, "LIB_VERSION", ELMO_VERSION) < 0 ||
        PyModule_AddStringConstant(m, "DEFAULT_MODEL_DIRS", ELMO_DEFAULT_MODEL_DIRS) < 0 ||
        PyModule_AddStringConstant(m, "CLI_PATHS", ELMO_CLI_PATHS) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
