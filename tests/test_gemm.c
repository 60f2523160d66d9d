/*
 * test_gemm.c: the matrix backend's kernels against plain double-precision loops:
 *  - our own kernel elmo_gemm_rm, and prepared weights (elmo_mat) in float32 and bfloat16
 *    (oneDNN, our AMX kernel where the CPU has AMX, or our float32 kernel where oneDNN's would
 *    depend on the batch), and their values read back (elmo_mat_unpack), for shapes covering
 *    every row-block remainder, partial column panels, K beyond one sub-panel, leading
 *    dimensions larger than the width, and accumulation into C; bfloat16 against the same
 *    loops on the rounded operands (products of bfloat16 values are exact in float32);
 *  - rows independent of the batch: each row of a 64-row product equals, bit for bit, the
 *    same row computed alone or in a block of 3 or 17, with and without accumulation into C
 *    (what makes results batch-independent);
 *  - the general product elmo_mm with every transpose combination;
 *  - float32 -> bfloat16 rounding (to nearest even, NaN stays NaN);
 *  - fastmath.h's exp / sigmoid / tanh against libm in double over the float range.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/bf16.h"
#include "kernels/fastmath.h"
#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "testutil.h"
#include "io/util.h"

static float frand(elmo_rng *r) { return (float)(2 * elmo_rng_uniform(r) - 1); }

/* C (M, N) (+)= A (M, K) · W (K, N) in double; bound[i] = sum |a||w| (for the tolerance) */
static void ref_gemm(int M, int N, int K, const float *A, int lda, const float *W, int ldw, int acc,
                     const float *C0, int ldc, double *C, double *bound) {
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

static void check(const char *what, int M, int N, int K, const float *C, int ldc, const float *C0,
                  const double *R, const double *bound, double rel) {
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

static void round_bf16(float *x, size_t n) { elmo_round_bf16(x, x, n); }

/* One shape on every kernel: own float32, elmo_mat float32 and bfloat16. */
static void check_shape(int M, int N, int K, int acc, elmo_rng *r) {
    int lda = K + 3, ldw = N + 5, ldc = N + 2;
    float *A = malloc(sizeof(float) * M * lda), *W = malloc(sizeof(float) * K * ldw);
    float *Ar = malloc(sizeof(float) * M * lda), *Wr = malloc(sizeof(float) * K * ldw);
    float *C0 = malloc(sizeof(float) * M * ldc), *C = malloc(sizeof(float) * M * ldc);
    double *R = malloc(sizeof(double) * M * N), *bd = malloc(sizeof(double) * M * N);
    for (int i = 0; i < M * lda; i++) A[i] = frand(r);
    for (int i = 0; i < K * ldw; i++) W[i] = frand(r);
    for (int i = 0; i < M * ldc; i++) C0[i] = frand(r);
    memcpy(Ar, A, sizeof(float) * M * lda);
    memcpy(Wr, W, sizeof(float) * K * ldw);
    round_bf16(Ar, (size_t)M * lda);
    round_bf16(Wr, (size_t)K * ldw);
    ref_gemm(M, N, K, A, lda, W, ldw, acc, C0, ldc, R, bd);
    memcpy(C, C0, sizeof(float) * M * ldc);
    elmo_gemm_rm(M, N, K, A, lda, W, ldw, acc, C, ldc);
    check("own f32", M, N, K, C, ldc, C0, R, bd, 1e-6);
    for (int bf = 0; bf < 2; bf++) {
        elmo_mat *w = NULL;
        assert_int_equal(
            elmo_mat_new(K, N, W, ldw, bf ? ELMO_PRECISION_BF16 : ELMO_PRECISION_FP32, &w),
            ELMO_OK);
        if (bf) ref_gemm(M, N, K, Ar, lda, Wr, ldw, acc, C0, ldc, R, bd);
        memcpy(C, C0, sizeof(float) * M * ldc);
        elmo_mat_mul(M, A, lda, w, acc, C, ldc);
        check(elmo_mat_impl(w), M, N, K, C, ldc, C0, R, bd, 1e-6);
        /* the prepared values read back: W itself, or W rounded to bfloat16 */
        float *U = malloc(sizeof(float) * K * ldw);
        assert_int_equal(elmo_mat_unpack(w, U, ldw), ELMO_OK);
        for (int k = 0; k < K; k++)
            if (memcmp(U + (size_t)k * ldw, (bf ? Wr : W) + (size_t)k * ldw, sizeof(float) * N))
                fail_msg("%s M=%d N=%d K=%d: unpacked row %d differs", elmo_mat_impl(w), M, N, K,
                         k);
        free(U);
        elmo_mat_free(w);
    }
    free(A), free(W), free(Ar), free(Wr), free(C0), free(C), free(R), free(bd);
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
                for (int acc = 0; acc < 2; acc++, cases++)
                    check_shape(Ms[mi], Ns[ni], Ks[ki], acc, &r);
    char f32[64];
    snprintf(f32, sizeof f32, "%s", elmo_mm_impl_name(64, 2048, 128, ELMO_PRECISION_FP32));
    elmo_mat *wb = NULL;
    float w1[32 * 64] = {0};
    assert_int_equal(elmo_mat_new(32, 64, w1, 64, ELMO_PRECISION_BF16, &wb), ELMO_OK);
    print_message(
        "%d shapes x 3 kernels; own kernel: %s; oneDNN for an LSTM-shaped product: %s (f32), "
        "%s (bf16); prepared bf16 weights: %s\n",
        cases, elmo_gemm_isa(), f32, elmo_mm_impl_name(64, 2048, 128, ELMO_PRECISION_BF16),
        elmo_mat_impl(wb));
    /* where the CPU has AMX (and no cap says otherwise), bfloat16 runs on our AMX kernel and
     * is what --precision auto picks; capped below AMX, auto is float32 */
    if (elmo_amx_usable() && !getenv("ONEDNN_MAX_CPU_ISA") && !getenv("ELMO_MATMUL")) {
        assert_string_equal(elmo_mat_impl(wb), "own:amx-bf16");
        assert_true(elmo_bf16_is_faster());
    }
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    if (cap && (strcmp(cap, "AVX2") == 0 || strcmp(cap, "SSE41") == 0 ||
                strcmp(cap, "AVX512_CORE_BF16") == 0))
        assert_false(elmo_bf16_is_faster());
    elmo_mat_free(wb);
}

/* Each row of a product does not depend on the other rows: 64 rows at once, then the same
 * rows alone and in blocks of 3 and 17, bit for bit, float32, bfloat16 and int8 weights. */
static void test_rows_independent(void **state) {
    (void)state;
    int M = 64, K = 256, N = 1024;
    elmo_rng r;
    elmo_rng_seed(&r, 7);
    float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N), *C1 = malloc(sizeof(float) * M * N);
    float *C0 = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) A[i] = frand(&r);
    for (int i = 0; i < K * N; i++) W[i] = 0.1f * frand(&r);
    for (int i = 0; i < M * N; i++) C0[i] = frand(&r);
    for (int kind = 0; kind < 6; kind++) { /* float32, bfloat16, int8 weights; then += C */
        int acc = kind >= 3;
        elmo_mat *w = NULL;
        assert_int_equal(
            elmo_mat_new(K, N, W, N, kind % 3 == 1 ? ELMO_PRECISION_BF16 : ELMO_PRECISION_FP32, &w),
            ELMO_OK);
        if (kind % 3 == 2) {
            elmo_mat *w8 = NULL;
            assert_int_equal(elmo_mat_convert(w, ELMO_PRECISION_INT8, &w8), ELMO_OK);
            elmo_mat_free(w);
            w = w8;
        }
        memcpy(C, C0, sizeof(float) * M * N);
        elmo_mat_mul(M, A, K, w, acc, C, N);
        static const int blocks[] = {1, 3, 17};
        for (int b = 0; b < 3; b++) {
            memcpy(C1, C0, sizeof(float) * M * N);
            for (int m0 = 0; m0 < M; m0 += blocks[b]) {
                int n = M - m0 < blocks[b] ? M - m0 : blocks[b];
                elmo_mat_mul(n, A + (size_t)m0 * K, K, w, acc, C1 + (size_t)m0 * N, N);
            }
            if (memcmp(C, C1, sizeof(float) * M * N))
                fail_msg("%s%s: rows computed in blocks of %d differ from the 64-row product",
                         elmo_mat_impl(w), acc ? " (accumulating)" : "", blocks[b]);
        }
        elmo_mat_free(w);
    }
    free(A), free(W), free(C), free(C1), free(C0);
}

/* Int8 weights: each weight within half a step (its column's scale) of the float32 one, and
 * the product equal to the float32 product with those rounded weights (up to float32
 * summation: 1e-6 of the sum of |a w|), plain and accumulating, for shapes around the panel
 * width (64 columns) and the row block (6 rows). */
static void test_int8_weights(void **state) {
    (void)state;
    static const int Ms[] = {1, 5, 6, 7, 64};
    static const int Ns[] = {1, 15, 16, 63, 64, 65, 130};
    static const int Ks[] = {1, 100, 300};
    elmo_rng r;
    elmo_rng_seed(&r, 11);
    double worst = 0, worst_q = 0;
    for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
                int M = Ms[mi], N = Ns[ni], K = Ks[ki];
                float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * K * N);
                float *Wq = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * N);
                float *C0 = malloc(sizeof(float) * M * N);
                for (int i = 0; i < M * K; i++) A[i] = frand(&r);
                for (int i = 0; i < K * N; i++)
                    W[i] = 0.1f * frand(&r) * (1 + i % N); /* columns of different scales */
                elmo_mat *w = NULL, *w8 = NULL;
                assert_int_equal(elmo_mat_new(K, N, W, N, ELMO_PRECISION_FP32, &w), ELMO_OK);
                assert_int_equal(elmo_mat_convert(w, ELMO_PRECISION_INT8, &w8), ELMO_OK);
                assert_string_equal(elmo_mat_impl(w8), "own:int8-weights");
                assert_int_equal(elmo_mat_unpack(w8, Wq, N), ELMO_OK);
                for (int n = 0; n < N; n++) {
                    double mx = 0;
                    for (int k = 0; k < K; k++) mx = fmax(mx, fabs(W[k * N + n]));
                    for (int k = 0; k < K; k++) {
                        double e = fabs(W[k * N + n] - Wq[k * N + n]) / (mx / 127);
                        worst_q = fmax(worst_q, e);
                        assert_true(e <= 0.5 + 1e-4);
                    }
                }
                for (int acc = 0; acc < 2; acc++) {
                    for (int i = 0; i < M * N; i++) C[i] = C0[i] = frand(&r);
                    elmo_mat_mul(M, A, K, w8, acc, C, N);
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < N; n++) {
                            double ref = acc ? C0[m * N + n] : 0, mag = fabs(ref);
                            for (int k = 0; k < K; k++) {
                                ref += (double)A[m * K + k] * Wq[k * N + n];
                                mag += fabs((double)A[m * K + k] * Wq[k * N + n]);
                            }
                            double e = fabs(C[m * N + n] - ref) / (mag + 1e-30);
                            worst = fmax(worst, e);
                            if (e > 1e-6)
                                fail_msg("int8 %dx%dx%d acc %d: row %d col %d: %g vs %g", M, K, N,
                                         acc, m, n, C[m * N + n], ref);
                        }
                }
                elmo_mat_free(w), elmo_mat_free(w8);
                free(A), free(W), free(Wq), free(C), free(C0);
            }
    print_message(
        "int8 weights (%s): rounding <= %.4f steps; product within %.2g of the sum of |a w|\n",
        elmo_gemm_isa(), worst_q, worst);
}

/* elmo_mm: C = op(A) op(B) + beta C for every transpose combination and beta 0 / 1. */
static void test_general(void **state) {
    (void)state;
    elmo_rng r;
    elmo_rng_seed(&r, 3);
    int M = 13, N = 70, K = 33;
    float A[70 * 70], B[70 * 70], C0[13 * 70], C[13 * 70];
    for (int i = 0; i < 70 * 70; i++) A[i] = frand(&r), B[i] = frand(&r);
    for (int i = 0; i < M * N; i++) C0[i] = frand(&r);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++) {
                int lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2;
                memcpy(C, C0, sizeof C);
                elmo_mm(ta, tb, M, N, K, A, lda, B, ldb, (float)beta, C, N);
                double md = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double s = beta ? C0[i * N + j] : 0;
                        for (int k = 0; k < K; k++)
                            s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                                 (tb ? B[j * ldb + k] : B[k * ldb + j]);
                        md = fmax(md, fabs(s - C[i * N + j]));
                    }
                if (md > 1e-4)
                    fail_msg("elmo_mm ta=%d tb=%d beta=%d: max |diff| %g", ta, tb, beta, md);
            }
}

static void test_bf16_rounding(void **state) {
    (void)state;
    uint16_t h;
    float f;
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1); just above rounds up */
    f = 1.0f + 0x1p-8f;
    elmo_f32_to_bf16(&f, &h, 1);
    assert_int_equal(h, 0x3f80);
    f = 1.0f + 0x1p-8f + 0x1p-20f;
    elmo_f32_to_bf16(&f, &h, 1);
    assert_int_equal(h, 0x3f81);
    f = 1.0f + 3 * 0x1p-8f; /* halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to even */
    elmo_f32_to_bf16(&f, &h, 1);
    assert_int_equal(h, 0x3f82);
    f = NAN;
    elmo_f32_to_bf16(&f, &h, 1);
    elmo_bf16_to_f32(&h, &f, 1);
    assert_true(isnan(f));
    f = INFINITY;
    elmo_f32_to_bf16(&f, &h, 1);
    assert_int_equal(h, 0x7f80);
    /* denormals become a zero of their sign (as the AVX512-BF16 instruction does) */
    f = -0x1p-130f;
    elmo_f32_to_bf16(&f, &h, 1);
    assert_int_equal(h, 0x8000);
    /* every bfloat16 value round-trips, denormals to zero */
    for (uint32_t v = 0; v < 0x10000; v++) {
        uint16_t x = (uint16_t)v, y;
        float g;
        elmo_bf16_to_f32(&x, &g, 1);
        if (isnan(g)) continue;
        elmo_f32_to_bf16(&g, &y, 1);
        assert_int_equal((x & 0x7f80) == 0 ? (x & 0x8000) : x, y);
    }
    /* the conversion in use (the AVX512-BF16 instruction where the CPU has it) gives the bits
     * of the C rounding, on every 61st of the 2^32 float bit patterns (NaNs, infinities,
     * denormals, ties), in runs whose lengths cover the vector loop's tail */
    enum { RUN = 4099 };
    float x[RUN];
    uint16_t got[RUN];
    for (uint64_t u0 = 0; u0 < (1ull << 32); u0 += (uint64_t)61 * RUN) {
        for (int i = 0; i < RUN; i++) {
            uint32_t u = (uint32_t)(u0 + (uint64_t)61 * i);
            memcpy(&x[i], &u, 4);
        }
        elmo_f32_to_bf16(x, got, RUN);
        for (int i = 0; i < RUN; i++)
            if (got[i] != elmo_bf16_of(x[i])) {
                uint32_t u;
                memcpy(&u, &x[i], 4);
                fail_msg("bfloat16 of %08x: %04x, the C rounding gives %04x", u, got[i],
                         elmo_bf16_of(x[i]));
            }
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
                  "(at %g, abs %.2g)\n",
                  me, xe, ms, xs, as, mt, xt, at);
    assert_true(me <= 2.0);
    assert_true(ms <= 4.0 && as <= 1.2e-7);
    assert_true(mt <= 3.0 && at <= 1.2e-7);
    /* saturation and symmetry */
    assert_true(elmo_sigmoidf_fast(-1000.0f) >= 0.0f && elmo_sigmoidf_fast(-1000.0f) < 1e-37f);
    assert_true(elmo_sigmoidf_fast(1000.0f) == 1.0f);
    assert_true(elmo_tanhf_fast(1000.0f) == 1.0f && elmo_tanhf_fast(-1000.0f) == -1.0f);
    assert_true(elmo_tanhf_fast(0.0f) == 0.0f && elmo_sigmoidf_fast(0.0f) == 0.5f);
    /* NaN in, NaN out (a damaged weight file must not turn into plausible numbers) */
    assert_true(isnan(elmo_expf_fast(NAN)) && isnan(elmo_sigmoidf_fast(NAN)) &&
                isnan(elmo_tanhf_fast(NAN)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),       cmocka_unit_test(test_rows_independent),
        cmocka_unit_test(test_int8_weights),  cmocka_unit_test(test_general),
        cmocka_unit_test(test_bf16_rounding), cmocka_unit_test(test_fastmath),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
