/*
 * optim.c: Adagrad (dense and row-sparse), Adam, and gradient-norm helpers.
 */
#include "train/optim.h"

#include <math.h>

#include "io/util.h"

/* The elementwise loops are built for AVX-512, AVX2 and the baseline (ELMO_VECTOR_CLONES), and
 * this file without errno for sqrtf (CMakeLists.txt), so that Adagrad's square roots
 * vectorize: the same correctly rounded values, several at a time. */

/* acc += (s g)^2; w -= lr (s g) / sqrt(acc), s the clipping factor (1: none; g * 1 is g). */
ELMO_VECTOR_CLONES static void adagrad(size_t n, float *restrict w, float *restrict acc,
                                       const float *restrict g, float s, float lr) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * s, a = acc[i] + gi * gi;
        acc[i] = a;
        w[i] -= lr * gi / sqrtf(a);
    }
}

void elmo_adagrad(size_t n, float *w, float *acc, const float *g, float lr) {
    adagrad(n, w, acc, g, 1.0f, lr);
}

void elmo_adagrad_scaled(size_t n, float *w, float *acc, const float *g, float scale, float lr) {
    adagrad(n, w, acc, g, scale, lr);
}

ELMO_VECTOR_CLONES static void add(size_t n, float *restrict y, const float *restrict x) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void elmo_add(size_t n, float *y, const float *x) { add(n, y, x); }

void elmo_adagrad_rows(size_t n_rows, const int32_t *rows, int P, float *w, float *acc,
                       const float *g, float lr) {
    for (size_t r = 0; r < n_rows; r++) {
        size_t o = (size_t)rows[r] * P;
        elmo_adagrad((size_t)P, w + o, acc + o, g + o, lr);
    }
}

void elmo_adam_init(elmo_adam *a, float lr) {
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-7f; /* Keras' default, the tutorial's optimizer */
    a->t = 0;
}

void elmo_adam_tick(elmo_adam *a) { a->t++; }

void elmo_adam_update(const elmo_adam *a, size_t n, float *w, float *m, float *v, const float *g) {
    double t = (double)(a->t ? a->t : 1);
    float c1 = (float)(1.0 / (1.0 - pow(a->beta1, t))),
          c2 = (float)(1.0 / (1.0 - pow(a->beta2, t)));
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] = a->beta1 * m[i] + (1 - a->beta1) * gi;
        v[i] = a->beta2 * v[i] + (1 - a->beta2) * gi * gi;
        w[i] -= a->lr * (m[i] * c1) / (sqrtf(v[i] * c2) + a->eps);
    }
}

/* Eight running sums (element i into sum i mod 8), added at the end: a fixed order, whatever
 * the CPU, that vectorizes. */
ELMO_VECTOR_CLONES static double sumsq(size_t n, const float *g) {
    double s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += (double)g[i + k] * g[i + k];
    for (; i < n; i++) s[i % 8] += (double)g[i] * g[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

double elmo_sumsq(size_t n, const float *g) { return sumsq(n, g); }

int elmo_all_finite(size_t n, const float *g) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(g[i])) return 0;
    return 1;
}
