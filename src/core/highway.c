/*
 * highway.c: highway layers and the CNN projection of the token encoder (after the char CNN,
 * core/charcnn.c; bilm-tf's bilm/model.py).
 *
 *   g = sigmoid(x W_carry + b_carry)        TF's "carry" gate multiplies the transform branch
 *   t = relu(x W_transform + b_transform)   relu whatever the CNN activation is
 *   x <- g * t + (1 - g) * x
 *   tok = x W_proj + b_proj                 (N, P); a copy when F == P
 *
 * Fast path: the products on the matrix backend (matmul.h) with the model's prepared
 * weights (float32 or bfloat16); the gate loop vectorizes (fastmath.h). The two products of a layer are separate calls so that two
 * threads can compute one each (bilm.c does for small batches).
 */
#include <math.h>
#include <string.h>

#include "kernels/fastmath.h"
#include "kernels/matmul.h"
#include "kernels/scalar.h"
#include "core/model.h"
#include "io/util.h"

void elmo_highway_product(const elmo_model *m, int i, int which, int N, const float *x,
                          float *out) {
    int F = m->cfg.n_filters;
    elmo_mat_mul(N, x, F, m->mats->hw[i][which], 0, out, F);
}

ELMO_VECTOR_CLONES static void combine_impl(const elmo_config *c, const elmo_params *p, int i,
                                            int N, float *x, const float *gc, const float *gt) {
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

/* (the clones are static: clang wants every declaration of a multiversioned function to
 * carry the attribute) */
void elmo_highway_combine(const elmo_config *c, const elmo_params *p, int i, int N, float *x,
                          const float *gc, const float *gt) {
    combine_impl(c, p, i, N, x, gc, gt);
}

void elmo_highway_forward(const elmo_model *m, int N, float *x, float *ws) {
    const elmo_config *c = &m->cfg;
    int F = c->n_filters;
    float *gc = ws, *gt = ws + (size_t)N * F;
    for (int i = 0; i < c->n_highway; i++) {
        elmo_highway_product(m, i, 0, N, x, gc);
        elmo_highway_product(m, i, 1, N, x, gt);
        elmo_highway_combine(c, &m->w, i, N, x, gc, gt);
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
                float g = elmo_sigmoid_f((float)a + p->hw_bc[i][f]);
                float tr = (float)t + p->hw_bt[i][f];
                tr = tr > 0 ? tr : 0;
                tmp[f] = g * tr + (1.0f - g) * xr[f];
            }
            memcpy(xr, tmp, sizeof tmp);
        }
    }
}

void elmo_projection_forward(const elmo_model *m, int N, const float *x, float *tok) {
    const elmo_config *c = &m->cfg;
    const elmo_params *p = &m->w;
    int F = c->n_filters, P = c->projection_dim;
    if (!c->has_cnn_proj) {
        memcpy(tok, x, sizeof(float) * (size_t)N * F);
        return;
    }
    for (int n = 0; n < N; n++) memcpy(tok + (size_t)n * P, p->proj_b, sizeof(float) * P);
    elmo_mat_mul(N, x, F, m->mats->proj, 1, tok, P);
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
            for (int f = 0; f < F; f++)
                a += (double)x[(size_t)n * F + f] * p->proj_w[(size_t)f * P + q];
            tok[(size_t)n * P + q] = (float)a + p->proj_b[q];
        }
}
