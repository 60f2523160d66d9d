/*
 * fastmath.h: exp, sigmoid and tanh for the fast path's elementwise loops (internal).
 *
 * Branch-free, call-free inline functions, so loops over arrays of them auto-vectorize
 * (AVX2 / AVX-512 with -O3 -march=native); libm's expf/tanhf are scalar calls and took half
 * of the LSTM time. Accuracy (test_fastmath in tests/test_gemm.c checks it over the whole float
 * range against libm in double):
 *   elmo_expf_fast     Cephes expf: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, degree-6
 *                      polynomial, scaling by 2^n through the exponent bits; <= 2 ulp on
 *                      [-87.3, 88.3] (clamped outside: exp(-87.3) ~ 1.2e-38, exp(88.3) ~ 2e38).
 *   elmo_sigmoidf_fast 1/(1+e) with e = exp(-|x|) (never overflows), mirrored for x < 0;
 *                      <= 3 ulp relative, absolute error < 1.2e-7.
 *   elmo_tanhf_fast    |x| < 0.625: Cephes' odd polynomial x + x^3 P(x^2); otherwise
 *                      1 - 2/(1 + exp(2|x|)) with the sign of x; <= 3 ulp relative.
 * NaN in gives NaN out, for all three (test_fastmath checks it): a damaged input does not turn
 * into plausible numbers.
 */
#ifndef ELMO_FASTMATH_H
#define ELMO_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float elmo_bits_to_float(int32_t i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline float elmo_expf_fast(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* n = round(x / ln2), by the 1.5 * 2^23 trick (round to nearest even) */
    float kf = x * 1.44269504088896341f + 12582912.0f;
    kf -= 12582912.0f;
    /* r = x - n ln2, ln2 split in two for an exact first product */
    float r = x - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    /* NaN passes the clamps (comparisons are false): its n is 0 and y stays NaN, so NaN in
     * gives NaN out (a float-to-int conversion of NaN would be undefined behaviour) */
    int32_t n = kf == kf ? (int32_t)kf : 0;
    return y * elmo_bits_to_float((n + 127) << 23);
}

static inline float elmo_sigmoidf_fast(float x) {
    float a = x < 0 ? -x : x;
    float e = elmo_expf_fast(-a); /* (0, 1] */
    float s = 1.0f / (1.0f + e);  /* sigmoid(|x|) */
    return x < 0 ? e * s : s;     /* sigmoid(-|x|) = e / (1 + e) */
}

static inline float elmo_tanhf_fast(float x) {
    float a = x < 0 ? -x : x;
    /* small |x|: odd polynomial (Cephes tanhf) */
    float z = a * a;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * a + a;
    /* large |x|: 1 - 2 / (1 + exp(2|x|)); exp clamps, so tanh saturates at 1 */
    float e = elmo_expf_fast(2.0f * a);
    float large = 1.0f - 2.0f / (1.0f + e);
    float t = a < 0.625f ? small : large;
    return x < 0 ? -t : t;
}

#endif
