/*
 * mlp.c: the downstream classification head (see mlp.h).
 */
#include "tasks/mlp.h"

#include <math.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/scalar.h"

size_t elmo_mlp_count(int in, int hidden, int out) {
    size_t n = 0;
    if (hidden > 0) n += (size_t)in * hidden + hidden;
    n += (size_t)(hidden > 0 ? hidden : in) * out + out;
    return n;
}

void elmo_mlp_bind(elmo_mlp *m, int in, int hidden, int classes, float *mem) {
    memset(m, 0, sizeof *m);
    m->in = in;
    m->hidden = hidden;
    m->binary = classes == 2;
    m->out = m->binary ? 1 : classes;
    m->n = elmo_mlp_count(in, hidden, m->out);
    m->mem = mem;
    float *p = mem;
    if (hidden > 0) {
        m->W1 = p;
        p += (size_t)in * hidden;
        m->b1 = p;
        p += hidden;
    }
    m->W2 = p;
    p += (size_t)(hidden > 0 ? hidden : in) * m->out;
    m->b2 = p;
}

void elmo_glorot_init(elmo_rng *r, float *w, int fan_in, int fan_out) {
    double lim = sqrt(6.0 / (fan_in + fan_out));
    for (size_t k = 0; k < (size_t)fan_in * fan_out; k++)
        w[k] = (float)((2 * elmo_rng_uniform(r) - 1) * lim);
}

void elmo_mlp_init(elmo_mlp *m, elmo_rng *r) {
    memset(m->mem, 0, sizeof(float) * m->n);
    if (m->hidden > 0) elmo_glorot_init(r, m->W1, m->in, m->hidden);
    elmo_glorot_init(r, m->W2, m->hidden > 0 ? m->hidden : m->in, m->out);
}

/* y (N, O) = x W (I, O) + b for dense or sparse x */
static void affine(int N, int In, int O, const float *x, const elmo_csr *sx, const float *W,
                   const float *b, float *y) {
    for (int n = 0; n < N; n++) memcpy(y + (size_t)n * O, b, sizeof(float) * O);
    if (x) {
        elmo_mm(0, 0, N, O, In, x, In, W, O, 1.0f, y, O);
        return;
    }
    if (sx->dense) elmo_mm(0, 0, N, O, sx->dn, sx->dense, sx->dn, W, O, 1.0f, y, O);
    for (int n = 0; n < N; n++) {
        float *yr = y + (size_t)n * O;
        for (int64_t k = sx->ptr[n]; k < sx->ptr[n + 1]; k++) {
            const float *wr = W + (size_t)sx->idx[k] * O;
            float v = sx->val[k];
            for (int o = 0; o < O; o++) yr[o] += v * wr[o];
        }
    }
}

void elmo_mlp_forward(const elmo_mlp *m, int N, const float *x, const elmo_csr *sx, float *h,
                      float *z) {
    if (m->hidden > 0) {
        affine(N, m->in, m->hidden, x, sx, m->W1, m->b1, h);
        for (size_t k = 0; k < (size_t)N * m->hidden; k++) h[k] = h[k] > 0 ? h[k] : 0;
        affine(N, m->hidden, m->out, h, NULL, m->W2, m->b2, z);
    } else {
        affine(N, m->in, m->out, x, sx, m->W2, m->b2, z);
    }
}

void elmo_mlp_probs(const elmo_mlp *m, int N, const float *z, float *p) {
    for (int n = 0; n < N; n++) {
        if (m->binary) {
            float s = elmo_sigmoid_f(z[n]);
            p[2 * n] = 1 - s;
            p[2 * n + 1] = s;
            continue;
        }
        const float *zr = z + (size_t)n * m->out;
        float *pr = p + (size_t)n * m->out, mx = zr[0];
        for (int c = 1; c < m->out; c++) mx = zr[c] > mx ? zr[c] : mx;
        double sum = 0;
        for (int c = 0; c < m->out; c++) sum += pr[c] = expf(zr[c] - mx);
        for (int c = 0; c < m->out; c++) pr[c] = (float)(pr[c] / sum);
    }
}

double elmo_mlp_backward(const elmo_mlp *m, int N, const float *x, const elmo_csr *sx,
                         const float *h, float *z, const int32_t *labels, float weight, float *g,
                         float *dx, float *dh) {
    elmo_mlp gm;
    elmo_mlp_bind(&gm, m->in, m->hidden, m->binary ? 2 : m->out, g);
    int C = m->out;
    double loss = 0;
    /* dz = weight * (p - onehot) */
    for (int n = 0; n < N; n++) {
        float *zr = z + (size_t)n * C;
        if (m->binary) {
            double v = zr[0], y = labels[n];
            /* BCE with logits, stably: max(v, 0) - v y + log(1 + exp(-|v|)) */
            loss += (v > 0 ? v : 0) - v * y + log1p(exp(-fabs(v)));
            zr[0] = weight * (float)(elmo_sigmoid_d(v) - y);
            continue;
        }
        float mx = zr[0];
        for (int c = 1; c < C; c++) mx = zr[c] > mx ? zr[c] : mx;
        double sum = 0;
        for (int c = 0; c < C; c++) sum += exp(zr[c] - mx);
        loss += mx + log(sum) - zr[labels[n]];
        for (int c = 0; c < C; c++) zr[c] = weight * (float)(exp(zr[c] - mx) / sum);
        zr[labels[n]] -= weight;
    }
    const float *a = m->hidden > 0 ? h : x; /* the input of the output layer */
    int A = m->hidden > 0 ? m->hidden : m->in;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) gm.b2[c] += z[(size_t)n * C + c];
    if (m->hidden > 0 || x) {
        elmo_mm(1, 0, A, C, N, a, A, z, C, 1.0f, gm.W2, C);
    } else { /* linear head on sparse input */
        if (sx->dense) elmo_mm(1, 0, sx->dn, C, N, sx->dense, sx->dn, z, C, 1.0f, gm.W2, C);
        for (int n = 0; n < N; n++)
            for (int64_t k = sx->ptr[n]; k < sx->ptr[n + 1]; k++)
                for (int c = 0; c < C; c++)
                    gm.W2[(size_t)sx->idx[k] * C + c] += sx->val[k] * z[(size_t)n * C + c];
    }
    if (m->hidden == 0) {
        if (dx) elmo_mm(0, 1, N, m->in, C, z, C, m->W2, C, 0.0f, dx, m->in);
        return loss;
    }
    /* through the hidden layer */
    elmo_mm(0, 1, N, m->hidden, C, z, C, m->W2, C, 0.0f, dh, m->hidden);
    for (size_t k = 0; k < (size_t)N * m->hidden; k++) dh[k] = h[k] > 0 ? dh[k] : 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < m->hidden; j++) gm.b1[j] += dh[(size_t)n * m->hidden + j];
    if (x) {
        elmo_mm(1, 0, m->in, m->hidden, N, x, m->in, dh, m->hidden, 1.0f, gm.W1, m->hidden);
        if (dx)
            elmo_mm(0, 1, N, m->in, m->hidden, dh, m->hidden, m->W1, m->hidden, 0.0f, dx, m->in);
    } else {
        if (sx->dense)
            elmo_mm(1, 0, sx->dn, m->hidden, N, sx->dense, sx->dn, dh, m->hidden, 1.0f, gm.W1,
                    m->hidden);
        for (int n = 0; n < N; n++) {
            const float *d = dh + (size_t)n * m->hidden;
            for (int64_t k = sx->ptr[n]; k < sx->ptr[n + 1]; k++) {
                float *gw = gm.W1 + (size_t)sx->idx[k] * m->hidden, v = sx->val[k];
                for (int j = 0; j < m->hidden; j++) gw[j] += v * d[j];
            }
        }
    }
    return loss;
}
