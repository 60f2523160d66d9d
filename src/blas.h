/*
 * blas.h: the thin BLAS layer. Row-major sgemm through OpenBLAS's cblas, plus the thread
 * control the library uses deliberately (OpenBLAS's pool is process-wide).
 */
#ifndef ELMO_BLAS_H
#define ELMO_BLAS_H

#include <cblas.h>

/* C (M, N) = A (M, K) · B (K, N) + beta · C, row-major with leading dimensions. */
static inline void elmo_sgemm(int M, int N, int K, const float *A, int lda, const float *B,
                              int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta,
                C, ldc);
}

/* C (M, N) = A (M, K) · B^T (B is (N, K)) + beta · C. */
static inline void elmo_sgemm_nt(int M, int N, int K, const float *A, int lda, const float *B,
                                 int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C,
                ldc);
}

/* C (M, N) = A^T (A is (K, M)) · B (K, N) + beta · C. */
static inline void elmo_sgemm_tn(int M, int N, int K, const float *A, int lda, const float *B,
                                 int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C,
                ldc);
}

/* OpenBLAS thread pool size (process-wide). */
void elmo_blas_set_threads(int n);
int elmo_blas_get_threads(void);

/* OpenBLAS's kernel set ("Haswell", "SkylakeX", ...). */
const char *elmo_blas_core(void);
/* A DYNAMIC_ARCH OpenBLAS older than the CPU falls back to generic SSE kernels (OpenBLAS
 * 0.3.21 picks "Prescott" on Sapphire/Emerald Rapids: 5x slower sgemm). Returns the
 * OPENBLAS_CORETYPE value this CPU supports ("SkylakeX" with AVX-512, "Haswell" with
 * AVX2+FMA) when the running kernels are weaker, NULL when they are fine or when
 * OPENBLAS_CORETYPE is already set. OpenBLAS reads the variable only when it is loaded, so
 * acting on this means re-executing the program. */
const char *elmo_blas_better_coretype(void);
/* For programs (the elmo tool, the benchmarks), first thing in main: when elmo_blas_better_coretype() names a
 * better kernel set, re-execute the program with OPENBLAS_CORETYPE set (argv unchanged).
 * Returns when nothing needed doing, when ELMO_NO_BLAS_FIX is set, or when exec failed. */
void elmo_blas_fix_coretype(char **argv);

#endif
