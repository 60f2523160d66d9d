/*
 * serve_float.c: float32 to JSON text (see serve_float.h).
 *
 * Why the digits read back. A finite float f > 0 of binary exponent e2 (f in [2^e2, 2^(e2+1)))
 * is what every real number within half the gap to its neighbours reads back as; that half
 * gap is 2^(e2-24) (2^(e2-25) below a power of two), at least 2^-25 ~ 2.98e-8 of f. With the
 * decimal exponent e (f in [10^e, 10^(e+1))), the unit of the 9th significant digit is
 * 10^(e-8), at most 1e-8 of f: the half gap is more than 2.98 units, so the nearest 9-digit
 * decimal (0.5 unit off) reads back, and so does any decimal within 2.98 units. Here
 * y = f * 10^(8-e) is computed in double (10^(8-e) and the product rounded: y is within
 * 2.3e-7 units of the exact value) and rounded to the integer q: within 0.5000003 units. A
 * reader that first rounds the text to double moves it by 1.1e-16 of f more: still inside.
 *
 * Shorter digits (the nearest 8 or 7 when they read back: a float32's shortest decimal has 7
 * or 8 digits for most values) were tried: 10 % fewer bytes for a third more time per number
 * (13.1 against 9.8 ns on the default model's outputs, shared machine); the bytes cost the
 * server (one copy into the socket) far less than that time, so 9 digits.
 *
 * The layout for e in -3 .. 7 without branches (e < 0 or not is unpredictable): "0.000000"
 * is stored, then the 9 digits at the start (e >= 0) or after "0." and -e-1 zeros (e < 0);
 * then, for e >= 0, '.' after the units digit and the digits after it again one byte further
 * (for e < 0 those two stores go to scratch space past the text). Offsets and length come
 * from a table by e.
 */
#include "serve_float.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "serve_float.c stores text from little-endian registers"
#endif

/* g_p10[k - P10_MIN] = 10^k, correctly rounded (strtod): k = 8 - e for e in -45 .. 38, and
 * the thresholds 10^(e+1) */
enum { P10_MIN = -45, P10_MAX = 54, N_E2 = 277 /* e2 in -149 .. 127 */ };
static double g_p10[P10_MAX - P10_MIN + 1];
/* by binary exponent e2 (index e2 + 149): floor(log10(2^e2)), and 10^(that + 1) from where
 * on the decimal exponent is one more */
static signed char g_e10[N_E2];
static double g_thr[N_E2];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_tables(void) {
    char s[16];
    for (int k = P10_MIN; k <= P10_MAX; k++) {
        snprintf(s, sizeof s, "1e%d", k);
        g_p10[k - P10_MIN] = strtod(s, NULL);
    }
    for (int i = 0; i < N_E2; i++) {
        int e2 = i - 149;
        /* floor(e2 log10 2): no e2 in range but 0 puts the product within 4e-3 of an integer */
        int e = (int)floor(e2 * 0.30102999566398120);
        g_e10[i] = (signed char)e;
        g_thr[i] = g_p10[e + 1 - P10_MIN];
    }
}

/* The fixed-point layout by decimal exponent e (index e + 3): the 9 digits go to o + at; the
 * digits after the units digit are written again, shifted right by shift bits, at o + dot + 1
 * after a '.' at o + dot (for e < 0: to scratch space at 16); the length is the larger of nd
 * + plus and least (nd significant digits).
 *   e < 0: "0." then -e-1 zeros then the digits: at = 1 - e, length at + nd
 *   e >= 0: e + 1 digits, '.', at least one digit: length max(nd + 1, e + 3) */
typedef struct {
    unsigned char at, dot, shift, plus, least;
} layout;
static const layout LAYOUT[11] = {
    {4, 16, 0, 4, 0}, {3, 16, 0, 3, 0}, {2, 16, 0, 2, 0},                    /* e = -3 .. -1 */
    {0, 1, 0, 1, 3},  {0, 2, 8, 1, 4},  {0, 3, 16, 1, 5}, {0, 4, 24, 1, 6},  /* e = 0 .. 3 */
    {0, 5, 32, 1, 7}, {0, 6, 40, 1, 8}, {0, 7, 48, 1, 9}, {0, 8, 56, 1, 10}, /* e = 4 .. 7 */
};

/* r < 10^8 as 8 ASCII digits, the first in the lowest byte: two 4-digit halves in 32-bit
 * lanes, each split by multiplication into two 2-digit 16-bit lanes, then into 8-bit lanes
 * (x * 10486 >> 20 is x / 100 for x < 43699; x * 103 >> 10 is x / 10 for x < 179). The lanes'
 * products stay inside their lanes; the bits shifted in from a higher lane are masked off. */
static inline uint64_t digits8(uint32_t r) {
    uint64_t x = r / 10000 | (uint64_t)(r % 10000) << 32;
    uint64_t hi = (x * 10486) >> 20 & 0x0000007f0000007fULL;
    x = hi | (x - hi * 100) << 16;
    hi = (x * 103) >> 10 & 0x000f000f000f000fULL;
    return hi | (x - hi * 10) << 8; /* digit values 0..9 */
}

/* the text of d > 0 (finite; |f| exactly) of binary exponent i - 149 at o */
static inline int format_positive(double d, int i, char *o) {
    int e = g_e10[i] + (d >= g_thr[i]);
    /* y = d * 10^(8-e) in [1e8, 1e9) up to rounding; adding 1.5 * 2^52 rounds it to an
     * integer, held in the low bits of the sum */
    const double magic = 6755399441055744.0;
    double ym = d * g_p10[8 - e - P10_MIN] + magic;
    int64_t q, mb;
    memcpy(&q, &ym, 8);
    memcpy(&mb, &magic, 8);
    q -= mb;
    if (q >= 1000000000) q = 100000000, e++; /* rounded up to the next power of ten */
    uint32_t d0 = (uint32_t)q / 100000000u;
    uint64_t w = digits8((uint32_t)q - d0 * 100000000u);
    int nd = w ? 2 + (63 - __builtin_clzll(w)) / 8 : 1; /* significant digits */
    w |= 0x3030303030303030ULL;
    if ((unsigned)(e + 3) <= 10) { /* fixed point: 0.00ddd .. dddddddd.d, no branches */
        const layout *l = &LAYOUT[e + 3];
        memcpy(o, "0.000000", 8);
        o[l->at] = (char)('0' + d0);
        memcpy(o + l->at + 1, &w, 8);
        uint64_t frac = w >> l->shift; /* the digits after the units digit */
        o[l->dot] = '.';               /* for e < 0 these two go to scratch space */
        memcpy(o + l->dot + 1, &frac, 8);
        return nd + l->plus > l->least ? nd + l->plus : l->least;
    }
    o[0] = (char)('0' + d0); /* d.ddde-XX */
    o[1] = '.';
    memcpy(o + 2, &w, 8);
    int len = nd > 1 ? nd + 1 : 1;
    o[len++] = 'e';
    if (e < 0) o[len++] = '-', e = -e;
    if (e >= 10) o[len++] = (char)('0' + e / 10);
    o[len++] = (char)('0' + e % 10);
    return len;
}

/* serve_float_format once the tables exist */
static inline int format_float(float f, char *buf) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    uint32_t be = bits >> 23 & 0xff, m = bits & 0x7fffff, neg = bits >> 31;
    buf[0] = '-';
    char *o = buf + neg;
    double d = fabs((double)f);
    if (__builtin_expect(be - 1 < 254, 1)) /* normal */
        return (int)neg + format_positive(d, (int)be + 22, o);
    if (be == 0xff) return 0; /* NaN, infinities */
    if (m == 0) return (int)(memcpy(o, "0.0", 3), neg + 3);
    return (int)neg + format_positive(d, 31 - __builtin_clz(m), o); /* subnormal */
}

int serve_float_format(float f, char *buf) {
    pthread_once(&g_once, init_tables);
    return format_float(f, buf);
}

long serve_float_join(const float *x, size_t n, char *buf) {
    pthread_once(&g_once, init_tables);
    char *p = buf;
    int bad = 0;
    for (size_t j = 0; j < n; j++) {
        int len = format_float(x[j], p);
        bad |= len == 0;
        p += len;
        *p++ = ',';
    }
    return bad ? -1 : (long)(p - buf) - (n > 0);
}
