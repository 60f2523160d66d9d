/* serve_proto.c: `elmo serve` requests and answers (see serve_proto.h). */
#include "serve_proto.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "io/textio.h"
#include "serve_float.h"

static const char *const LAYER_NAMES[] = {"all", "top", "average", "mean"};

const char *serve_layers_name(serve_layers l) { return LAYER_NAMES[l]; }

static int fail(char *err, size_t errsz, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errsz, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return code;
}

/* 1 when the JSON text holds the escape \u0000, which cJSON would cut a string at */
static int has_nul_escape(const char *s, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0) return 1;
        i++; /* the escaped character */
    }
    return 0;
}

/* cJSON records the position of the last error in a global: one parse at a time */
static pthread_mutex_t g_parse_lock = PTHREAD_MUTEX_INITIALIZER;

static cJSON *parse_json(const char *body, size_t len, char *err, size_t errsz, int *code) {
    *code = 400;
    if (len == 0) return fail(err, errsz, 400, "empty request body"), NULL;
    size_t ok = elmo_utf8_valid_prefix(body, len);
    if (ok != len)
        return fail(err, errsz, 400, "request body: invalid UTF-8 at byte %zu", ok), NULL;
    if (has_nul_escape(body, len))
        return fail(err, errsz, 400, "request body: \\u0000 is not allowed in strings"), NULL;
    const char *end = NULL;
    pthread_mutex_lock(&g_parse_lock);
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    pthread_mutex_unlock(&g_parse_lock);
    if (!root) {
        size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        return fail(err, errsz, 400, "malformed JSON at byte %zu", at), NULL;
    }
    size_t i = (size_t)(end - body);
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
        i++;
    if (i < len) {
        cJSON_Delete(root);
        return fail(err, errsz, 400, "malformed JSON: trailing data at byte %zu", i), NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, errsz, 400, "the request must be a JSON object"), NULL;
    }
    return root;
}

/* up to 40 bytes of a key for a message: control characters as '?', cut at a character */
static void key_for_message(const char *key, char *out) {
    size_t n = strlen(key);
    if (n > 40) {
        n = 40;
        while (n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80) n--; /* inside a character */
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)key[i] < 0x20 || key[i] == 0x7f ? '?' : key[i];
    out[n] = 0;
}

/* the object's "sentences" (array) and "layers" (string); 0 or 400 */
static int parse_fields(const cJSON *root, const cJSON **sents, serve_layers *layers, char *err,
                        size_t errsz) {
    *sents = NULL;
    *layers = SERVE_ALL;
    int have_layers = 0;
    for (const cJSON *f = root->child; f; f = f->next) {
        if (strcmp(f->string, "sentences") == 0 && !*sents) {
            if (!cJSON_IsArray(f)) return fail(err, errsz, 400, "\"sentences\" must be a list");
            *sents = f;
        } else if (strcmp(f->string, "layers") == 0 && !have_layers) {
            have_layers = 1;
            int k = 0;
            while (k < 4 && !(cJSON_IsString(f) && strcmp(f->valuestring, LAYER_NAMES[k]) == 0))
                k++;
            if (k == 4)
                return fail(err, errsz, 400,
                            "\"layers\" must be \"all\", \"top\", \"average\" or \"mean\"");
            *layers = (serve_layers)k;
        } else {
            char key[41];
            key_for_message(f->string, key);
            return fail(err, errsz, 400,
                        "unexpected or repeated key \"%s\" (expected \"sentences\", \"layers\")",
                        key);
        }
    }
    if (!*sents) return fail(err, errsz, 400, "missing \"sentences\"");
    if (!(*sents)->child) return fail(err, errsz, 400, "\"sentences\" is empty");
    return 0;
}

/* tokens and bytes of one sentence (string or list of strings); 0 or 400 */
static int count_sentence(const cJSON *s, int idx, size_t *ntok, size_t *nbytes, char *err,
                          size_t errsz) {
    *ntok = *nbytes = 0;
    if (cJSON_IsString(s)) {
        size_t slen;
        const char *t = elmo_strip(s->valuestring, strlen(s->valuestring), &slen);
        *ntok = elmo_split_whitespace(t, slen, NULL, NULL, 0);
        *nbytes = slen + *ntok;
        return 0;
    }
    if (!cJSON_IsArray(s))
        return fail(err, errsz, 400, "sentences[%d] must be a string or a list of strings", idx);
    int k = 0;
    for (const cJSON *t = s->child; t; t = t->next, k++) {
        if (!cJSON_IsString(t))
            return fail(err, errsz, 400, "sentences[%d][%d] is not a string", idx, k);
        *nbytes += strlen(t->valuestring) + 1;
        (*ntok)++;
    }
    return 0;
}

/* copy one sentence's tokens to text at *pos, their pointers to tok */
static void fill_sentence(const cJSON *s, char *text, size_t *pos, const char **tok) {
    int k = 0;
    if (cJSON_IsString(s)) {
        size_t slen, st[64], ln[64], n;
        const char *t = elmo_strip(s->valuestring, strlen(s->valuestring), &slen);
        /* split in chunks of 64 tokens: a token never spans two chunks' boundary because
         * each chunk restarts right after the last token written */
        size_t off = 0;
        do {
            n = elmo_split_whitespace(t + off, slen - off, st, ln, 64);
            size_t m = n < 64 ? n : 64;
            for (size_t j = 0; j < m; j++) {
                memcpy(text + *pos, t + off + st[j], ln[j]);
                text[*pos + ln[j]] = 0;
                tok[k++] = text + *pos;
                *pos += ln[j] + 1;
            }
            if (m) off += st[m - 1] + ln[m - 1];
        } while (n > 64);
        return;
    }
    for (const cJSON *t = s->child; t; t = t->next) {
        size_t l = strlen(t->valuestring);
        memcpy(text + *pos, t->valuestring, l + 1);
        tok[k++] = text + *pos;
        *pos += l + 1;
    }
}

int serve_request_parse(const char *body, size_t len, long max_tokens, serve_request *r, char *err,
                        size_t errsz) {
    memset(r, 0, sizeof *r);
    int code;
    cJSON *root = parse_json(body, len, err, errsz, &code);
    if (!root) return code;
    const cJSON *sents;
    code = parse_fields(root, &sents, &r->layers, err, errsz);
    /* pass 1: counts and limits */
    size_t total = 0, bytes = 0;
    int n = 0;
    for (const cJSON *s = code ? NULL : sents->child; s; s = s->next, n++) {
        size_t nt, nb;
        if ((code = count_sentence(s, n, &nt, &nb, err, errsz))) break;
        total += nt;
        bytes += nb;
        if (total > (size_t)max_tokens || n >= max_tokens) {
            code = fail(err, errsz, 413, "more than %ld %s in the request (--max-request-tokens)",
                        max_tokens, n >= max_tokens ? "sentences" : "tokens");
            break;
        }
    }
    if (!code) { /* pass 2: the tokens */
        r->n = n;
        r->total = (long)total;
        r->n_tokens = malloc(sizeof(int) * (size_t)n);
        r->tokens = malloc(sizeof(*r->tokens) * (size_t)n);
        r->tok = malloc(sizeof(*r->tok) * (total ? total : 1));
        r->text = malloc(bytes ? bytes : 1);
        if (!r->n_tokens || !r->tokens || !r->tok || !r->text) {
            code = fail(err, errsz, 413, "request too large for the memory available");
        } else {
            size_t pos = 0, k = 0;
            int b = 0;
            for (const cJSON *s = sents->child; s; s = s->next, b++) {
                size_t nt, nb;
                count_sentence(s, b, &nt, &nb, err, errsz);
                r->n_tokens[b] = (int)nt;
                r->tokens[b] = r->tok + k;
                fill_sentence(s, r->text, &pos, r->tok + k);
                k += nt;
            }
        }
    }
    cJSON_Delete(root);
    if (code) serve_request_free(r);
    return code;
}

void serve_request_free(serve_request *r) {
    free(r->n_tokens);
    free(r->tokens);
    free(r->tok);
    free(r->text);
    memset(r, 0, sizeof *r);
}

size_t serve_selected_size(serve_layers l, int K, int n, int D) {
    switch (l) {
        case SERVE_ALL: return (size_t)K * n * D;
        case SERVE_MEAN: return (size_t)D;
        default: return (size_t)n * D;
    }
}

void serve_select(serve_layers l, int K, int n, int D, const float *raw, float *dst) {
    size_t nd = (size_t)n * D;
    if (l == SERVE_ALL) {
        memcpy(dst, raw, sizeof(float) * K * nd);
    } else if (l == SERVE_TOP) {
        memcpy(dst, raw + (size_t)(K - 1) * nd, sizeof(float) * nd);
    } else if (l == SERVE_AVERAGE) { /* as cmd_embed.c: sum over the layers in order, / K */
        for (size_t q = 0; q < nd; q++) {
            float acc = 0;
            for (int k = 0; k < K; k++) acc += raw[(size_t)k * nd + q];
            dst[q] = acc / (float)K;
        }
    } else { /* mean over the tokens (in order) of the average layer */
        for (int d = 0; d < D; d++) dst[d] = 0;
        for (int t = 0; t < n; t++)
            for (int d = 0; d < D; d++) {
                size_t q = (size_t)t * D + d;
                float acc = 0;
                for (int k = 0; k < K; k++) acc += raw[(size_t)k * nd + q];
                dst[d] += acc / (float)K;
            }
        if (n > 0)
            for (int d = 0; d < D; d++) dst[d] /= (float)n;
    }
}

/* ---- numbers */

/* rows arrays of cols floats: [[x, ...], ...] (or one [x, ...] when rows < 0); -1 when out
 * of memory, -2 when a value is NaN or infinite */
static int write_matrix(elmo_strbuf *b, int rows, int cols, const float *x) {
    int flat = rows < 0;
    if (flat) rows = 1;
    /* per row: ",[" + at most 16 bytes per number (its comma included) + "]"; the outer
     * brackets, and the scratch space that the last number may write past its end */
    if (elmo_strbuf_reserve(b, (size_t)rows * ((size_t)cols * 16 + 3) + 2 + SERVE_FLOAT_SPACE))
        return -1;
    char *p = b->p + b->n;
    if (!flat) *p++ = '[';
    for (int r = 0; r < rows; r++) {
        if (r) *p++ = ',';
        *p++ = '[';
        long len = serve_float_join(x + (size_t)r * cols, (size_t)cols, p);
        if (len < 0) {
            b->p[b->n] = 0;
            return -2;
        }
        p += len;
        *p++ = ']';
    }
    if (!flat) *p++ = ']';
    *p = 0;
    b->n = (size_t)(p - b->p);
    return 0;
}

int serve_write_json(elmo_strbuf *b, const char *fingerprint, serve_layers l, int K, int D, int n,
                     const int *n_tokens, const float *const *sel) {
    /* room for the whole answer at once (write_matrix's bound), not grown (copied) by halves */
    size_t room = 128 + SERVE_FLOAT_SPACE;
    for (int s = 0; s < n; s++) {
        size_t rows = l == SERVE_MEAN ? 1 : (size_t)n_tokens[s] * (l == SERVE_ALL ? K : 1);
        room += rows * ((size_t)D * 16 + 3) + (size_t)K * 4 + 8;
    }
    if (elmo_strbuf_reserve(b, room)) return -1;
    if (elmo_strbuf_printf(b, "{\"model\":\"%s\",\"layers\":\"%s\",\"embeddings\":[", fingerprint,
                           LAYER_NAMES[l]))
        return -1;
    for (int s = 0; s < n; s++) {
        if (s && elmo_strbuf_add(b, ",", 1)) return -1;
        int nt = n_tokens[s], bad = 0;
        if (l == SERVE_MEAN) {
            bad = write_matrix(b, -1, D, sel[s]);
        } else if (l == SERVE_ALL) {
            bad = elmo_strbuf_add(b, "[", 1);
            for (int k = 0; k < K && !bad; k++) {
                bad = k ? elmo_strbuf_add(b, ",", 1) : 0;
                if (!bad) bad = write_matrix(b, nt, D, sel[s] + (size_t)k * nt * D);
            }
            if (!bad) bad = elmo_strbuf_add(b, "]", 1);
        } else {
            bad = write_matrix(b, nt, D, sel[s]);
        }
        if (bad) return bad;
    }
    return elmo_strbuf_add(b, "]}\n", 3);
}

int serve_npy_possible(serve_layers l, int n, const int *n_tokens) {
    if (l == SERVE_MEAN) return 1;
    for (int s = 1; s < n; s++)
        if (n_tokens[s] != n_tokens[0]) return 0;
    return n > 0;
}

int serve_write_npy(elmo_strbuf *b, serve_layers l, int K, int D, int n, const int *n_tokens,
                    const float *const *sel) {
    char shape[96];
    int nt = n > 0 ? n_tokens[0] : 0;
    if (l == SERVE_MEAN)
        snprintf(shape, sizeof shape, "(%d, %d)", n, D);
    else if (l == SERVE_ALL)
        snprintf(shape, sizeof shape, "(%d, %d, %d, %d)", n, K, nt, D);
    else
        snprintf(shape, sizeof shape, "(%d, %d, %d)", n, nt, D);
    char hdr[256];
    int h =
        snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    int total = 10 + h + 1, pad = (64 - total % 64) % 64; /* header padded to 64 bytes */
    uint16_t hl = (uint16_t)(h + pad + 1);
    unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    size_t per = serve_selected_size(l, K, nt, D);
    if (elmo_strbuf_reserve(b, 10 + (size_t)h + pad + 1 + sizeof(float) * per * n)) return -1;
    memcpy(b->p + b->n, pre, 10);
    memcpy(b->p + b->n + 10, hdr, (size_t)h);
    memset(b->p + b->n + 10 + h, ' ', (size_t)pad);
    b->p[b->n + 10 + h + pad] = '\n';
    b->n += 10 + (size_t)h + pad + 1;
    for (int s = 0; s < n; s++) { /* x86 and every target of this build are little-endian */
        memcpy(b->p + b->n, sel[s], sizeof(float) * per);
        b->n += sizeof(float) * per;
    }
    b->p[b->n] = 0;
    return 0;
}

int serve_write_error(elmo_strbuf *b, const char *msg) {
    return elmo_strbuf_add(b, "{\"error\":\"", 10) || elmo_json_escape(b, msg, strlen(msg)) ||
           elmo_strbuf_add(b, "\"}\n", 3);
}
