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

#endif
