/*
 * gemm.c: see gemm.h. Register blocking: MR = 6 rows of A times NV vectors (VW floats each):
 * MR * NV accumulators; per k, NV loads of W, MR broadcasts of A and MR * NV FMAs. Builds:
 * AVX-512 (VW 16, NV 4: 64 columns per micro-tile), AVX2 + FMA + F16C (VW 8, NV 2: 16
 * columns), plain C (same arithmetic order: one float accumulator per output, k ascending).
 *   elmo_gemm_rm:      row-major W; sub-panels of 64 columns x 128 rows (32 KB, L1), copied
 *                      on the fly for the row blocks that reuse them; the rows of W prefetched
 *                      16 ahead. What the LSTM, the highway layers, the projection and the
 *                      char-CNN convolutions use.
 *   elmo_gemm_packed*: W prepacked in panels (sequential stream); the float16 version serves
 *                      the optional reduced-precision recurrent weights.
 */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#include <immintrin.h>
#endif

#define CW ELMO_GEMM_CW
#define MR 6

static uint16_t f2h(float f);
static float h2f(uint16_t h);

int elmo_pack_panels(int K, int N, const float *W, float *out) {
    const float *src = W;
    float *tmp = NULL;
    if (W == out) {
        tmp = elmo_alloc(sizeof(float) * (size_t)K * N);
        if (!tmp) return -1;
        memcpy(tmp, W, sizeof(float) * (size_t)K * N);
        src = tmp;
    }
    for (int j0 = 0; j0 < N; j0 += CW) {
        int w = N - j0 < CW ? N - j0 : CW;
        float *p = out + (size_t)j0 * K;
        for (int k = 0; k < K; k++) memcpy(p + (size_t)k * w, src + (size_t)k * N + j0, sizeof(float) * w);
    }
    elmo_free(tmp);
    return 0;
}

void elmo_pack_panels_f16(int K, int N, const float *W, uint16_t *out) {
    for (int j0 = 0; j0 < N; j0 += CW) {
        int w = N - j0 < CW ? N - j0 : CW;
        uint16_t *p = out + (size_t)j0 * K;
        for (int k = 0; k < K; k++)
            for (int n = 0; n < w; n++) p[(size_t)k * w + n] = f2h(W[(size_t)k * N + j0 + n]);
    }
}

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
#define HLOAD(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define HLOADM(p, m) _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p))
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
#define HLOAD(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
static inline vec hloadm_avx2(const uint16_t *p, int n) {
    uint16_t t[VW] = {0};
    memcpy(t, p, sizeof(uint16_t) * (size_t)(n > 0 ? (n < VW ? n : VW) : 0));
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)t));
}
#endif

/* One block of mr (<= MR) rows of A over one sub-panel (kb rows of width nc <= CW, row
 * stride ldw): C (mr, nc) (+)= A (mr, kb) · Wsub. mr, full (nc == CW) and the element type
 * are compile-time constants in every call, so the k loop has no branches and the
 * accumulators stay in registers. pf: prefetch the next sub-panel into L2 meanwhile. */
#define KERNEL(NAME, WT, LOADF, LOADMF)                                                       \
    static inline __attribute__((always_inline)) void NAME(                                  \
        const int mr, const int full, int nc, int kb, const float *A, int lda, const WT *W,   \
        int ldw, const WT *pf, int accumulate, float *C, int ldc) {                           \
        vmask mk[NV];                                                                         \
        for (int v = 0; v < NV; v++) mk[v] = tail_mask(full ? VW : nc - v * VW);              \
        vec acc[MR][NV];                                                                      \
        for (int m = 0; m < mr; m++)                                                          \
            for (int v = 0; v < NV; v++)                                                      \
                acc[m][v] = accumulate ? VLOADM(C + (size_t)m * ldc + v * VW, mk[v]) : VZERO(); \
        const float *ap[MR];                                                                  \
        for (int m = 0; m < MR; m++) ap[m] = A + (size_t)(m < mr ? m : 0) * lda;              \
        for (int k = 0; k < kb; k++) {                                                        \
            const WT *wk = W + (size_t)k * (full ? CW : ldw);                                 \
            vec w[NV];                                                                        \
            for (int v = 0; v < NV; v++) w[v] = full ? LOADF(wk + v * VW) : LOADMF(wk + v * VW, v); \
            if (pf) {                                                                         \
                const char *pp = (const char *)(pf + (size_t)k * (full ? CW : ldw));          \
                for (int b = 0; b < (full ? CW : nc) * (int)sizeof(WT); b += 64)              \
                    _mm_prefetch(pp + b, _MM_HINT_T1);                                        \
            }                                                                                 \
            for (int m = 0; m < mr; m++) {                                                    \
                vec a = VSET1(ap[m][k]);                                                      \
                for (int v = 0; v < NV; v++) acc[m][v] = VFMA(a, w[v], acc[m][v]);            \
            }                                                                                 \
        }                                                                                     \
        for (int m = 0; m < mr; m++)                                                          \
            for (int v = 0; v < NV; v++) VSTOREM(C + (size_t)m * ldc + v * VW, acc[m][v], mk[v]); \
    }

#define LOADM_F32(p, v) VLOADM(p, mk[v])
#if defined(__AVX512F__)
#define LOADM_F16(p, v) HLOADM(p, mk[v])
#else
#define LOADM_F16(p, v) hloadm_avx2(p, nc - (v) * VW)
#endif
KERNEL(kern_f32, float, VLOAD, LOADM_F32)
KERNEL(kern_f16, uint16_t, HLOAD, LOADM_F16)

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
            for (int v = 0; v < NV; v++) w[v] = full ? VLOAD(wk + v * VW) : VLOADM(wk + v * VW, mk[v]);
            if (pf) {
                const char *pp = (const char *)(wk + (size_t)PFD * ldw);
                for (int b = 0; b < pf; b += 64) _mm_prefetch(pp + b, _MM_HINT_T0);
            }
            if (mode == 2)
                for (int v = 0; v < NV; v++) VSTOREM(buf + (size_t)k * SW + v * VW, w[v], tail_mask(VW));
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
#define BLOCK_RM(MRC, MODE, PF)                                                               \
    do {                                                                                      \
        const float *Ab = A + (size_t)m0 * lda + k0;                                          \
        float *Cb = C + (size_t)m0 * ldc + j0 + t0;                                           \
        const float *Wt = Wsub + t0;                                                          \
        float *bt = buf + t0;                                                                 \
        if (nc == TW) kern_rm(MRC, 1, MODE, PF, nc, kb, Ab, lda, Wt, ldw, bt, acc, Cb, ldc);  \
        else kern_rm(MRC, 0, MODE, PF, nc, kb, Ab, lda, Wt, ldw, bt, acc, Cb, ldc);           \
    } while (0)

#define REST_RM(MODE)                                                                         \
    switch (M - m0) {                                                                         \
    case 1: BLOCK_RM(1, MODE, 0); break;                                                      \
    case 2: BLOCK_RM(2, MODE, 0); break;                                                      \
    case 3: BLOCK_RM(3, MODE, 0); break;                                                      \
    case 4: BLOCK_RM(4, MODE, 0); break;                                                      \
    case 5: BLOCK_RM(5, MODE, 0); break;                                                      \
    default: break;                                                                           \
    }

void elmo_gemm_rm(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                  int accumulate, float *C, int ldc) {
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
            if (M <= MR) { /* straight from W; the first micro-tile prefetches the whole row piece */
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
                        VSTOREM(buf + (size_t)k * SW + v * VW, VLOADM(src + v * VW, tail_mask(sw - v * VW)),
                                tail_mask(VW));
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

/* The driver: panels, sub-panels, row blocks; every (mr, full) combination a constant. */
#define BLOCK(KERN, MRC)                                                                      \
    do {                                                                                      \
        const float *Ab = A + (size_t)m0 * lda + k0;                                          \
        float *Cb = C + (size_t)m0 * ldc + j0;                                                \
        const WT_ *pfp = m0 == 0 ? pf : NULL;                                                 \
        if (full) KERN(MRC, 1, nc, kb, Ab, lda, Wsub, nc, pfp, acc, Cb, ldc);                \
        else KERN(MRC, 0, nc, kb, Ab, lda, Wsub, nc, pfp, acc, Cb, ldc);                     \
    } while (0)

#define DRIVER(KERN)                                                                          \
    for (int j0 = 0; j0 < N; j0 += CW) {                                                      \
        int nc = N - j0 < CW ? N - j0 : CW, full = nc == CW;                                  \
        const WT_ *panel = Wp + (size_t)j0 * K;                                               \
        for (int k0 = 0; k0 < K; k0 += KB) {                                                  \
            int kb = K - k0 < KB ? K - k0 : KB, acc = accumulate || k0 > 0;                   \
            const WT_ *Wsub = panel + (size_t)k0 * nc;                                        \
            /* what comes next in memory: the next sub-panel (or the next panel's first) */  \
            const WT_ *pf = Wsub + (size_t)kb * nc;                                           \
            if (pf >= Wp + (size_t)K * N) pf = NULL;                                          \
            int m0 = 0;                                                                       \
            for (; m0 + MR <= M; m0 += MR) BLOCK(KERN, MR);                                   \
            switch (M - m0) {                                                                 \
            case 1: BLOCK(KERN, 1); break;                                                    \
            case 2: BLOCK(KERN, 2); break;                                                    \
            case 3: BLOCK(KERN, 3); break;                                                    \
            case 4: BLOCK(KERN, 4); break;                                                    \
            case 5: BLOCK(KERN, 5); break;                                                    \
            default: break;                                                                   \
            }                                                                                 \
        }                                                                                     \
    }

void elmo_gemm_packed(int M, int N, int K, const float *A, int lda, const float *Wp,
                      int accumulate, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum */
        if (!accumulate)
            for (int m = 0; m < M; m++) memset(C + (size_t)m * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    typedef float WT_;
    DRIVER(kern_f32)
}

void elmo_gemm_packed_f16(int M, int N, int K, const float *A, int lda, const uint16_t *Wp,
                          int accumulate, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int m = 0; m < M; m++) memset(C + (size_t)m * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    typedef uint16_t WT_;
    DRIVER(kern_f16)
}

#else
/* ------------------------------------------------------------------------------------------ */
/* Plain C: the same order of operations per output (k ascending, one float accumulator). */
void elmo_gemm_packed(int M, int N, int K, const float *A, int lda, const float *Wp,
                      int accumulate, float *C, int ldc) {
    for (int m = 0; m < M; m++) {
        float *c = C + (size_t)m * ldc;
        if (!accumulate) memset(c, 0, sizeof(float) * (size_t)(N > 0 ? N : 0));
        for (int j0 = 0; j0 < N; j0 += CW) {
            int w = N - j0 < CW ? N - j0 : CW;
            const float *p = Wp + (size_t)j0 * K;
            for (int k = 0; k < K; k++) {
                float a = A[(size_t)m * lda + k];
                for (int n = 0; n < w; n++) c[j0 + n] += a * p[(size_t)k * w + n];
            }
        }
    }
}

void elmo_gemm_rm(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                  int accumulate, float *C, int ldc) {
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

void elmo_gemm_packed_f16(int M, int N, int K, const float *A, int lda, const uint16_t *Wp,
                          int accumulate, float *C, int ldc) {
    for (int m = 0; m < M; m++) {
        float *c = C + (size_t)m * ldc;
        if (!accumulate) memset(c, 0, sizeof(float) * (size_t)(N > 0 ? N : 0));
        for (int j0 = 0; j0 < N; j0 += CW) {
            int w = N - j0 < CW ? N - j0 : CW;
            const uint16_t *p = Wp + (size_t)j0 * K;
            for (int k = 0; k < K; k++) {
                float a = A[(size_t)m * lda + k];
                for (int n = 0; n < w; n++) c[j0 + n] += a * h2f(p[(size_t)k * w + n]);
            }
        }
    }
}
#endif

/* ---- float <-> half (IEEE binary16), round to nearest even */
static uint16_t f2h(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) return (uint16_t)(sign | (ax > 0x7F800000u ? 0x7E00u : 0x7C00u));
    if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) { /* subnormal half (or zero) */
        if (ax < 0x33000000u) return (uint16_t)sign;
        uint32_t mant = (ax & 0x7FFFFFu) | 0x800000u;
        int shift = 126 - (int)(ax >> 23); /* 14..24: value = mant 2^(e-150) = h 2^-24 */
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((ax - 0x38000000u) >> 13), rem = ax & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static float h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, x;
    if (e == 0) {
        if (m == 0) {
            x = sign;
        } else { /* subnormal: normalise */
            int s = 0;
            while (!(m & 0x400u)) {
                m <<= 1;
                s++;
            }
            x = sign | ((uint32_t)(113 - s) << 23) | ((m & 0x3FFu) << 13);
        }
    } else if (e == 31) {
        x = sign | 0x7F800000u | (m << 13);
    } else {
        x = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

void elmo_f32_to_f16(const float *x, uint16_t *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = f2h(x[i]);
}

void elmo_f16_to_f32(const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = h2f(x[i]);
}
