/*
 * lstm_grad.c: LSTM with projection (TF LSTMCell, see core/lstm.c) in training form: the forward
 * pass over T steps of B rows keeping what BPTT needs, and the backward pass beside it.
 * Compiled twice (float, double; see real.h). Rows are time-major: row t*B + b.
 *
 * Forward:  z = x_t Wx + h_{t-1} Wh + b;  i = s(z_i), j = tanh(z_j), f = s(z_f + 1), o = s(z_o)
 *           c_t = clip(f c_{t-1} + i j);  u = o tanh(c_t);  h_t = clip(u Wp)
 * Backward (dh_t = dy_t + dz_{t+1} Wh^T):
 *           dv = dh_t [|h_t| < pclip];  dWp += u^T dv;  du = dv Wp^T
 *           dc = (dc_{t+1} f_{t+1} + du o (1 - tanh^2 c_t)) [|c_t| < cclip]
 *           dz_i = dc j i(1-i), dz_j = dc i (1-j^2), dz_f = dc c_{t-1} f(1-f), dz_o = du tanh(c_t) o(1-o)
 *           then dW = [x; h_{t-1}]^T dz and dx = dz Wx^T as GEMMs over all steps at once.
 * A clip's derivative is 1 strictly inside the bounds, 0 where the value was clipped.
 * A reset at (t, b) replaces h_{t-1} and c_{t-1} of row b by zeros: in the backward pass no
 * gradient crosses it, and dW_h loses that row's h_{t-1} dz_t term.
 */
#ifndef ELMO_TEMPLATE_PASS
#include <math.h>
#include <string.h>

#include "kernels/matmul.h"

#include "train/grad.h"

#define ELMO_TEMPLATE_PASS
#include "train/real.h"
#include "train/lstm_grad.c"
#define ELMO_DOUBLE
#include "train/real.h"
#include "train/lstm_grad.c"
#undef ELMO_DOUBLE
#undef ELMO_TEMPLATE_PASS

#else /* ---- templated part ---- */

static inline void R(lgemm)(int ta, int tb, int M, int N, int K, const real *A, int lda,
                            const real *B, int ldb, real beta, real *C, int ldc) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    R_MM(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

/* Same, B a weight matrix that stays the same until the next training step (matmul.h:
 * elmo_mm_weight keeps its bfloat16 copy). */
static inline void R(lgemmw)(int ta, int tb, int M, int N, int K, const real *A, int lda,
                             const real *B, int ldb, real beta, real *C, int ldc) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    R_MMW(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

static inline real R(lsig)(real v) { return 1 / (1 + R_EXP(-v)); }

static inline real R(clip)(real v, real lim) {
    if (lim > 0) {
        if (v > lim) return lim;
        if (v < -lim) return -lim;
    }
    return v;
}

/* derivative mask of a clip at the clipped value */
static inline real R(inside)(real v, real lim) { return lim <= 0 || (v < lim && v > -lim) ? 1 : 0; }

/* Whether any row of step t restarts. */
static inline int R(any_reset)(const uint8_t *reset, int t, int B) {
    if (!reset) return 0;
    for (int b = 0; b < B; b++)
        if (reset[(size_t)t * B + b]) return 1;
    return 0;
}

void R(lstm_train_forward)(const elmo_config *c, const real *W, const real *b, const real *Wp,
                           int T, int B, const real *x, const real *h0, const real *c0,
                           const uint8_t *reset, real *y, real *gates, real *cs, real *tc,
                           real *u, real *hz) {
    int P = c->projection_dim, H = c->lstm_dim, H4 = 4 * H;
    real cclip = (real)c->cell_clip, pclip = c->has_lstm_proj ? (real)c->proj_clip : 0;
    const real *Wx = W, *Wh = W + (size_t)P * H4;
    /* input products of all steps at once */
    R(lgemm)(0, 0, T * B, H4, P, x, P, Wx, H4, 0, gates, H4);
    memcpy(cs, c0, sizeof(real) * (size_t)B * H);
    for (int t = 0; t < T; t++) {
        real *z = gates + (size_t)t * B * H4;
        const real *hp = t ? y + (size_t)(t - 1) * B * P : h0;
        const uint8_t *rs = R(any_reset)(reset, t, B) ? reset + (size_t)t * B : NULL;
        if (rs) { /* restarting rows see a zero h_{t-1} */
            memcpy(hz, hp, sizeof(real) * (size_t)B * P);
            for (int r = 0; r < B; r++)
                if (rs[r]) memset(hz + (size_t)r * P, 0, sizeof(real) * P);
            hp = hz;
        }
        R(lgemmw)(0, 0, B, H4, P, hp, P, Wh, H4, 1, z, H4);
        const real *cp = cs + (size_t)t * B * H;
        real *cn = cs + (size_t)(t + 1) * B * H, *tct = tc + (size_t)t * B * H, *ut = u + (size_t)t * B * H;
        for (int r = 0; r < B; r++) {
            real *zr = z + (size_t)r * H4;
            real keep = rs && rs[r] ? 0 : 1; /* a restart sees a zero c_{t-1} */
            for (int k = 0; k < H; k++) {
                real i = R(lsig)(zr[k] + b[k]);
                real j = R_TANH(zr[H + k] + b[H + k]);
                real f = R(lsig)(zr[2 * H + k] + b[2 * H + k] + 1);
                real o = R(lsig)(zr[3 * H + k] + b[3 * H + k]);
                real cv = R(clip)(f * (keep * cp[(size_t)r * H + k]) + i * j, cclip);
                real th = R_TANH(cv);
                zr[k] = i;
                zr[H + k] = j;
                zr[2 * H + k] = f;
                zr[3 * H + k] = o;
                cn[(size_t)r * H + k] = cv;
                tct[(size_t)r * H + k] = th;
                ut[(size_t)r * H + k] = o * th;
            }
        }
        real *yt = y + (size_t)t * B * P;
        if (c->has_lstm_proj) {
            R(lgemmw)(0, 0, B, P, H, ut, H, Wp, P, 0, yt, P);
            if (pclip > 0)
                for (size_t k = 0; k < (size_t)B * P; k++) yt[k] = R(clip)(yt[k], pclip);
        } else {
            memcpy(yt, ut, sizeof(real) * (size_t)B * P);
        }
    }
}

void R(lstm_train_backward)(const elmo_config *c, const real *W, const real *Wp, int T, int B,
                            const real *x, const real *h0, const uint8_t *reset, const real *y,
                            const real *gates, const real *cs, const real *tc, const real *u,
                            const real *dy, real *dx, real *dW, real *db, real *dWp, real *dG,
                            real *dh, real *dc, real *du) {
    int P = c->projection_dim, H = c->lstm_dim, H4 = 4 * H;
    real cclip = (real)c->cell_clip, pclip = c->has_lstm_proj ? (real)c->proj_clip : 0;
    const real *Wx = W, *Wh = W + (size_t)P * H4;
    memset(dh, 0, sizeof(real) * (size_t)B * P);
    memset(dc, 0, sizeof(real) * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--) {
        const real *yt = y + (size_t)t * B * P, *dyt = dy + (size_t)t * B * P;
        const real *gt = gates + (size_t)t * B * H4, *ct = cs + (size_t)(t + 1) * B * H;
        const real *cp = cs + (size_t)t * B * H, *tct = tc + (size_t)t * B * H;
        const real *ut = u + (size_t)t * B * H;
        real *dz = dG + (size_t)t * B * H4;
        const uint8_t *rs = R(any_reset)(reset, t, B) ? reset + (size_t)t * B : NULL;
        /* dh: from the output and from step t+1 (already in dh) */
        for (size_t k = 0; k < (size_t)B * P; k++) dh[k] = (dh[k] + dyt[k]) * R(inside)(yt[k], pclip);
        if (c->has_lstm_proj) {
            R(lgemm)(1, 0, H, P, B, ut, H, dh, P, 1, dWp, P);
            R(lgemmw)(0, 1, B, H, P, dh, P, Wp, P, 0, du, H);
        } else {
            memcpy(du, dh, sizeof(real) * (size_t)B * P);
        }
        for (int r = 0; r < B; r++) {
            const real *g = gt + (size_t)r * H4;
            real *dzr = dz + (size_t)r * H4;
            real keep = rs && rs[r] ? 0 : 1; /* a restart: c_{t-1} was zero, no gradient into it */
            for (int k = 0; k < H; k++) {
                size_t q = (size_t)r * H + k;
                real i = g[k], j = g[H + k], f = g[2 * H + k], o = g[3 * H + k], th = tct[q];
                real dcv = (dc[q] + du[q] * o * (1 - th * th)) * R(inside)(ct[q], cclip);
                dzr[k] = dcv * j * i * (1 - i);
                dzr[H + k] = dcv * i * (1 - j * j);
                dzr[2 * H + k] = dcv * keep * cp[q] * f * (1 - f);
                dzr[3 * H + k] = du[q] * th * o * (1 - o);
                dc[q] = dcv * f * keep; /* into c_{t-1} */
                (void)ut;
            }
        }
        for (int r = 0; r < B; r++)
            for (int k = 0; k < H4; k++) db[k] += dz[(size_t)r * H4 + k];
        /* into h_{t-1} (not across a restart) */
        if (t > 0) {
            R(lgemmw)(0, 1, B, P, H4, dz, H4, Wh, H4, 0, dh, P);
            if (rs)
                for (int r = 0; r < B; r++)
                    if (rs[r]) memset(dh + (size_t)r * P, 0, sizeof(real) * P);
        }
    }
    /* weight gradients and dx over all steps: dWx = x^T dG, dWh = [h0; y_0..y_{T-2}]^T dG */
    R(lgemm)(1, 0, P, H4, T * B, x, P, dG, H4, 1, dW, H4);
    R(lgemm)(1, 0, P, H4, B, h0, P, dG, H4, 1, dW + (size_t)P * H4, H4);
    if (T > 1)
        R(lgemm)(1, 0, P, H4, (T - 1) * B, y, P, dG + (size_t)B * H4, H4, 1, dW + (size_t)P * H4, H4);
    R(lgemm)(0, 1, T * B, P, H4, dG, H4, Wx, H4, 0, dx, P);
    /* a restarting row's h_{t-1} was zero: take its term back out of dW_h */
    for (int t = 0; reset && t < T; t++)
        for (int r = 0; r < B; r++) {
            if (!reset[(size_t)t * B + r]) continue;
            const real *hp = (t ? y + (size_t)(t - 1) * B * P : h0) + (size_t)r * P;
            const real *dzr = dG + ((size_t)t * B + r) * H4;
            for (int q = 0; q < P; q++) {
                real *dwh = dW + (size_t)(P + q) * H4;
                for (int k = 0; k < H4; k++) dwh[k] -= hp[q] * dzr[k];
            }
        }
}

#endif
