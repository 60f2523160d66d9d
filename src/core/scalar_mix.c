/*
 * scalar_mix.c: ELMo's layer combination (Peters et al. 2018, eq. 1,
 * https://arxiv.org/abs/1802.05365; bilm/elmo.py of bilm-tf) and its gradients.
 *
 *   s = softmax(w)                                   (K)
 *   xhat_j = (x_j - mu_j) / sqrt(var_j + eps)        when layer_norm, else x_j
 *            mu_j, var_j over all masked positions and all D features of layer j
 *   out = gamma * sum_j s_j xhat_j                   (N, D), at every position
 *
 * Backward: with a_j = sum_{n,d} dout * xhat_j,
 *   dgamma = sum_j s_j a_j,  dw_j = gamma * s_j (a_j - sum_k s_k a_k)
 *   dxhat_j = gamma s_j dout; through the normalisation (masked positions only carry the
 *   statistics): dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps),
 *   means over the masked elements; unmasked positions get dxhat / sqrt(var + eps).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "io/util.h"

#define LN_EPS 1e-12

static void softmax(int K, const float *w, double *s) {
    double mx = w[0], sum = 0;
    for (int j = 1; j < K; j++) mx = w[j] > mx ? w[j] : mx;
    for (int j = 0; j < K; j++) sum += s[j] = exp((double)w[j] - mx);
    for (int j = 0; j < K; j++) s[j] /= sum;
}

/* mean and 1/sqrt(var + eps) of layer x (N, D) over masked positions */
static void stats(int N, int D, const float *x, const uint8_t *mask, double *mu, double *inv) {
    double sum = 0, cnt = 0;
    for (int n = 0; n < N; n++) {
        if (mask && !mask[n]) continue;
        for (int d = 0; d < D; d++) sum += x[(size_t)n * D + d];
        cnt += D;
    }
    *mu = cnt > 0 ? sum / cnt : 0;
    double v = 0;
    for (int n = 0; n < N; n++) {
        if (mask && !mask[n]) continue;
        for (int d = 0; d < D; d++) {
            double e = x[(size_t)n * D + d] - *mu;
            v += e * e;
        }
    }
    v = cnt > 0 ? v / cnt : 0;
    *inv = 1.0 / sqrt(v + LN_EPS);
}

static elmo_status check(int K, int N, int D, const float *layers, const float *w) {
    if (K < 1 || K > 64 || N < 0 || D < 1 || !layers || !w)
        return elmo_fail(ELMO_ERR_ARG, "elmo_scalar_mix: invalid arguments (K %d, N %d, D %d)", K,
                         N, D);
    return ELMO_OK;
}

elmo_status elmo_scalar_mix(int K, int N, int D, const float *layers, const uint8_t *mask,
                            const float *w, float gamma, int layer_norm, float *out) {
    elmo_status st = check(K, N, D, layers, w);
    if (st) return st;
    double s[64];
    softmax(K, w, s);
    size_t ND = (size_t)N * D;
    memset(out, 0, sizeof(float) * ND);
    for (int j = 0; j < K; j++) {
        const float *x = layers + (size_t)j * ND;
        double mu = 0, inv = 1;
        if (layer_norm) stats(N, D, x, mask, &mu, &inv);
        float a = (float)(gamma * s[j] * inv), b = (float)(-mu * inv * gamma * s[j]);
        for (size_t k = 0; k < ND; k++) out[k] += a * x[k] + b;
    }
    return ELMO_OK;
}

elmo_status elmo_scalar_mix_backward(int K, int N, int D, const float *layers, const uint8_t *mask,
                                     const float *w, float gamma, int layer_norm, const float *dout,
                                     float *dw, float *dgamma, float *dlayers) {
    elmo_status st = check(K, N, D, layers, w);
    if (st) return st;
    double s[64], a[64], mu[64], inv[64], sa = 0;
    softmax(K, w, s);
    size_t ND = (size_t)N * D;
    for (int j = 0; j < K; j++) {
        const float *x = layers + (size_t)j * ND;
        mu[j] = 0;
        inv[j] = 1;
        if (layer_norm) stats(N, D, x, mask, &mu[j], &inv[j]);
        double acc = 0;
        for (size_t k = 0; k < ND; k++) acc += (double)dout[k] * ((x[k] - mu[j]) * inv[j]);
        a[j] = acc;
        sa += s[j] * a[j];
    }
    *dgamma += (float)sa;
    for (int j = 0; j < K; j++) dw[j] += (float)(gamma * s[j] * (a[j] - sa));
    if (!dlayers) return ELMO_OK;
    for (int j = 0; j < K; j++) {
        const float *x = layers + (size_t)j * ND;
        float *dx = dlayers + (size_t)j * ND;
        double c = gamma * s[j];
        if (!layer_norm) {
            for (size_t k = 0; k < ND; k++) dx[k] += (float)(c * dout[k]);
            continue;
        }
        /* mu and var come from the masked elements, but every position's output depends on
         * them: sums of g and g * xhat run over all positions, the count over masked ones */
        double t1 = 0, t2 = 0, cnt = 0;
        for (size_t k = 0; k < ND; k++) {
            double g = c * dout[k], xh = (x[k] - mu[j]) * inv[j];
            t1 += g;
            t2 += g * xh;
        }
        for (int n = 0; n < N; n++) cnt += (!mask || mask[n]) ? D : 0;
        for (int n = 0; n < N; n++) {
            int in = !mask || mask[n];
            for (int d = 0; d < D; d++) {
                size_t k = (size_t)n * D + d;
                double g = c * dout[k], xh = (x[k] - mu[j]) * inv[j];
                double v = g;
                if (in && cnt > 0) v -= (t1 + xh * t2) / cnt;
                dx[k] += (float)(v * inv[j]);
            }
        }
    }
    return ELMO_OK;
}
