/*
 * matmul.h: the matrix backend (internal). Every large product of inference and training
 * goes through here.
 *
 * oneDNN's matmul primitive does the work: it picks AMX, AVX-512(-BF16), AVX2 or SSE4.1 at
 * run time, so one binary runs on any x86-64 machine and uses what it finds. Two kinds of
 * product:
 *
 *   elmo_mat  a weight matrix W (K, N) prepared once (inference): reordered into the layout
 *             oneDNN's kernel wants, in float32 or bfloat16. C (M, N) = A (M, K) · W [+ C].
 *             bfloat16 on a CPU with AMX tiles runs on our own AMX kernel instead (gemm.h,
 *             elmo_gemm_amx; "own:amx-bf16"): faster than oneDNN's on the LSTM's products of
 *             a few rows, with the same accumulation order for every row whatever M.
 *             ELMO_MATMUL=dnnl keeps oneDNN's, ELMO_MATMUL=own our plain-C kernels only.
 *             Used only where oneDNN's implementation is a batch-reduce GEMM ("brg:*"):
 *             those accumulate every row of C in the same order whatever M, so results do
 *             not depend on the batch (measured bitwise for M = 1..256 by test_matmul). Where
 *             oneDNN would use another kernel (its AVX2/SSE "gemm:jit", whose results change
 *             with M), our own kernel (gemm.h, elmo_gemm_rm) does the float32 product, and
 *             bfloat16 is emulated on it (weights and activations rounded to bfloat16,
 *             products in float32: the same numbers up to the order of the additions).
 *   elmo_mm   a general float32 product with any transposes (training, downstream heads),
 *             both operands changing from call to call.
 *
 * Threads: a product runs on elmo_mm_set_threads() threads of the calling thread (default 1: the
 * library's own workers already run the two directions in parallel). oneDNN's OpenMP teams
 * are per calling thread.
 *
 * Shapes: row-major; M rows of A (batch positions), K inner dimension, N columns.
 */
#ifndef ELMO_MATMUL_H
#define ELMO_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

typedef struct elmo_mat elmo_mat;

/* Prepare W (K, N), row-major with leading dimension ldw, in precision p (FP32 or BF16).
 * The matrix owns its copy; W is not referenced afterwards. */
elmo_status elmo_mat_new(int K, int N, const float *W, int ldw, elmo_precision p, elmo_mat **out);
/* Float32, in place: W (K, N) contiguous is rearranged into the kernel's layout where that
 * takes the same bytes (else a copy is made and W is left as it is). The matrix then uses W's
 * memory without owning it: W must outlive it, and W's contents are the matrix's (read them
 * back with elmo_mat_unpack). *in_place tells which happened. */
elmo_status elmo_mat_new_inplace(int K, int N, float *W, elmo_mat **out, int *in_place);
/* The same matrix in another precision (from the prepared layout, not from W). INT8: int8
 * weights with a float32 scale per column (gemm.h, elmo_gemm_q8), for the products of one
 * time step; activations stay float32. */
elmo_status elmo_mat_convert(const elmo_mat *src, elmo_precision p, elmo_mat **out);
/* The matrix's values, row-major (K, N) with leading dimension ldw (bfloat16 ones widened). */
elmo_status elmo_mat_unpack(const elmo_mat *w, float *W, int ldw);
void elmo_mat_free(elmo_mat *w);
/* C (M, N) = A (M, K) · W (+ C when accumulate). A is float32 (rounded to bfloat16 here for a
 * bfloat16 matrix). A failure inside oneDNN (out of memory) fills C with NaN and counts in
 * elmo_mm_failures(). */
void elmo_mat_mul(int M, const float *A, int lda, const elmo_mat *W, int accumulate, float *C,
                  int ldc);
/* What does the products: "brg:avx512_core_amx_bf16" (oneDNN's name), "own:f32",
 * "own:bf16-emulated", "own:amx-bf16", "own:int8-weights". */
const char *elmo_mat_impl(const elmo_mat *w);

/* C (M, N) = op(A) (M, K) · op(B) (K, N) + beta · C, float32, row-major; op(X) = X^T when
 * the flag is set (then X is stored (K, M) resp. (N, K)). beta is 0 or 1. */
void elmo_mm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc);
/* Same, B a weight that does not change until elmo_mm_weights_changed(): in bfloat16 its
 * rounded copy is kept (per thread, a few matrices) instead of being made at every call. */
void elmo_mm_weight(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc);
/* The weights changed (a training step): forget the kept bfloat16 copies (process-wide). */
void elmo_mm_weights_changed(void);
/* Same in bfloat16 (operands rounded to bfloat16, float32 accumulation and result). */
void elmo_mm_bf16(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc);
/* Same in double, plain loops (gradient checks). */
void elmo_mm_f64(int ta, int tb, int M, int N, int K, const double *A, int lda, const double *B,
                 int ldb, double beta, double *C, int ldc);

/* Precision of the calling thread's elmo_mm products (default FP32; BF16: elmo_mm_bf16). */
void elmo_mm_set_precision(elmo_precision p);
/* Threads per product for the calling thread (default 1). */
void elmo_mm_set_threads(int n);
/* Products that failed inside oneDNN since the start (process-wide). */
long elmo_mm_failures(void);
/* oneDNN's implementation for a product of this shape ("brg:avx512_core_amx_bf16", ...), or
 * "none"; for reports and benchmarks. */
const char *elmo_mm_impl_name(int M, int N, int K, elmo_precision p);
/* Whether bfloat16 is the faster precision here (what AUTO picks): bfloat16 products run on AMX
 * tiles. With AVX-512-BF16 alone oneDNN's bfloat16 kernels were slower than float32 (original
 * architecture, batch 64: 956 against 1,178 words/s; training 3,094 against 3,971 tokens/s;
 * oneDNN capped to avx512_core_bf16 on a Xeon with AMX). */
int elmo_bf16_is_faster(void);
/* oneDNN's version and the ISA it may use ("avx512_core_amx", ...; ONEDNN_MAX_CPU_ISA caps it). */
const char *elmo_mm_backend_info(void);

/* float32 -> bfloat16 (round to nearest even; NaN stays NaN) and back. */
void elmo_f32_to_bf16(const float *x, uint16_t *y, size_t n);
void elmo_bf16_to_f32(const uint16_t *x, float *y, size_t n);
/* x rounded to the nearest bfloat16 value, kept in float32. */
void elmo_round_bf16(const float *x, float *y, size_t n);

#endif
