/*
 * grad_real.h: the element type and the names of one build of a training kernel source
 * (charcnn_grad.c, lstm_grad.c, softmax.c, bilm_grad.c). CMakeLists.txt compiles each of
 * those files twice: as is (float, for training) and with -DELMO_REAL_DOUBLE (double, for
 * the finite-difference gradient checks of tests/test_grad.c).
 *
 * The one rule: a kernel source spells a plain name (lstm_train_forward, tparams) and the
 * element type elmo_real; the float build defines name_f, the double build name_d. The
 * #defines below apply the rule, one line per name; train/grad.h declares both sets in full
 * (grep finds lstm_train_forward_d there). Only the kernel sources include this file: the
 * rest of the library calls the _f names, the tests the _d names.
 */
#ifndef ELMO_GRAD_REAL_H
#define ELMO_GRAD_REAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/fastmath.h"
#include "kernels/matmul.h"
#include "kernels/scalar.h"

#include "train/grad.h"

#ifdef ELMO_REAL_DOUBLE
typedef double elmo_real;
#define ELMO_REAL_NAME(name) name##_d
#else
typedef float elmo_real;
#define ELMO_REAL_NAME(name) name##_f
#endif

/* the names declared in train/grad.h */
#define tparams ELMO_REAL_NAME(tparams)
#define bilm_trainer ELMO_REAL_NAME(bilm_trainer)
#define sparse_rows ELMO_REAL_NAME(sparse_rows)
#define tparams_bind ELMO_REAL_NAME(tparams_bind)
#define tparams_take_encoder ELMO_REAL_NAME(tparams_take_encoder)
#define tokenc_forward ELMO_REAL_NAME(tokenc_forward)
#define tokenc_backward ELMO_REAL_NAME(tokenc_backward)
#define lstm_train_forward ELMO_REAL_NAME(lstm_train_forward)
#define lstm_train_backward ELMO_REAL_NAME(lstm_train_backward)
#define softmax_sampled ELMO_REAL_NAME(softmax_sampled)
#define softmax_full ELMO_REAL_NAME(softmax_full)
#define bilm_trainer_init ELMO_REAL_NAME(bilm_trainer_init)
#define bilm_trainer_free ELMO_REAL_NAME(bilm_trainer_free)
#define bilm_trainer_reset_state ELMO_REAL_NAME(bilm_trainer_reset_state)
#define bilm_direction_step ELMO_REAL_NAME(bilm_direction_step)
#define bilm_trainer_layer ELMO_REAL_NAME(bilm_trainer_layer)

/* The helpers of the kernels, for elmo_real. */

/* C (M, N) = op(A) op(B) + beta C, row-major (kernels/matmul.h; empty shapes allowed). */
static inline void real_mm(int ta, int tb, int M, int N, int K, const elmo_real *A, int lda,
                           const elmo_real *B, int ldb, elmo_real beta, elmo_real *C, int ldc) {
#ifdef ELMO_REAL_DOUBLE
    elmo_mm_f64(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
#else
    elmo_mm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
#endif
}

/* Same, B a weight that stays the same until the next training step (in bfloat16 training
 * elmo_mm_weight keeps its bfloat16 copy). */
static inline void real_mm_weight(int ta, int tb, int M, int N, int K, const elmo_real *A, int lda,
                                  const elmo_real *B, int ldb, elmo_real beta, elmo_real *C,
                                  int ldc) {
#ifdef ELMO_REAL_DOUBLE
    elmo_mm_f64(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
#else
    elmo_mm_weight(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
#endif
}

#ifdef ELMO_REAL_DOUBLE
static inline elmo_real real_exp(elmo_real v) { return exp(v); }
static inline elmo_real real_tanh(elmo_real v) { return tanh(v); }
static inline elmo_real real_sigmoid(elmo_real v) { return elmo_sigmoid_d(v); }
static inline elmo_real real_clip(elmo_real v, elmo_real lim) { return elmo_clip_d(v, lim); }
#else
/* float (training): the fast path's approximations (kernels/fastmath.h, <= 3 ulp), which
 * vectorize; libm's were most of a training step's elementwise time */
/* (-inf, a masked logit, gives exactly 0 as libm's expf does; the fast exp clamps at -87.3) */
static inline elmo_real real_exp(elmo_real v) { return v == -INFINITY ? 0 : elmo_expf_fast(v); }
static inline elmo_real real_tanh(elmo_real v) { return elmo_tanhf_fast(v); }
static inline elmo_real real_sigmoid(elmo_real v) { return elmo_sigmoidf_fast(v); }
static inline elmo_real real_clip(elmo_real v, elmo_real lim) { return elmo_clip_f(v, lim); }
#endif

/* The largest of init and x (n) (NaNs ignored), in the lanes of a 64-byte vector: the plain
 * loop stays scalar, since a compiler may not reorder a floating-point maximum (it does not
 * change the result). */
#ifdef ELMO_REAL_DOUBLE
typedef double real_vec __attribute__((vector_size(64)));
typedef int64_t real_vmask __attribute__((vector_size(64)));
#else
typedef float real_vec __attribute__((vector_size(64)));
typedef int32_t real_vmask __attribute__((vector_size(64)));
#endif
static inline __attribute__((always_inline)) elmo_real real_max(const elmo_real *x, int n,
                                                                elmo_real init) {
    enum { LANES = sizeof(real_vec) / sizeof(elmo_real) };
    real_vec m = (real_vec){0} + init;
    int k = 0;
    for (; k + LANES <= n; k += LANES) {
        real_vec v;
        memcpy(&v, x + k, sizeof v);
        real_vmask gt = v > m;
        m = (real_vec)((gt & (real_vmask)v) | (~gt & (real_vmask)m));
    }
    elmo_real mx = init;
    for (int j = 0; j < LANES; j++) mx = m[j] > mx ? m[j] : mx;
    for (; k < n; k++) mx = x[k] > mx ? x[k] : mx;
    return mx;
}

#endif
