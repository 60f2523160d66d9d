/*
 * test_gemm.c: the fast path's kernels against plain double-precision loops:
 *  - elmo_gemm_rm (row-major weights) and elmo_gemm_packed / _f16 (panel layout) for shapes
 *    covering every row-block remainder, partial column panels, K beyond one sub-panel,
 *    leading dimensions larger than the width, and accumulation into C;
 *  - the panel layout (elmo_pack_panels, elmo_panel_index, in place);
 *  - float <-> half conversion (round to nearest even, every half value round-trips);
 *  - fastmath.h's exp / sigmoid / tanh against libm in double over the float range.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"
#include "gemm.h"
#include "testutil.h"
#include "util.h"

static float frand(elmo_rng *r) { return (float)(2 * elmo_rng_uniform(r) - 1); }

/* C (M, N) (+)= A (M, K) · W (K, N) in double; bound[i] = sum |a||w| (for the tolerance) */
static void ref_gemm(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                     int acc, const float *C0, int ldc, double *C, double *bound) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = acc ? C0[(size_t)m * ldc + n] : 0, b = acc ? fabs(s) : 0;
            for (int k = 0; k < K; k++) {
                double p = (double)A[(size_t)m * lda + k] * W[(size_t)k * ldw + n];
                s += p;
                b += fabs(p);
            }
            C[(size_t)m * N + n] = s;
            bound[(size_t)m * N + n] = b;
        }
}

static void check(const char *what, int M, int N, int K, const float *C, int ldc,
                  const float *C0, const double *R, const double *bound, double rel) {
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            double d = fabs(C[(size_t)m * ldc + n] - R[(size_t)m * N + n]);
            double tol = rel * bound[(size_t)m * N + n] + 1e-30;
            if (!(d <= tol))
                fail_msg("%s M=%d N=%d K=%d: C[%d][%d] = %.9g, expected %.9g (|diff| %.3g > %.3g)",
                         what, M, N, K, m, n, C[(size_t)m * ldc + n], R[(size_t)m * N + n], d, tol);
        }
        /* the padding beyond N in each row of C is untouched */
        for (int n = N; n < ldc; n++)
            if (memcmp(&C[(size_t)m * ldc + n], &C0[(size_t)m * ldc + n], sizeof(float)))
                fail_msg("%s M=%d N=%d K=%d: wrote outside C at [%d][%d]", what, M, N, K, m, n);
    }
}

static void test_kernels(void **state) {
    (void)state;
    static const int Ms[] = {1, 2, 5, 6, 7, 12, 13, 64};
    static const int Ns[] = {1, 15, 16, 17, 63, 64, 65, 130};
    static const int Ks[] = {1, 3, 100, 129, 300};
    elmo_rng r;
    elmo_rng_seed(&r, 42);
    int cases = 0;
    for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                for (int acc = 0; acc < 2; acc++) {
                    int M = Ms[mi], N = Ns[ni], K = Ks[ki];
                    int lda = K + 3, ldw = N + 5, ldc = N + 2;
                    float *A = malloc(sizeof(float) * M * lda), *W = malloc(sizeof(float) * K * ldw);
                    float *Wt = malloc(sizeof(float) * K * N), *Wp = malloc(sizeof(float) * K * N);
                    uint16_t *W16 = malloc(sizeof(uint16_t) * K * N);
                    float *Wr = malloc(sizeof(float) * K * N); /* W rounded to half */
                    float *C0 = malloc(sizeof(float) * M * ldc), *C = malloc(sizeof(float) * M * ldc);
                    double *R = malloc(sizeof(double) * M * N), *bd = malloc(sizeof(double) * M * N);
                    for (int i = 0; i < M * lda; i++) A[i] = frand(&r);
                    for (int i = 0; i < K * ldw; i++) W[i] = frand(&r);
                    for (int i = 0; i < M * ldc; i++) C0[i] = frand(&r);
                    for (int k = 0; k < K; k++) memcpy(Wt + (size_t)k * N, W + (size_t)k * ldw, sizeof(float) * N);
                    /* row-major */
                    ref_gemm(M, N, K, A, lda, W, ldw, acc, C0, ldc, R, bd);
                    memcpy(C, C0, sizeof(float) * M * ldc);
                    elmo_gemm_rm(M, N, K, A, lda, W, ldw, acc, C, ldc);
                    check("elmo_gemm_rm", M, N, K, C, ldc, C0, R, bd, 2e-6);
                    /* panel layout, float32 */
                    assert_int_equal(elmo_pack_panels(K, N, Wt, Wp), 0);
                    for (int k = 0; k < K; k++)
                        for (int n = 0; n < N; n++)
                            assert_true(Wp[elmo_panel_index(K, N, k, n)] == Wt[(size_t)k * N + n]);
                    memcpy(C, C0, sizeof(float) * M * ldc);
                    elmo_gemm_packed(M, N, K, A, lda, Wp, acc, C, ldc);
                    check("elmo_gemm_packed", M, N, K, C, ldc, C0, R, bd, 2e-6);
                    /* in place gives the same layout */
                    float *Wi = malloc(sizeof(float) * K * N);
                    memcpy(Wi, Wt, sizeof(float) * K * N);
                    assert_int_equal(elmo_pack_panels(K, N, Wi, Wi), 0);
                    assert_memory_equal(Wi, Wp, sizeof(float) * K * N);
                    free(Wi);
                    /* panel layout, float16: exact products of the rounded weights */
                    elmo_pack_panels_f16(K, N, Wt, W16);
                    for (int k = 0; k < K; k++)
                        for (int n = 0; n < N; n++) {
                            elmo_f16_to_f32(&W16[elmo_panel_index(K, N, k, n)], &Wr[(size_t)k * N + n], 1);
                            assert_true(fabsf(Wr[(size_t)k * N + n] - Wt[(size_t)k * N + n]) <=
                                        fabsf(Wt[(size_t)k * N + n]) * 0x1p-11f + 0x1p-25f);
                        }
                    ref_gemm(M, N, K, A, lda, Wr, N, acc, C0, ldc, R, bd);
                    memcpy(C, C0, sizeof(float) * M * ldc);
                    elmo_gemm_packed_f16(M, N, K, A, lda, W16, acc, C, ldc);
                    check("elmo_gemm_packed_f16", M, N, K, C, ldc, C0, R, bd, 2e-6);
                    free(A), free(W), free(Wt), free(Wp), free(W16), free(Wr), free(C0), free(C);
                    free(R), free(bd);
                    cases++;
                }
    print_message("%d shapes x 3 kernels agree with double-precision loops\n", cases);
}

static void test_half(void **state) {
    (void)state;
    /* every half value (but NaNs) converts to float and back unchanged */
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t hv = (uint16_t)h, back;
        float f;
        elmo_f16_to_f32(&hv, &f, 1);
        if (isnan(f)) continue;
        elmo_f32_to_f16(&f, &back, 1);
        if (back != hv) fail_msg("half 0x%04x -> %g -> 0x%04x", h, f, back);
    }
    /* rounding: to nearest, ties to even; overflow to inf; tiny to zero */
    struct { float f; uint16_t h; } cases[] = {
        {1.0f, 0x3C00}, {1.0f + 0x1p-11f, 0x3C00}, {1.0f + 3 * 0x1p-11f, 0x3C02},
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3C01}, {-2.0f, 0xC000}, {65504.0f, 0x7BFF},
        {65520.0f, 0x7C00}, {1e-8f, 0x0000}, {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000},
        {3 * 0x1p-26f, 0x0001}, {0x1p-14f, 0x0400}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint16_t h;
        elmo_f32_to_f16(&cases[i].f, &h, 1);
        if (h != cases[i].h) fail_msg("f32_to_f16(%a) = 0x%04x, expected 0x%04x", cases[i].f, h, cases[i].h);
    }
}

/* error of a float result in units in the last place of the exact value */
static double ulps(float got, double exact) {
    float e = (float)exact;
    double u = (double)nextafterf(fabsf(e), INFINITY) - fabsf(e);
    if (u == 0 || !isfinite(u)) u = 0x1p-149;
    return fabs(got - exact) / u;
}

static void test_fastmath(void **state) {
    (void)state;
    double me = 0, ms = 0, mt = 0, as = 0, at = 0;
    float xe = 0, xs = 0, xt = 0;
    /* every 4099th bit pattern: about a million floats of every magnitude and sign */
    for (uint64_t i = 0; i < 0x100000000ull; i += 4099) {
        uint32_t bits = (uint32_t)i;
        float x;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x)) continue;
        if (x > -87.3f && x < 88.3f) {
            double u = ulps(elmo_expf_fast(x), exp((double)x));
            if (u > me) me = u, xe = x;
        }
        double s = 1.0 / (1.0 + exp(-(double)x)), t = tanh((double)x);
        float fs = elmo_sigmoidf_fast(x), ft = elmo_tanhf_fast(x);
        if (fabs(fs - s) > as) as = fabs(fs - s);
        if (fabs(ft - t) > at) at = fabs(ft - t);
        if (s > 1e-30) {
            double u = ulps(fs, s);
            if (u > ms) ms = u, xs = x;
        }
        if (fabs(t) > 1e-30) {
            double u = ulps(ft, t);
            if (u > mt) mt = u, xt = x;
        }
    }
    print_message("fast exp %.2f ulp (at %g), sigmoid %.2f ulp (at %g, abs %.2g), tanh %.2f ulp "
                  "(at %g, abs %.2g)\n", me, xe, ms, xs, as, mt, xt, at);
    assert_true(me <= 2.0);
    assert_true(ms <= 4.0 && as <= 1.2e-7);
    assert_true(mt <= 3.0 && at <= 1.2e-7);
    /* saturation and symmetry */
    assert_true(elmo_sigmoidf_fast(-1000.0f) >= 0.0f && elmo_sigmoidf_fast(-1000.0f) < 1e-37f);
    assert_true(elmo_sigmoidf_fast(1000.0f) == 1.0f);
    assert_true(elmo_tanhf_fast(1000.0f) == 1.0f && elmo_tanhf_fast(-1000.0f) == -1.0f);
    assert_true(elmo_tanhf_fast(0.0f) == 0.0f && elmo_sigmoidf_fast(0.0f) == 0.5f);
    /* NaN in, NaN out (a damaged weight file must not turn into plausible numbers) */
    assert_true(isnan(elmo_expf_fast(NAN)) && isnan(elmo_sigmoidf_fast(NAN)) && isnan(elmo_tanhf_fast(NAN)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_half),
        cmocka_unit_test(test_fastmath),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
