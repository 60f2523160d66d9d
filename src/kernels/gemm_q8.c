/*
 * gemm_q8.c: see gemm.h, elmo_gemm_q8. Float32 activations times int8 weights with a float32
 * scale per output column, for the products of one time step of small batches (one sentence):
 * those stream the whole weight matrix once per step, so a quarter of float32's bytes is
 * what makes them faster.
 *
 *   C (M, N) = (A (M, K) · Q (K, N)) * scale (N)  [+ C]
 *
 * Q is stored in panels of 64 columns (ELMO_Q8_PANEL), each panel K x 64 bytes contiguous
 * (zero beyond column N): one panel is read sequentially, once per block of rows.
 *
 * Each output is one float32 sum over k in ascending order of a[k] * q[k][n] (the int8 weight
 * widened to float32, exact), then multiplied by its column's scale and added to C: it depends
 * only on its row of A, never on M, so results do not depend on the batch.
 * Register blocking (AVX-512): up to MR = 6 rows of A times 64 columns (4 vectors of 16): per
 * k one 64-byte load of Q, widened to 4 float vectors, and MR * 4 FMAs. AVX2: 6 rows times 16
 * columns (2 vectors of 8). Plain C: the same sums, k ascending.
 * Compiled three times like gemm.c (CMakeLists.txt); elmo_gemm_q8 picks the variant at run
 * time (ELMO_GEMM_ISA caps it, as for elmo_gemm_rm).
 */
#include "kernels/gemm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#ifndef ELMO_GEMM_SUFFIX /* the build with the library's flags; it holds the dispatcher */
#define ELMO_GEMM_SUFFIX _plain
#define ELMO_GEMM_Q8_DISPATCH
#endif
#define Q8_CAT2(a, b) a##b
#define Q8_CAT(a, b) Q8_CAT2(a, b)
#define GEMM_Q8 Q8_CAT(elmo_gemm_q8, ELMO_GEMM_SUFFIX)
void GEMM_Q8(int M, int N, int K, const float *A, int lda, const int8_t *Q, const float *scale,
             int accumulate, float *C, int ldc);

#define PW ELMO_Q8_PANEL /* bytes of a panel's row */

#define MR 6

/* The finished sums acc of one row: C = acc * scale (+ C). */
static inline float finish(float acc, float s, int accumulate, float c) {
    return accumulate ? c + acc * s : acc * s;
}

#if defined(__AVX512F__)
/* ------------------------------------------------------------------------------------------ */

/* 16 int8 weights at q (masked to n < 16 at the tail) as float32 */
static inline __m512 widen16(const int8_t *q, __mmask16 m) {
    __m128i b = _mm_maskz_loadu_epi8(m, q);
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
}

static inline __mmask16 mask16(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* mr <= MR rows of A times the nc <= 64 columns of one panel Q (K, 64); inlined with a
 * constant mr so that the accumulators stay in registers */
static inline __attribute__((always_inline)) void tile_rows(const int mr, int nc, int K,
                                                            const float *A, int lda,
                                                            const int8_t *Q, const float *scale,
                                                            int accumulate, float *C, int ldc) {
    __m512 acc[MR][4];
    __mmask16 mk[4];
    for (int v = 0; v < 4; v++) mk[v] = mask16(nc - 16 * v);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const int8_t *q = Q + (size_t)k * PW;
        _mm_prefetch(
            (const char *)(q + 32 * PW),
            _MM_HINT_T0); /* 2 KB ahead: +12 % of bench_gemm's one-row rate against 512 B */
        __m512 w[4];
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) w[v] = widen16(q + 16 * v, mk[v]);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m512 a = _mm512_set1_ps(A[(size_t)r * lda + k]);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) acc[r][v] = _mm512_fmadd_ps(a, w[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) { /* (masks of 0 beyond nc: nothing loaded or stored) */
        __m512 s = _mm512_maskz_loadu_ps(mk[v], scale + 16 * v);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            float *c = C + (size_t)r * ldc + 16 * v;
            __m512 y = _mm512_mul_ps(acc[r][v], s);
            if (accumulate) y = _mm512_add_ps(_mm512_maskz_loadu_ps(mk[v], c), y);
            _mm512_mask_storeu_ps(c, mk[v], y);
        }
    }
}

#define TILE_BODY tile_rows

#elif defined(__AVX2__) && defined(__FMA__)
/* ------------------------------------------------------------------------------------------ */
/* mr <= MR rows of A times 16 columns of a panel (Q points at them, row stride PW), nc of them
 * wanted; inlined with a constant mr so that the accumulators stay in registers */
static inline __attribute__((always_inline)) void tile16(const int mr, int nc, int K,
                                                         const float *A, int lda, const int8_t *Q,
                                                         const float *scale, int accumulate,
                                                         float *C, int ldc) {
    if (nc < 16) { /* the tail columns: plain sums in the same order (FMA, as the vectors) */
        for (int r = 0; r < mr; r++)
            for (int n = 0; n < nc; n++) {
                float acc = 0;
                for (int k = 0; k < K; k++)
                    acc = __builtin_fmaf(A[(size_t)r * lda + k], (float)Q[(size_t)k * PW + n], acc);
                C[(size_t)r * ldc + n] = finish(acc, scale[n], accumulate, C[(size_t)r * ldc + n]);
            }
        return;
    }
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        const int8_t *q = Q + (size_t)k * PW;
        _mm_prefetch(
            (const char *)(q + 32 * PW),
            _MM_HINT_T0); /* 2 KB ahead: +12 % of bench_gemm's one-row rate against 512 B */
        __m128i b = _mm_loadu_si128((const __m128i *)q);
        __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
        __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8)));
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m256 a = _mm256_set1_ps(A[(size_t)r * lda + k]);
            acc[r][0] = _mm256_fmadd_ps(a, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, w1, acc[r][1]);
        }
    }
    __m256 s0 = _mm256_loadu_ps(scale), s1 = _mm256_loadu_ps(scale + 8);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)r * ldc;
        __m256 y0 = _mm256_mul_ps(acc[r][0], s0), y1 = _mm256_mul_ps(acc[r][1], s1);
        if (accumulate) {
            y0 = _mm256_add_ps(_mm256_loadu_ps(c), y0);
            y1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), y1);
        }
        _mm256_storeu_ps(c, y0);
        _mm256_storeu_ps(c + 8, y1);
    }
}

/* mr <= MR rows of A times the nc <= 64 columns of one panel Q (K, 64) */
static inline __attribute__((always_inline)) void tile_rows(const int mr, int nc, int K,
                                                            const float *A, int lda,
                                                            const int8_t *Q, const float *scale,
                                                            int accumulate, float *C, int ldc) {
    for (int j = 0; j < nc; j += 16)
        tile16(mr, nc - j < 16 ? nc - j : 16, K, A, lda, Q + j, scale + j, accumulate, C + j, ldc);
}

#define TILE_BODY tile_rows

#else
/* ------------------------------------------------------------------------------------------ */
/* Plain C: one float sum per output, k ascending. */
#define TILE_BODY tile_plain
static void tile_plain(int mr, int nc, int K, const float *A, int lda, const int8_t *Q,
                       const float *scale, int accumulate, float *C, int ldc) {
    float acc[PW];
    for (int r = 0; r < mr; r++) {
        memset(acc, 0, sizeof acc);
        for (int k = 0; k < K; k++) {
            float a = A[(size_t)r * lda + k];
            const int8_t *q = Q + (size_t)k * PW;
            for (int n = 0; n < nc; n++) acc[n] += a * (float)q[n];
        }
        for (int n = 0; n < nc; n++)
            C[(size_t)r * ldc + n] = finish(acc[n], scale[n], accumulate, C[(size_t)r * ldc + n]);
    }
}
#endif

/* One block of mr <= MR rows, with mr a constant in each case */
static void tile(int mr, int nc, int K, const float *A, int lda, const int8_t *Q,
                 const float *scale, int accumulate, float *C, int ldc) {
    switch (mr) {
#define TILE_CASE(r)                                                                               \
    case r: TILE_BODY(r, nc, K, A, lda, Q, scale, accumulate, C, ldc); break;
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
#undef TILE_CASE
    }
}

/* Panels outer (a panel, K x 64 bytes, stays in L1/L2 for every block of rows), blocks of MR
 * rows inner. */
void GEMM_Q8(int M, int N, int K, const float *A, int lda, const int8_t *Q, const float *scale,
             int accumulate, float *C, int ldc) {
    for (int n0 = 0; n0 < N; n0 += PW) {
        int nc = N - n0 < PW ? N - n0 : PW;
        const int8_t *panel = Q + (size_t)n0 * K;
        for (int m0 = 0; m0 < M; m0 += MR) {
            int mr = M - m0 < MR ? M - m0 : MR;
            tile(mr, nc, K, A + (size_t)m0 * lda, lda, panel, scale + n0, accumulate,
                 C + (size_t)m0 * ldc + n0, ldc);
        }
    }
}

#ifdef ELMO_GEMM_Q8_DISPATCH
void elmo_q8_pack(int K, int N, const float *W, int ldw, int8_t *Q, float *scale) {
    for (int n = 0; n < N; n++) {
        float mx = 0;
        for (int k = 0; k < K; k++) {
            float a = fabsf(W[(size_t)k * ldw + n]);
            mx = a > mx ? a : mx;
        }
        scale[n] = mx / 127.0f;
    }
    for (int n0 = 0; n0 < N; n0 += PW) {
        int8_t *panel = Q + (size_t)n0 * K;
        memset(panel, 0, (size_t)PW * K);
        for (int k = 0; k < K; k++)
            for (int j = 0; j < PW && n0 + j < N; j++) {
                float s = scale[n0 + j];
                float v = s > 0 ? nearbyintf(W[(size_t)k * ldw + n0 + j] / s) : 0;
                panel[(size_t)k * PW + j] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            }
    }
}

void elmo_q8_unpack(int K, int N, const int8_t *Q, const float *scale, float *W, int ldw) {
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++)
            W[(size_t)k * ldw + n] =
                (float)Q[(size_t)(n / PW) * PW * K + (size_t)k * PW + n % PW] * scale[n];
}
#endif

#ifdef ELMO_GEMM_Q8_DISPATCH
typedef void (*q8_fn)(int, int, int, const float *, int, const int8_t *, const float *, int,
                      float *, int);
#ifdef ELMO_GEMM_VARIANTS
void elmo_gemm_q8_avx512(int M, int N, int K, const float *A, int lda, const int8_t *Q,
                         const float *scale, int accumulate, float *C, int ldc);
void elmo_gemm_q8_avx2(int M, int N, int K, const float *A, int lda, const int8_t *Q,
                       const float *scale, int accumulate, float *C, int ldc);
#endif

/* The variant elmo_gemm_rm uses (elmo_gemm_isa: the same CPU test and the same cap). */
static q8_fn pick(void) {
    const char *isa = elmo_gemm_isa();
#ifdef ELMO_GEMM_VARIANTS
    if (strcmp(isa, "avx512") == 0) return elmo_gemm_q8_avx512;
    if (strcmp(isa, "avx2") == 0) return elmo_gemm_q8_avx2;
#endif
    (void)isa;
    return elmo_gemm_q8_plain;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static q8_fn g_fn;
static void init_fn(void) { g_fn = pick(); }

void elmo_gemm_q8(int M, int N, int K, const float *A, int lda, const int8_t *Q, const float *scale,
                  int accumulate, float *C, int ldc) {
    pthread_once(&g_once, init_fn);
    g_fn(M, N, K, A, lda, Q, scale, accumulate, C, ldc);
}
#endif
