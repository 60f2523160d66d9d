/*
 * highway.c: highway layers and the CNN projection of the token encoder (spec 4.1, 6-7).
 *
 *   g = sigmoid(x W_carry + b_carry)        TF's "carry" gate multiplies the transform branch
 *   t = relu(x W_transform + b_transform)   relu whatever the CNN activation is
 *   x <- g * t + (1 - g) * x
 *   tok = x W_proj + b_proj                 (N, P); a copy when F == P
 */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "model.h"

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

void elmo_highway_forward(const elmo_config *c, const elmo_params *p, int N, float *x,
                          float *ws) {
    int F = c->n_filters;
    float *gc = ws, *gt = ws + (size_t)N * F;
    for (int i = 0; i < c->n_highway; i++) {
        elmo_sgemm(N, F, F, x, F, p->hw_wc[i], F, 0.0f, gc, F);
        elmo_sgemm(N, F, F, x, F, p->hw_wt[i], F, 0.0f, gt, F);
        const float *bc = p->hw_bc[i], *bt = p->hw_bt[i];
        for (int n = 0; n < N; n++) {
            float *xr = x + (size_t)n * F;
            const float *a = gc + (size_t)n * F, *t = gt + (size_t)n * F;
            for (int f = 0; f < F; f++) {
                float g = sigmoidf(a[f] + bc[f]);
                float tr = t[f] + bt[f];
                tr = tr > 0 ? tr : 0;
                xr[f] = g * tr + (1.0f - g) * xr[f];
            }
        }
    }
}

void elmo_highway_forward_ref(const elmo_config *c, const elmo_params *p, int N, float *x) {
    int F = c->n_filters;
    for (int i = 0; i < c->n_highway; i++) {
        for (int n = 0; n < N; n++) {
            float *xr = x + (size_t)n * F;
            float tmp[F > 0 ? F : 1];
            for (int f = 0; f < F; f++) {
                double a = 0, t = 0;
                for (int k = 0; k < F; k++) {
                    a += (double)xr[k] * p->hw_wc[i][(size_t)k * F + f];
                    t += (double)xr[k] * p->hw_wt[i][(size_t)k * F + f];
                }
                float g = sigmoidf((float)a + p->hw_bc[i][f]);
                float tr = (float)t + p->hw_bt[i][f];
                tr = tr > 0 ? tr : 0;
                tmp[f] = g * tr + (1.0f - g) * xr[f];
            }
            memcpy(xr, tmp, sizeof tmp);
        }
    }
}

void elmo_projection_forward(const elmo_config *c, const elmo_params *p, int N, const float *x,
                             float *tok) {
    int F = c->n_filters, P = c->projection_dim;
    if (!c->has_cnn_proj) {
        memcpy(tok, x, sizeof(float) * (size_t)N * F);
        return;
    }
    for (int n = 0; n < N; n++) memcpy(tok + (size_t)n * P, p->proj_b, sizeof(float) * P);
    elmo_sgemm(N, P, F, x, F, p->proj_w, P, 1.0f, tok, P);
}
