/*
 * pooling.c: token pooling for the text classifier (see pooling.h).
 */
#include "tasks/pooling.h"

#include <math.h>
#include <string.h>

#include "elmo.h"
#include "kernels/matmul.h"

int elmo_pool_parse(const char *name) {
    if (!strcmp(name, "mean")) return ELMO_POOL_MEAN;
    if (!strcmp(name, "max")) return ELMO_POOL_MAX;
    if (!strcmp(name, "mean+max")) return ELMO_POOL_MEANMAX;
    if (!strcmp(name, "attention")) return ELMO_POOL_ATTN;
    if (!strcmp(name, "cnn")) return ELMO_POOL_CNN;
    return -1;
}

const char *elmo_pool_name(int pooling) {
    static const char *names[] = {"mean", "max", "mean+max", "attention", "cnn"};
    return pooling >= 0 && pooling <= ELMO_POOL_CNN ? names[pooling] : "?";
}

int elmo_pool_n_stats(int pooling) {
    if (pooling == ELMO_POOL_ATTN || pooling == ELMO_POOL_CNN) return 0;
    return pooling == ELMO_POOL_MEANMAX ? 2 : 1;
}

size_t elmo_pool_n_params(int pooling, int D) {
    if (pooling == ELMO_POOL_ATTN) return (size_t)D;
    if (pooling == ELMO_POOL_CNN) return (size_t)D * 3 * D + D; /* F = D */
    return 0;
}

int elmo_pool_width(int pooling, int D) { return pooling == ELMO_POOL_MEANMAX ? 2 * D : D; }

void elmo_pool_stats(int pooling, int K, int n, int D, const float *layers, float *out) {
    size_t KD = (size_t)K * D;
    int want_mean = pooling == ELMO_POOL_MEAN || pooling == ELMO_POOL_MEANMAX;
    int want_max = pooling == ELMO_POOL_MAX || pooling == ELMO_POOL_MEANMAX;
    float *mean = want_mean ? out : NULL, *mx = want_max ? out + (want_mean ? KD : 0) : NULL;
    for (int j = 0; j < K; j++) {
        const float *lj = layers + (size_t)j * n * D;
        if (mean) memset(mean + (size_t)j * D, 0, sizeof(float) * D);
        if (mx) memcpy(mx + (size_t)j * D, lj, sizeof(float) * D);
        for (int t = 0; t < n; t++) {
            const float *src = lj + (size_t)t * D;
            if (mean)
                for (int k = 0; k < D; k++) mean[(size_t)j * D + k] += src[k];
            if (mx)
                for (int k = 0; k < D; k++)
                    mx[(size_t)j * D + k] =
                        src[k] > mx[(size_t)j * D + k] ? src[k] : mx[(size_t)j * D + k];
        }
        if (mean)
            for (int k = 0; k < D; k++) mean[(size_t)j * D + k] /= (float)n;
    }
}

void elmo_attn_pool_forward(int K, int n, int D, const float *layers, const float *w, float gamma,
                            const float *v, float *mixed, float *alpha, float *out) {
    elmo_scalar_mix(K, n, D, layers, NULL, w, gamma, 0, mixed);
    double mx = -INFINITY, z = 0;
    for (int t = 0; t < n; t++) {
        double a = 0;
        for (int k = 0; k < D; k++) a += (double)v[k] * mixed[(size_t)t * D + k];
        alpha[t] = (float)a;
        mx = a > mx ? a : mx;
    }
    for (int t = 0; t < n; t++) z += exp(alpha[t] - mx);
    for (int t = 0; t < n; t++) alpha[t] = (float)(exp(alpha[t] - mx) / z);
    memset(out, 0, sizeof(float) * D);
    for (int t = 0; t < n; t++)
        for (int k = 0; k < D; k++) out[k] += alpha[t] * mixed[(size_t)t * D + k];
}

void elmo_attn_pool_backward(int K, int n, int D, const float *layers, const float *w, float gamma,
                             const float *v, const float *mixed, const float *alpha,
                             const float *dout, float *dmixed, float *dw, float *dgamma,
                             float *dv) {
    /* dalpha_t = dout . m_t; da_t = alpha_t (dalpha_t - sum_u alpha_u dalpha_u);
     * dm_t = alpha_t dout + da_t v; dv += sum_t da_t m_t */
    double avg = 0;
    for (int t = 0; t < n; t++) {
        double d = 0;
        for (int k = 0; k < D; k++) d += (double)dout[k] * mixed[(size_t)t * D + k];
        dmixed[(size_t)t * D] = (float)d; /* dalpha_t, kept until da_t is known */
        avg += alpha[t] * d;
    }
    for (int t = 0; t < n; t++) {
        float *dm = dmixed + (size_t)t * D;
        float da = (float)(alpha[t] * (dm[0] - avg));
        const float *m = mixed + (size_t)t * D;
        for (int k = 0; k < D; k++) {
            dv[k] += da * m[k];
            dm[k] = alpha[t] * dout[k] + da * v[k];
        }
    }
    elmo_scalar_mix_backward(K, n, D, layers, NULL, w, gamma, 0, dmixed, dw, dgamma, NULL);
}

/* The window of token t: [m_t-1 | m_t | m_t+1] (3 D), zeros past either end. */
static void cnn_window(int n, int D, const float *mixed, int t, float *u) {
    for (int s = -1; s <= 1; s++) {
        float *dst = u + (size_t)(s + 1) * D;
        if (t + s < 0 || t + s >= n)
            memset(dst, 0, sizeof(float) * D);
        else
            memcpy(dst, mixed + (size_t)(t + s) * D, sizeof(float) * D);
    }
}

void elmo_cnn_pool_forward(int K, int n, int D, int F, const float *layers, const float *w,
                           float gamma, const float *U, const float *c, float *mixed, float *win,
                           float *a, int32_t *arg, float *out) {
    elmo_scalar_mix(K, n, D, layers, NULL, w, gamma, 0, mixed);
    for (int t = 0; t < n; t++) cnn_window(n, D, mixed, t, win + (size_t)t * 3 * D);
    /* a (n, F) = win (n, 3 D) U^T (3 D, F) */
    elmo_mm(0, 1, n, F, 3 * D, win, 3 * D, U, 3 * D, 0.0f, a, F);
    for (int f = 0; f < F; f++) {
        int best = 0;
        for (int t = 1; t < n; t++)
            if (a[(size_t)t * F + f] > a[(size_t)best * F + f]) best = t;
        arg[f] = best;
        float v = a[(size_t)best * F + f] + c[f];
        out[f] = v > 0 ? v : 0;
    }
}

void elmo_cnn_pool_backward(int K, int n, int D, int F, const float *layers, const float *w,
                            float gamma, const float *U, const int32_t *arg, const float *out,
                            const float *dout, float *mixed, float *dmixed, float *dw,
                            float *dgamma, float *dU, float *dc) {
    /* out_f = relu(U_f . u_arg_f + c_f): dc_f = dU_f / u = dout_f where out_f > 0;
     * du_arg_f = dout_f U_f, scattered back onto the three tokens of the window */
    elmo_scalar_mix(K, n, D, layers, NULL, w, gamma, 0, mixed);
    memset(dmixed, 0, sizeof(float) * (size_t)n * D);
    for (int f = 0; f < F; f++) {
        if (!(out[f] > 0)) continue;
        float g = dout[f];
        int t = arg[f];
        dc[f] += g;
        const float *Uf = U + (size_t)f * 3 * D;
        float *dUf = dU + (size_t)f * 3 * D;
        for (int s = -1; s <= 1; s++) {
            if (t + s < 0 || t + s >= n) continue;
            const float *m = mixed + (size_t)(t + s) * D, *Us = Uf + (size_t)(s + 1) * D;
            float *dm = dmixed + (size_t)(t + s) * D, *dUs = dUf + (size_t)(s + 1) * D;
            for (int d = 0; d < D; d++) {
                dUs[d] += g * m[d];
                dm[d] += g * Us[d];
            }
        }
    }
    elmo_scalar_mix_backward(K, n, D, layers, NULL, w, gamma, 0, dmixed, dw, dgamma, NULL);
}
