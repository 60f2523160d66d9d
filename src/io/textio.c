/*
 * textio.c: bounded line reader, UTF-8 validation, whitespace stripping.
 */
#include "io/textio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/util.h"

elmo_status elmo_line_reader_open(elmo_line_reader *r, const char *path, size_t max_bytes) {
    memset(r, 0, sizeof *r);
    r->name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    r->max_bytes = max_bytes;
    if (strcmp(path, "-") == 0) {
        r->f = stdin;
    } else {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return elmo_fail(ELMO_ERR_IO, "%s: is a directory", path);
        r->f = fopen(path, "rb");
        if (!r->f) return elmo_fail(ELMO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        r->owns = 1;
        if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode)) r->size = (uint64_t)st.st_size;
    }
    r->cap = 4096;
    r->line = malloc(r->cap);
    if (!r->line) {
        elmo_line_reader_close(r);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    return ELMO_OK;
}

elmo_status elmo_line_reader_next(elmo_line_reader *r, int *got) {
    *got = 0;
    r->len = 0;
    int c, any = 0;
    if (r->pending_cr) {
        r->pending_cr = 0;
        c = getc_unlocked(r->f);
        if (c == '\n')
            r->bytes++;
        else if (c != EOF)
            ungetc(c, r->f);
    }
    for (;;) {
        c = getc_unlocked(r->f);
        if (c == EOF) break;
        r->bytes++;
        any = 1;
        if (c == '\n') break;
        if (c == '\r') {
            r->pending_cr = 1;
            break;
        }
        if (r->len >= r->max_bytes) { /* checked per byte: the buffer may be larger */
            r->lineno++;
            return elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: line longer than %zu bytes", r->name,
                             (unsigned long long)r->lineno, r->max_bytes);
        }
        if (r->len + 1 >= r->cap) {
            size_t cap = r->cap * 2;
            if (cap > r->max_bytes + 1) cap = r->max_bytes + 1;
            char *nl = realloc(r->line, cap);
            if (!nl) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading %s", r->name);
            r->line = nl;
            r->cap = cap;
        }
        r->line[r->len++] = (char)c;
    }
    if (ferror(r->f)) return elmo_fail(ELMO_ERR_IO, "%s: read error", r->name);
    if (!any) return ELMO_OK;
    r->line[r->len] = 0;
    r->lineno++;
    if (r->lineno == 1 && r->len >= 3 && memcmp(r->line, "\xef\xbb\xbf", 3) == 0) {
        r->len -= 3; /* UTF-8 byte order mark */
        memmove(r->line, r->line + 3, r->len + 1);
    }
    if (!r->raw_bytes) {
        size_t vl = elmo_utf8_valid_prefix(r->line, r->len);
        if (vl != r->len)
            return elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: invalid UTF-8 at byte %zu", r->name,
                             (unsigned long long)r->lineno, vl + 1);
    }
    *got = 1;
    return ELMO_OK;
}

void elmo_line_reader_close(elmo_line_reader *r) {
    if (r->owns && r->f) fclose(r->f);
    free(r->line);
    memset(r, 0, sizeof *r);
}

size_t elmo_utf8_valid_prefix(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return i;
        if (i + (size_t)n >= len) return i; /* truncated sequence */
        for (int k = 1; k <= n; k++) {
            if ((u[i + k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (u[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += (size_t)n + 1;
    }
    return len;
}

/* Length in bytes of the whitespace character at p (0 if none). Only well-formed UTF-8
 * sequences of the listed code points count; anything else is part of a token. */
size_t elmo_space_len(const unsigned char *p, size_t avail) {
    unsigned char c = p[0];
    if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20)) return 1;
    if (c == 0xc2 && avail >= 2 && (p[1] == 0x85 || p[1] == 0xa0)) return 2;
    if (avail >= 3) {
        if (c == 0xe1 && p[1] == 0x9a && p[2] == 0x80) return 3; /* U+1680 */
        if (c == 0xe2 && p[1] == 0x80 &&
            ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
            return 3; /* U+2000-200A, U+2028, U+2029, U+202F */
        if (c == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) return 3; /* U+205F */
        if (c == 0xe3 && p[1] == 0x80 && p[2] == 0x80) return 3; /* U+3000 */
    }
    return 0;
}

const char *elmo_strip(const char *s, size_t len, size_t *out_len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, end = 0, k;
    while (i < len && (k = elmo_space_len(u + i, len - i)) > 0) i += k;
    size_t first = i;
    while (i < len) {
        if ((k = elmo_space_len(u + i, len - i)) > 0) {
            i += k;
        } else {
            i++;
            end = i;
        }
    }
    *out_len = end > first ? end - first : 0;
    return s + first;
}

/* Append s (UTF-8) to b as a JSON string body the way Python's json.dumps escapes it
 * (ensure_ascii): \" \\ \n \r \t \b \f, other controls, DEL and all non-ASCII as \uXXXX
 * (UTF-16, surrogate pairs above U+FFFF). Invalid UTF-8 bytes become U+FFFD. */
int elmo_json_escape(elmo_strbuf *b, const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    char o[16];
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        int w;
        if (c < 0x80) {
            i++;
            switch (c) {
                case '"': w = sprintf(o, "\\\""); break;
                case '\\': w = sprintf(o, "\\\\"); break;
                case '\n': w = sprintf(o, "\\n"); break;
                case '\r': w = sprintf(o, "\\r"); break;
                case '\t': w = sprintf(o, "\\t"); break;
                case '\b': w = sprintf(o, "\\b"); break;
                case '\f': w = sprintf(o, "\\f"); break;
                default:
                    if (c < 0x20 || c == 0x7f)
                        w = sprintf(o, "\\u%04x", c);
                    else
                        o[0] = (char)c, w = 1;
            }
        } else {
            size_t valid = elmo_utf8_valid_prefix(s + i, len - i > 4 ? 4 : len - i);
            int nb = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            uint32_t cp;
            if (valid < (size_t)nb) {
                cp = 0xfffd;
                i++;
            } else {
                cp = c & (nb == 2 ? 0x1f : nb == 3 ? 0x0f : 0x07);
                for (int k = 1; k < nb; k++) cp = (cp << 6) | (u[i + k] & 0x3f);
                i += (size_t)nb;
            }
            if (cp >= 0x10000) {
                cp -= 0x10000;
                w = sprintf(o, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            } else {
                w = sprintf(o, "\\u%04x", cp);
            }
        }
        if (elmo_strbuf_add(b, o, (size_t)w)) return -1;
    }
    return 0;
}
