/*
 * scalar.h: the exact (libm) elementwise functions of the LSTM and the highway layers, in
 * float (inference, training) and in double (the gradient checks of src/train): the names end
 * in _f and _d like those of the training kernels (train/grad.h). fastmath.h has the fast,
 * vectorizable float approximations of the inference fast path.
 *
 *   elmo_sigmoid  1 / (1 + exp(-v))
 *   elmo_clip     v limited to [-lim, lim]; lim <= 0: no clipping
 */
#ifndef ELMO_SCALAR_H
#define ELMO_SCALAR_H

#include <math.h>

static inline float elmo_sigmoid_f(float v) { return 1.0f / (1.0f + expf(-v)); }
static inline double elmo_sigmoid_d(double v) { return 1.0 / (1.0 + exp(-v)); }

static inline float elmo_clip_f(float v, float lim) {
    if (lim > 0) {
        if (v > lim) return lim;
        if (v < -lim) return -lim;
    }
    return v;
}

static inline double elmo_clip_d(double v, double lim) {
    if (lim > 0) {
        if (v > lim) return lim;
        if (v < -lim) return -lim;
    }
    return v;
}

#endif
