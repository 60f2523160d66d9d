/*
 * pooling.c: token pooling for the text classifier (see pooling.h).
 */
#include "tasks/pooling.h"

#include <math.h>
#include <string.h>

#include "elmo.h"

int elmo_pool_parse(const char *name) {
    if (!strcmp(name, "mean")) return ELMO_POOL_MEAN;
    if (!strcmp(name, "max")) return ELMO_POOL_MAX;
    if (!strcmp(name, "mean+max")) return ELMO_POOL_MEANMAX;
    if (!strcmp(name, "attention")) return ELMO_POOL_ATTN;
    return -1;
}

const char *elmo_pool_name(int pooling) {
    static const char *names[] = {"mean", "max", "mean+max", "attention"};
    return pooling >= 0 && pooling <= 3 ? names[pooling] : "?";
}

int elmo_pool_n_stats(int pooling) {
    return pooling == ELMO_POOL_MEANMAX ? 2 : pooling == ELMO_POOL_ATTN ? 0 : 1;
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
