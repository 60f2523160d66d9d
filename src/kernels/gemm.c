/*
 * gemm.c: see gemm.h. Register blocking: MR = 6 rows of A times NV vectors (VW floats each):
 * MR * NV accumulators; per k, NV loads of W, MR broadcasts of A and MR * NV FMAs. Builds:
 * AVX-512 (VW 16, NV 4: 64 columns per micro-tile), AVX2 + FMA + F16C (VW 8, NV 2: 16
 * columns), plain C (same arithmetic order: one float accumulator per output, k ascending).
 *   elmo_gemm_rm:      row-major W; sub-panels of 64 columns x 128 rows (32 KB, L1), copied
 *                      on the fly for the row blocks that reuse them; the rows of W prefetched
 *                      16 ahead. What the LSTM, the highway layers, the projection and the
 *                      char-CNN convolutions use.
 * Compiled three times (CMakeLists.txt): for AVX-512, for AVX2 + FMA, and plain with the
 * build's flags; elmo_gemm_rm picks the best the CPU has at run time.
 */
#include "kernels/gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "io/util.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#include <immintrin.h>
#endif

#ifndef ELMO_GEMM_SUFFIX /* the build with the library's flags; it holds the dispatcher */
#define ELMO_GEMM_SUFFIX _plain
#define ELMO_GEMM_DISPATCH
#endif
#define GEMM_CAT2(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT2(a, b)
#define GEMM_RM GEMM_CAT(elmo_gemm_rm, ELMO_GEMM_SUFFIX)
void GEMM_RM(int M, int N, int K, const float *A, int lda, const float *W, int ldw, int accumulate,
             float *C, int ldc);

#define MR 6

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
/* ------------------------------------------------------------------------------------------ */
#if defined(__AVX512F__)
#define VW 16
#define NV 4
#define KB 128 /* sub-panel: 128 x 64 floats = 32 KB */
typedef __m512 vec;
#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
typedef __mmask16 vmask;
static inline vmask tail_mask(int n) {
    return n >= 16 ? (vmask)0xFFFF : n <= 0 ? (vmask)0 : (vmask)((1u << n) - 1);
}
#define VLOAD(p) _mm512_loadu_ps(p)
#define VLOADM(p, m) _mm512_maskz_loadu_ps(m, p)
#define VSTOREM(p, v, m) _mm512_mask_storeu_ps(p, m, v)

#else
#define VW 8
#define NV 2
#define KB 256 /* sub-panel: 256 x 16 floats = 16 KB */
typedef __m256 vec;
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
typedef __m256i vmask;
static inline vmask tail_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define VLOAD(p) _mm256_loadu_ps(p)
#define VLOADM(p, m) _mm256_maskload_ps(p, m)
#define VSTOREM(p, v, m) _mm256_maskstore_ps(p, m, v)

#endif

/* Row-major W (no packed copy). Sub-panels of SW = 64 columns (one 256-byte piece of each
 * row: whole cache lines, every ISA) and KB_RM rows; micro-tiles of TW = NV * VW columns
 * inside (one with AVX-512, four with AVX2). With at most MR rows of A each micro-tile reads
 * W's rows directly, prefetched PFD rows ahead (the first micro-tile prefetches the whole
 * 256-byte piece). With more rows the sub-panel is first copied into the per-thread buffer
 * `buf` (row stride SW, L1-resident; fused with the first row block's products when TW ==
 * SW) which every block of rows then reads. mode 0: read buf; 1: read W; 2: read W and fill
 * buf. Lanes beyond the width are zero in buf, so mode 0 loads whole vectors. */
#define PFD 16
#define SW 64
#define TW (NV * VW)
#define KB_RM (8192 / SW) /* 128 rows: a 32 KB sub-panel */
static inline __attribute__((always_inline)) void
kern_rm(const int mr, const int full, const int mode, const int pf, int nc, int kb, const float *A,
        int lda, const float *W, int ldw, float *buf, int accumulate, float *C, int ldc) {
    vmask mk[NV];
    for (int v = 0; v < NV; v++) mk[v] = tail_mask(full ? VW : nc - v * VW);
    vec acc[MR][NV];
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < NV; v++)
            acc[m][v] = accumulate ? VLOADM(C + (size_t)m * ldc + v * VW, mk[v]) : VZERO();
    const float *ap[MR];
    for (int m = 0; m < MR; m++) ap[m] = A + (size_t)(m < mr ? m : 0) * lda;
    for (int k = 0; k < kb; k++) {
        vec w[NV];
        if (mode == 0) {
            for (int v = 0; v < NV; v++) w[v] = VLOAD(buf + (size_t)k * SW + v * VW);
        } else {
            const float *wk = W + (size_t)k * ldw;
            for (int v = 0; v < NV; v++)
                w[v] = full ? VLOAD(wk + v * VW) : VLOADM(wk + v * VW, mk[v]);
            if (pf) {
                const char *pp = (const char *)(wk + (size_t)PFD * ldw);
                for (int b = 0; b < pf; b += 64) _mm_prefetch(pp + b, _MM_HINT_T0);
            }
            if (mode == 2)
                for (int v = 0; v < NV; v++)
                    VSTOREM(buf + (size_t)k * SW + v * VW, w[v], tail_mask(VW));
        }
        for (int m = 0; m < mr; m++) {
            vec a = VSET1(ap[m][k]);
            for (int v = 0; v < NV; v++) acc[m][v] = VFMA(a, w[v], acc[m][v]);
        }
    }
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < NV; v++) VSTOREM(C + (size_t)m * ldc + v * VW, acc[m][v], mk[v]);
}

/* one block of MRC rows at (m0, micro-tile t0) in mode MODE, prefetching PF bytes per row */
#define BLOCK_RM(MRC, MODE, PF)                                                                    \
    do {                                                                                           \
        const float *Ab = A + (size_t)m0 * lda + k0;                                               \
        float *Cb = C + (size_t)m0 * ldc + j0 + t0;                                                \
        const float *Wt = Wsub + t0;                                                               \
        float *bt = buf + t0;                                                                      \
        if (nc == TW)                                                                              \
            kern_rm(MRC, 1, MODE, PF, nc, kb, Ab, lda, Wt, ldw, bt, acc, Cb, ldc);                 \
        else                                                                                       \
            kern_rm(MRC, 0, MODE, PF, nc, kb, Ab, lda, Wt, ldw, bt, acc, Cb, ldc);                 \
    } while (0)

#define REST_RM(MODE)                                                                              \
    switch (M - m0) {                                                                              \
        case 1: BLOCK_RM(1, MODE, 0); break;                                                       \
        case 2: BLOCK_RM(2, MODE, 0); break;                                                       \
        case 3: BLOCK_RM(3, MODE, 0); break;                                                       \
        case 4: BLOCK_RM(4, MODE, 0); break;                                                       \
        case 5: BLOCK_RM(5, MODE, 0); break;                                                       \
        default: break;                                                                            \
    }

void GEMM_RM(int M, int N, int K, const float *A, int lda, const float *W, int ldw, int accumulate,
             float *C, int ldc) {
    static _Thread_local float buf[KB_RM * SW] __attribute__((aligned(64)));
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int m = 0; m < M; m++) memset(C + (size_t)m * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    for (int j0 = 0; j0 < N; j0 += SW) {
        int sw = N - j0 < SW ? N - j0 : SW;
        for (int k0 = 0; k0 < K; k0 += KB_RM) {
            int kb = K - k0 < KB_RM ? K - k0 : KB_RM, acc = accumulate || k0 > 0;
            const float *Wsub = W + (size_t)k0 * ldw + j0;
            int m0 = 0;
            if (M <=
                MR) { /* straight from W; the first micro-tile prefetches the whole row piece */
                for (int t0 = 0; t0 < sw; t0 += TW) {
                    int nc = sw - t0 < TW ? sw - t0 : TW;
                    if (t0 == 0) {
                        switch (M) {
                            case 1: BLOCK_RM(1, 1, SW * 4); break;
                            case 2: BLOCK_RM(2, 1, SW * 4); break;
                            case 3: BLOCK_RM(3, 1, SW * 4); break;
                            case 4: BLOCK_RM(4, 1, SW * 4); break;
                            case 5: BLOCK_RM(5, 1, SW * 4); break;
                            default: BLOCK_RM(6, 1, SW * 4); break;
                        }
                    } else {
                        switch (M) {
                            case 1: BLOCK_RM(1, 1, 0); break;
                            case 2: BLOCK_RM(2, 1, 0); break;
                            case 3: BLOCK_RM(3, 1, 0); break;
                            case 4: BLOCK_RM(4, 1, 0); break;
                            case 5: BLOCK_RM(5, 1, 0); break;
                            default: BLOCK_RM(6, 1, 0); break;
                        }
                    }
                }
                continue;
            }
            if (TW == SW) { /* fill buf while computing the first block of rows */
                int t0 = 0, nc = sw;
                BLOCK_RM(MR, 2, SW * 4);
                for (m0 = MR; m0 + MR <= M; m0 += MR) BLOCK_RM(MR, 0, 0);
                REST_RM(0)
            } else { /* copy the sub-panel into buf, then every micro-tile from buf */
                for (int k = 0; k < kb; k++) {
                    const float *src = Wsub + (size_t)k * ldw;
                    const char *pp = (const char *)(src + (size_t)PFD * ldw);
                    for (int b = 0; b < SW * 4; b += 64) _mm_prefetch(pp + b, _MM_HINT_T0);
                    for (int v = 0; v < SW / VW; v++)
                        VSTOREM(buf + (size_t)k * SW + v * VW,
                                VLOADM(src + v * VW, tail_mask(sw - v * VW)), tail_mask(VW));
                }
                for (int t0 = 0; t0 < sw; t0 += TW) {
                    int nc = sw - t0 < TW ? sw - t0 : TW;
                    for (m0 = 0; m0 + MR <= M; m0 += MR) BLOCK_RM(MR, 0, 0);
                    REST_RM(0)
                }
            }
        }
    }
}

#else
/* ------------------------------------------------------------------------------------------ */
/* Plain C: the same order of operations per output (k ascending, one float accumulator). */
void GEMM_RM(int M, int N, int K, const float *A, int lda, const float *W, int ldw, int accumulate,
             float *C, int ldc) {
    for (int m = 0; m < M; m++) {
        float *c = C + (size_t)m * ldc;
        if (!accumulate) memset(c, 0, sizeof(float) * (size_t)(N > 0 ? N : 0));
        for (int k = 0; k < K; k++) {
            float a = A[(size_t)m * lda + k];
            const float *w = W + (size_t)k * ldw;
            for (int n = 0; n < N; n++) c[n] += a * w[n];
        }
    }
}

#endif

#ifdef ELMO_GEMM_DISPATCH
void elmo_gemm_rm_avx512(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                         int accumulate, float *C, int ldc);
void elmo_gemm_rm_avx2(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                       int accumulate, float *C, int ldc);
typedef void (*gemm_fn)(int, int, int, const float *, int, const float *, int, int, float *, int);

/* The best variant this CPU runs; ELMO_GEMM_ISA=avx2|plain caps it (to test the lower paths). */
static gemm_fn pick(void) {
    const char *cap = getenv("ELMO_GEMM_ISA");
    int max = cap && strcmp(cap, "plain") == 0 ? 0 : cap && strcmp(cap, "avx2") == 0 ? 1 : 2;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(ELMO_GEMM_VARIANTS)
    __builtin_cpu_init();
    if (max >= 2 && __builtin_cpu_supports("avx512f")) return elmo_gemm_rm_avx512;
    if (max >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return elmo_gemm_rm_avx2;
#endif
    (void)max;
    return elmo_gemm_rm_plain;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static gemm_fn g_fn;
static void init_fn(void) { g_fn = pick(); }

void elmo_gemm_rm(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                  int accumulate, float *C, int ldc) {
    pthread_once(&g_once, init_fn);
    g_fn(M, N, K, A, lda, W, ldw, accumulate, C, ldc);
}

const char *elmo_gemm_isa(void) {
    gemm_fn f = pick();
    return f == elmo_gemm_rm_plain ? "plain" : f == elmo_gemm_rm_avx2 ? "avx2" : "avx512";
}
#endif
