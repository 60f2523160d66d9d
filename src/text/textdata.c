/*
 * textdata.c: classification (CSV / TSV / fastText) and tagged-sentence (word/TAG, CoNLL)
 * dataset readers, label sets, shuffling and splitting. See textdata.h and docs/formats.md.
 */
#include "text/textdata.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/textio.h"
#include "io/util.h"

typedef unsigned long long ull;

/* ------------------------------------------------------------------------------------------ */
/* Arena: a chain of blocks growing from 64 KiB to 8 MiB; big strings get their own block    */

struct elmo_td_block {
    elmo_td_block *next;
    size_t used, cap;
    char data[];
};

#define TD_BLOCK_MIN ((size_t)64 << 10)
#define TD_BLOCK_MAX ((size_t)8 << 20)

static char *arena_alloc(elmo_td_arena *a, size_t n) {
    elmo_td_block *b = a->head;
    if (b && b->cap - b->used >= n) {
        char *p = b->data + b->used;
        b->used += n;
        a->bytes += n;
        return p;
    }
    size_t cap = b ? b->cap * 2 : TD_BLOCK_MIN;
    if (cap > TD_BLOCK_MAX) cap = TD_BLOCK_MAX;
    int own = n > cap / 4; /* a big string: its own block, behind the current one */
    if (own) cap = n;
    elmo_td_block *nb = malloc(sizeof *nb + cap);
    if (!nb) {
        elmo_fail(ELMO_ERR_NOMEM, "out of memory allocating %zu bytes of text", cap);
        return NULL;
    }
    nb->cap = cap;
    nb->used = n;
    if (own && b) {
        nb->next = b->next;
        b->next = nb;
    } else {
        nb->next = b;
        a->head = nb;
    }
    a->bytes += n;
    return nb->data;
}

static const char *arena_strdup(elmo_td_arena *a, const char *s, size_t len) {
    char *p = arena_alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

static void arena_free(elmo_td_arena *a) {
    elmo_td_block *b = a->head;
    while (b) {
        elmo_td_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
    a->bytes = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Small shared helpers                                                                       */

elmo_status elmo_encoding_parse(const char *name, elmo_encoding *out) {
    if (!name || !out) return elmo_fail(ELMO_ERR_ARG, "encoding: NULL argument");
    if (!strcasecmp(name, "utf-8") || !strcasecmp(name, "utf8")) {
        *out = ELMO_ENC_UTF8;
    } else if (!strcasecmp(name, "latin-1") || !strcasecmp(name, "latin1") ||
               !strcasecmp(name, "iso-8859-1") || !strcasecmp(name, "iso8859-1")) {
        *out = ELMO_ENC_LATIN1;
    } else {
        return elmo_fail(ELMO_ERR_ARG, "unknown encoding '%s' (expected utf-8 or latin-1)", name);
    }
    return ELMO_OK;
}

elmo_status elmo_labeled_format_parse(const char *name, elmo_labeled_format *out) {
    if (!name || !out) return elmo_fail(ELMO_ERR_ARG, "format: NULL argument");
    if (!strcasecmp(name, "csv"))
        *out = ELMO_LABELED_CSV;
    else if (!strcasecmp(name, "tsv"))
        *out = ELMO_LABELED_TSV;
    else if (!strcasecmp(name, "fasttext"))
        *out = ELMO_LABELED_FASTTEXT;
    else
        return elmo_fail(ELMO_ERR_ARG,
                         "unknown dataset format '%s' (expected csv, tsv or fasttext)", name);
    return ELMO_OK;
}

elmo_status elmo_tag_format_parse(const char *name, elmo_tag_format *out) {
    if (!name || !out) return elmo_fail(ELMO_ERR_ARG, "format: NULL argument");
    if (!strcasecmp(name, "auto"))
        *out = ELMO_TAGFMT_AUTO;
    else if (!strcasecmp(name, "slash") || !strcasecmp(name, "wordtag"))
        *out = ELMO_TAGFMT_SLASH;
    else if (!strcasecmp(name, "conll"))
        *out = ELMO_TAGFMT_CONLL;
    else
        return elmo_fail(ELMO_ERR_ARG, "unknown tagged format '%s' (expected auto, slash or conll)",
                         name);
    return ELMO_OK;
}

void elmo_td_shuffle(void *base, size_t n, size_t size, uint64_t seed) {
    if (n < 2 || size == 0) return;
    elmo_rng r;
    elmo_rng_seed(&r, seed);
    unsigned char *b = base;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)elmo_rng_below(&r, (uint64_t)i + 1);
        if (j == i) continue;
        unsigned char *x = b + i * size, *y = b + j * size;
        for (size_t k = 0; k < size; k++) {
            unsigned char t = x[k];
            x[k] = y[k];
            y[k] = t;
        }
    }
}

size_t elmo_td_split_point(size_t n, double fraction) {
    if (!(fraction > 0)) return 0;
    if (fraction >= 1) return n;
    double k = floor(fraction * (double)n + 1e-9);
    if (k < 0) return 0;
    if (k >= (double)n) return n;
    return (size_t)k;
}

static int is_ascii_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v') return 0;
    }
    return 1;
}

/* Line breaks (LF, CR LF, lone CR) in s[0..n). */
static uint64_t count_breaks(const char *s, size_t n) {
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            k++;
        else if (s[i] == '\r' && !(i + 1 < n && s[i + 1] == '\n'))
            k++;
    }
    return k;
}

static int has_bom(const char *s, size_t len) {
    return len >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb &&
           (unsigned char)s[2] == 0xbf;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading context: encoding conversion, record fields                                       */

typedef struct {
    size_t off, len; /* in the record buffer (CSV) or the converted line */
    uint64_t line;   /* line where the field starts */
    int quoted;
} td_field;

typedef struct {
    const char *name; /* file name for messages */
    elmo_encoding enc;
    char *conv; /* latin-1 conversion output */
    size_t conv_cap;
    char *rec; /* CSV record bytes */
    size_t rec_n, rec_cap;
    td_field *fld;
    size_t nf, fcap;
    size_t *st, *ln; /* whitespace split */
    size_t tcap;
} td_ctx;

static void ctx_free(td_ctx *c) {
    free(c->conv);
    free(c->rec);
    free(c->fld);
    free(c->st);
    free(c->ln);
    memset(c, 0, sizeof *c);
}

/* Make s (raw bytes of the file) UTF-8: validate (utf-8) or convert (latin-1, into c->conv).
 * line: where s starts (the line of an error is found by counting breaks). */
static elmo_status to_utf8(td_ctx *c, const char *s, size_t len, uint64_t line, const char **out,
                           size_t *out_len) {
    if (c->enc == ELMO_ENC_UTF8) {
        size_t ok = elmo_utf8_valid_prefix(s, len);
        if (ok < len)
            return elmo_fail(ELMO_ERR_FORMAT,
                             "%s:%llu: invalid UTF-8 (byte 0x%02X); if the file is Latin-1 "
                             "encoded, use --encoding latin-1",
                             c->name, (ull)(line + count_breaks(s, ok)), (unsigned char)s[ok]);
        *out = s;
        *out_len = len;
    } else {
        size_t need = len + 1;
        for (size_t i = 0; i < len; i++) need += (unsigned char)s[i] >= 0x80;
        if (need > c->conv_cap) {
            size_t cap = c->conv_cap ? c->conv_cap : 4096;
            while (cap < need) cap *= 2;
            char *p = realloc(c->conv, cap);
            if (!p) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", c->name);
            c->conv = p;
            c->conv_cap = cap;
        }
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char b = (unsigned char)s[i];
            if (b < 0x80) {
                c->conv[k++] = (char)b;
            } else {
                c->conv[k++] = (char)(0xc0 | (b >> 6));
                c->conv[k++] = (char)(0x80 | (b & 0x3f));
            }
        }
        c->conv[k] = 0;
        *out = c->conv;
        *out_len = k;
    }
    const char *z = memchr(*out, 0, *out_len);
    if (z)
        return elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: NUL byte in the text (is the file UTF-16?)",
                         c->name, (ull)(line + count_breaks(*out, (size_t)(z - *out))));
    return ELMO_OK;
}

/* Strip s (UTF-8) and copy it into the arena; empty is an error unless allow_empty. */
static elmo_status store(td_ctx *c, elmo_td_arena *a, const char *s, size_t len, uint64_t line,
                         const char *what, int allow_empty, const char **out, size_t *out_len) {
    size_t sl;
    const char *p = elmo_strip(s, len, &sl);
    if (!sl && !allow_empty)
        return elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: %s is empty", c->name, (ull)line, what);
    const char *q = arena_strdup(a, p, sl);
    if (!q) return ELMO_ERR_NOMEM;
    *out = q;
    if (out_len) *out_len = sl;
    return ELMO_OK;
}

/* A label as store() keeps it, refused when it holds a control character (tab, line break,
 * ...): labels are printed one per line, tab-separated, by every command (predict, eval,
 * the classifier file), so one that breaks a line or a column is refused, in every format. */
static elmo_status store_label(td_ctx *c, elmo_td_arena *a, const char *s, size_t len,
                               uint64_t line, const char *what, const char **out) {
    elmo_status st = store(c, a, s, len, line, what, 0, out, NULL);
    if (st) return st;
    int cc = elmo_label_control_char(*out);
    if (cc)
        return elmo_fail(ELMO_ERR_FORMAT,
                         "%s:%llu: %s contains a control character (0x%02X: tab, line break, "
                         "...); labels must be printable",
                         c->name, (ull)line, what, cc);
    return ELMO_OK;
}

int elmo_label_control_char(const char *label) {
    for (const unsigned char *p = (const unsigned char *)label; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return *p;
    return 0;
}

static td_field *new_field(td_ctx *c) {
    if (c->nf == c->fcap) {
        size_t cap = c->fcap ? c->fcap * 2 : 16;
        td_field *p = realloc(c->fld, cap * sizeof *p);
        if (!p) return NULL;
        c->fld = p;
        c->fcap = cap;
    }
    td_field *f = &c->fld[c->nf++];
    memset(f, 0, sizeof *f);
    return f;
}

static elmo_status split_ws(td_ctx *c, const char *s, size_t len, size_t *n) {
    size_t k = elmo_split_whitespace(s, len, c->st, c->ln, c->tcap);
    if (k > c->tcap) {
        size_t cap = c->tcap ? c->tcap : 64;
        while (cap < k) cap *= 2;
        size_t *a = realloc(c->st, cap * sizeof *a);
        if (a) c->st = a;
        size_t *b = realloc(c->ln, cap * sizeof *b);
        if (b) c->ln = b;
        if (!a || !b) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", c->name);
        c->tcap = cap;
        k = elmo_split_whitespace(s, len, c->st, c->ln, c->tcap);
    }
    *n = k;
    return ELMO_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Byte source with look-ahead (CSV)                                                          */

#define BSRC_CAP ((size_t)1 << 16)

typedef struct {
    FILE *f;
    int owns, err;
    unsigned char *buf;
    size_t pos, len;
} bsrc;

static elmo_status bsrc_open(bsrc *s, const char *path) {
    memset(s, 0, sizeof *s);
    if (strcmp(path, "-") == 0) {
        s->f = stdin;
    } else {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return elmo_fail(ELMO_ERR_IO, "%s: is a directory", path);
        s->f = fopen(path, "rb");
        if (!s->f) return elmo_fail(ELMO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        s->owns = 1;
    }
    s->buf = malloc(BSRC_CAP);
    if (!s->buf) {
        if (s->owns) fclose(s->f);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    /* at least 3 bytes (or the whole input) to look for a byte-order mark */
    while (s->len < 3) {
        size_t k = fread(s->buf + s->len, 1, BSRC_CAP - s->len, s->f);
        if (k == 0) break;
        s->len += k;
    }
    if (ferror(s->f)) s->err = 1;
    if (has_bom((const char *)s->buf, s->len)) s->pos = 3;
    return ELMO_OK;
}

static int bsrc_fill(bsrc *s) {
    if (s->err || !s->f) return EOF;
    size_t k = fread(s->buf, 1, BSRC_CAP, s->f);
    if (k == 0) {
        if (ferror(s->f)) s->err = 1;
        return EOF;
    }
    s->len = k;
    s->pos = 1;
    return s->buf[0];
}

static inline int bsrc_get(bsrc *s) { return s->pos < s->len ? s->buf[s->pos++] : bsrc_fill(s); }

static inline int bsrc_peek(bsrc *s) {
    int c = bsrc_get(s);
    if (c != EOF) s->pos--;
    return c;
}

static void bsrc_close(bsrc *s) {
    if (s->owns && s->f) fclose(s->f);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------------------------------ */
/* Classification                                                                             */

void elmo_labeled_options_default(elmo_labeled_options *o) {
    memset(o, 0, sizeof *o);
    o->format = ELMO_LABELED_CSV;
    o->encoding = ELMO_ENC_UTF8;
    o->header = -1;
}

void elmo_labeled_free(elmo_labeled_dataset *d) {
    if (!d) return;
    free(d->ex);
    arena_free(&d->arena_);
    memset(d, 0, sizeof *d);
}

/* Room for one more example (not counted yet); NULL with the error set. */
static elmo_labeled_example *ex_slot(td_ctx *c, elmo_labeled_dataset *d) {
    if (d->n == d->cap_) {
        size_t cap = d->cap_ ? d->cap_ * 2 : 1024;
        elmo_labeled_example *p = realloc(d->ex, cap * sizeof *p);
        if (!p) {
            elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", c->name);
            return NULL;
        }
        d->ex = p;
        d->cap_ = cap;
    }
    return &d->ex[d->n];
}

static elmo_status add_example(td_ctx *c, elmo_labeled_dataset *d, const char *label, size_t llen,
                               uint64_t lline, const char *text, size_t tlen, uint64_t tline,
                               uint64_t rec_line, const char *lwhat, const char *twhat) {
    elmo_labeled_example *e = ex_slot(c, d);
    if (!e) return ELMO_ERR_NOMEM;
    const char *s;
    size_t n;
    elmo_status st = to_utf8(c, label, llen, lline, &s, &n);
    if (!st) st = store_label(c, &d->arena_, s, n, lline, lwhat, &e->label);
    if (!st) st = to_utf8(c, text, tlen, tline, &s, &n);
    if (!st) st = store(c, &d->arena_, s, n, tline, twhat, 0, &e->text, &e->text_len);
    if (st) return st;
    e->line = rec_line;
    d->n++;
    return ELMO_OK;
}

/* Column spec -> index. hdr: the header's names (stripped UTF-8) when has_header. */
static elmo_status resolve_column(const char *file, const char *role, const char *spec,
                                  const char *const *hdr, size_t nh, int has_header, size_t *idx,
                                  char *desc, size_t dcap) {
    size_t sl;
    const char *sp = elmo_strip(spec, strlen(spec), &sl);
    if (!sl)
        return elmo_fail(ELMO_ERR_ARG, "%s: the %s column is given as an empty string", file, role);
    if (has_header) {
        for (size_t k = 0; k < nh; k++) {
            if (strlen(hdr[k]) == sl && memcmp(hdr[k], sp, sl) == 0) {
                *idx = k;
                snprintf(desc, dcap, "%s column %zu (%.60s)", role, k, hdr[k]);
                return ELMO_OK;
            }
        }
    }
    int digits = sl <= 9;
    for (size_t i = 0; i < sl && digits; i++) digits = sp[i] >= '0' && sp[i] <= '9';
    if (digits) {
        size_t k = 0;
        for (size_t i = 0; i < sl; i++) k = k * 10 + (size_t)(sp[i] - '0');
        if (has_header && k >= nh)
            return elmo_fail(ELMO_ERR_ARG,
                             "%s: there is no %s column %zu: the header has %zu "
                             "column%s",
                             file, role, k, nh, nh == 1 ? "" : "s");
        *idx = k;
        if (has_header && hdr[k][0])
            snprintf(desc, dcap, "%s column %zu (%.60s)", role, k, hdr[k]);
        else
            snprintf(desc, dcap, "%s column %zu", role, k);
        return ELMO_OK;
    }
    if (!has_header)
        return elmo_fail(ELMO_ERR_ARG,
                         "%s: the %s column '%.*s' is a name, but the file is read "
                         "without a header (give a 0-based index, or enable the header)",
                         file, role, (int)sl, sp);
    char list[256];
    size_t w = 0;
    list[0] = 0;
    for (size_t k = 0; k < nh && w < sizeof list - 1; k++) {
        int m = snprintf(list + w, sizeof list - w, "%s'%s'", k ? ", " : "", hdr[k]);
        if (m < 0) break;
        w += (size_t)m;
    }
    return elmo_fail(ELMO_ERR_ARG, "%s: no column named '%.*s' in the header (columns: %s)", file,
                     (int)sl, sp, list);
}

/* Header fields (raw bytes) -> stripped UTF-8 names in the arena; then resolve both columns. */
typedef struct {
    const char **names;
    size_t n;
    size_t li, ti;
    char ldesc[128], tdesc[128];
} td_columns;

static elmo_status columns_setup(td_ctx *c, elmo_labeled_dataset *d, const elmo_labeled_options *o,
                                 const char *base, int has_header, td_columns *cols) {
    if (has_header) {
        cols->names = malloc((c->nf ? c->nf : 1) * sizeof *cols->names);
        if (!cols->names) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < c->nf; k++) {
            const td_field *f = &c->fld[k];
            const char *s;
            size_t n;
            elmo_status st = to_utf8(c, base + f->off, f->len, f->line, &s, &n);
            if (!st) st = store(c, &d->arena_, s, n, f->line, "header", 1, &cols->names[k], NULL);
            if (st) return st;
        }
        cols->n = c->nf;
    }
    const char *lspec = o->label_column ? o->label_column : "0";
    const char *tspec = o->text_column ? o->text_column : "1";
    elmo_status st = resolve_column(c->name, "label", lspec, cols->names, cols->n, has_header,
                                    &cols->li, cols->ldesc, sizeof cols->ldesc);
    if (!st)
        st = resolve_column(c->name, "text", tspec, cols->names, cols->n, has_header, &cols->ti,
                            cols->tdesc, sizeof cols->tdesc);
    if (st) return st;
    if (cols->li == cols->ti)
        return elmo_fail(ELMO_ERR_ARG, "%s: the label and the text are the same column (%zu)",
                         c->name, cols->li);
    return ELMO_OK;
}

static elmo_status missing_column(td_ctx *c, uint64_t line, const td_columns *cols,
                                  const char *unit) {
    const char *what = cols->li >= c->nf ? cols->ldesc : cols->tdesc;
    return elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: %s has %zu field%s, so the %s is missing", c->name,
                     (ull)line, unit, c->nf, c->nf == 1 ? "" : "s", what);
}

static elmo_status rec_grow(td_ctx *c, uint64_t rec_line) {
    if (c->rec_cap >= ELMO_TD_MAX_RECORD)
        return elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: record longer than %zu bytes (a stray quote?)",
                         c->name, (ull)rec_line, ELMO_TD_MAX_RECORD);
    size_t cap = c->rec_cap ? c->rec_cap * 2 : 4096;
    if (cap > ELMO_TD_MAX_RECORD) cap = ELMO_TD_MAX_RECORD;
    char *p = realloc(c->rec, cap);
    if (!p) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", c->name);
    c->rec = p;
    c->rec_cap = cap;
    return ELMO_OK;
}

/* Append byte ch to the record (started on line rec_line), growing it up to the limit. */
static elmo_status rec_push(td_ctx *c, uint64_t rec_line, int ch) {
    if (c->rec_n == c->rec_cap) {
        elmo_status st = rec_grow(c, rec_line);
        if (st) return st;
    }
    c->rec[c->rec_n++] = (char)ch;
    return ELMO_OK;
}

/* One CSV record into c->rec / c->fld. *line: number of the line being read (advanced over
 * every line break). *got: 1 = a record, 0 = end of input. */
static elmo_status csv_record(td_ctx *c, bsrc *s, uint64_t *line, uint64_t *rec_line_out,
                              int *got) {
    elmo_status st;
    *got = 0;
    c->rec_n = 0;
    c->nf = 0;
    int ch = bsrc_get(s);
    if (ch == EOF) {
        if (s->err) return elmo_fail(ELMO_ERR_IO, "%s: read error", c->name);
        return ELMO_OK;
    }
    uint64_t rec_line = *line;
    *rec_line_out = rec_line;
    if (!c->rec) { /* fields are offsets into rec: it exists even when they are all empty */
        if ((st = rec_grow(c, rec_line))) return st;
    }
    for (;;) { /* one field per turn; ch is its first byte */
        td_field *f = new_field(c);
        if (!f) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", c->name);
        f->off = c->rec_n;
        f->line = *line;
        if (ch == '"') {
            f->quoted = 1;
            uint64_t qline = *line;
            for (;;) {
                ch = bsrc_get(s);
                if (ch == EOF) {
                    if (s->err) return elmo_fail(ELMO_ERR_IO, "%s: read error", c->name);
                    return elmo_fail(ELMO_ERR_FORMAT,
                                     "%s:%llu: unterminated quoted field (the quote opened "
                                     "on this line is never closed)",
                                     c->name, (ull)qline);
                }
                if (ch == '"') {
                    if (bsrc_peek(s) != '"') break;
                    bsrc_get(s);
                } else if (ch == '\r') {
                    (*line)++;
                    if (bsrc_peek(s) == '\n') {
                        if ((st = rec_push(c, rec_line, '\r'))) return st;
                        ch = bsrc_get(s);
                    }
                } else if (ch == '\n') {
                    (*line)++;
                }
                if ((st = rec_push(c, rec_line, ch))) return st;
            }
            ch = bsrc_get(s);
        }
        /* unquoted bytes, or bytes after a closing quote (kept, as Python's csv does) */
        while (ch != EOF && ch != ',' && ch != '\n' && ch != '\r') {
            if ((st = rec_push(c, rec_line, ch))) return st;
            ch = bsrc_get(s);
        }
        c->fld[c->nf - 1].len = c->rec_n - c->fld[c->nf - 1].off;
        if (ch == ',') {
            ch = bsrc_get(s);
            continue;
        }
        if (ch == '\r') {
            if (bsrc_peek(s) == '\n') bsrc_get(s);
            (*line)++;
        } else if (ch == '\n') {
            (*line)++;
        } else if (s->err) {
            return elmo_fail(ELMO_ERR_IO, "%s: read error", c->name);
        }
        *got = 1;
        return ELMO_OK;
    }
}

static elmo_status read_csv(td_ctx *c, const char *path, const elmo_labeled_options *o,
                            elmo_labeled_dataset *d) {
    bsrc s;
    elmo_status st = bsrc_open(&s, path);
    if (st) return st;
    int header = o->header < 0 ? 1 : o->header;
    int have_cols = 0;
    td_columns cols;
    memset(&cols, 0, sizeof cols);
    uint64_t line = 1, rl = 0;
    for (;;) {
        int got;
        if ((st = csv_record(c, &s, &line, &rl, &got)) || !got) break;
        if (c->nf == 1 && !c->fld[0].quoted && is_ascii_blank(c->rec, c->fld[0].len)) continue;
        if (c->enc == ELMO_ENC_UTF8) { /* every field valid, used or not */
            for (size_t k = 0; k < c->nf && !st; k++) {
                const char *u;
                size_t un;
                st = to_utf8(c, c->rec + c->fld[k].off, c->fld[k].len, c->fld[k].line, &u, &un);
            }
            if (st) break;
        }
        if (!have_cols) {
            st = columns_setup(c, d, o, c->rec, header, &cols);
            if (st) break;
            have_cols = 1;
            if (header) continue;
        }
        if (header && c->nf > cols.n) {
            size_t k = cols.n;
            while (k < c->nf && is_ascii_blank(c->rec + c->fld[k].off, c->fld[k].len)) k++;
            if (k < c->nf) {
                st = elmo_fail(ELMO_ERR_FORMAT,
                               "%s:%llu: record has %zu fields but the header has %zu, and field "
                               "%zu is not empty (an unquoted comma?)",
                               c->name, (ull)rl, c->nf, cols.n, k);
                break;
            }
        }
        if (cols.li >= c->nf || cols.ti >= c->nf) {
            st = missing_column(c, rl, &cols, "record");
            break;
        }
        const td_field *lf = &c->fld[cols.li], *tf = &c->fld[cols.ti];
        st = add_example(c, d, c->rec + lf->off, lf->len, lf->line, c->rec + tf->off, tf->len,
                         tf->line, rl, "the label", "the text");
        if (st) break;
    }
    free(cols.names);
    bsrc_close(&s);
    return st;
}

/* Cut line L (n bytes, line ln) at tabs into c->fld: at most `limit` fields, the last one
 * running to the end of the line, tabs and all (SIZE_MAX: every tab separates). */
static elmo_status split_tabs(td_ctx *c, const char *L, size_t n, uint64_t ln, size_t limit) {
    c->nf = 0;
    size_t a = 0;
    for (;;) {
        const char *t = c->nf + 1 < limit ? memchr(L + a, '\t', n - a) : NULL;
        size_t e = t ? (size_t)(t - L) : n;
        td_field *f = new_field(c);
        if (!f) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        f->off = a;
        f->len = e - a;
        f->line = ln;
        if (!t) return ELMO_OK;
        a = e + 1;
    }
}

/* The columns of a TSV file from its first line: the header's names, or the options' column
 * numbers; *limit: the fields a record is cut into. */
static elmo_status tsv_columns(td_ctx *c, elmo_labeled_dataset *d, const elmo_labeled_options *o,
                               const char *L, size_t n, uint64_t ln, int header, td_columns *cols,
                               size_t *limit) {
    elmo_status st;
    if (header) {
        if ((st = split_tabs(c, L, n, ln, SIZE_MAX))) return st;
        /* the line is UTF-8 already: validate, do not convert, the names */
        elmo_encoding enc = c->enc;
        c->enc = ELMO_ENC_UTF8;
        st = columns_setup(c, d, o, L, 1, cols);
        c->enc = enc;
    } else {
        c->nf = 0;
        st = columns_setup(c, d, o, L, 0, cols);
    }
    if (st) return st;
    *limit = header ? cols->n : (cols->li > cols->ti ? cols->li : cols->ti) + 1;
    return ELMO_OK;
}

/* One example, label and text already UTF-8: store without converting again. */
static elmo_status add_utf8_example(td_ctx *c, elmo_labeled_dataset *d, const char *label,
                                    size_t llen, const char *ldesc, const char *text, size_t tlen,
                                    const char *tdesc, uint64_t ln) {
    elmo_labeled_example *e = ex_slot(c, d);
    if (!e) return ELMO_ERR_NOMEM;
    elmo_status st = store_label(c, &d->arena_, label, llen, ln, ldesc, &e->label);
    if (!st) st = store(c, &d->arena_, text, tlen, ln, tdesc, 0, &e->text, &e->text_len);
    if (st) return st;
    e->line = ln;
    d->n++;
    return ELMO_OK;
}

/* One TSV record: its label and text columns. */
static elmo_status tsv_example(td_ctx *c, elmo_labeled_dataset *d, const char *L, size_t n,
                               uint64_t ln, const td_columns *cols, size_t limit) {
    elmo_status st = split_tabs(c, L, n, ln, limit);
    if (st) return st;
    if (cols->li >= c->nf || cols->ti >= c->nf) return missing_column(c, ln, cols, "line");
    const td_field *lf = &c->fld[cols->li], *tf = &c->fld[cols->ti];
    return add_utf8_example(c, d, L + lf->off, lf->len, cols->ldesc, L + tf->off, tf->len,
                            cols->tdesc, ln);
}

static int is_ft_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f'; }

/* One fastText line: __label__A [__label__B ...] text; the first label is the example's,
 * further leading labels are skipped. */
static elmo_status fasttext_example(td_ctx *c, elmo_labeled_dataset *d, const char *L, size_t n,
                                    uint64_t ln) {
    static const char P[] = "__label__";
    const size_t PL = sizeof P - 1;
    size_t i = 0;
    while (i < n && is_ft_blank(L[i])) i++;
    if (n - i < PL || memcmp(L + i, P, PL) != 0)
        return elmo_fail(
            ELMO_ERR_FORMAT,
            "%s:%llu: expected a line starting with __label__<label> (fastText format)", c->name,
            (ull)ln);
    size_t lab = i + PL, labend = lab;
    while (labend < n && !is_ft_blank(L[labend])) labend++;
    i = labend;
    for (;;) {
        while (i < n && is_ft_blank(L[i])) i++;
        if (n - i < PL || memcmp(L + i, P, PL) != 0) break;
        while (i < n && !is_ft_blank(L[i])) i++;
    }
    return add_utf8_example(c, d, L + lab, labend - lab, "the label", L + i, n - i, "the text", ln);
}

/* TSV and fastText: line by line. */
static elmo_status read_lines_labeled(td_ctx *c, const char *path, const elmo_labeled_options *o,
                                      elmo_labeled_dataset *d) {
    elmo_line_reader r;
    elmo_status st = elmo_line_reader_open(&r, path, ELMO_TD_MAX_RECORD);
    if (st) return st;
    r.raw_bytes = 1; /* decoded by to_utf8 (--encoding) */
    int tsv = o->format == ELMO_LABELED_TSV;
    int header = tsv && o->header > 0;
    int have_cols = 0;
    size_t limit = 0;
    td_columns cols;
    memset(&cols, 0, sizeof cols);
    for (;;) {
        int got;
        if ((st = elmo_line_reader_next(&r, &got)) || !got) break;
        const char *raw = r.line;
        size_t rlen = r.len;
        if (r.lineno == 1 && has_bom(raw, rlen)) raw += 3, rlen -= 3;
        if (is_ascii_blank(raw, rlen)) continue;
        const char *L;
        size_t n;
        uint64_t ln = r.lineno;
        if ((st = to_utf8(c, raw, rlen, ln, &L, &n))) break;
        if (tsv && !have_cols) {
            if ((st = tsv_columns(c, d, o, L, n, ln, header, &cols, &limit))) break;
            have_cols = 1;
            if (header) continue;
        }
        st = tsv ? tsv_example(c, d, L, n, ln, &cols, limit) : fasttext_example(c, d, L, n, ln);
        if (st) break;
    }
    free(cols.names);
    elmo_line_reader_close(&r);
    return st;
}

elmo_status elmo_labeled_read(const char *path, const elmo_labeled_options *opt,
                              elmo_labeled_dataset *out) {
    if (!out) return elmo_fail(ELMO_ERR_ARG, "elmo_labeled_read: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return elmo_fail(ELMO_ERR_ARG, "elmo_labeled_read: NULL path");
    elmo_labeled_options o;
    if (opt)
        o = *opt;
    else
        elmo_labeled_options_default(&o);
    if ((int)o.format < ELMO_LABELED_CSV || (int)o.format > ELMO_LABELED_FASTTEXT)
        return elmo_fail(ELMO_ERR_ARG, "%s: invalid dataset format %d", path, (int)o.format);
    if ((int)o.encoding != ELMO_ENC_UTF8 && (int)o.encoding != ELMO_ENC_LATIN1)
        return elmo_fail(ELMO_ERR_ARG, "%s: invalid encoding %d", path, (int)o.encoding);
    if (o.header < -1 || o.header > 1)
        return elmo_fail(ELMO_ERR_ARG, "%s: header must be -1, 0 or 1", path);
    td_ctx c;
    memset(&c, 0, sizeof c);
    c.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    c.enc = o.encoding;
    elmo_status st = o.format == ELMO_LABELED_CSV ? read_csv(&c, path, &o, out)
                                                  : read_lines_labeled(&c, path, &o, out);
    if (!st && out->n == 0)
        st = elmo_fail(ELMO_ERR_FORMAT, "%s: no examples (empty file?)", c.name);
    ctx_free(&c);
    if (st) elmo_labeled_free(out);
    return st;
}

void elmo_labeled_shuffle(elmo_labeled_dataset *d, uint64_t seed) {
    if (d && d->n) elmo_td_shuffle(d->ex, d->n, sizeof *d->ex, seed);
}

elmo_status elmo_labeled_split(const elmo_labeled_dataset *d, double fraction,
                               elmo_labeled_slice *first, elmo_labeled_slice *rest) {
    if (!d || !first || !rest) return elmo_fail(ELMO_ERR_ARG, "elmo_labeled_split: NULL argument");
    if (!(fraction >= 0 && fraction <= 1))
        return elmo_fail(ELMO_ERR_ARG, "split fraction %g is not in [0, 1]", fraction);
    size_t k = elmo_td_split_point(d->n, fraction);
    first->ex = d->ex;
    first->n = k;
    rest->ex = d->ex ? d->ex + k : NULL;
    rest->n = d->n - k;
    return ELMO_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Label sets                                                                                 */

void elmo_labelset_init(elmo_labelset *ls) {
    memset(ls, 0, sizeof *ls);
    elmo_strmap_init(&ls->names_);
}

void elmo_labelset_free(elmo_labelset *ls) {
    if (!ls) return;
    elmo_strmap_free(&ls->names_);
    memset(ls, 0, sizeof *ls);
}

int elmo_labelset_id(const elmo_labelset *ls, const char *name) {
    if (!ls || !name) return -1;
    return (int)elmo_strmap_find(&ls->names_, name, strlen(name));
}

const char *elmo_labelset_name(const elmo_labelset *ls, int id) {
    if (!ls || id < 0 || id >= ls->n) return NULL;
    return elmo_strmap_key(&ls->names_, (size_t)id);
}

elmo_status elmo_labelset_add(elmo_labelset *ls, const char *name, int *id) {
    if (!ls || !name) return elmo_fail(ELMO_ERR_ARG, "elmo_labelset_add: NULL argument");
    if (ls->n >= INT32_MAX - 1 && elmo_labelset_id(ls, name) < 0)
        return elmo_fail(ELMO_ERR_NOMEM, "too many labels");
    int64_t k = elmo_strmap_add(&ls->names_, name, strlen(name), NULL);
    if (k < 0) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    ls->n = (int)ls->names_.n;
    if (id) *id = (int)k;
    return ELMO_OK;
}

/* An integer label: optional sign, 1-18 decimal digits. */
static int label_int(const char *s, long long *v) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    size_t n = strlen(p);
    if (n == 0 || n > 18) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    *v = strtoll(s, NULL, 10);
    return 1;
}

static int label_cmp(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    long long u, v;
    int xi = label_int(x, &u), yi = label_int(y, &v);
    if (xi != yi) return xi ? -1 : 1;
    if (xi && u != v) return u < v ? -1 : 1;
    return strcmp(x, y);
}

elmo_status elmo_labelset_sort(elmo_labelset *ls) {
    if (!ls) return elmo_fail(ELMO_ERR_ARG, "elmo_labelset_sort: NULL argument");
    if (ls->n < 2) return ELMO_OK;
    const char **names = malloc((size_t)ls->n * sizeof *names);
    if (!names) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (int i = 0; i < ls->n; i++) names[i] = elmo_strmap_key(&ls->names_, (size_t)i);
    qsort(names, (size_t)ls->n, sizeof *names, label_cmp);
    elmo_strmap sorted;
    elmo_strmap_init(&sorted);
    int ok = 1;
    for (int i = 0; ok && i < ls->n; i++)
        ok = elmo_strmap_add(&sorted, names[i], strlen(names[i]), NULL) == i;
    free(names);
    if (!ok) {
        elmo_strmap_free(&sorted);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    elmo_strmap_free(&ls->names_);
    ls->names_ = sorted;
    return ELMO_OK;
}

elmo_status elmo_labelset_from_labeled(elmo_labelset *ls, const elmo_labeled_example *ex, size_t n,
                                       elmo_label_order order) {
    if (!ls) return elmo_fail(ELMO_ERR_ARG, "elmo_labelset_from_labeled: NULL argument");
    elmo_labelset_init(ls);
    elmo_status st = ELMO_OK;
    for (size_t i = 0; i < n && !st; i++) st = elmo_labelset_add(ls, ex[i].label, NULL);
    if (!st && order == ELMO_LABELS_SORTED) st = elmo_labelset_sort(ls);
    if (st) elmo_labelset_free(ls);
    return st;
}

elmo_status elmo_labelset_from_tags(elmo_labelset *ls, const elmo_tagged_dataset *d,
                                    elmo_label_order order) {
    if (!ls || !d) return elmo_fail(ELMO_ERR_ARG, "elmo_labelset_from_tags: NULL argument");
    elmo_labelset_init(ls);
    if (!d->tags) return elmo_fail(ELMO_ERR_ARG, "the sentences have no tags");
    elmo_status st = ELMO_OK;
    for (size_t i = 0; i < d->n_tokens && !st; i++) st = elmo_labelset_add(ls, d->tags[i], NULL);
    if (!st && order == ELMO_LABELS_SORTED) st = elmo_labelset_sort(ls);
    if (st) elmo_labelset_free(ls);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Tagged and untagged sentences                                                              */

void elmo_tagged_free(elmo_tagged_dataset *d) {
    if (!d) return;
    free(d->sent);
    free(d->words);
    free(d->tags);
    arena_free(&d->arena_);
    memset(d, 0, sizeof *d);
}

static elmo_status tok_push(td_ctx *c, elmo_tagged_dataset *d, int tagged, const char *w, size_t wl,
                            const char *t, size_t tl, uint64_t ln) {
    if (d->n_tokens == d->cap_tok_) {
        size_t cap = d->cap_tok_ * 2;
        const char **a = realloc(d->words, cap * sizeof *a);
        if (a) d->words = a;
        const char **b = tagged ? realloc(d->tags, cap * sizeof *b) : NULL;
        if (b) d->tags = b;
        if (!a || (tagged && !b))
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", c->name);
        d->cap_tok_ = cap;
    }
    const char *ws = arena_strdup(&d->arena_, w, wl);
    if (!ws) return ELMO_ERR_NOMEM;
    d->words[d->n_tokens] = ws;
    if (tagged) {
        const char *ts = arena_strdup(&d->arena_, t, tl);
        if (!ts) return ELMO_ERR_NOMEM;
        int cc = elmo_label_control_char(ts);
        if (cc) /* printed word/TAG by tag predict: refused like a label */
            return elmo_fail(ELMO_ERR_FORMAT,
                             "%s:%llu: the tag '%s' contains a control character (0x%02X)", c->name,
                             (ull)ln, ts, cc);
        d->tags[d->n_tokens] = ts;
    }
    d->n_tokens++;
    return ELMO_OK;
}

/* Close the sentence of the tokens from `first` on (nothing when empty, unless keep_empty). */
static elmo_status sent_push(td_ctx *c, elmo_tagged_dataset *d, size_t first, uint64_t line,
                             int keep_empty) {
    if (d->n_tokens == first && !keep_empty) return ELMO_OK;
    if (d->n_tokens - first > ELMO_TD_MAX_TOKENS) /* the biLM's memory grows with it */
        return elmo_fail(ELMO_ERR_FORMAT,
                         "%s:%llu: a sentence of %zu tokens, more than %d (the memory it needs "
                         "grows with its length): split it",
                         c->name, (ull)line, d->n_tokens - first, ELMO_TD_MAX_TOKENS);
    if (d->n == d->cap_sent_) {
        size_t cap = d->cap_sent_ ? d->cap_sent_ * 2 : 256;
        elmo_sentence *p = realloc(d->sent, cap * sizeof *p);
        if (!p) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", c->name);
        d->sent = p;
        d->cap_sent_ = cap;
    }
    elmo_sentence *s = &d->sent[d->n++];
    memset(s, 0, sizeof *s);
    s->first = first;
    s->n = d->n_tokens - first;
    s->line = line;
    return ELMO_OK;
}

static elmo_status tagged_begin(td_ctx *c, elmo_tagged_dataset *d, int tagged) {
    d->cap_tok_ = 1024;
    d->words = malloc(d->cap_tok_ * sizeof *d->words);
    if (tagged) d->tags = malloc(d->cap_tok_ * sizeof *d->tags);
    if (!d->words || (tagged && !d->tags))
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", c->name);
    return ELMO_OK;
}

static void tagged_finish(elmo_tagged_dataset *d) {
    for (size_t i = 0; i < d->n; i++) {
        d->sent[i].words = d->words + d->sent[i].first;
        d->sent[i].tags = d->tags ? d->tags + d->sent[i].first : NULL;
    }
}

static size_t short_len(size_t n) { return n > 40 ? 40 : n; }

/* word/TAG tokens of one (UTF-8) line. */
static elmo_status slash_line(td_ctx *c, elmo_tagged_dataset *d, const char *L, size_t n,
                              uint64_t ln, int detected) {
    size_t k;
    elmo_status st = split_ws(c, L, n, &k);
    if (st) return st;
    size_t first = d->n_tokens;
    for (size_t i = 0; i < k; i++) {
        const char *t = L + c->st[i];
        size_t tl = c->ln[i], slash = tl;
        while (slash > 0 && t[slash - 1] != '/') slash--;
        if (slash == 0)
            return elmo_fail(ELMO_ERR_FORMAT,
                             "%s:%llu: token %zu ('%.*s') has no /TAG (expected word/TAG "
                             "tokens%s)",
                             c->name, (ull)ln, i + 1, (int)short_len(tl), t,
                             detected ? "; for CoNLL columns separated by spaces, use the conll "
                                        "format"
                                      : "");
        slash--; /* index of the last '/' */
        if (slash == 0 || slash + 1 == tl)
            return elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: token %zu ('%.*s') has an empty %s",
                             c->name, (ull)ln, i + 1, (int)short_len(tl), t,
                             slash == 0 ? "word" : "tag");
        st = tok_push(c, d, 1, t, slash, t + slash + 1, tl - slash - 1, ln);
        if (st) return st;
    }
    return sent_push(c, d, first, ln, 0);
}

/* One CoNLL token line: first column = token, last column = tag. Columns are separated by
 * TABs when the line has one, else by whitespace. *skip = a -DOCSTART- line. */
static elmo_status conll_line(td_ctx *c, elmo_tagged_dataset *d, const char *L, size_t n,
                              uint64_t ln, int *docstart) {
    *docstart = 0;
    const char *w, *t;
    size_t wl, tl, ncol;
    const char *tab = memchr(L, '\t', n);
    if (tab) {
        const char *last = tab;
        ncol = 2;
        for (const char *p = tab + 1; (p = memchr(p, '\t', (size_t)(L + n - p))) != NULL; p++) {
            last = p;
            ncol++;
        }
        w = elmo_strip(L, (size_t)(tab - L), &wl);
        t = elmo_strip(last + 1, (size_t)(L + n - last - 1), &tl);
    } else {
        elmo_status st = split_ws(c, L, n, &ncol);
        if (st) return st;
        if (ncol < 2)
            return elmo_fail(ELMO_ERR_FORMAT,
                             "%s:%llu: expected a token and a tag separated by a TAB, found one "
                             "column ('%.*s')",
                             c->name, (ull)ln, (int)short_len(n), L);
        w = L + c->st[0];
        wl = c->ln[0];
        t = L + c->st[ncol - 1];
        tl = c->ln[ncol - 1];
    }
    *docstart = wl == 10 && memcmp(w, "-DOCSTART-", 10) == 0;
    if (*docstart) return ELMO_OK;
    if (!wl || !tl)
        return elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: empty %s in a CoNLL line of %zu columns",
                         c->name, (ull)ln, !wl ? "token" : "tag", ncol);
    return tok_push(c, d, 1, w, wl, t, tl, ln);
}

static elmo_status read_sentences(td_ctx *c, const char *path, elmo_tag_format fmt, int tagged,
                                  elmo_tagged_dataset *d) {
    elmo_line_reader r;
    elmo_status st = elmo_line_reader_open(&r, path, ELMO_TD_MAX_RECORD);
    if (st) return st;
    r.raw_bytes = 1; /* decoded by to_utf8 (--encoding) */
    st = tagged_begin(c, d, tagged);
    int detected = 0;
    size_t first = 0;   /* CoNLL: first token of the current sentence */
    uint64_t sline = 0; /* CoNLL: its line */
    while (!st) {
        int got;
        if ((st = elmo_line_reader_next(&r, &got)) || !got) break;
        const char *raw = r.line;
        size_t rlen = r.len;
        if (r.lineno == 1 && has_bom(raw, rlen)) raw += 3, rlen -= 3;
        const char *L;
        size_t n;
        uint64_t ln = r.lineno;
        st = to_utf8(c, raw, rlen, ln, &L, &n);
        if (st) break;
        if (!tagged) {
            size_t nt;
            st = split_ws(c, L, n, &nt);
            size_t f0 = d->n_tokens;
            for (size_t i = 0; i < nt && !st; i++)
                st = tok_push(c, d, 0, L + c->st[i], c->ln[i], NULL, 0, ln);
            if (!st) st = sent_push(c, d, f0, ln, 1);
            continue;
        }
        size_t sl;
        elmo_strip(L, n, &sl);
        if (fmt == ELMO_TAGFMT_AUTO && sl) {
            fmt = memchr(L, '\t', n) ? ELMO_TAGFMT_CONLL : ELMO_TAGFMT_SLASH;
            detected = 1;
        }
        if (fmt == ELMO_TAGFMT_CONLL) {
            if (!sl) { /* a blank line ends the sentence */
                st = sent_push(c, d, first, sline, 0);
                first = d->n_tokens;
                continue;
            }
            if (d->n_tokens == first) sline = ln;
            int docstart = 0;
            st = conll_line(c, d, L, n, ln, &docstart);
            if (!st && docstart) {
                st = sent_push(c, d, first, sline, 0);
                first = d->n_tokens;
            }
        } else if (sl) {
            st = slash_line(c, d, L, n, ln, detected);
        }
    }
    if (!st && fmt == ELMO_TAGFMT_CONLL) st = sent_push(c, d, first, sline, 0);
    if (!st) tagged_finish(d);
    elmo_line_reader_close(&r);
    return st;
}

elmo_status elmo_tagged_read(const char *path, const elmo_tagged_options *opt,
                             elmo_tagged_dataset *out) {
    if (!out) return elmo_fail(ELMO_ERR_ARG, "elmo_tagged_read: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return elmo_fail(ELMO_ERR_ARG, "elmo_tagged_read: NULL path");
    elmo_tagged_options o = {ELMO_TAGFMT_AUTO, ELMO_ENC_UTF8};
    if (opt) o = *opt;
    if ((int)o.format < ELMO_TAGFMT_AUTO || (int)o.format > ELMO_TAGFMT_CONLL)
        return elmo_fail(ELMO_ERR_ARG, "%s: invalid tagged format %d", path, (int)o.format);
    if ((int)o.encoding != ELMO_ENC_UTF8 && (int)o.encoding != ELMO_ENC_LATIN1)
        return elmo_fail(ELMO_ERR_ARG, "%s: invalid encoding %d", path, (int)o.encoding);
    td_ctx c;
    memset(&c, 0, sizeof c);
    c.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    c.enc = o.encoding;
    elmo_status st = read_sentences(&c, path, o.format, 1, out);
    if (!st && out->n == 0)
        st = elmo_fail(ELMO_ERR_FORMAT, "%s: no tagged sentences (empty file?)", c.name);
    ctx_free(&c);
    if (st) elmo_tagged_free(out);
    return st;
}

elmo_status elmo_untagged_read(const char *path, elmo_encoding enc, elmo_tagged_dataset *out) {
    if (!out) return elmo_fail(ELMO_ERR_ARG, "elmo_untagged_read: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return elmo_fail(ELMO_ERR_ARG, "elmo_untagged_read: NULL path");
    if ((int)enc != ELMO_ENC_UTF8 && (int)enc != ELMO_ENC_LATIN1)
        return elmo_fail(ELMO_ERR_ARG, "%s: invalid encoding %d", path, (int)enc);
    td_ctx c;
    memset(&c, 0, sizeof c);
    c.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    c.enc = enc;
    elmo_status st = read_sentences(&c, path, ELMO_TAGFMT_SLASH, 0, out);
    ctx_free(&c);
    if (st) elmo_tagged_free(out);
    return st;
}

void elmo_tagged_shuffle(elmo_tagged_dataset *d, uint64_t seed) {
    if (d && d->n) elmo_td_shuffle(d->sent, d->n, sizeof *d->sent, seed);
}

elmo_status elmo_tagged_split(const elmo_tagged_dataset *d, double fraction,
                              elmo_sentence_slice *first, elmo_sentence_slice *rest) {
    if (!d || !first || !rest) return elmo_fail(ELMO_ERR_ARG, "elmo_tagged_split: NULL argument");
    if (!(fraction >= 0 && fraction <= 1))
        return elmo_fail(ELMO_ERR_ARG, "split fraction %g is not in [0, 1]", fraction);
    size_t k = elmo_td_split_point(d->n, fraction);
    first->sent = d->sent;
    first->n = k;
    rest->sent = d->sent ? d->sent + k : NULL;
    rest->n = d->n - k;
    return ELMO_OK;
}
