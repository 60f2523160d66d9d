/*
 * optim.h: optimizers and gradient clipping (internal), shared by the biLM trainer and the
 * downstream classifiers and taggers.
 */
#ifndef ELMO_OPTIM_H
#define ELMO_OPTIM_H

#include <stddef.h>
#include <stdint.h>

/* Adagrad as TF 1.x applies it for bilm-tf (bilm/training.py): acc += g^2;
 * w -= lr * g / sqrt(acc); no epsilon. */
void elmo_adagrad(size_t n, float *w, float *acc, const float *g, float lr);
/* The same with the gradient scaled: g * scale (the clipping factor; 1: elmo_adagrad). */
void elmo_adagrad_scaled(size_t n, float *w, float *acc, const float *g, float scale, float lr);
/* Adagrad on rows: only the rows listed (each once) of (V, P) w/acc, gradient rows g. */
void elmo_adagrad_rows(size_t n_rows, const int32_t *rows, int P, float *w, float *acc,
                       const float *g, float lr);

/* Adam (Kingma & Ba) with bias correction; step t counts from 1. */
typedef struct {
    float lr, beta1, beta2, eps;
    uint64_t t;
} elmo_adam;
void elmo_adam_init(elmo_adam *a, float lr);
/* One update of n parameters with moments m, v (zero-initialised); call elmo_adam_tick once
 * per optimizer step before the updates of that step. */
void elmo_adam_tick(elmo_adam *a);
void elmo_adam_update(const elmo_adam *a, size_t n, float *w, float *m, float *v, const float *g);

/* Sum of squares (in double) of n values. */
double elmo_sumsq(size_t n, const float *g);
/* y (n) += x. */
void elmo_add(size_t n, float *y, const float *x);
/* Whether all n values are finite. */
int elmo_all_finite(size_t n, const float *g);

#endif
