/*
 * test_serve_float.c: the numbers of `elmo serve`'s JSON answers (tools/serve_float.c). Every
 * finite float32 tried is written as a JSON number (grammar checked, with '.' or 'e', at most
 * 9 significant digits, at most 15 bytes) that reads back to the same bits by strtof and by
 * strtod then a rounding to float (as Python's json + numpy do). Tried: edge values (zeros,
 * subnormals, FLT_MIN, FLT_MAX, powers of two and ten with their neighbours, integers, the
 * ends of the fixed-point layout), 6 million random bit patterns (half of them in the range
 * of embeddings), every float of [0.5, 1) and every 16th of [1, 2); the digits are the
 * nearest 9 (printf's %.8e, on a sample). NaN and infinities are refused: serve_float_format
 * gives 0, serve_write_json -2 (the server answers 500). With ELMO_FLOAT_EXHAUSTIVE=1 in the
 * environment, also every one of the 2^32 bit patterns (minutes; not in ctest).
 */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_float.h"
#include "serve_proto.h"
#include "testutil.h"
#include "io/util.h"

/* 1 when s[0..n) is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)? */
static int json_number(const char *s, int n) {
    int i = 0;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        int j = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == j) return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        int j = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == j) return 0;
    }
    return i == n;
}

/* significant digits of a number's text: from its first non-zero digit to its last */
static int sig_digits(const char *s) {
    int n = 0, first = -1, last = -1;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (*s != '0') last = n, first = first < 0 ? n : first;
        n++;
    }
    return first < 0 ? 0 : last - first + 1;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* f written and checked; the text in out (NUL-terminated), its length returned. A failure
 * names the value and the text. */
static int check(float f, char *out) {
    char buf[SERVE_FLOAT_SPACE + 1];
    memset(buf, 'x', sizeof buf);
    int n = serve_float_format(f, buf);
    if (n <= 0 || n > 15) fail_msg("%.9g (0x%08x): length %d", (double)f, bits_of(f), n);
    buf[n] = 0;
    float g = strtof(buf, NULL), h = (float)strtod(buf, NULL);
    if (memcmp(&f, &g, 4) || memcmp(&f, &h, 4))
        fail_msg("%.9g (0x%08x) written as %s reads back as %.9g / %.9g", (double)f, bits_of(f),
                 buf, (double)g, (double)h);
    if (!json_number(buf, n) || !strpbrk(buf, ".e") || sig_digits(buf) > 9)
        fail_msg("%.9g written as %s: not a JSON float of at most 9 digits", (double)f, buf);
    if (out) memcpy(out, buf, (size_t)n + 1);
    return n;
}

/* f, -f and their 3 neighbours on each side (those that are finite) */
static void check_around(float f) {
    uint32_t u = bits_of(fabsf(f));
    for (int k = -3; k <= 3; k++) {
        uint32_t v = u + (uint32_t)k;
        if ((int)u + k < 0 || (v & 0x7f800000u) == 0x7f800000u) continue;
        check(from_bits(v), NULL);
        check(from_bits(v | 0x80000000u), NULL);
    }
}

static void test_exact_texts(void **state) {
    (void)state;
    struct {
        float f;
        const char *text;
    } cases[] = {
        {0.0f, "0.0"},
        {-0.0f, "-0.0"},
        {1.0f, "1.0"},
        {-1.0f, "-1.0"},
        {0.5f, "0.5"},
        {-0.25f, "-0.25"},
        {0.375f, "0.375"},
        {3.0f, "3.0"},
        {100.0f, "100.0"},
        {12.25f, "12.25"},
        {1024.5f, "1024.5"},
        {0.0078125f, "0.0078125"},
        {0.0009765625f, "9.765625e-4"},
        {0.1f, "0.100000001"},
        {0.3f, "0.300000012"},
        {-0.123456789f, "-0.123456791"},
        {1e-3f, "0.00100000005"},
        {1e-4f, "9.99999975e-5"},
        {16777216.0f, "16777216.0"},
        {12345678.0f, "12345678.0"},
        {123456789.0f, "1.23456792e8"},
        {1e8f, "1e8"},
        {99999999.0f, "1e8"},
        {1e9f, "1e9"},
        {1073741824.0f, "1.07374182e9"},
        {FLT_MAX, "3.40282347e38"},
        {-FLT_MAX, "-3.40282347e38"},
        {FLT_MIN, "1.17549435e-38"},
        {FLT_TRUE_MIN, "1.40129846e-45"},
    };
    char out[32];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check(cases[i].f, out);
        if (strcmp(out, cases[i].text) != 0)
            fail_msg("%.9g written as %s, expected %s", (double)cases[i].f, out, cases[i].text);
    }
}

static void test_edge_values(void **state) {
    (void)state;
    float edge[] = {
        FLT_MIN, FLT_MAX,     FLT_TRUE_MIN, nextafterf(FLT_MIN, 0), 2 * FLT_TRUE_MIN, 1e-3f,
        1e-4f,   9.99999e-4f, 1e8f,         999999999.0f,           99999999.0f,      1e-45f,
        1e38f};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) check_around(edge[i]);
    for (uint32_t m = 1; m < 4096; m++) check(from_bits(m), NULL); /* subnormals */
    for (uint32_t m = 0x7fffff; m > 0x7fffff - 4096; m--) check(from_bits(m), NULL);
    for (int be = 1; be < 255; be++) check_around(from_bits((uint32_t)be << 23)); /* 2^k */
    for (int k = -46; k <= 39; k++) { /* the floats nearest 10^k, and 10^k - 0.5 ulp */
        char s[16];
        snprintf(s, sizeof s, "1e%d", k);
        float p = strtof(s, NULL);
        if (isinf(p)) continue;
        check_around(p);
        check_around(5 * p), check_around(9.5f * p), check_around(nextafterf(10 * p, 0));
    }
    for (int i = 0; i <= 1000000; i++) check((float)i, NULL), check(-(float)i / 1024, NULL);
    for (int i = 0; i < 64; i++) { /* integers past 2^24, where floats are even */
        check_around((float)(16777216 + 2 * i));
        check_around((float)(1e9 - 64 * i));
    }
}

/* xorshift64 */
static uint64_t next(uint64_t *x) {
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

static void test_random_values(void **state) {
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (long i = 0; i < 6000000; i++) {
        uint64_t r = next(&x);
        uint32_t u = (uint32_t)r;
        if (i % 2) /* |x| in [2^-14, 2^8): where embeddings are */
            u = (u & 0x807fffffu) | (uint32_t)(113 + (r >> 40) % 22) << 23;
        if ((u & 0x7f800000u) == 0x7f800000u) continue;
        check(from_bits(u), NULL);
    }
}

/* every float of [0.5, 1) (decimal exponent -1: most numbers of an embedding), and every
 * 16th of [1, 2) */
static void test_whole_binades(void **state) {
    (void)state;
    for (uint32_t u = bits_of(0.5f); u < bits_of(1.0f); u++) check(from_bits(u), NULL);
    for (uint32_t u = bits_of(1.0f); u < bits_of(2.0f); u += 16) check(from_bits(u), NULL);
}

/* the digits are the nearest 9 (printf's %.8e: exact), but where the value lies within a
 * millionth of a unit of halfway between two (y carries rounding errors of ~2e-7 units) */
static void test_nearest_digits(void **state) {
    (void)state;
    uint64_t x = 1234567;
    long n = 0, near_half = 0;
    for (long i = 0; i < 1000000; i++) {
        uint64_t r = next(&x);
        uint32_t u = (uint32_t)r;
        if (i % 3) u = (u & 0x807fffffu) | (uint32_t)(113 + (r >> 40) % 22) << 23;
        float f = from_bits(u);
        if (!isfinite(f) || f == 0) continue;
        char out[32], want[32];
        check(f, out);
        snprintf(want, sizeof want, "%.8e", (double)f);
        n++;
        if (strtod(out, NULL) == strtod(want, NULL)) continue;
        char all[40], rest8[9]; /* the 10th to 17th digits: how near halfway */
        snprintf(all, sizeof all, "%.16e", (double)f);
        memcpy(rest8, all + (all[0] == '-') + 10, 8);
        rest8[8] = 0;
        double rest = fabs(atol(rest8) * 1e-8 - 0.5);
        if (rest > 1e-6)
            fail_msg("%.9g written as %s, the nearest 9 digits are %s", (double)f, out, want);
        near_half++;
    }
    print_message("%ld values: the nearest 9 digits (%ld within a millionth of halfway)\n", n,
                  near_half);
}

static void test_not_finite(void **state) {
    (void)state;
    char buf[SERVE_FLOAT_SPACE];
    float bad[] = {NAN, -NAN, INFINITY, -INFINITY, from_bits(0x7f800001u), from_bits(0xffc00000u)};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(serve_float_format(bad[i], buf), 0);
    float row[4] = {1, 2, NAN, 4};
    char line[4 * 16 + SERVE_FLOAT_SPACE];
    assert_int_equal(serve_float_join(row, 4, line), -1);
    row[2] = 3;
    long n = serve_float_join(row, 4, line);
    assert_int_equal(n, 15);
    assert_memory_equal(line, "1.0,2.0,3.0,4.0", 15);
    assert_int_equal(serve_float_join(row, 0, line), 0);
}

/* a whole answer parses (cJSON) to the same floats, bit for bit; with a NaN it is refused */
static void test_answer(void **state) {
    (void)state;
    enum { K = 3, D = 5 };
    int nt[3] = {2, 0, 4};
    float *v[3];
    uint64_t x = 42;
    for (int s = 0; s < 3; s++) {
        v[s] = malloc(sizeof(float) * (K * D * nt[s] + 1));
        for (int i = 0; i < K * D * nt[s]; i++)
            v[s][i] =
                (float)((int64_t)(next(&x) % 2000001) - 1000000) * 1e-6f * (float)(1 << (i % 5));
    }
    elmo_strbuf b = {0};
    assert_int_equal(
        serve_write_json(&b, "0123456789abcdef", SERVE_ALL, K, D, 3, nt, (const float *const *)v),
        0);
    cJSON *j = cJSON_Parse(b.p);
    assert_non_null(j);
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(j, "embeddings");
    assert_int_equal(cJSON_GetArraySize(emb), 3);
    for (int s = 0; s < 3; s++) {
        const cJSON *sk = cJSON_GetArrayItem(emb, s);
        assert_int_equal(cJSON_GetArraySize(sk), K);
        for (int k = 0; k < K; k++)
            for (int t = 0; t < nt[s]; t++)
                for (int d = 0; d < D; d++) {
                    const cJSON *num =
                        cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetArrayItem(sk, k), t), d);
                    float got = (float)num->valuedouble, want = v[s][(k * nt[s] + t) * D + d];
                    assert_memory_equal(&got, &want, 4);
                }
    }
    cJSON_Delete(j);
    b.n = 0;
    v[2][7] = INFINITY;
    assert_int_equal(
        serve_write_json(&b, "0123456789abcdef", SERVE_ALL, K, D, 3, nt, (const float *const *)v),
        -2);
    elmo_strbuf_free(&b);
    for (int s = 0; s < 3; s++) free(v[s]);
}

/* all 2^32 bit patterns, when asked for (ELMO_FLOAT_EXHAUSTIVE=1): about 10 minutes */
static void test_exhaustive(void **state) {
    (void)state;
    if (!getenv("ELMO_FLOAT_EXHAUSTIVE")) skip();
    char buf[SERVE_FLOAT_SPACE + 1];
    uint32_t u = 0;
    do {
        float f = from_bits(u);
        int n = serve_float_format(f, buf);
        if (!isfinite(f)) {
            if (n != 0) fail_msg("0x%08x: not finite, written", u);
            continue;
        }
        buf[n] = 0;
        float g = strtof(buf, NULL);
        if (n <= 0 || n > 15 || memcmp(&f, &g, 4)) fail_msg("0x%08x written as %s", u, buf);
        if ((u & 0x0fffffffu) == 0) print_message("0x%08x ok\n", u);
    } while (++u != 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_texts),    cmocka_unit_test(test_edge_values),
        cmocka_unit_test(test_random_values),  cmocka_unit_test(test_whole_binades),
        cmocka_unit_test(test_nearest_digits), cmocka_unit_test(test_not_finite),
        cmocka_unit_test(test_answer),         cmocka_unit_test(test_exhaustive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
