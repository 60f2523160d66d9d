/*
 * bench_json.c: the cost of `elmo serve`'s JSON answers, side by side: the same embeddings
 * (real ones: the first sentences of a file through a model) written three ways, each
 * sentence one answer with layers "all" as the server writes it:
 *   printf   snprintf("%.9g") per number into the answer (the simple way)
 *   previous the server's formatter before tools/serve_float.c (copied here as it was: 9
 *            digits from a double product, trailing zeros cut, laid out with branches)
 *   new      serve_write_json (tools/serve_proto.c + serve_float.c)
 *
 *   bench_json [--model models/elmo-en-small] [--input ../shared/peer/data/brown-200.txt]
 *              [--sentences 64] [--reps 7]
 *
 * Every way's text is checked to read back (strtof) to the same floats. Each way runs --reps
 * times, interleaved with the others; the best time counts (the machine may be shared).
 * Prints ns and bytes per number, and the ratios to "new", on stderr; one JSON line on stdout.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "serve_proto.h"
#include "io/textio.h"
#include "io/util.h"

/* ---- the previous formatter (tools/serve_proto.c at 504d7ba) */

enum { P10_MAX = 64 };
static double g_p10[2 * P10_MAX + 1];

static long long prev_digits9(double d, int be, int *e10) {
    int e2 = be ? be - 127 : ilogb(d);
    int e = (e2 * 78913) >> 18;
    long long q = (long long)(d * g_p10[8 - e + P10_MAX] + 0.5);
    if (q >= 1000000000LL)
        e++, q = (long long)(d * g_p10[8 - e + P10_MAX] + 0.5);
    else if (q < 100000000LL)
        e--, q = (long long)(d * g_p10[8 - e + P10_MAX] + 0.5);
    if (q >= 1000000000LL) q /= 10, e++;
    *e10 = e;
    return q;
}

static const char DIG2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static int prev_format(float f, char *buf) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    int be = (int)((bits >> 23) & 0xff), len = 0;
    if (be == 0xff) return (int)(memcpy(buf, "null", 4), 4);
    if (bits >> 31) buf[len++] = '-';
    if ((bits & 0x7fffffffu) == 0) return (int)(memcpy(buf + len, "0.0", 3), len + 3);
    int e;
    long long q = prev_digits9(fabs((double)f), be, &e);
    char dig[10];
    dig[0] = (char)('0' + q / 100000000);
    unsigned r = (unsigned)(q % 100000000);
    memcpy(dig + 1, DIG2 + 2 * (r / 1000000), 2);
    memcpy(dig + 3, DIG2 + 2 * (r / 10000 % 100), 2);
    memcpy(dig + 5, DIG2 + 2 * (r / 100 % 100), 2);
    memcpy(dig + 7, DIG2 + 2 * (r % 100), 2);
    int nd = 9;
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    if (e >= 0 && e < 9) {
        if (nd > e + 1) {
            memcpy(buf + len, dig, (size_t)e + 1);
            buf[len + e + 1] = '.';
            memcpy(buf + len + e + 2, dig + e + 1, (size_t)(nd - e - 1));
            return len + nd + 1;
        }
        for (int i = 0; i <= e; i++) buf[len++] = i < nd ? dig[i] : '0';
        memcpy(buf + len, ".0", 2);
        return len + 2;
    }
    if (e < 0 && e >= -5) {
        buf[len++] = '0';
        buf[len++] = '.';
        for (int i = 0; i < -e - 1; i++) buf[len++] = '0';
        memcpy(buf + len, dig, (size_t)nd);
        return len + nd;
    }
    buf[len++] = dig[0];
    buf[len++] = '.';
    if (nd > 1)
        memcpy(buf + len, dig + 1, (size_t)(nd - 1)), len += nd - 1;
    else
        buf[len++] = '0';
    return len + sprintf(buf + len, "e%d", e);
}

/* ---- the answers, one per sentence: (K, n, D) as [[[x, ...], ...], ...] */

typedef int (*format_fn)(float f, char *buf);

static int printf_format(float f, char *buf) { return snprintf(buf, 32, "%.9g", (double)f); }

/* the answer written number by number with fmt, as the server wrote it before */
static int answer_by_number(elmo_strbuf *b, format_fn fmt, int K, int n, int D, const float *x) {
    if (elmo_strbuf_printf(b,
                           "{\"model\":\"0123456789abcdef\",\"layers\":\"all\",\"embeddings\":[["))
        return -1;
    for (int k = 0; k < K; k++) {
        if (elmo_strbuf_reserve(b, (size_t)n * ((size_t)D * 25 + 4) + 8)) return -1;
        char *p = b->p + b->n;
        *p++ = k ? ',' : '[';
        if (k) *p++ = '[';
        for (int t = 0; t < n; t++) {
            if (t) *p++ = ',';
            *p++ = '[';
            for (int d = 0; d < D; d++) {
                if (d) *p++ = ',';
                p += fmt(x[((size_t)k * n + t) * D + d], p);
            }
            *p++ = ']';
        }
        *p++ = ']';
        *p = 0;
        b->n = (size_t)(p - b->p);
    }
    return elmo_strbuf_add(b, "]]}\n", 4);
}

/* the numbers of an answer read back (strtof) to x: 0, or -1 */
static int reads_back(const char *text, long count, const float *x) {
    const char *p = strstr(text, "\"embeddings\":");
    long i = 0;
    for (p += 13; *p && i <= count;) {
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            float g = strtof(p, &end);
            if (i == count || memcmp(&g, &x[i], 4) != 0) return -1;
            i++;
            p = end;
        } else {
            p++;
        }
    }
    return i == count ? 0 : -1;
}

typedef struct {
    const char *name;
    double best_s;
    size_t bytes;
} way;

int main(int argc, char **argv) {
    const char *model_dir = "models/elmo-en-small", *input = "../shared/peer/data/brown-200.txt";
    int nsent = 64, reps = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model"))
            model_dir = argv[i + 1];
        else if (!strcmp(argv[i], "--input"))
            input = argv[i + 1];
        else if (!strcmp(argv[i], "--sentences"))
            nsent = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else
            return fprintf(stderr, "bench_json: unknown option %s\n", argv[i]), 2;
    }
    for (int k = -P10_MAX; k <= P10_MAX; k++) g_p10[k + P10_MAX] = pow(10.0, k);
    FILE *in = fopen(input, "r");
    if (!in) return fprintf(stderr, "bench_json: cannot open %s\n", input), 1;
    elmo_model *m;
    elmo_session *s;
    if (elmo_model_load_dir(model_dir, &m) || elmo_session_new(m, 1, 2, &s))
        return fprintf(stderr, "bench_json: %s\n", elmo_last_error()), 1;
    int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
    float **out = calloc((size_t)nsent, sizeof *out);
    int *nt = calloc((size_t)nsent, sizeof *nt), ns = 0;
    long numbers = 0;
    char line[8192];
    while (ns < nsent && fgets(line, sizeof line, in)) { /* embed each sentence */
        size_t st[512], ln[512];
        int n = (int)elmo_split_whitespace(line, strlen(line), st, ln, 512);
        if (n <= 0 || n > 512) continue;
        const char *tok[512];
        for (int j = 0; j < n; j++) line[st[j] + ln[j]] = 0, tok[j] = line + st[j];
        const char *const *tk = tok;
        out[ns] = malloc(sizeof(float) * (size_t)K * n * D);
        if (elmo_embed(s, 1, &tk, &n, &out[ns]))
            return fprintf(stderr, "%s\n", elmo_last_error()), 1;
        nt[ns++] = n;
        numbers += (long)K * n * D;
    }
    fclose(in);
    way ways[3] = {{"printf %.9g", 1e30, 0}, {"previous", 1e30, 0}, {"new", 1e30, 0}};
    elmo_strbuf b = {0};
    for (int r = 0; r < reps; r++)
        for (int w = 0; w < 3; w++) {
            size_t bytes = 0;
            double t0 = elmo_now();
            for (int j = 0; j < ns; j++) {
                b.n = 0;
                const float *sel = out[j];
                int bad = w == 2 ? serve_write_json(&b, "0123456789abcdef", SERVE_ALL, K, D, 1,
                                                    &nt[j], &sel)
                                 : answer_by_number(&b, w ? prev_format : printf_format, K, nt[j],
                                                    D, out[j]);
                if (bad) return fprintf(stderr, "bench_json: out of memory\n"), 1;
                bytes += b.n;
                if (r == 0 && reads_back(b.p, (long)K * nt[j] * D, out[j]))
                    return fprintf(stderr, "bench_json: %s: sentence %d does not read back\n",
                                   ways[w].name, j),
                           1;
            }
            double t = elmo_now() - t0;
            if (t < ways[w].best_s) ways[w].best_s = t;
            ways[w].bytes = bytes;
        }
    fprintf(stderr, "bench_json: %d sentences, %ld numbers (layers all, K=%d, D=%d), best of %d\n",
            ns, numbers, K, D, reps);
    for (int w = 0; w < 3; w++)
        fprintf(stderr,
                "  %-12s %6.2f ns per number  %5.2f bytes per number  %5.2fx the time of new\n",
                ways[w].name, ways[w].best_s * 1e9 / numbers, (double)ways[w].bytes / numbers,
                ways[w].best_s / ways[2].best_s);
    printf("{\"numbers\": %ld, \"printf_ns\": %.2f, \"previous_ns\": %.2f, \"new_ns\": %.2f, "
           "\"printf_bytes\": %.2f, \"previous_bytes\": %.2f, \"new_bytes\": %.2f, "
           "\"previous_over_new\": %.2f}\n",
           numbers, ways[0].best_s * 1e9 / numbers, ways[1].best_s * 1e9 / numbers,
           ways[2].best_s * 1e9 / numbers, (double)ways[0].bytes / numbers,
           (double)ways[1].bytes / numbers, (double)ways[2].bytes / numbers,
           ways[1].best_s / ways[2].best_s);
    elmo_strbuf_free(&b);
    for (int j = 0; j < ns; j++) free(out[j]);
    free(out);
    free(nt);
    elmo_session_free(s);
    elmo_model_free(m);
    return 0;
}
