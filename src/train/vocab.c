/*
 * vocab.c: the bilm-tf vocabulary: loading, lookup, and building one from text (see vocab.h).
 */
#include "train/vocab.h"

#include <stdlib.h>
#include <string.h>

#include "io/strmap.h"
#include "io/textio.h"
#include "io/util.h"

#define VOCAB_MAX_LINE ((size_t)16 << 20)

struct elmo_vocab {
    elmo_strmap words;  /* distinct words */
    uint32_t *line_key; /* (n) line id -> word */
    uint32_t *key_line; /* word -> the last line holding it */
    uint32_t n, cap;
    uint32_t bos, eos, unk;
};

void elmo_vocab_free(elmo_vocab *v) {
    if (!v) return;
    elmo_strmap_free(&v->words);
    free(v->line_key);
    free(v->key_line);
    free(v);
}

static elmo_status vocab_push(elmo_vocab *v, const char *w, size_t len) {
    if (v->n >= UINT32_MAX - 2) return elmo_fail(ELMO_ERR_NOMEM, "vocabulary too large");
    int64_t key = elmo_strmap_add(&v->words, w, len, NULL);
    if (key < 0 || v->n == v->cap) {
        uint32_t nc = v->cap ? v->cap * 2 : 4096;
        uint32_t *a = key < 0 ? NULL : realloc(v->line_key, sizeof(uint32_t) * nc);
        if (a) v->line_key = a;
        uint32_t *b = a ? realloc(v->key_line, sizeof(uint32_t) * nc) : NULL;
        if (b) v->key_line = b;
        if (!a || !b) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading the vocabulary");
        v->cap = nc;
    }
    v->line_key[v->n] = (uint32_t)key;
    v->key_line[key] = v->n; /* a repeated word maps to its last line */
    v->n++;
    return ELMO_OK;
}

static uint32_t vocab_lookup(const elmo_vocab *v, const char *tok, size_t len) {
    int64_t key = elmo_strmap_find(&v->words, tok, len);
    return key < 0 ? UINT32_MAX : v->key_line[key];
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
    int got;
    while (!(s = elmo_line_reader_next(&r, &got)) && got) {
        size_t len;
        const char *w = elmo_strip(r.line, r.len, &len);
        if (len == 12 && memcmp(w, "!!!MAXTERMID", 12) == 0) continue;
        if ((s = vocab_push(v, w, len))) break;
    }
    elmo_line_reader_close(&r);
    if (s) {
        elmo_vocab_free(v);
        return s;
    }
    v->bos = vocab_lookup(v, "<S>", 3);
    v->eos = vocab_lookup(v, "</S>", 4);
    v->unk = vocab_lookup(v, "<UNK>", 5);
    const char *missing = v->bos == UINT32_MAX   ? "<S>"
                          : v->eos == UINT32_MAX ? "</S>"
                          : v->unk == UINT32_MAX ? "<UNK>"
                                                 : NULL;
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
    return id < v->n ? elmo_strmap_key(&v->words, v->line_key[id]) : NULL;
}

uint64_t elmo_vocab_hash(const elmo_vocab *v) {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t id = 0; id < v->n; id++) {
        const char *w = elmo_vocab_word(v, id);
        size_t len = elmo_strmap_keylen(&v->words, v->line_key[id]);
        for (size_t i = 0; i <= len; i++) h = (h ^ (unsigned char)w[i]) * 1099511628211ULL;
    }
    return h;
}

/* ---- building: count the words, sort by count */
typedef struct {
    uint64_t count;
    uint32_t key;
} wc;

static const elmo_strmap *g_sort_words; /* qsort has no context argument in C11 */

static int by_count(const void *a, const void *b) {
    const wc *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    size_t lx = elmo_strmap_keylen(g_sort_words, x->key),
           ly = elmo_strmap_keylen(g_sort_words, y->key);
    int c = memcmp(elmo_strmap_key(g_sort_words, x->key), elmo_strmap_key(g_sort_words, y->key),
                   lx < ly ? lx : ly);
    return c ? c : (lx < ly ? -1 : lx > ly);
}

static int is_special(const char *w, size_t len) {
    return (len == 3 && !memcmp(w, "<S>", 3)) || (len == 4 && !memcmp(w, "</S>", 4)) ||
           (len == 5 && !memcmp(w, "<UNK>", 5)) || (len == 12 && !memcmp(w, "!!!MAXTERMID", 12));
}

elmo_status elmo_vocab_build(const char *const *files, int n_files, uint64_t min_count,
                             uint64_t max_size, const char *out_path, uint64_t *n_distinct,
                             uint64_t *n_tokens, uint64_t *n_kept, double *coverage) {
    elmo_strmap words;
    elmo_strmap_init(&words);
    wc *counts = NULL;
    size_t ccap = 0;
    elmo_status s = ELMO_OK;
    uint64_t total = 0;
    size_t cap = 1024, *st = malloc(cap * sizeof *st), *ln = malloc(cap * sizeof *ln);
    if (!st || !ln) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (int f = 0; f < n_files && !s; f++) {
        elmo_line_reader r;
        if ((s = elmo_line_reader_open(&r, files[f], VOCAB_MAX_LINE))) break;
        int got;
        while (!s && !(s = elmo_line_reader_next(&r, &got)) && got) {
            size_t n = elmo_split_whitespace(r.line, r.len, st, ln, cap);
            if (n > cap) {
                size_t nc = n * 2;
                size_t *a = realloc(st, nc * sizeof *st),
                       *b = a ? realloc(ln, nc * sizeof *ln) : NULL;
                if (a) st = a;
                if (b) ln = b;
                if (!a || !b) {
                    s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
                    break;
                }
                cap = nc;
                elmo_split_whitespace(r.line, r.len, st, ln, cap);
            }
            for (size_t i = 0; i < n && !s; i++) {
                if (is_special(r.line + st[i], ln[i])) continue;
                int added;
                int64_t key = elmo_strmap_add(&words, r.line + st[i], ln[i], &added);
                if (key >= 0 && (size_t)key >= ccap) {
                    size_t nc = ccap ? ccap * 2 : 1 << 15;
                    wc *nw = realloc(counts, nc * sizeof *nw);
                    if (nw)
                        counts = nw, ccap = nc;
                    else
                        key = -1;
                }
                if (key < 0) {
                    s = elmo_fail(ELMO_ERR_NOMEM,
                                  "out of memory counting words (%zu distinct so far)", words.n);
                    break;
                }
                if (added) counts[key] = (wc){0, (uint32_t)key};
                counts[key].count++;
            }
            total += n;
        }
        elmo_line_reader_close(&r);
    }
    free(st);
    free(ln);
    if (!s) {
        g_sort_words = &words;
        if (words.n) qsort(counts, words.n, sizeof *counts, by_count); /* NULL when no words */
        size_t keep = 0;
        uint64_t covered = 0;
        while (keep < words.n && counts[keep].count >= min_count &&
               (!max_size || keep + 3 < max_size))
            covered += counts[keep++].count;
        elmo_atomic_file af;
        if (!(s = elmo_atomic_begin(&af, out_path))) {
            FILE *f = fopen(af.tmp, "wb");
            if (!f) {
                s = elmo_fail(ELMO_ERR_IO, "%s: cannot create", out_path);
                elmo_atomic_abort(&af);
            } else {
                fputs("<S>\n</S>\n<UNK>\n", f);
                for (size_t i = 0; i < keep; i++) {
                    fwrite(elmo_strmap_key(&words, counts[i].key), 1,
                           elmo_strmap_keylen(&words, counts[i].key), f);
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
        if (n_distinct) *n_distinct = words.n;
        if (n_tokens) *n_tokens = total;
        if (n_kept) *n_kept = keep + 3;
        if (coverage) *coverage = total ? (double)covered / total : 0;
    }
    free(counts);
    elmo_strmap_free(&words);
    return s;
}
