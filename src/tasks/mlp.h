/*
 * mlp.h: the downstream head shared by the text classifier and the tagger (internal):
 * input x (N, I) -> [Dense(Hd, relu)] -> Dense(C) -> loss, forward and backward side by side.
 *
 *   hidden > 0:  h = relu(x W1 + b1) (N, Hd);  z = h W2 + b2 (N, C)
 *   hidden = 0:  z = x W2 + b2 (a linear classifier)
 *   binary:      C = 1, p = sigmoid(z), binary cross-entropy (label 0 or 1)
 *   otherwise:   p = softmax(z), cross-entropy
 *
 * The input may be dense or sparse (CSR rows: the bag-of-words baseline). All parameters live
 * in one block (W1, b1, W2, b2) so that Adam updates them as one array.
 */
#ifndef ELMO_MLP_H
#define ELMO_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "io/util.h"

typedef struct {
    int in, hidden, out; /* I, Hd (0 = none), C */
    int binary;          /* one sigmoid output for two classes */
    size_t n;            /* parameters */
    float *mem;          /* the block: W1 (I, Hd), b1 (Hd), W2 (Hd or I, C), b2 (C) */
    float *W1, *b1, *W2, *b2;
} elmo_mlp;

/* Sparse rows: row r has entries idx[ptr[r] .. ptr[r+1]) with values val; optionally a
 * dense block first: columns 0..dn-1 of every row are dense (N, dn), the entries' columns
 * start at dn. */
typedef struct {
    const int64_t *ptr;
    const int32_t *idx;
    const float *val;
    const float *dense; /* (N, dn) or NULL */
    int dn;
} elmo_csr;

size_t elmo_mlp_count(int in, int hidden, int out);
/* Bind the views into mem (elmo_mlp_count floats). */
void elmo_mlp_bind(elmo_mlp *m, int in, int hidden, int classes, float *mem);
/* w (fan_in x fan_out floats) Glorot-uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)). */
void elmo_glorot_init(elmo_rng *r, float *w, int fan_in, int fan_out);
/* Glorot-uniform weights, zero biases. */
void elmo_mlp_init(elmo_mlp *m, elmo_rng *r);

/* Forward for N rows: x dense (N, I) or sparse (x == NULL, sx given). h (N, Hd) and z (N, C)
 * are written (h unused when hidden == 0). */
void elmo_mlp_forward(const elmo_mlp *m, int N, const float *x, const elmo_csr *sx, float *h,
                      float *z);
/* Class probabilities from z (N, C) into p (N, classes): for binary, p[.,0] = 1 - s and
 * p[.,1] = s. */
void elmo_mlp_probs(const elmo_mlp *m, int N, const float *z, float *p);
/* Loss (sum over rows) and gradients: g (a block like mem) accumulated with weight/row;
 * dx (N, I) written when not NULL (dense input only). dz (N, C) and dh (N, Hd) are workspace.
 * z is overwritten with dz. */
double elmo_mlp_backward(const elmo_mlp *m, int N, const float *x, const elmo_csr *sx,
                         const float *h, float *z, const int32_t *labels, float weight, float *g,
                         float *dx, float *dh);

#endif
