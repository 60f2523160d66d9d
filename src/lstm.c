/*
 * lstm.c: LSTM with projection, TF LSTMCell semantics (spec 4.2-4.3), one layer of one
 * direction over a packed batch.
 *
 *   z   = [x_t ; h_{t-1}] W + b          W (2P, 4H), gate blocks i, j, f, o (TF order)
 *   c_t = sigmoid(f + 1) c_{t-1} + sigmoid(i) tanh(j)    forget bias +1 at run time
 *   c_t = clip(c_t, cell_clip)                           when cell_clip > 0
 *   u   = sigmoid(o) tanh(c_t)                           (the clipped c)
 *   h_t = clip(u W_P, proj_clip)                         when P < H; else h_t = u
 *
 * The input half x_t W[0:P] is computed for a window of ELMO_LSTM_WINDOW steps as one GEMM
 * (rows of consecutive steps are contiguous in the packed layout); the recurrent half
 * h_{t-1} W[P:2P] is one GEMM per step over the active rows, accumulated into the same
 * buffer; the bias is added after both products, as TF does.
 */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "model.h"

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

static inline float clipf(float v, float lim) {
    if (lim > 0) {
        if (v > lim) return lim;
        if (v < -lim) return -lim;
    }
    return v;
}

/* Gates for n rows: g (n, 4H) pre-activations without bias; c (n, H) updated; u (n, H). */
static void gates(int n, int H, const float *g, const float *b, float cell_clip, float *c,
                  float *u) {
    for (int r = 0; r < n; r++) {
        const float *z = g + (size_t)r * 4 * H;
        float *cr = c + (size_t)r * H, *ur = u + (size_t)r * H;
        for (int k = 0; k < H; k++) {
            float i = z[k] + b[k];
            float j = z[H + k] + b[H + k];
            float f = z[2 * H + k] + b[2 * H + k];
            float o = z[3 * H + k] + b[3 * H + k];
            float cn = sigmoidf(f + 1.0f) * cr[k] + sigmoidf(i) * tanhf(j);
            cn = clipf(cn, cell_clip);
            cr[k] = cn;
            ur[k] = sigmoidf(o) * tanhf(cn);
        }
    }
}

void elmo_lstm_forward(const elmo_config *c, const float *W, const float *b, const float *Wp,
                       const elmo_packing *pk, const float *x, float *h, float *cst, float *y,
                       float *G, float *u) {
    int P = c->projection_dim, H = c->lstm_dim, H4 = 4 * H;
    const float *Wx = W, *Wh = W + (size_t)P * H4;
    for (int t0 = 0; t0 < pk->T; t0 += ELMO_LSTM_WINDOW) {
        int t1 = t0 + ELMO_LSTM_WINDOW < pk->T ? t0 + ELMO_LSTM_WINDOW : pk->T;
        int r0 = pk->offs[t0], r1 = pk->offs[t1];
        /* input products of every position in the window */
        elmo_sgemm(r1 - r0, H4, P, x + (size_t)r0 * P, P, Wx, H4, 0.0f, G, H4);
        for (int t = t0; t < t1; t++) {
            int n = pk->steps[t];
            float *g = G + (size_t)(pk->offs[t] - r0) * H4;
            elmo_sgemm(n, H4, P, h, P, Wh, H4, 1.0f, g, H4);
            gates(n, H, g, b, c->cell_clip, cst, u);
            float *yt = y + (size_t)pk->offs[t] * P;
            if (c->has_lstm_proj) {
                elmo_sgemm(n, P, H, u, H, Wp, P, 0.0f, yt, P);
                if (c->proj_clip > 0)
                    for (size_t k = 0; k < (size_t)n * P; k++) yt[k] = clipf(yt[k], c->proj_clip);
            } else {
                memcpy(yt, u, sizeof(float) * (size_t)n * P);
            }
            memcpy(h, yt, sizeof(float) * (size_t)n * P);
        }
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
        gates(1, H, z, b, c->cell_clip, cst, u);
        float *yt = y + (size_t)t * P;
        if (c->has_lstm_proj) {
            for (int q = 0; q < P; q++) {
                double a = 0;
                for (int k = 0; k < H; k++) a += (double)u[k] * Wp[(size_t)k * P + q];
                yt[q] = clipf((float)a, c->proj_clip);
            }
        } else {
            memcpy(yt, u, sizeof(float) * P);
        }
        memcpy(h, yt, sizeof(float) * P);
    }
}
