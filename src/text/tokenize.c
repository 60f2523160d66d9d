/*
 * tokenize.c: the simple PTB-like tokenizer and the rule-based sentence splitter (rules in
 * tokenize.h and docs/data.md). Everything works on byte offsets into the input and only cuts
 * at UTF-8 character boundaries; invalid bytes count as word characters.
 */
#include "text/tokenize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/textio.h"

/* A byte that starts no valid sequence: U+FFFD, one byte consumed. */
static size_t invalid_utf8(unsigned *cp) {
    *cp = 0xfffd;
    return 1;
}

size_t elmo_utf8_decode(const unsigned char *p, size_t avail, unsigned *cp) {
    unsigned c = p[0], v;
    size_t n;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        n = 1, v = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 2, v = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 3, v = c & 0x07;
    else
        return invalid_utf8(cp);
    if (n >= avail) return invalid_utf8(cp);
    for (size_t k = 1; k <= n; k++) {
        if ((p[k] & 0xc0) != 0x80) return invalid_utf8(cp);
        v = (v << 6) | (p[k] & 0x3f);
    }
    if ((n == 2 && v < 0x800) || (n == 3 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return invalid_utf8(cp);
    *cp = v;
    return n + 1;
}

/* Start of the character that ends at pos (lo <= start < pos); *cp its code point. */
static size_t prev_char(const unsigned char *s, size_t lo, size_t pos, unsigned *cp) {
    size_t st = pos - 1;
    int k = 0;
    while (st > lo && k < 3 && (s[st] & 0xc0) == 0x80) st--, k++;
    if (elmo_utf8_decode(s + st, pos - st, cp) == pos - st) return st;
    *cp = 0xfffd;
    return pos - 1;
}

/* Punctuation split off the edges of a word. */
static int is_edge_punct(unsigned c) {
    switch (c) {
        case '!':
        case '"':
        case '\'':
        case '(':
        case ')':
        case ',':
        case '.':
        case ':':
        case ';':
        case '?':
        case '[':
        case ']':
        case '{':
        case '}':
        case '`': return 1;
        default:
            return (c >= 0x2018 && c <= 0x201f) || c == 0xab || c == 0xbb || c == 0x2039 ||
                   c == 0x203a || c == 0xa1 || c == 0xbf;
    }
}

/* Split off everywhere, even inside a word: en/em/horizontal-bar dash, ellipsis. */
static int is_always_split(unsigned c) {
    return c == 0x2013 || c == 0x2014 || c == 0x2015 || c == 0x2026;
}

static int is_apostrophe(unsigned c) { return c == '\'' || c == 0x2019; }

/* Quotes and brackets that may open a sentence or close one. */
static int is_opener(unsigned c) {
    return c == '"' || c == '\'' || c == '(' || c == '[' || c == '{' || c == '`' || c == 0x201c ||
           c == 0x2018 || c == 0xab || c == 0x2039 || c == 0x201e || c == 0x201a;
}
static int is_closer(unsigned c) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' || c == 0x201d ||
           c == 0x2019 || c == 0xbb || c == 0x203a;
}

static int is_upper(unsigned c) {
    return (c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7) ||
           (c >= 0x391 && c <= 0x3a9) || (c >= 0x400 && c <= 0x42f);
}
static int is_ascii_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_ascii_alnum(unsigned char c) { return is_ascii_alpha(c) || (c >= '0' && c <= '9'); }

int elmo_is_abbreviation(const char *word, size_t len) {
    static const char *const list[] = {
        "Mr",  "Mrs",  "Ms",  "Messrs", "Mme",  "Mlle", "Dr",   "Prof", "Rev",  "Hon",  "St",
        "Ste", "Mt",   "Ft",  "Jr",     "Sr",   "Gen",  "Col",  "Maj",  "Capt", "Lt",   "Sgt",
        "Cpl", "Cmdr", "Adm", "Gov",    "Sen",  "Rep",  "Pres", "Supt", "Esq",  "vs",   "etc",
        "viz", "cf",   "al",  "approx", "No",   "Nos",  "Vol",  "Vols", "Co",   "Corp", "Inc",
        "Ltd", "Bros", "Jan", "Feb",    "Mar",  "Apr",  "Jun",  "Jul",  "Aug",  "Sep",  "Sept",
        "Oct", "Nov",  "Dec", "Ave",    "Blvd", "Dept", "Fig",  "fig",  "pp",   "ca",   NULL};
    if (len < 2 || word[len - 1] != '.') return 0;
    size_t n = len - 1;
    for (int k = 0; list[k]; k++)
        if (strlen(list[k]) == n && memcmp(list[k], word, n) == 0) return 1;
    if (n == 1) return word[0] >= 'A' && word[0] <= 'Z';
    /* letter groups of 1-2 letters joined by periods: U.S  e.g  Ph.D */
    size_t seg = 0, groups = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)word[i];
        if (c == '.') {
            if (seg == 0) return 0;
            seg = 0;
            groups++;
        } else if (is_ascii_alpha(c)) {
            if (++seg > 2) return 0;
        } else {
            return 0;
        }
    }
    return seg > 0 && groups >= 2;
}

/* ---- tokenizer */

typedef struct {
    size_t *starts, *lens, max, n;
    int squote_open; /* a single quote was split off a word start and not yet closed */
} span_sink;

static void emit(span_sink *k, size_t a, size_t b) {
    if (b <= a) return;
    if (k->n < k->max) {
        k->starts[k->n] = a;
        k->lens[k->n] = b - a;
    }
    k->n++;
}

/* A leading apostrophe that belongs to the word: '90s 'em 'tis 'twas 's 'll 're 've 'd 'm 't */
static int keep_leading_apostrophe(const unsigned char *p, size_t n) {
    static const char *const cl[] = {"s", "ll", "re",  "ve",   "d", "m",
                                     "t", "em", "tis", "twas", NULL};
    if (n == 0) return 0;
    if (p[0] >= '0' && p[0] <= '9') return 1;
    size_t w = 0;
    while (w < n && is_ascii_alpha(p[w])) w++;
    if (w == 0 || (w < n && p[w] < 0x80 && is_ascii_alnum(p[w]))) return 0;
    if (w < n && p[w] >= 0x80) return 0; /* more letters follow (non-ASCII) */
    for (int k = 0; cl[k]; k++) {
        if (strlen(cl[k]) != w) continue;
        size_t i = 0;
        while (i < w && (p[i] | 0x20) == (unsigned char)cl[k][i]) i++;
        if (i == w) return 1;
    }
    return 0;
}

/* A piece of a word without always-split characters: edge punctuation off both ends. */
static void tok_piece(const unsigned char *s, size_t ps, size_t pe, span_sink *k) {
    size_t a = ps, n;
    unsigned c;
    while (a < pe) {
        n = elmo_utf8_decode(s + a, pe - a, &c);
        if (c == '-' && a + 1 < pe && is_ascii_alpha(s[a + 1])) { /* list dash: -almost */
            emit(k, a, a + 1);
            a++;
            continue;
        }
        if (!is_edge_punct(c)) break;
        if (is_apostrophe(c) && keep_leading_apostrophe(s + a + n, pe - a - n)) break;
        if (c == '.' && a + n < pe && is_ascii_alnum(s[a + n])) break; /* .5  .NET */
        emit(k, a, a + n);
        if (c == '\'' || c == 0x2018) k->squote_open = 1;
        a += n;
    }
    size_t b = pe;
    while (b > a) {
        size_t st = prev_char(s, a, b, &c);
        if (!is_edge_punct(c)) break;
        if (c == '.') {
            if (elmo_is_abbreviation((const char *)s + a, b - a)) break;
        } else if (is_apostrophe(c)) {
            if (!k->squote_open && st - a >= 2 && (s[st - 1] == 's' || s[st - 1] == 'S')) break;
            k->squote_open = 0;
        } else if (c == ')') {
            if (memchr(s + a, '(', st - a)) break;
        } else if (c == ']') {
            if (memchr(s + a, '[', st - a)) break;
        }
        b = st;
    }
    emit(k, a, b);
    for (size_t i = b; i < pe; i += n) {
        n = elmo_utf8_decode(s + i, pe - i, &c);
        emit(k, i, i + n);
    }
}

/* One whitespace-delimited chunk: cut out dashes and ellipses, then the pieces between. */
static void tok_chunk(const unsigned char *s, size_t cs, size_t ce, span_sink *k) {
    size_t i = cs, piece = cs;
    while (i < ce) {
        unsigned c, c2;
        size_t n = elmo_utf8_decode(s + i, ce - i, &c), run = 0;
        if (is_always_split(c)) {
            run = i + n;
            while (run < ce && elmo_utf8_decode(s + run, ce - run, &c2) == n && c2 == c) run += n;
        } else if (c == '-' && i + 1 < ce && s[i + 1] == '-') {
            run = i;
            while (run < ce && s[run] == '-') run++;
        } else if (c == '.' && i + 2 < ce && s[i + 1] == '.' && s[i + 2] == '.') {
            run = i;
            while (run < ce && s[run] == '.') run++;
        }
        if (run) {
            tok_piece(s, piece, i, k);
            emit(k, i, run);
            i = piece = run;
        } else {
            i += n;
        }
    }
    tok_piece(s, piece, ce, k);
}

size_t elmo_tokenize_spans(const char *text, size_t len, size_t *starts, size_t *lens, size_t max) {
    const unsigned char *u = (const unsigned char *)text;
    span_sink k = {starts, lens, max, 0, 0};
    size_t i = 0, sp;
    while (i < len) {
        while (i < len && (sp = elmo_space_len(u + i, len - i)) > 0) i += sp;
        if (i >= len) break;
        size_t cs = i;
        while (i < len && elmo_space_len(u + i, len - i) == 0) i++;
        tok_chunk(u, cs, i, &k);
    }
    return k.n;
}

size_t elmo_tokenize_simple(const char *text, size_t len, elmo_strbuf *out) {
    size_t st_small[256], ln_small[256];
    size_t *st = st_small, *ln = ln_small;
    size_t n = elmo_tokenize_spans(text, len, st, ln, 256);
    if (n > 256) {
        st = malloc(n * sizeof *st);
        ln = malloc(n * sizeof *ln);
        if (!st || !ln) {
            free(st);
            free(ln);
            return SIZE_MAX;
        }
        elmo_tokenize_spans(text, len, st, ln, n);
    }
    int fail = 0;
    for (size_t t = 0; t < n && !fail; t++) {
        if (out->n > 0 && out->p[out->n - 1] != ' ' && elmo_strbuf_add(out, " ", 1)) fail = 1;
        if (!fail && elmo_strbuf_add(out, text + st[t], ln[t])) fail = 1;
    }
    if (st != st_small) {
        free(st);
        free(ln);
    }
    return fail ? SIZE_MAX : n;
}

/* ---- sentence splitter */

static int chunk_ends_sentence(const unsigned char *u, size_t cs, size_t ce) {
    unsigned c;
    size_t b = ce;
    while (b > cs) {
        size_t st = prev_char(u, cs, b, &c);
        if (!is_closer(c)) break;
        b = st;
    }
    if (b == cs) return 0;
    prev_char(u, cs, b, &c);
    if (c == '!' || c == '?' || c == 0x2026) return 1;
    if (c != '.') return 0;
    if (b - cs >= 3 && u[b - 2] == '.' && u[b - 3] == '.') return 1; /* ... */
    size_t a = cs;
    while (a < b) {
        size_t n = elmo_utf8_decode(u + a, b - a, &c);
        if (!is_opener(c)) break;
        a += n;
    }
    return !elmo_is_abbreviation((const char *)u + a, b - a);
}

static int starts_sentence(const unsigned char *u, size_t j, size_t len) {
    unsigned c;
    elmo_utf8_decode(u + j, len - j, &c);
    return is_upper(c) || is_opener(c);
}

static void add_span(size_t *starts, size_t *lens, size_t max, size_t *n, size_t a, size_t b) {
    if (*n < max) {
        starts[*n] = a;
        lens[*n] = b - a;
    }
    (*n)++;
}

size_t elmo_split_sentences(const char *text, size_t len, size_t *starts, size_t *lens,
                            size_t max) {
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0, n = 0, sent = SIZE_MAX, last_end = 0, k;
    while (i < len) {
        int breaks = 0;
        while (i < len && (k = elmo_space_len(u + i, len - i)) > 0) {
            if (u[i] == '\n' || (u[i] == '\r' && !(i + 1 < len && u[i + 1] == '\n')))
                breaks++;
            else if (k == 3 && u[i] == 0xe2 && u[i + 1] == 0x80 && u[i + 2] == 0xa9)
                breaks += 2;
            i += k;
        }
        if (i >= len) break;
        if (breaks >= 2 && sent != SIZE_MAX) {
            add_span(starts, lens, max, &n, sent, last_end);
            sent = SIZE_MAX;
        }
        size_t cs = i;
        while (i < len && elmo_space_len(u + i, len - i) == 0) i++;
        if (sent == SIZE_MAX) sent = cs;
        last_end = i;
        if (chunk_ends_sentence(u, cs, i)) {
            size_t j = i;
            while (j < len && (k = elmo_space_len(u + j, len - j)) > 0) j += k;
            if (j < len && starts_sentence(u, j, len)) {
                add_span(starts, lens, max, &n, sent, i);
                sent = SIZE_MAX;
            }
        }
    }
    if (sent != SIZE_MAX) add_span(starts, lens, max, &n, sent, last_end);
    return n;
}
