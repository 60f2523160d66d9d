/*
 * gemm.h: our own float32 kernel (internal), C (M, N) = A (M, K) · W (K, N) [+ C], for a
 * weight matrix W larger than the activations A. Float32 accumulation in k order, so each
 * output depends only on its row of A: results do not depend on the batch.
 *
 * The matrix backend (matmul.h) uses it where oneDNN's kernel would make results depend on
 * the batch (oneDNN's AVX2/SSE "gemm:jit") and for emulated bfloat16. It streams each row of W
 * once per call, prefetched; bench/bench_gemm.c compares it with oneDNN.
 * Built for AVX-512, AVX2 + FMA and plain C; the best the CPU has is picked at run time.
 */
#ifndef ELMO_GEMM_H
#define ELMO_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* C (M, N) = A (M, K) · W (K, N) (+ C when accumulate), W row-major with leading dimension
 * ldw: each sub-panel is copied on the fly (by the first block of rows, into a per-thread L1
 * buffer) for the other blocks of rows. */
void elmo_gemm_rm(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                  int accumulate, float *C, int ldc);
/* The variant elmo_gemm_rm runs on this CPU: "avx512", "avx2" or "plain". */
const char *elmo_gemm_isa(void);

/* Int8 weights (gemm_q8.c): W (K, N) as int8 Q with a float32 scale per column, W ~ Q * scale,
 * Q stored in panels of ELMO_Q8_PANEL columns (panel p: K rows of 64 bytes, zero beyond N;
 * elmo_q8_bytes(K, N) bytes). Symmetric: scale[n] = max_k |W[k][n]| / 127, Q = round(W / scale).
 *   C (M, N) = (A (M, K) · Q) * scale (+ C when accumulate)
 * Float32 sums over k in ascending order: each row of C depends only on its row of A. */
#define ELMO_Q8_PANEL 64
#define elmo_q8_bytes(K, N)                                                                        \
    ((size_t)(K) * (((size_t)(N) + ELMO_Q8_PANEL - 1) / ELMO_Q8_PANEL * ELMO_Q8_PANEL))
void elmo_q8_pack(int K, int N, const float *W, int ldw, int8_t *Q, float *scale);
/* The values Q * scale, row-major (K, N) with leading dimension ldw. */
void elmo_q8_unpack(int K, int N, const int8_t *Q, const float *scale, float *W, int ldw);
void elmo_gemm_q8(int M, int N, int K, const float *A, int lda, const int8_t *Q, const float *scale,
                  int accumulate, float *C, int ldc);

/* bfloat16 on the AMX tile unit (gemm_amx.c): W (K, N) float32 (row-major, leading dimension
 * ldw) rounded to bfloat16 (kernels/bf16.h) and packed by elmo_amx_pack into
 * elmo_amx_bytes(K, N) bytes.
 *   C (M, N) = A (M, K) · W (+ C when accumulate)
 * A is bfloat16 with leading dimension lda >= up(K, 32), zero in columns K .. up(K, 32) - 1,
 * and readable (zero) up to row up(M, 16) - 1. Float32 sums: each row of C depends only on its
 * row of A. Only where elmo_amx_usable() (the CPU has AMX-BF16 and Linux granted the tiles). */
int elmo_amx_usable(void);
size_t elmo_amx_bytes(int K, int N);
void elmo_amx_pack(int K, int N, const float *W, int ldw, uint16_t *P);
/* The packed values widened to float32, row-major (K, N) with leading dimension ldw. */
void elmo_amx_unpack(int K, int N, const uint16_t *P, float *W, int ldw);
void elmo_gemm_amx(int M, int N, int K, const uint16_t *A, int lda, const uint16_t *P,
                   int accumulate, float *C, int ldc);

#endif
