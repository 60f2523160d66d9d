/*
 * highway.c: highway layers and the CNN projection of the token encoder (spec 4.1, 6-7).
 *
 *   g = sigmoid(x W_carry + b_carry)        TF's "carry" gate multiplies the transform branch
 *   t = relu(x W_transform + b_transform)   relu whatever the CNN activation is
 *   x <- g * t + (1 - g) * x
 *   tok = x W_proj + b_proj                 (N, P); a copy when F == P
 *
 * Fast path: the products with OpenBLAS, or with elmo_gemm_rm for few rows (single
 * sentences, where streaming the 2 x 16 MB of each layer's weights is the cost); the gate
 * loop vectorizes (fastmath.h). The two products of a layer are separate calls so that two
 * threads can compute one each (bilm.c does for small batches).
 */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "fastmath.h"
#include "gemm.h"
#include "model.h"

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* Few rows: the products are bound by streaming the (F, F) weights, which elmo_gemm_rm does
 * at 2-4x OpenBLAS's bandwidth; many rows: OpenBLAS. */
#define HW_STREAM_MAX_ROWS 256

void elmo_highway_product(const elmo_config *c, const elmo_params *p, int i, int which, int N,
                          const float *x, float *out) {
    int F = c->n_filters;
    const float *W = which == 0 ? p->hw_wc[i] : p->hw_wt[i];
    if (N <= HW_STREAM_MAX_ROWS) elmo_gemm_rm(N, F, F, x, F, W, F, 0, out, F);
    else elmo_sgemm(N, F, F, x, F, W, F, 0.0f, out, F);
}

void elmo_highway_combine(const elmo_config *c, const elmo_params *p, int i, int N, float *x,
                          const float *gc, const float *gt) {
    int F = c->n_filters;
    const float *restrict bc = p->hw_bc[i], *restrict bt = p->hw_bt[i];
    for (int n = 0; n < N; n++) {
        float *restrict xr = x + (size_t)n * F;
        const float *restrict a = gc + (size_t)n * F, *restrict t = gt + (size_t)n * F;
        for (int f = 0; f < F; f++) {
            float g = elmo_sigmoidf_fast(a[f] + bc[f]);
            float tr = t[f] + bt[f];
            tr = tr > 0 ? tr : 0;
            xr[f] = g * tr + (1.0f - g) * xr[f];
        }
    }
}

void elmo_highway_forward(const elmo_config *c, const elmo_params *p, int N, float *x,
                          float *ws) {
    int F = c->n_filters;
    float *gc = ws, *gt = ws + (size_t)N * F;
    for (int i = 0; i < c->n_highway; i++) {
        elmo_highway_product(c, p, i, 0, N, x, gc);
        elmo_highway_product(c, p, i, 1, N, x, gt);
        elmo_highway_combine(c, p, i, N, x, gc, gt);
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
    if (N <= HW_STREAM_MAX_ROWS) elmo_gemm_rm(N, P, F, x, F, p->proj_w, P, 1, tok, P);
    else elmo_sgemm(N, P, F, x, F, p->proj_w, P, 1.0f, tok, P);
}

void elmo_projection_forward_ref(const elmo_config *c, const elmo_params *p, int N, const float *x,
                                 float *tok) {
    int F = c->n_filters, P = c->projection_dim;
    if (!c->has_cnn_proj) {
        memcpy(tok, x, sizeof(float) * (size_t)N * F);
        return;
    }
    for (int n = 0; n < N; n++)
        for (int q = 0; q < P; q++) {
            double a = 0;
            for (int f = 0; f < F; f++) a += (double)x[(size_t)n * F + f] * p->proj_w[(size_t)f * P + q];
            tok[(size_t)n * P + q] = (float)a + p->proj_b[q];
        }
}
