/*
 * static_vectors.c: loading GloVe / word2vec text vectors into one arena with a hash index.
 */
#include "tasks/static_vectors.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/textio.h"
#include "io/strmap.h"
#include "io/util.h"

struct elmo_static_vectors {
    int dim;
    elmo_strmap words; /* word -> row of vec (a repeated word keeps its first vector) */
    float *vec;        /* (cap, dim) */
    size_t cap;
    uint64_t fp;
};

void elmo_static_free(elmo_static_vectors *sv) {
    if (!sv) return;
    elmo_strmap_free(&sv->words);
    free(sv->vec);
    free(sv);
}

static const float *lookup(const elmo_static_vectors *sv, const char *w, size_t len) {
    int64_t id = elmo_strmap_find(&sv->words, w, len);
    return id < 0 ? NULL : sv->vec + (size_t)id * sv->dim;
}

elmo_status elmo_static_load(const char *path, elmo_static_vectors **out) {
    *out = NULL;
    elmo_line_reader r;
    elmo_status s = elmo_line_reader_open(&r, path, (size_t)1 << 24);
    if (s) return s;
    r.raw_bytes = 1; /* published vector files hold stray bytes: words kept as bytes */
    elmo_static_vectors *sv = calloc(1, sizeof *sv);
    if (!sv) {
        elmo_line_reader_close(&r);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    size_t cap = 4096, *st = malloc(cap * sizeof *st), *ln = malloc(cap * sizeof *ln);
    int got;
    uint64_t fp = 1469598103934665603ULL;
    while (!s && !(s = elmo_line_reader_next(&r, &got)) && got) {
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
        int added;
        int64_t id = elmo_strmap_add(&sv->words, r.line + st[0], ln[0], &added);
        if (id >= 0 && added && (size_t)id >= sv->cap) {
            size_t nc = sv->cap ? sv->cap * 2 : 1 << 14;
            float *nv = realloc(sv->vec, sizeof(float) * nc * sv->dim);
            if (nv)
                sv->vec = nv, sv->cap = nc;
            else
                id = -1;
        }
        if (id < 0) {
            s = elmo_fail(ELMO_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        if (!added) continue; /* the first vector of a word wins */
        float *v = sv->vec + (size_t)id * sv->dim;
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
        fp = (fp ^ elmo_hash_bytes(r.line, r.len)) * 1099511628211ULL;
    }
    elmo_line_reader_close(&r);
    free(st);
    free(ln);
    if (!s && sv->words.n == 0) s = elmo_fail(ELMO_ERR_FORMAT, "%s: no vectors", path);
    if (s) {
        elmo_static_free(sv);
        return s;
    }
    sv->fp = fp;
    *out = sv;
    return ELMO_OK;
}

int elmo_static_dim(const elmo_static_vectors *sv) { return sv->dim; }
size_t elmo_static_size(const elmo_static_vectors *sv) { return sv->words.n; }
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
