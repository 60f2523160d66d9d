/*
 * lstm.c: LSTM with projection, TF LSTMCell semantics (as bilm-tf runs it), one layer of one
 * direction over a packed batch.
 *
 *   z   = [x_t ; h_{t-1}] W + b          W (2P, 4H), gate blocks i, j, f, o (TF order)
 *   c_t = sigmoid(f + 1) c_{t-1} + sigmoid(i) tanh(j)    forget bias +1 at run time
 *   c_t = clip(c_t, cell_clip)                           when cell_clip > 0
 *   u   = sigmoid(o) tanh(c_t)                           (the clipped c)
 *   h_t = clip(u W_P, proj_clip)                         when P < H; else h_t = u
 *
 * Fast path (elmo_lstm_forward), on the packed batch (rows sorted by length, step t covers
 * the first steps[t] rows; a row's state restarts from zero where a sentence starts):
 *   - the input half x_t W[0:P] of a window of consecutive steps (up to
 *     elmo_lstm_window_rows packed rows) is one GEMM;
 *   - the recurrent half h_{t-1} W[P:2P] is one GEMM per step over the active rows only,
 *     accumulated into the same buffer, then the projection; all on the matrix backend
 *     (matmul.h) with the model's prepared weights (float32 or bfloat16: half the bytes to
 *     stream per step, where small batches are bound by that stream);
 *   - the gates are one branch-free loop per row with the vectorizable exp/sigmoid/tanh of
 *     fastmath.h; bias added after both products, as TF does.
 * No allocation: the caller passes G and u.
 * Plain reference (elmo_lstm_forward_ref): one sequence, direct double-accumulated loops,
 * libm's expf/tanhf.
 */
#include <math.h>
#include <string.h>

#include "kernels/fastmath.h"
#include "kernels/matmul.h"
#include "kernels/scalar.h"
#include "core/model.h"
#include "io/util.h"

/* Gates for n rows: g (n, 4H) pre-activations without bias; c (n, H) updated; u (n, H).
 * Plain reference: libm's expf / tanhf. */
static void gates_ref(int n, int H, const float *g, const float *b, float cell_clip, float *c,
                      float *u) {
    for (int r = 0; r < n; r++) {
        const float *z = g + (size_t)r * 4 * H;
        float *cr = c + (size_t)r * H, *ur = u + (size_t)r * H;
        for (int k = 0; k < H; k++) {
            float i = z[k] + b[k];
            float j = z[H + k] + b[H + k];
            float f = z[2 * H + k] + b[2 * H + k];
            float o = z[3 * H + k] + b[3 * H + k];
            float cn = elmo_sigmoid_f(f + 1.0f) * cr[k] + elmo_sigmoid_f(i) * tanhf(j);
            cn = elmo_clip_f(cn, cell_clip);
            cr[k] = cn;
            ur[k] = elmo_sigmoid_f(o) * tanhf(cn);
        }
    }
}

/* Same, fast path: one branch-free loop per row that vectorizes (fastmath.h). A clip of 0
 * (none) becomes +inf so the clamp is unconditional. */
ELMO_VECTOR_CLONES static void gates_fast(int n, int H, const float *g, const float *restrict b,
                                          float cell_clip, float *c, float *u) {
    const float lim = cell_clip > 0 ? cell_clip : INFINITY;
    for (int r = 0; r < n; r++) {
        const float *restrict zi = g + (size_t)r * 4 * H, *restrict zj = zi + H;
        const float *restrict zf = zi + 2 * H, *restrict zo = zi + 3 * H;
        const float *restrict bi = b, *restrict bj = b + H, *restrict bf = b + 2 * H,
                              *restrict bo = b + 3 * H;
        float *restrict cr = c + (size_t)r * H, *restrict ur = u + (size_t)r * H;
        for (int k = 0; k < H; k++) {
            float cn = elmo_sigmoidf_fast(zf[k] + bf[k] + 1.0f) * cr[k] +
                       elmo_sigmoidf_fast(zi[k] + bi[k]) * elmo_tanhf_fast(zj[k] + bj[k]);
            cn = cn > lim ? lim : cn;
            cn = cn < -lim ? -lim : cn;
            cr[k] = cn;
            ur[k] = elmo_sigmoidf_fast(zo[k] + bo[k]) * elmo_tanhf_fast(cn);
        }
    }
}

#ifndef ELMO_LSTM_WINDOW_MB
#define ELMO_LSTM_WINDOW_MB 8
#endif
int elmo_lstm_window_rows(const elmo_config *c) {
    size_t rows = ((size_t)ELMO_LSTM_WINDOW_MB << 20) / (sizeof(float) * 4 * (size_t)c->lstm_dim);
    return rows > 256 ? 256 : rows < 16 ? 16 : (int)rows;
}

void elmo_lstm_forward(const elmo_config *c, const elmo_lstm_cell *cell, const elmo_packing *pk,
                       int zero_state, int residual, float *x, float *h, float *cst, float *G,
                       float *u) {
    int P = c->projection_dim, H = c->lstm_dim, H4 = 4 * H;
    const float *b = cell->b;
    const float lim = c->proj_clip > 0 ? c->proj_clip : INFINITY;
    const int wrows = elmo_lstm_window_rows(c);
    for (int t0 = 0; t0 < pk->T;) {
        /* window: steps t0 .. t1-1, at most wrows packed rows (at least one step) */
        int t1 = t0 + 1;
        while (t1 < pk->T && pk->offs[t1 + 1] - pk->offs[t0] <= wrows) t1++;
        int r0 = pk->offs[t0], r1 = pk->offs[t1];
        /* input products of every position in the window: G (r1-r0, 4H) = x Wx */
        elmo_mat_mul(r1 - r0, x + (size_t)r0 * P, P, cell->Wx, 0, G, H4);
        for (int t = t0; t < t1; t++) {
            int n = pk->steps[t];
            float *g = G + (size_t)(pk->offs[t] - r0) * H4;
            /* a sentence starting here after another in the same row: zero state (its
             * recurrent product then adds exact zeros) */
            if (pk->pos && t > 0)
                for (int i = 0; i < n; i++)
                    if (pk->pos[pk->offs[t] + i] == 0) {
                        memset(h + (size_t)i * P, 0, sizeof(float) * P);
                        memset(cst + (size_t)i * H, 0, sizeof(float) * H);
                    }
            /* recurrent product of the active rows: g (n, 4H) += h (n, P) Wh; nothing to add
             * at the first step from a zero state (exact: g + 0 == g) */
            if (!(t == 0 && zero_state)) elmo_mat_mul(n, h, P, cell->Wh, 1, g, H4);
            gates_fast(n, H, g, b, c->cell_clip, cst, u);
            if (c->has_lstm_proj) {
                /* projection: h (n, P) = clip(u (n, H) Wp) */
                elmo_mat_mul(n, u, H, cell->Wp, 0, h, P);
                for (size_t k = 0; k < (size_t)n * P; k++) {
                    float v = h[k] > lim ? lim : h[k];
                    h[k] = v < -lim ? -lim : v;
                }
            } else {
                memcpy(h, u, sizeof(float) * (size_t)n * P);
            }
            /* the output takes the place of this step's input rows (the window's input
             * product has read them); the recurrent state h stays without the residual */
            float *xt = x + (size_t)pk->offs[t] * P;
            if (residual)
                for (size_t k = 0; k < (size_t)n * P; k++) xt[k] = h[k] + xt[k];
            else
                memcpy(xt, h, sizeof(float) * (size_t)n * P);
        }
        t0 = t1;
    }
}

void elmo_lstm_forward_ref(const elmo_config *c, const float *W, const float *b, const float *Wp,
                           int T, const float *x, float *h, float *cst, float *y) {
    int P = c->projection_dim, H = c->lstm_dim, H4 = 4 * H;
    float z[H4], u[H];
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * P;
        for (int k = 0; k < H4; k++) {
            double a = 0, r = 0;
            for (int q = 0; q < P; q++) a += (double)xt[q] * W[(size_t)q * H4 + k];
            for (int q = 0; q < P; q++) r += (double)h[q] * W[(size_t)(P + q) * H4 + k];
            z[k] = (float)(a + r);
        }
        gates_ref(1, H, z, b, c->cell_clip, cst, u);
        float *yt = y + (size_t)t * P;
        if (c->has_lstm_proj) {
            for (int q = 0; q < P; q++) {
                double a = 0;
                for (int k = 0; k < H; k++) a += (double)u[k] * Wp[(size_t)k * P + q];
                yt[q] = elmo_clip_f((float)a, c->proj_clip);
            }
        } else {
            memcpy(yt, u, sizeof(float) * P);
        }
        memcpy(h, yt, sizeof(float) * P);
    }
}
