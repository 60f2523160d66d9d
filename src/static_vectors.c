/*
 * static_vectors.c: loading GloVe / word2vec text vectors into one arena with a hash index.
 */
#include "static_vectors.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "textio.h"
#include "util.h"

struct elmo_static_vectors {
    int dim;
    size_t n, cap;
    float *vec;      /* (cap, dim) */
    size_t *woff;    /* (cap) word offsets into words */
    char *words;
    size_t wused, wcap;
    uint32_t *slots; /* id + 1 */
    size_t nslots;
    uint64_t fp;
};

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

void elmo_static_free(elmo_static_vectors *sv) {
    if (!sv) return;
    free(sv->vec);
    free(sv->woff);
    free(sv->words);
    free(sv->slots);
    free(sv);
}

static const float *lookup(const elmo_static_vectors *sv, const char *w, size_t len) {
    size_t mask = sv->nslots - 1;
    for (size_t j = fnv(w, len) & mask; sv->slots[j]; j = (j + 1) & mask) {
        size_t id = sv->slots[j] - 1;
        const char *x = sv->words + sv->woff[id];
        if (strlen(x) == len && memcmp(x, w, len) == 0) return sv->vec + id * sv->dim;
    }
    return NULL;
}

elmo_status elmo_static_load(const char *path, elmo_static_vectors **out) {
    *out = NULL;
    elmo_line_reader r;
    elmo_status s = elmo_line_reader_open(&r, path, (size_t)1 << 24);
    if (s) return s;
    elmo_static_vectors *sv = calloc(1, sizeof *sv);
    if (!sv) {
        elmo_line_reader_close(&r);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    size_t cap = 4096, *st = malloc(cap * sizeof *st), *ln = malloc(cap * sizeof *ln);
    int k;
    uint64_t fp = 1469598103934665603ULL;
    while (!s && (k = elmo_line_reader_next(&r)) > 0) {
        size_t n = elmo_split_whitespace(r.line, r.len, st, ln, cap);
        if (n == 0) continue;
        if (n > cap) {
            s = elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: more than %zu values on a line", path,
                          (unsigned long long)r.lineno, cap - 1);
            break;
        }
        if (r.lineno == 1 && n == 2) { /* word2vec header "count dim" */
            char *e1, *e2;
            strtol(r.line + st[0], &e1, 10);
            strtol(r.line + st[1], &e2, 10);
            if (e1 == r.line + st[0] + ln[0] && e2 == r.line + st[1] + ln[1]) continue;
        }
        if (n < 2) {
            s = elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: expected a word and its vector", path,
                          (unsigned long long)r.lineno);
            break;
        }
        int d = (int)n - 1;
        if (!sv->dim) sv->dim = d;
        if (d != sv->dim) {
            s = elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: %d values, the first vector had %d", path,
                          (unsigned long long)r.lineno, d, sv->dim);
            break;
        }
        if (sv->n == sv->cap) {
            size_t nc = sv->cap ? sv->cap * 2 : 1 << 14;
            float *nv = realloc(sv->vec, sizeof(float) * nc * sv->dim);
            size_t *nw = nv ? realloc(sv->woff, sizeof(size_t) * nc) : NULL;
            if (nv) sv->vec = nv;
            if (nw) sv->woff = nw;
            if (!nv || !nw) {
                s = elmo_fail(ELMO_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            sv->cap = nc;
        }
        float *v = sv->vec + sv->n * sv->dim;
        for (int i = 0; i < d; i++) {
            char *end;
            errno = 0;
            v[i] = strtof(r.line + st[i + 1], &end);
            if (end != r.line + st[i + 1] + ln[i + 1] || errno == ERANGE || !isfinite(v[i])) {
                s = elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: value %d is not a number", path,
                              (unsigned long long)r.lineno, i + 1);
                break;
            }
        }
        if (s) break;
        while (sv->wused + ln[0] + 1 > sv->wcap) {
            size_t nc = sv->wcap ? sv->wcap * 2 : 1 << 20;
            char *nw = realloc(sv->words, nc);
            if (!nw) {
                s = elmo_fail(ELMO_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            sv->words = nw;
            sv->wcap = nc;
        }
        if (s) break;
        sv->woff[sv->n] = sv->wused;
        memcpy(sv->words + sv->wused, r.line + st[0], ln[0]);
        sv->words[sv->wused + ln[0]] = 0;
        sv->wused += ln[0] + 1;
        fp = (fp ^ fnv(r.line, r.len)) * 1099511628211ULL;
        sv->n++;
    }
    if (!s && k < 0) s = (elmo_status)-k;
    elmo_line_reader_close(&r);
    free(st);
    free(ln);
    if (!s && sv->n == 0) s = elmo_fail(ELMO_ERR_FORMAT, "%s: no vectors", path);
    if (!s) {
        sv->nslots = 16;
        while (sv->nslots < 2 * sv->n) sv->nslots *= 2;
        sv->slots = calloc(sv->nslots, sizeof *sv->slots);
        if (!sv->slots) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        for (size_t id = 0; !s && id < sv->n; id++) {
            const char *w = sv->words + sv->woff[id];
            size_t len = strlen(w), mask = sv->nslots - 1, j = fnv(w, len) & mask;
            while (sv->slots[j]) j = (j + 1) & mask;
            sv->slots[j] = (uint32_t)id + 1; /* a repeated word: the first one is found */
        }
    }
    if (s) {
        elmo_static_free(sv);
        return s;
    }
    sv->fp = fp;
    *out = sv;
    return ELMO_OK;
}

int elmo_static_dim(const elmo_static_vectors *sv) { return sv->dim; }
size_t elmo_static_size(const elmo_static_vectors *sv) { return sv->n; }
uint64_t elmo_static_fingerprint(const elmo_static_vectors *sv) { return sv->fp; }

const float *elmo_static_get(const elmo_static_vectors *sv, const char *w, size_t len) {
    const float *v = lookup(sv, w, len);
    if (v || len > 256) return v;
    char low[257];
    int changed = 0;
    for (size_t i = 0; i < len; i++) {
        low[i] = (char)tolower((unsigned char)w[i]);
        changed |= low[i] != w[i];
    }
    return changed ? lookup(sv, low, len) : NULL;
}

int elmo_static_mean(const elmo_static_vectors *sv, size_t n, const char *const *tok,
                     const size_t *len, float *out) {
    memset(out, 0, sizeof(float) * sv->dim);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const float *v = elmo_static_get(sv, tok[i], len ? len[i] : strlen(tok[i]));
        if (!v) continue;
        for (int d = 0; d < sv->dim; d++) out[d] += v[d];
        found++;
    }
    if (found)
        for (int d = 0; d < sv->dim; d++) out[d] /= (float)found;
    return found;
}
