/*
 * vocab.c: the bilm-tf vocabulary: loading, lookup, and building one from text (see vocab.h).
 */
#include "vocab.h"

#include <stdlib.h>
#include <string.h>

#include "textio.h"
#include "util.h"

#define VOCAB_MAX_LINE ((size_t)16 << 20)

/* ------------------------------------------------------------------------------------------ */
/* Vocabulary                                                                                 */

struct elmo_vocab {
    uint32_t n;
    char *arena;     /* the words, each NUL-terminated */
    size_t used, acap;
    size_t *off;     /* n + 1 offsets into the arena */
    size_t ocap;
    uint32_t *slots; /* word -> id (the last line with that word); UINT32_MAX = empty */
    size_t nslots;
    uint32_t bos, eos, unk;
};

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static size_t vocab_len(const elmo_vocab *v, uint32_t id) {
    return v->off[id + 1] - v->off[id] - 1;
}

static uint32_t vocab_lookup(const elmo_vocab *v, const char *tok, size_t len) {
    size_t mask = v->nslots - 1, j = (size_t)fnv1a(tok, len) & mask;
    for (;; j = (j + 1) & mask) {
        uint32_t id = v->slots[j];
        if (id == UINT32_MAX) return UINT32_MAX;
        if (vocab_len(v, id) == len && memcmp(v->arena + v->off[id], tok, len) == 0) return id;
    }
}

void elmo_vocab_free(elmo_vocab *v) {
    if (!v) return;
    free(v->arena);
    free(v->off);
    free(v->slots);
    free(v);
}

static elmo_status vocab_push(elmo_vocab *v, const char *w, size_t len) {
    if (v->n >= UINT32_MAX - 2) return elmo_fail(ELMO_ERR_NOMEM, "vocabulary too large");
    while (v->used + len + 1 > v->acap) {
        size_t nc = v->acap ? v->acap * 2 : 65536;
        char *na = realloc(v->arena, nc);
        if (!na) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading the vocabulary");
        v->arena = na;
        v->acap = nc;
    }
    if ((size_t)v->n + 2 > v->ocap) {
        size_t nc = v->ocap ? v->ocap * 2 : 4096;
        size_t *no = realloc(v->off, nc * sizeof *no);
        if (!no) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading the vocabulary");
        v->off = no;
        v->ocap = nc;
    }
    v->off[v->n] = v->used;
    memcpy(v->arena + v->used, w, len);
    v->arena[v->used + len] = 0;
    v->used += len + 1;
    v->n++;
    v->off[v->n] = v->used;
    return ELMO_OK;
}

elmo_status elmo_vocab_load(const char *path, elmo_vocab **out) {
    *out = NULL;
    elmo_vocab *v = calloc(1, sizeof *v);
    if (!v) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_line_reader r;
    elmo_status s = elmo_line_reader_open(&r, path, VOCAB_MAX_LINE);
    if (s) {
        free(v);
        return s;
    }
    int k;
    while ((k = elmo_line_reader_next(&r)) > 0) {
        size_t len;
        const char *w = elmo_strip(r.line, r.len, &len);
        if (len == 12 && memcmp(w, "!!!MAXTERMID", 12) == 0) continue;
        if ((s = vocab_push(v, w, len))) break;
    }
    elmo_line_reader_close(&r);
    if (k < 0) s = (elmo_status)-k;
    if (s) {
        elmo_vocab_free(v);
        return s;
    }
    v->nslots = 16;
    while (v->nslots < 2 * (size_t)v->n) v->nslots *= 2;
    v->slots = malloc(v->nslots * sizeof *v->slots);
    if (!v->slots) {
        elmo_vocab_free(v);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading the vocabulary");
    }
    memset(v->slots, 0xff, v->nslots * sizeof *v->slots);
    size_t mask = v->nslots - 1;
    for (uint32_t id = 0; id < v->n; id++) {
        const char *w = v->arena + v->off[id];
        size_t len = vocab_len(v, id), j = (size_t)fnv1a(w, len) & mask;
        for (;; j = (j + 1) & mask) {
            uint32_t o = v->slots[j];
            if (o == UINT32_MAX ||
                (vocab_len(v, o) == len && memcmp(v->arena + v->off[o], w, len) == 0)) {
                v->slots[j] = id; /* a repeated word maps to its last line */
                break;
            }
        }
    }
    v->bos = vocab_lookup(v, "<S>", 3);
    v->eos = vocab_lookup(v, "</S>", 4);
    v->unk = vocab_lookup(v, "<UNK>", 5);
    const char *missing = v->bos == UINT32_MAX ? "<S>" : v->eos == UINT32_MAX ? "</S>"
                          : v->unk == UINT32_MAX ? "<UNK>" : NULL;
    if (missing) {
        elmo_vocab_free(v);
        return elmo_fail(ELMO_ERR_FORMAT,
                         "%s: the vocabulary has no %s line (it must contain <S>, </S> and <UNK>)",
                         path, missing);
    }
    *out = v;
    return ELMO_OK;
}

uint32_t elmo_vocab_size(const elmo_vocab *v) { return v->n; }
uint32_t elmo_vocab_bos(const elmo_vocab *v) { return v->bos; }
uint32_t elmo_vocab_eos(const elmo_vocab *v) { return v->eos; }
uint32_t elmo_vocab_unk(const elmo_vocab *v) { return v->unk; }

uint32_t elmo_vocab_id(const elmo_vocab *v, const char *tok, size_t len) {
    uint32_t id = vocab_lookup(v, tok, len);
    return id == UINT32_MAX || id == v->bos || id == v->eos ? v->unk : id;
}

const char *elmo_vocab_word(const elmo_vocab *v, uint32_t id) {
    return id < v->n ? v->arena + v->off[id] : NULL;
}


uint64_t elmo_vocab_hash(const elmo_vocab *v) {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t id = 0; id < v->n; id++) {
        const char *w = v->arena + v->off[id];
        size_t len = vocab_len(v, id);
        for (size_t i = 0; i <= len; i++) h = (h ^ (unsigned char)w[i]) * 1099511628211ULL;
    }
    return h;
}

/* ---- building: count words with an open-addressing table over an arena */
typedef struct {
    uint64_t count;
    size_t off, len;
} wc_entry;

typedef struct {
    wc_entry *e;
    size_t n, cap;
    uint32_t *slots; /* entry index + 1, 0 = empty */
    size_t nslots;
    char *arena;
    size_t used, acap;
} wc_table;

static int wc_grow(wc_table *t) {
    size_t ns = t->nslots ? t->nslots * 2 : 1 << 16;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return -1;
    for (size_t k = 0; k < t->n; k++) {
        const wc_entry *x = &t->e[k];
        size_t j = fnv1a(t->arena + x->off, x->len) & (ns - 1);
        while (sl[j]) j = (j + 1) & (ns - 1);
        sl[j] = (uint32_t)k + 1;
    }
    free(t->slots);
    t->slots = sl;
    t->nslots = ns;
    return 0;
}

static elmo_status wc_add(wc_table *t, const char *w, size_t len) {
    if ((t->n + 1) * 2 > t->nslots && wc_grow(t))
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory counting words");
    size_t mask = t->nslots - 1, j = fnv1a(w, len) & mask;
    for (; t->slots[j]; j = (j + 1) & mask) {
        wc_entry *x = &t->e[t->slots[j] - 1];
        if (x->len == len && memcmp(t->arena + x->off, w, len) == 0) {
            x->count++;
            return ELMO_OK;
        }
    }
    if (t->n >= UINT32_MAX - 1) return elmo_fail(ELMO_ERR_NOMEM, "more than 2^32 distinct words");
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1 << 15;
        wc_entry *ne = realloc(t->e, nc * sizeof *ne);
        if (!ne) return elmo_fail(ELMO_ERR_NOMEM, "out of memory counting words");
        t->e = ne;
        t->cap = nc;
    }
    while (t->used + len > t->acap) {
        size_t nc = t->acap ? t->acap * 2 : 1 << 20;
        char *na = realloc(t->arena, nc);
        if (!na) return elmo_fail(ELMO_ERR_NOMEM, "out of memory counting words");
        t->arena = na;
        t->acap = nc;
    }
    memcpy(t->arena + t->used, w, len);
    t->e[t->n] = (wc_entry){1, t->used, len};
    t->used += len;
    t->slots[j] = (uint32_t)++t->n;
    return ELMO_OK;
}

static const char *g_sort_arena; /* qsort has no context argument in C11 */

static int by_count(const void *a, const void *b) {
    const wc_entry *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(g_sort_arena + x->off, g_sort_arena + y->off, n);
    return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

static int is_special(const char *w, size_t len) {
    return (len == 3 && !memcmp(w, "<S>", 3)) || (len == 4 && !memcmp(w, "</S>", 4)) ||
           (len == 5 && !memcmp(w, "<UNK>", 5)) || (len == 12 && !memcmp(w, "!!!MAXTERMID", 12));
}

elmo_status elmo_vocab_build(const char *const *files, int n_files, uint64_t min_count,
                             uint64_t max_size, const char *out_path, uint64_t *n_distinct,
                             uint64_t *n_tokens, uint64_t *n_kept, double *coverage) {
    wc_table t = {0};
    elmo_status s = ELMO_OK;
    uint64_t total = 0;
    size_t cap = 1024, *st = malloc(cap * sizeof *st), *ln = malloc(cap * sizeof *ln);
    if (!st || !ln) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (int f = 0; f < n_files && !s; f++) {
        elmo_line_reader r;
        if ((s = elmo_line_reader_open(&r, files[f], VOCAB_MAX_LINE))) break;
        int k;
        while (!s && (k = elmo_line_reader_next(&r)) > 0) {
            size_t n = elmo_split_whitespace(r.line, r.len, st, ln, cap);
            if (n > cap) {
                size_t nc = n * 2;
                size_t *a = realloc(st, nc * sizeof *st), *b = a ? realloc(ln, nc * sizeof *ln) : NULL;
                if (a) st = a;
                if (b) ln = b;
                if (!a || !b) {
                    s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
                    break;
                }
                cap = nc;
                elmo_split_whitespace(r.line, r.len, st, ln, cap);
            }
            for (size_t i = 0; i < n && !s; i++)
                if (!is_special(r.line + st[i], ln[i])) s = wc_add(&t, r.line + st[i], ln[i]);
            total += n;
        }
        if (!s && k < 0) s = (elmo_status)-k;
        elmo_line_reader_close(&r);
    }
    free(st);
    free(ln);
    if (!s) {
        g_sort_arena = t.arena;
        qsort(t.e, t.n, sizeof *t.e, by_count);
        size_t keep = 0;
        uint64_t covered = 0;
        while (keep < t.n && t.e[keep].count >= min_count && (!max_size || keep + 3 < max_size))
            covered += t.e[keep++].count;
        elmo_atomic_file af;
        if (!(s = elmo_atomic_begin(&af, out_path))) {
            FILE *f = fopen(af.tmp, "wb");
            if (!f) {
                s = elmo_fail(ELMO_ERR_IO, "%s: cannot create", out_path);
                elmo_atomic_abort(&af);
            } else {
                fputs("<S>\n</S>\n<UNK>\n", f);
                for (size_t i = 0; i < keep; i++) {
                    fwrite(t.arena + t.e[i].off, 1, t.e[i].len, f);
                    fputc('\n', f);
                }
                int bad = ferror(f);
                bad |= fclose(f) != 0;
                if (bad) {
                    s = elmo_fail(ELMO_ERR_IO, "%s: write error (disk full?)", out_path);
                    elmo_atomic_abort(&af);
                } else {
                    s = elmo_atomic_commit(&af);
                }
            }
        }
        if (n_distinct) *n_distinct = t.n;
        if (n_tokens) *n_tokens = total;
        if (n_kept) *n_kept = keep + 3;
        if (coverage) *coverage = total ? (double)covered / total : 0;
    }
    free(t.e);
    free(t.slots);
    free(t.arena);
    return s;
}
