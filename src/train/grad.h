/*
 * grad.h: training kernels: forward passes that keep what backward needs, and the backward
 * passes beside them, in float (training) and double (gradient checks): every function is
 * declared twice, name_f and name_d (see real.h).
 */
#ifndef ELMO_GRAD_H
#define ELMO_GRAD_H

#include <stdint.h>

#include "elmo.h"
#include "io/params.h"
#include "io/util.h"

#define ELMO_SOFTMAX_CHUNK 64

/* One training batch: per direction, time-major char ids (T, B, W) (inference id space:
 * raw + 1) of the inputs and word ids (T, B) of the targets; reset (T, B), when not NULL,
 * marks the positions where a row's LSTM state restarts from zero (a sentence start). */
typedef struct {
    int B, T;
    const int16_t *ids[2];
    const int32_t *targets[2];
    const uint8_t *reset[2];
} elmo_train_batch;

/* Counter-based dropout masks (training). The decision for unit k of global batch row b at
 * time step t of mask `layer` (0..L-1: the LSTM inputs, L: the top output) is a hash of
 * (key, layer, (t * rows + b) * P + k): it does not depend on how a batch is split across
 * processes, nor on the order of evaluation. key: the caller's (seed, step, direction);
 * rows: the global batch B; row0: the global index of the trainer's first row. */
typedef struct {
    uint64_t key;
    int rows, row0;
} elmo_dropout_key;

/* SplitMix64's finalizer: a bijective 64-bit mix. */
static inline uint64_t elmo_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#include "train/real.h"
#include "train/grad_decl.inc"
#define ELMO_DOUBLE
#include "train/real.h"
#include "train/grad_decl.inc"
#undef ELMO_DOUBLE
#include "train/real.h"

/* Log-uniform (Zipf) candidate sampler of TF's sampled_softmax_loss (unique = true):
 * P(k) = (log(k+2) - log(k+1)) / log(V+1); draws ceil... floor(exp(u log(V+1))) - 1 until S
 * distinct ids; expected count Q(k) = -expm1(tries * log1p(-P(k))). Writes cand (S) and
 * logq (S); returns the number of tries. */
int elmo_sample_log_uniform(elmo_rng *r, int V, int S, int32_t *cand, float *logq,
                            uint8_t *seen);
/* log Q(k) for given tries. */
double elmo_log_uniform_logq(int V, int k, int tries);

#endif
