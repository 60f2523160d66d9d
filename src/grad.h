/*
 * grad.h: training kernels: forward passes that keep what backward needs, and the backward
 * passes beside them, in float (training) and double (gradient checks): every function is
 * declared twice, name_f and name_d (see real.h).
 */
#ifndef ELMO_GRAD_H
#define ELMO_GRAD_H

#include <stdint.h>

#include "elmo.h"
#include "params.h"
#include "util.h"

#define ELMO_SOFTMAX_CHUNK 64

/* One training batch: per direction, time-major char ids (T, B, W) (inference id space:
 * raw + 1) of the inputs and word ids (T, B) of the targets. */
typedef struct {
    int B, T;
    const int16_t *ids[2];
    const int32_t *targets[2];
} elmo_train_batch;

#include "real.h"
#include "grad_decl.inc"
#define ELMO_DOUBLE
#include "real.h"
#include "grad_decl.inc"
#undef ELMO_DOUBLE
#include "real.h"

/* Log-uniform (Zipf) candidate sampler of TF's sampled_softmax_loss (unique = true):
 * P(k) = (log(k+2) - log(k+1)) / log(V+1); draws ceil... floor(exp(u log(V+1))) - 1 until S
 * distinct ids; expected count Q(k) = -expm1(tries * log1p(-P(k))). Writes cand (S) and
 * logq (S); returns the number of tries. */
int elmo_sample_log_uniform(elmo_rng *r, int V, int S, int32_t *cand, float *logq,
                            uint8_t *seen);
/* log Q(k) for given tries. */
double elmo_log_uniform_logq(int V, int k, int tries);

#endif
