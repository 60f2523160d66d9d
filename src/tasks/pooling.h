/*
 * pooling.h: pooling a text's token vectors into one vector, for the text classifier
 * (internal). Shapes: n tokens, K biLM layers, D dims; layers (K, n, D) as elmo_embed gives.
 *
 *   mean:      per layer, the mean over the tokens       (K, D)  then the scalar mix: D
 *   max:       per layer, the element-wise maximum        (K, D)  then the scalar mix: D
 *   mean+max:  both, each mixed with the same weights     (2, K, D) then 2 D
 *   attention: m_t = gamma sum_j s_j x_jt (n, D); a_t = v . m_t; alpha = softmax_t(a);
 *              out = sum_t alpha_t m_t (D); v (D) learned with the head.
 *   cnn:       a small sequence head: m as for attention; windows of three tokens
 *              u_t = [m_t-1 | m_t | m_t+1] (zeros past either end) (n, 3 D);
 *              a_t = U u_t + c (n, F); out_f = relu(max_t a_tf) (F); U (F, 3 D) and c (F)
 *              learned with the head (one convolution of width 3 and max-over-time pooling,
 *              as the CNN text classifiers over ELMo vectors have). F = D here.
 *
 * The per-layer statistics do not depend on the learned weights, so they are computed once per
 * text (the scalar mix is linear: mixing the per-layer mean is the mean of the mixed vectors;
 * for max, the maximum is taken per layer, before the mix). Attention and the CNN need every
 * token's layers: the classifier keeps them (in bfloat16) for the texts it trains on.
 */
#ifndef ELMO_POOLING_H
#define ELMO_POOLING_H

#include <stddef.h>
#include <stdint.h>

enum {
    ELMO_POOL_MEAN = 0,
    ELMO_POOL_MAX = 1,
    ELMO_POOL_MEANMAX = 2,
    ELMO_POOL_ATTN = 3,
    ELMO_POOL_CNN = 4
};

/* "mean" | "max" | "mean+max" | "attention" | "cnn" -> id; -1 if unknown. */
int elmo_pool_parse(const char *name);
const char *elmo_pool_name(int pooling);
/* Statistics per text for the cached poolings: 1 (mean, max), 2 (mean+max), 0 (attention and
 * cnn, which keep the tokens). */
int elmo_pool_n_stats(int pooling);
/* Width of the pooled vector: D, or 2 D for mean+max (the CNN's F filters: D). */
int elmo_pool_width(int pooling, int D);

/* The statistics (P, K, D) of one text's layers (K, n, D), n >= 1. */
void elmo_pool_stats(int pooling, int K, int n, int D, const float *layers, float *out);

/* Attention pooling forward: mixed (n, D) and alpha (n) are written (kept for backward);
 * out (D). w (K) the scalar mix's unnormalised weights. */
void elmo_attn_pool_forward(int K, int n, int D, const float *layers, const float *w, float gamma,
                            const float *v, float *mixed, float *alpha, float *out);
/* Backward given dout (D): dw (K), *dgamma and dv (D) accumulated (+=). dmixed (n, D) is
 * workspace. mixed and alpha from the forward. */
void elmo_attn_pool_backward(int K, int n, int D, const float *layers, const float *w, float gamma,
                             const float *v, const float *mixed, const float *alpha,
                             const float *dout, float *dmixed, float *dw, float *dgamma, float *dv);

/* Learned parameters of the pooling beside the scalar mix: v (D) for attention, U (F, 3 D)
 * and c (F) for the CNN, none for the others. */
size_t elmo_pool_n_params(int pooling, int D);

/* CNN pooling forward: mixed (n, D), the windows win (n, 3 D) and the activations a (n, F)
 * are workspace; arg (F), the token where each filter peaks, is kept for the backward;
 * out (F). U (F, 3 D), c (F). */
void elmo_cnn_pool_forward(int K, int n, int D, int F, const float *layers, const float *w,
                           float gamma, const float *U, const float *c, float *mixed, float *win,
                           float *a, int32_t *arg, float *out);
/* Backward given dout (F), with arg and out from the forward: dw (K), *dgamma, dU (F, 3 D) and
 * dc (F) accumulated (+=). Only the peak window of each filter carries a gradient, so this
 * costs O(F D + K n D): mixed (n, D) is the scalar mix again, dmixed (n, D) workspace. */
void elmo_cnn_pool_backward(int K, int n, int D, int F, const float *layers, const float *w,
                            float gamma, const float *U, const int32_t *arg, const float *out,
                            const float *dout, float *mixed, float *dmixed, float *dw,
                            float *dgamma, float *dU, float *dc);

/* bfloat16 storage of token layers (round to nearest even; NaN kept NaN). */
static inline uint16_t elmo_pool_to_bf16(float f) {
    union {
        float f;
        uint32_t u;
    } x = {f};
    if ((x.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x.u >> 16) | 0x40);
    return (uint16_t)((x.u + 0x7fffu + ((x.u >> 16) & 1)) >> 16);
}
static inline float elmo_pool_from_bf16(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } x = {(uint32_t)h << 16};
    return x.f;
}

#endif
