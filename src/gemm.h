/*
 * gemm.h: the inference's matrix products, C (M, N) = A (M, K) · W (K, N) [+ C], for a weight
 * matrix W that is larger than the activations A (internal). Float32 accumulation in k order,
 * so each output depends only on its row of A: results do not depend on the batch.
 *
 * Why not OpenBLAS: an LSTM step multiplies a few rows of h (one per sentence still running)
 * by a (512, 16384) weight matrix that must stream from memory at every step. OpenBLAS packs
 * W on every call (a third of the step time at batch 64) and streams it at ~6 GB/s for one
 * row; elmo_gemm_rm reads each row of W once per call, prefetched, at 15-25 GB/s for one row
 * and 120-140 GFLOP/s per core at batch 64 (bench/bench_gemm.c measures both).
 *
 * Panel layout (the float16 copies of the optional reduced-precision mode): a (K, N)
 * row-major matrix as panels of ELMO_GEMM_CW columns (64 with AVX-512, 16 otherwise); panel
 * j holds columns j*CW .. j*CW + w_j - 1 as a (K, w_j) row-major block, w_j = CW except for
 * the last panel (N % CW), panels one after another: one sequential stream per product.
 */
#ifndef ELMO_GEMM_H
#define ELMO_GEMM_H

#include <stddef.h>
#include <stdint.h>

#if defined(__AVX512F__)
#define ELMO_GEMM_CW 64
#else
#define ELMO_GEMM_CW 16
#endif

/* Index of element (k, n) of a (K, N) matrix in the panel layout. */
static inline size_t elmo_panel_index(int K, int N, int k, int n) {
    int j = n / ELMO_GEMM_CW, w = (j + 1) * ELMO_GEMM_CW <= N ? ELMO_GEMM_CW : N - j * ELMO_GEMM_CW;
    return (size_t)j * K * ELMO_GEMM_CW + (size_t)k * w + (size_t)(n - j * ELMO_GEMM_CW);
}

/* Pack W (K, N) row-major into out (K * N floats, panel layout); W == out is allowed (a
 * temporary copy is made): returns -1 when that allocation fails. */
int elmo_pack_panels(int K, int N, const float *W, float *out);
/* Same into IEEE half (round to nearest even). */
void elmo_pack_panels_f16(int K, int N, const float *W, uint16_t *out);

/* C (M, N) = A (M, K) · Wp (K, N) (+ C when accumulate); Wp in the panel layout. */
void elmo_gemm_packed(int M, int N, int K, const float *A, int lda, const float *Wp,
                      int accumulate, float *C, int ldc);
void elmo_gemm_packed_f16(int M, int N, int K, const float *A, int lda, const uint16_t *Wp,
                          int accumulate, float *C, int ldc);

/* C (M, N) = A (M, K) · W (K, N) (+ C when accumulate), W row-major with leading dimension
 * ldw: each sub-panel is copied on the fly (by the first block of rows, into a per-thread L1
 * buffer) for the other blocks of rows. */
void elmo_gemm_rm(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                  int accumulate, float *C, int ldc);

/* float <-> IEEE half, round to nearest even. */
void elmo_f32_to_f16(const float *x, uint16_t *y, size_t n);
void elmo_f16_to_f32(const uint16_t *x, float *y, size_t n);

#endif
