/*
 * mail.c: RFC 822 / MIME messages to plain UTF-8 text (rules in mail.h and docs/data.md).
 * Bounded and defensive: every length is explicit (messages may contain NUL bytes), MIME
 * nesting is limited, and malformed structure falls back to treating the body as text.
 */
#include "text/mail.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/textio.h"
#include "text/tokenize.h"

#define MAX_DEPTH 16

/* ---- small helpers */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Case-insensitive: does s (len) start with the NUL-terminated prefix? */
static int starts_ci(const char *s, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    if (len < n) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != lower((unsigned char)prefix[i])) return 0;
    return 1;
}

/* Case-insensitive search of needle in s (len); index or SIZE_MAX. */
static size_t find_ci(const char *s, size_t len, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0 || len < n) return SIZE_MAX;
    for (size_t i = 0; i + n <= len; i++)
        if (lower((unsigned char)s[i]) == lower((unsigned char)needle[0]) &&
            starts_ci(s + i, len - i, needle))
            return i;
    return SIZE_MAX;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int elmo_utf8_put(elmo_strbuf *out, unsigned cp) {
    char b[4];
    size_t n;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return elmo_strbuf_add(out, b, n);
}

/* ---- transfer encodings */

int elmo_qp_decode(const char *s, size_t len, int header_q, elmo_strbuf *out) {
    size_t i = 0, run = 0; /* run: start of pending literal bytes */
    while (i < len) {
        char c = s[i];
        if (c == '=' || (header_q && c == '_')) {
            if (elmo_strbuf_add(out, s + run, i - run)) return -1;
            if (c == '_') {
                if (elmo_strbuf_add(out, " ", 1)) return -1;
                i++;
            } else if (i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
                       hexval((unsigned char)s[i + 2]) >= 0) {
                char b =
                    (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
                if (elmo_strbuf_add(out, &b, 1)) return -1;
                i += 3;
            } else {
                /* soft line break: '=' then optional blanks then CRLF / LF / CR / end */
                size_t j = i + 1;
                while (j < len && (s[j] == ' ' || s[j] == '\t')) j++;
                if (j >= len) {
                    i = j;
                } else if (s[j] == '\n') {
                    i = j + 1;
                } else if (s[j] == '\r') {
                    i = j + 1 + (j + 1 < len && s[j + 1] == '\n');
                } else {
                    if (elmo_strbuf_add(out, "=", 1)) return -1; /* stray '=': literal */
                    i++;
                }
            }
            run = i;
        } else {
            i++;
        }
    }
    return elmo_strbuf_add(out, s + run, len - run);
}

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62; /* '-' '_': the URL-safe alphabet */
    if (c == '/' || c == '_') return 63;
    return -1;
}

int elmo_base64_decode(const char *s, size_t len, elmo_strbuf *out) {
    uint32_t acc = 0;
    int bits = 0;
    char buf[256];
    size_t nb = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)s[i]);
        if (s[i] == '=') {
            acc = 0;
            bits = 0; /* end of a group: drop the padding bits */
            continue;
        }
        if (v < 0) continue;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[nb++] = (char)((acc >> bits) & 0xff);
            acc &= (1u << bits) - 1;
            if (nb == sizeof buf) {
                if (elmo_strbuf_add(out, buf, nb)) return -1;
                nb = 0;
            }
        }
    }
    return elmo_strbuf_add(out, buf, nb);
}

/* ---- charsets */

static const unsigned short cp1252_80[32] = {
    0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178};

static unsigned cp1252(unsigned char b) { return b >= 0x80 && b < 0xa0 ? cp1252_80[b - 0x80] : b; }

static unsigned latin9(unsigned char b) {
    switch (b) {
        case 0xa4: return 0x20ac;
        case 0xa6: return 0x160;
        case 0xa8: return 0x161;
        case 0xb4: return 0x17d;
        case 0xb8: return 0x17e;
        case 0xbc: return 0x152;
        case 0xbd: return 0x153;
        case 0xbe: return 0x178;
        default: return b;
    }
}

static int single_byte(const char *s, size_t len, unsigned (*map)(unsigned char),
                       elmo_strbuf *out) {
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) continue;
        if (elmo_strbuf_add(out, s + run, i - run) || elmo_utf8_put(out, map(b))) return -1;
        run = i + 1;
    }
    return elmo_strbuf_add(out, s + run, len - run);
}

int elmo_utf8_repair(const char *s, size_t len, elmo_strbuf *out) {
    size_t i = 0;
    while (i < len) {
        size_t ok = elmo_utf8_valid_prefix(s + i, len - i);
        if (elmo_strbuf_add(out, s + i, ok)) return -1;
        i += ok;
        if (i < len) {
            if (elmo_utf8_put(out, 0xfffd)) return -1;
            i++;
        }
    }
    return 0;
}

static int auto_utf8(const char *s, size_t len, elmo_strbuf *out) {
    if (elmo_utf8_valid_prefix(s, len) == len) return elmo_strbuf_add(out, s, len);
    return single_byte(s, len, cp1252, out);
}

static int via_iconv(const char *s, size_t len, const char *name, elmo_strbuf *out) {
    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == (iconv_t)-1) return auto_utf8(s, len, out);
    char *in = (char *)s, buf[4096];
    size_t left = len;
    int rc = 0;
    while (left > 0 && rc == 0) {
        char *o = buf;
        size_t room = sizeof buf;
        size_t r = iconv(cd, &in, &left, &o, &room);
        if (elmo_strbuf_add(out, buf, (size_t)(o - buf))) rc = -1;
        if (r == (size_t)-1 && errno != E2BIG && rc == 0) {
            /* EILSEQ, EINVAL (truncated at the end) or anything else: one byte is lost */
            if (elmo_utf8_put(out, 0xfffd)) rc = -1;
            in++;
            left--;
        }
    }
    char *o = buf;
    size_t room = sizeof buf;
    iconv(cd, NULL, NULL, &o, &room);
    if (rc == 0 && elmo_strbuf_add(out, buf, (size_t)(o - buf))) rc = -1;
    iconv_close(cd);
    return rc;
}

int elmo_to_utf8(const char *s, size_t len, const char *charset, elmo_strbuf *out) {
    char name[64];
    size_t n = 0;
    if (charset) {
        for (const char *p = charset; *p && n + 1 < sizeof name; p++) {
            if (*p == '"' || *p == '\'' || *p == ' ' || *p == '\t') continue;
            if (*p == '*') break; /* RFC 2231 language suffix */
            name[n++] = (char)lower((unsigned char)*p);
        }
    }
    name[n] = 0;
    static const char *const autos[] = {
        "",        "us-ascii",  "ascii",        "ansi_x3.4-1968", "default", "default_charset",
        "unknown", "x-unknown", "unknown-8bit", "x-user-defined", "none",    NULL};
    static const char *const w1252[] = {
        "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "windows-1252",
        "cp1252",     "x-cp1252",  "win-1252",   "ibm819", "cp819",   NULL};
    for (int k = 0; autos[k]; k++)
        if (strcmp(name, autos[k]) == 0) return auto_utf8(s, len, out);
    if (strcmp(name, "utf-8") == 0 || strcmp(name, "utf8") == 0)
        return elmo_utf8_repair(s, len, out);
    for (int k = 0; w1252[k]; k++)
        if (strcmp(name, w1252[k]) == 0) return single_byte(s, len, cp1252, out);
    if (strcmp(name, "iso-8859-15") == 0 || strcmp(name, "iso8859-15") == 0 ||
        strcmp(name, "latin9") == 0 || strcmp(name, "latin-9") == 0)
        return single_byte(s, len, latin9, out);
    /* pure ASCII is the same in every other charset we may meet (ISO-2022 escapes aside) */
    int ascii = 1;
    for (size_t i = 0; i < len && ascii; i++)
        if ((unsigned char)s[i] >= 0x80 || s[i] == 0x1b) ascii = 0;
    if (ascii) return elmo_strbuf_add(out, s, len);
    const char *alias = name;
    if (strncmp(name, "ks_c_5601", 9) == 0 || strcmp(name, "ksc5601") == 0)
        alias = "CP949";
    else if (strcmp(name, "gb2312") == 0 || strcmp(name, "x-gbk") == 0 ||
             strcmp(name, "euc-cn") == 0)
        alias = "GBK";
    return via_iconv(s, len, alias, out);
}

/* ---- HTML */

static const struct {
    const char *name;
    unsigned cp;
} entities[] = {
    {"nbsp", 0xa0},     {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
    {"apos", '\''},     {"copy", 0xa9},    {"reg", 0xae},     {"trade", 0x2122}, {"euro", 0x20ac},
    {"pound", 0xa3},    {"yen", 0xa5},     {"cent", 0xa2},    {"sect", 0xa7},    {"deg", 0xb0},
    {"plusmn", 0xb1},   {"times", 0xd7},   {"divide", 0xf7},  {"middot", 0xb7},  {"bull", 0x2022},
    {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"ldquo", 0x201c},  {"rdquo", 0x201d}, {"laquo", 0xab},   {"raquo", 0xbb},   {"iexcl", 0xa1},
    {"iquest", 0xbf},   {"frac12", 0xbd},  {"frac14", 0xbc},  {"frac34", 0xbe},  {"shy", 0xad},
    {"para", 0xb6},     {"micro", 0xb5},   {"eacute", 0xe9},  {"egrave", 0xe8},  {"ecirc", 0xea},
    {"euml", 0xeb},     {"aacute", 0xe1},  {"agrave", 0xe0},  {"acirc", 0xe2},   {"auml", 0xe4},
    {"aring", 0xe5},    {"ouml", 0xf6},    {"oacute", 0xf3},  {"ocirc", 0xf4},   {"uuml", 0xfc},
    {"uacute", 0xfa},   {"iacute", 0xed},  {"ccedil", 0xe7},  {"ntilde", 0xf1},  {"szlig", 0xdf},
    {"Auml", 0xc4},     {"Ouml", 0xd6},    {"Uuml", 0xdc},    {"Eacute", 0xc9},  {"Aring", 0xc5},
    {NULL, 0}};

/* Decode an entity at s[0] == '&'; returns bytes consumed (0: not an entity). */
static size_t entity(const char *s, size_t len, unsigned *cp) {
    size_t i = 1;
    if (i < len && s[i] == '#') {
        i++;
        int hex = i < len && (s[i] == 'x' || s[i] == 'X');
        if (hex) i++;
        size_t d0 = i;
        unsigned long v = 0;
        while (i < len && i - d0 < 8 &&
               (hex ? hexval((unsigned char)s[i]) >= 0 : (s[i] >= '0' && s[i] <= '9'))) {
            v = v * (hex ? 16 : 10) +
                (unsigned long)(hex ? hexval((unsigned char)s[i]) : s[i] - '0');
            i++;
        }
        if (i == d0) return 0;
        if (i < len && s[i] == ';') i++;
        if (v >= 0x80 && v < 0xa0)
            v = cp1252((unsigned char)v);
        else if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            v = 0xfffd;
        *cp = (unsigned)v;
        return i;
    }
    size_t n0 = i;
    while (i < len && i - n0 < 10 && ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')) i++;
    size_t nl = i - n0;
    if (nl == 0) return 0;
    int semi = i < len && s[i] == ';';
    for (int k = 0; entities[k].name; k++) {
        if (strlen(entities[k].name) != nl || memcmp(entities[k].name, s + n0, nl) != 0) continue;
        if (!semi && k > 5) return 0; /* only nbsp amp lt gt quot apos without ';' */
        *cp = entities[k].cp;
        return i + (size_t)semi;
    }
    return 0;
}

static int inline_tag(const char *name) {
    static const char *const tags[] = {"a",    "b",    "i",       "u",    "s",    "em",  "strong",
                                       "font", "span", "small",   "big",  "sup",  "sub", "strike",
                                       "tt",   "abbr", "acronym", "cite", "code", "q",   "blink",
                                       "o:p",  "wbr",  "ins",     "del",  "mark", NULL};
    for (int k = 0; tags[k]; k++)
        if (strcmp(name, tags[k]) == 0) return 1;
    return 0;
}

int elmo_html_to_text(const char *s, size_t len, elmo_strbuf *out) {
    size_t i = 0, run = 0;
    while (i < len) {
        char c = s[i];
        if (c != '<' && c != '&') {
            i++;
            continue;
        }
        if (elmo_strbuf_add(out, s + run, i - run)) return -1;
        if (c == '&') {
            unsigned cp;
            size_t n = entity(s + i, len - i, &cp);
            if (n == 0) {
                if (elmo_strbuf_add(out, "&", 1)) return -1;
                i++;
            } else {
                if (cp != 0xad && elmo_utf8_put(out, cp)) return -1;
                i += n;
            }
            run = i;
            continue;
        }
        /* '<' */
        size_t rest = len - i;
        if (starts_ci(s + i, rest, "<!--")) {
            size_t e = find_ci(s + i + 4, rest - 4, "-->");
            i = e == SIZE_MAX ? len : i + 4 + e + 3;
            if (elmo_strbuf_add(out, " ", 1)) return -1;
            run = i;
            continue;
        }
        unsigned char n1 = i + 1 < len ? (unsigned char)s[i + 1] : 0;
        int tagstart =
            ((n1 | 0x20) >= 'a' && (n1 | 0x20) <= 'z') || n1 == '/' || n1 == '!' || n1 == '?';
        if (!tagstart) {
            if (elmo_strbuf_add(out, "<", 1)) return -1;
            run = ++i;
            continue;
        }
        size_t j = i + 1;
        int closing = s[j] == '/';
        if (closing) j++;
        char name[16];
        size_t nn = 0;
        while (j < len && nn + 1 < sizeof name &&
               (((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'z') || (s[j] >= '0' && s[j] <= '9') ||
                s[j] == ':'))
            name[nn++] = (char)lower((unsigned char)s[j++]);
        name[nn] = 0;
        const char *gt = memchr(s + j, '>', len - j);
        size_t end = gt ? (size_t)(gt - s) + 1 : len;
        if (!closing && (strcmp(name, "script") == 0 || strcmp(name, "style") == 0)) {
            const char *close = name[1] == 'c' ? "</script" : "</style";
            size_t e = find_ci(s + end, len - end, close);
            if (e == SIZE_MAX) {
                end = len;
            } else {
                const char *g2 = memchr(s + end + e, '>', len - end - e);
                end = g2 ? (size_t)(g2 - s) + 1 : len;
            }
        }
        if (!inline_tag(name) && elmo_strbuf_add(out, " ", 1)) return -1;
        i = run = end;
    }
    return elmo_strbuf_add(out, s + run, len - run);
}

/* ---- headers */

int elmo_decode_header(const char *s, size_t len, elmo_strbuf *out) {
    size_t i = 0, text = 0;
    int prev_encoded = 0;
    while (i + 1 < len) {
        if (!(s[i] == '=' && s[i + 1] == '?')) {
            i++;
            continue;
        }
        /* =?charset?E?payload?= */
        size_t cs = i + 2, q1 = cs;
        while (q1 < len && s[q1] != '?' && s[q1] != ' ' && q1 - cs < 60) q1++;
        if (q1 + 2 >= len || s[q1] != '?' || s[q1 + 2] != '?' || q1 == cs) {
            i++;
            continue;
        }
        char enc = (char)lower((unsigned char)s[q1 + 1]);
        size_t ps = q1 + 3, pe = ps;
        while (pe + 1 < len && !(s[pe] == '?' && s[pe + 1] == '=')) pe++;
        if ((enc != 'q' && enc != 'b') || pe + 1 >= len) {
            i++;
            continue;
        }
        /* the text before: dropped when it is only whitespace between two encoded words */
        int blank = 1;
        for (size_t k = text; k < i; k++)
            if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r' && s[k] != '\n') blank = 0;
        if (!(prev_encoded && blank) && auto_utf8(s + text, i - text, out)) return -1;
        char charset[64];
        size_t cl = q1 - cs < sizeof charset - 1 ? q1 - cs : sizeof charset - 1;
        memcpy(charset, s + cs, cl);
        charset[cl] = 0;
        elmo_strbuf raw = {0};
        int rc = enc == 'q' ? elmo_qp_decode(s + ps, pe - ps, 1, &raw)
                            : elmo_base64_decode(s + ps, pe - ps, &raw);
        if (rc == 0) rc = elmo_to_utf8(raw.p ? raw.p : "", raw.n, charset, out);
        elmo_strbuf_free(&raw);
        if (rc) return -1;
        i = text = pe + 2;
        prev_encoded = 1;
    }
    return auto_utf8(s + text, len - text, out);
}

/* ---- whitespace */

int elmo_collapse_space(const char *s, size_t len, elmo_strbuf *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    int pending = 0, any = 0;
    while (i < len) {
        unsigned cp;
        size_t n = elmo_space_len(u + i, len - i);
        if (n) {
            pending = 1;
            i += n;
            continue;
        }
        n = elmo_utf8_decode(u + i, len - i, &cp);
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            pending = 1;
        } else if (cp == 0xfeff || cp == 0xad || (cp >= 0x200b && cp <= 0x200d) || cp == 0x2060) {
            /* invisible: dropped */
        } else {
            if (pending && any && elmo_strbuf_add(out, " ", 1)) return -1;
            pending = 0;
            any = 1;
            if (cp == 0xfffd && n == 1) {
                if (elmo_utf8_put(out, 0xfffd)) return -1;
            } else if (elmo_strbuf_add(out, s + i, n)) {
                return -1;
            }
        }
        i += n;
    }
    return 0;
}

/* ---- MIME structure */

typedef struct {
    char type[80]; /* lower-case media type; "" when absent */
    char charset[64];
    char boundary[200];
    char cte[40]; /* lower-case transfer encoding */
    size_t body;  /* offset of the body */
} part_info;

/* Parameter name (lower-case) of a Content-Type value into val; 1 if found. */
static int get_param(const char *v, size_t len, const char *name, char *val, size_t cap) {
    size_t i = 0, nl = strlen(name);
    while (i < len) {
        while (i < len && v[i] != ';') {
            if (v[i] == '"') { /* skip quoted strings */
                i++;
                while (i < len && v[i] != '"') i += (v[i] == '\\') ? 2 : 1;
            }
            i++;
        }
        if (i >= len) break;
        i++;
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) i++;
        if (len - i > nl && starts_ci(v + i, len - i, name)) {
            size_t j = i + nl;
            while (j < len && (v[j] == ' ' || v[j] == '\t')) j++;
            if (j < len && v[j] == '=') {
                j++;
                while (j < len && (v[j] == ' ' || v[j] == '\t')) j++;
                size_t n = 0;
                if (j < len && v[j] == '"') {
                    j++;
                    while (j < len && v[j] != '"') {
                        if (v[j] == '\\' && j + 1 < len) j++;
                        if (n + 1 < cap) val[n++] = v[j];
                        j++;
                    }
                } else {
                    while (j < len && v[j] != ';' && v[j] != ' ' && v[j] != '\t' && v[j] != '\r' &&
                           v[j] != '\n') {
                        if (n + 1 < cap) val[n++] = v[j];
                        j++;
                    }
                }
                val[n] = 0;
                return 1;
            }
        }
    }
    return 0;
}

static void copy_token_lower(const char *v, size_t len, char *dst, size_t cap) {
    size_t i = 0, n = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) i++;
    while (i < len && v[i] != ';' && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n' &&
           n + 1 < cap)
        dst[n++] = (char)lower((unsigned char)v[i++]);
    dst[n] = 0;
}

/* A header line: "Name:" with a printable name and no spaces. */
static int is_header_line(const char *l, size_t n) {
    size_t i = 0;
    while (i < n && l[i] > ' ' && l[i] < 127 && l[i] != ':') i++;
    return i > 0 && i < n && l[i] == ':';
}

/* Parse headers from p (len). subject (may be NULL) receives the raw unfolded Subject. */
static int parse_headers(const char *p, size_t len, int skip_from, part_info *h,
                         elmo_strbuf *subject) {
    memset(h, 0, sizeof *h);
    elmo_strbuf cur = {0};
    size_t i = 0;
    int rc = 0, done = 0;
    if (skip_from && len >= 5 && memcmp(p, "From ", 5) == 0) {
        const char *nl = memchr(p, '\n', len);
        i = nl ? (size_t)(nl - p) + 1 : len;
    }
    while (!done) {
        size_t ls = i, le;
        const char *nl = i < len ? memchr(p + i, '\n', len - i) : NULL;
        le = nl ? (size_t)(nl - p) : len;
        size_t next = nl ? le + 1 : len;
        size_t ll = le - ls;
        if (ll && p[le - 1] == '\r') ll--;
        int cont = ls < len && ll > 0 && (p[ls] == ' ' || p[ls] == '\t') && cur.n > 0;
        int end = ls >= len || ll == 0 || (!cont && !is_header_line(p + ls, ll));
        if (!cont && cur.n > 0) { /* complete the previous header */
            const char *c = cur.p, *colon = memchr(c, ':', cur.n);
            size_t nlen = (size_t)(colon - c), vlen = cur.n - nlen - 1;
            const char *v = colon + 1;
            if (nlen == 12 && starts_ci(c, nlen, "content-type")) {
                copy_token_lower(v, vlen, h->type, sizeof h->type);
                if (!get_param(v, vlen, "charset", h->charset, sizeof h->charset))
                    h->charset[0] = 0;
                if (!get_param(v, vlen, "boundary", h->boundary, sizeof h->boundary))
                    h->boundary[0] = 0;
            } else if (nlen == 25 && starts_ci(c, nlen, "content-transfer-encoding")) {
                copy_token_lower(v, vlen, h->cte, sizeof h->cte);
            } else if (nlen == 7 && subject && starts_ci(c, nlen, "subject")) {
                subject->n = 0;
                if (elmo_strbuf_add(subject, v, vlen)) rc = -1;
            }
            cur.n = 0;
        }
        if (end) {
            /* the body starts after a blank line, or at the first non-header line */
            h->body = ls >= len ? len : (ll == 0 ? next : ls);
            done = 1;
        } else {
            if (cont && elmo_strbuf_add(&cur, " ", 1)) rc = -1;
            if (elmo_strbuf_add(&cur, p + ls, ll)) rc = -1;
            i = next;
        }
        if (rc) done = 1;
    }
    elmo_strbuf_free(&cur);
    return rc;
}

/* Undeclared or text/plain bodies that are really HTML: an <html>, <body> or doctype tag, or
 * at least five common tags (<p> <br> <table> <td> <font> <a ...> ...). */
static int looks_like_html(const char *s, size_t len) {
    static const char *const tags[] = {"p",   "br", "table", "tr",     "td", "div", "font", "a",
                                       "img", "li", "ul",    "center", "b",  "i",   "span", NULL};
    if (find_ci(s, len, "<html") != SIZE_MAX || find_ci(s, len, "<body") != SIZE_MAX ||
        find_ci(s, len, "<!doctype html") != SIZE_MAX)
        return 1;
    int count = 0;
    for (size_t i = 0; i + 2 < len && count < 5; i++) {
        if (s[i] != '<') continue;
        size_t j = i + 1 + (s[i + 1] == '/');
        for (int k = 0; tags[k]; k++) {
            size_t n = strlen(tags[k]);
            if (j + n < len && starts_ci(s + j, len - j, tags[k]) &&
                (s[j + n] == '>' || s[j + n] == ' ' || s[j + n] == '/' || s[j + n] == '\t' ||
                 s[j + n] == '\n' || s[j + n] == '\r')) {
                count++;
                break;
            }
        }
    }
    return count >= 5;
}

static int add_sep(elmo_strbuf *out) { return out->n ? elmo_strbuf_add(out, " ", 1) : 0; }

/* A leaf text part: transfer decoding, charset, HTML. */
static int leaf_text(const char *body, size_t blen, const part_info *h, int html,
                     elmo_strbuf *out) {
    elmo_strbuf raw = {0}, utf = {0};
    int rc = 0;
    const char *b = body;
    size_t n = blen;
    if (strcmp(h->cte, "quoted-printable") == 0) {
        rc = elmo_qp_decode(body, blen, 0, &raw);
        b = raw.p ? raw.p : "";
        n = raw.n;
    } else if (strcmp(h->cte, "base64") == 0) {
        rc = elmo_base64_decode(body, blen, &raw);
        b = raw.p ? raw.p : "";
        n = raw.n;
    }
    if (rc == 0) rc = elmo_to_utf8(b, n, h->charset, &utf);
    if (rc == 0 && utf.n) {
        if (!html && (h->type[0] == 0 || strcmp(h->type, "text/plain") == 0))
            html = looks_like_html(utf.p, utf.n);
        rc = add_sep(out);
        if (rc == 0)
            rc = html ? elmo_html_to_text(utf.p, utf.n, out) : elmo_strbuf_add(out, utf.p, utf.n);
    }
    elmo_strbuf_free(&raw);
    elmo_strbuf_free(&utf);
    return rc;
}

static int is_space_only(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static int walk(const char *p, size_t len, int depth, int top, elmo_strbuf *subject,
                elmo_strbuf *out);

typedef struct {
    /* multipart/alternative: the last non-empty text/plain alternative, and the last other */
    elmo_strbuf plain, other;
} alt_choice;

static size_t non_space(const elmo_strbuf *b) {
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->p[i] != ' ' && b->p[i] != '\t' && b->p[i] != '\r' && b->p[i] != '\n';
    return n;
}

/* One part [ps, pe) of a multipart: appended to out, or kept as an alternative. */
static int multipart_part(const char *p, size_t len, int depth, alt_choice *alt, elmo_strbuf *out) {
    if (!alt) return walk(p, len, depth + 1, 0, NULL, out);
    elmo_strbuf t = {0};
    part_info ph;
    int rc = walk(p, len, depth + 1, 0, NULL, &t);
    if (rc == 0) rc = parse_headers(p, len, 0, &ph, NULL);
    if (rc == 0 && non_space(&t) > 0) {
        elmo_strbuf *slot =
            ph.type[0] == 0 || strcmp(ph.type, "text/plain") == 0 ? &alt->plain : &alt->other;
        elmo_strbuf_free(slot);
        *slot = t;
    } else {
        elmo_strbuf_free(&t);
    }
    return rc;
}

/* The text/plain alternative, unless another one has more than twice its text (the plain
 * part is then a stub such as "this is an HTML message"). */
static int alt_finish(alt_choice *alt, elmo_strbuf *out) {
    const elmo_strbuf *pick = &alt->plain;
    if (alt->other.n && (!alt->plain.n || non_space(&alt->other) > 2 * non_space(&alt->plain)))
        pick = &alt->other;
    int rc = pick->n ? (add_sep(out) || elmo_strbuf_add(out, pick->p, pick->n)) : 0;
    elmo_strbuf_free(&alt->plain);
    elmo_strbuf_free(&alt->other);
    return rc;
}

/* The parts of a multipart body, delimited by lines "--boundary" ("--boundary--" closes). */
static int walk_multipart(const char *body, size_t blen, const part_info *h, int depth,
                          elmo_strbuf *out) {
    const char *bd = h->boundary;
    size_t bl = strlen(bd);
    alt_choice choice = {{0}, {0}},
               *alt = strcmp(h->type, "multipart/alternative") == 0 ? &choice : NULL;
    size_t i = 0, part = SIZE_MAX, nparts = 0;
    int rc = 0, closed = 0;
    while (i < blen && !closed && rc == 0) {
        const char *nl = memchr(body + i, '\n', blen - i);
        size_t le = nl ? (size_t)(nl - body) : blen, next = nl ? le + 1 : blen;
        size_t ll = le - i;
        int delim = 0;
        if (ll >= bl + 2 && body[i] == '-' && body[i + 1] == '-' &&
            memcmp(body + i + 2, bd, bl) == 0) {
            const char *r = body + i + 2 + bl;
            size_t rl = ll - 2 - bl;
            if (rl >= 2 && r[0] == '-' && r[1] == '-' && is_space_only(r + 2, rl - 2))
                delim = 2;
            else if (is_space_only(r, rl))
                delim = 1;
        }
        if (delim) {
            if (part != SIZE_MAX) {
                size_t pe = i; /* the line break before the delimiter belongs to it */
                if (pe > part && body[pe - 1] == '\n') pe--;
                if (pe > part && body[pe - 1] == '\r') pe--;
                rc = multipart_part(body + part, pe - part, depth, alt, out);
                nparts++;
            }
            part = next;
            if (delim == 2) closed = 1;
        }
        i = next;
    }
    if (rc == 0 && !closed && part != SIZE_MAX && part < blen) { /* unterminated last part */
        rc = multipart_part(body + part, blen - part, depth, alt, out);
        nparts++;
    }
    if (alt && alt_finish(alt, out)) rc = -1;
    if (rc == 0 && nparts == 0) { /* no delimiter at all: read the body as text */
        part_info plain = *h;
        strcpy(plain.type, "text/plain");
        rc = leaf_text(body, blen, &plain, 0, out);
    }
    return rc;
}

static int walk(const char *p, size_t len, int depth, int top, elmo_strbuf *subject,
                elmo_strbuf *out) {
    part_info h;
    if (parse_headers(p, len, top, &h, subject)) return -1;
    if (depth > MAX_DEPTH) return 0;
    const char *body = p + h.body;
    size_t blen = len - h.body;
    const char *t = h.type;
    if (strncmp(t, "multipart/", 10) == 0 && h.boundary[0])
        return walk_multipart(body, blen, &h, depth, out);
    if (strcmp(t, "message/rfc822") == 0) return walk(body, blen, depth + 1, 0, NULL, out);
    if (t[0] == 0 || strcmp(t, "text/plain") == 0 || strcmp(t, "text") == 0 ||
        strncmp(t, "multipart/", 10) == 0)
        return leaf_text(body, blen, &h, 0, out);
    if (strcmp(t, "text/html") == 0 || strcmp(t, "text/enriched") == 0 ||
        strcmp(t, "text/richtext") == 0)
        return leaf_text(body, blen, &h, 1, out);
    return 0; /* attachments, signatures, images, other text types */
}

elmo_status elmo_mail_text(const char *raw, size_t len, elmo_strbuf *out) {
    elmo_strbuf subject = {0}, body = {0}, all = {0};
    int rc = walk(raw, len, 0, 1, &subject, &body);
    if (rc == 0 && subject.n) rc = elmo_decode_header(subject.p, subject.n, &all);
    if (rc == 0) rc = elmo_strbuf_add(&all, " ", 1);
    if (rc == 0 && body.n) rc = elmo_strbuf_add(&all, body.p, body.n);
    if (rc == 0) rc = elmo_collapse_space(all.p, all.n, out);
    elmo_strbuf_free(&subject);
    elmo_strbuf_free(&body);
    elmo_strbuf_free(&all);
    return rc ? elmo_fail(ELMO_ERR_NOMEM, "out of memory decoding a message") : ELMO_OK;
}
