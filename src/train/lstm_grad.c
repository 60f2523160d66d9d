/*
 * lstm_grad.c: LSTM with projection (TF LSTMCell, see core/lstm.c) in training form: the forward
 * pass over T steps of B rows keeping what BPTT needs, and the backward pass beside it.
 * Compiled twice, float and double (train/grad.h). Rows are time-major: row t*B + b.
 *
 * Forward:  z = x_t Wx + h_{t-1} Wh + b;  i = s(z_i), j = tanh(z_j), f = s(z_f + 1), o = s(z_o)
 *           c_t = clip(f c_{t-1} + i j);  u = o tanh(c_t);  h_t = clip(u Wp)
 * Backward (dh_t = dy_t + dz_{t+1} Wh^T):
 *           dv = dh_t [|h_t| < pclip];  dWp += u^T dv;  du = dv Wp^T
 *           dc = (dc_{t+1} f_{t+1} + du o (1 - tanh^2 c_t)) [|c_t| < cclip]
 *           dz_i = dc j i(1-i), dz_j = dc i (1-j^2), dz_f = dc c_{t-1} f(1-f),
 *           dz_o = du tanh(c_t) o(1-o)
 *           then dW = [x; h_{t-1}]^T dz and dx = dz Wx^T as GEMMs over all steps at once.
 * A clip's derivative is 1 strictly inside the bounds, 0 where the value was clipped.
 * A reset at (t, b) replaces h_{t-1} and c_{t-1} of row b by zeros: in the backward pass no
 * gradient crosses it, and its h_{t-1} row is zero in the dW_h product.
 */
#include <math.h>
#include <string.h>

#include "train/grad_real.h"

/* derivative mask of a clip at the clipped value */
static inline elmo_real inside(elmo_real v, elmo_real lim) {
    return lim <= 0 || (v < lim && v > -lim) ? 1 : 0;
}

/* Whether any row of step t restarts. */
static inline int any_reset(const uint8_t *reset, int t, int B) {
    if (!reset) return 0;
    for (int b = 0; b < B; b++)
        if (reset[(size_t)t * B + b]) return 1;
    return 0;
}

/* The gates of one row: zi, zj, zf, zo (H) pre-activations without bias in, the gate values
 * i, j, f, o out (in place); cpr c_{t-1} (times keep: 0 for a row restarting from zero
 * state), cnr c_t clipped to lim, tr tanh(c_t), ur u = o tanh(c_t). Separate restrict
 * arguments, so that the loop vectorizes without run-time overlap checks. */
static inline __attribute__((always_inline)) void
gates_row(int H, elmo_real *restrict zi, elmo_real *restrict zj, elmo_real *restrict zf,
          elmo_real *restrict zo, const elmo_real *restrict b, const elmo_real *restrict cpr,
          elmo_real keep, elmo_real lim, elmo_real *restrict cnr, elmo_real *restrict tr,
          elmo_real *restrict ur) {
    for (int k = 0; k < H; k++) {
        elmo_real i = real_sigmoid(zi[k] + b[k]);
        elmo_real j = real_tanh(zj[k] + b[H + k]);
        elmo_real f = real_sigmoid(zf[k] + b[2 * H + k] + 1);
        elmo_real o = real_sigmoid(zo[k] + b[3 * H + k]);
        elmo_real cv = f * (keep * cpr[k]) + i * j;
        cv = cv > lim ? lim : cv; /* the clip as selects (no clip: lim = inf) */
        cv = cv < -lim ? -lim : cv;
        elmo_real th = real_tanh(cv);
        zi[k] = i;
        zj[k] = j;
        zf[k] = f;
        zo[k] = o;
        cnr[k] = cv;
        tr[k] = th;
        ur[k] = o * th;
    }
}

/* The gates of one step for B rows: z (B, 4H), cp (B, H) c_{t-1}, cn, tct, ut (B, H) as in
 * gates_row; rs: rows restarting from zero state, or NULL. Built for AVX-512, AVX2 and the
 * baseline. */
ELMO_VECTOR_CLONES static void gates_forward(int B, int H, const elmo_real *b, const uint8_t *rs,
                                             elmo_real cclip, const elmo_real *cp, elmo_real *z,
                                             elmo_real *cn, elmo_real *tct, elmo_real *ut) {
    const elmo_real lim = cclip > 0 ? cclip : (elmo_real)INFINITY;
    for (int r = 0; r < B; r++) {
        elmo_real *zr = z + (size_t)r * 4 * H;
        size_t o = (size_t)r * H;
        gates_row(H, zr, zr + H, zr + 2 * H, zr + 3 * H, b, cp + o, rs && rs[r] ? 0 : 1, lim,
                  cn + o, tct + o, ut + o);
    }
}

/* The backward of gates_row for one row: g (4H) the gate values i, j, f, o; ct c_t, cp c_{t-1},
 * tct tanh(c_t), du (H) in; dz (4H) out; dc (H): d c_t in (from step t+1), d c_{t-1} out
 * (times keep: 0 for a row restarting from zero state); db (4H) += dz. */
static inline __attribute__((always_inline)) void
gates_row_backward(int H, const elmo_real *restrict g, const elmo_real *restrict ct,
                   const elmo_real *restrict cp, const elmo_real *restrict tct,
                   const elmo_real *restrict du, elmo_real keep, elmo_real cclip,
                   elmo_real *restrict dz, elmo_real *restrict dc, elmo_real *restrict db) {
    for (int k = 0; k < H; k++) {
        elmo_real i = g[k], j = g[H + k], f = g[2 * H + k], o = g[3 * H + k], th = tct[k];
        elmo_real dcv = (dc[k] + du[k] * o * (1 - th * th)) * inside(ct[k], cclip);
        dz[k] = dcv * j * i * (1 - i);
        dz[H + k] = dcv * i * (1 - j * j);
        dz[2 * H + k] = dcv * keep * cp[k] * f * (1 - f);
        dz[3 * H + k] = du[k] * th * o * (1 - o);
        dc[k] = dcv * f * keep; /* into c_{t-1} */
    }
    for (int k = 0; k < 4 * H; k++) db[k] += dz[k];
}

/* The gate gradients of one step for B rows (rows of gates_row_backward; rs: rows restarting
 * from zero state, or NULL). Built for AVX-512, AVX2 and the baseline. */
ELMO_VECTOR_CLONES static void gates_backward(int B, int H, const elmo_real *g, const elmo_real *ct,
                                              const elmo_real *cp, const elmo_real *tct,
                                              const elmo_real *du, const uint8_t *rs,
                                              elmo_real cclip, elmo_real *dz, elmo_real *dc,
                                              elmo_real *db) {
    for (int r = 0; r < B; r++) {
        size_t o = (size_t)r * H, o4 = (size_t)r * 4 * H;
        gates_row_backward(H, g + o4, ct + o, cp + o, tct + o, du + o, rs && rs[r] ? 0 : 1, cclip,
                           dz + o4, dc + o, db);
    }
}

void lstm_train_forward(const elmo_config *c, const elmo_real *W, const elmo_real *b,
                        const elmo_real *Wp, int T, int B, const elmo_real *x, const elmo_real *h0,
                        const elmo_real *c0, const uint8_t *reset, elmo_real *y, elmo_real *gates,
                        elmo_real *cs, elmo_real *tc, elmo_real *u, elmo_real *hz) {
    int P = c->projection_dim, H = c->lstm_dim, H4 = 4 * H;
    elmo_real cclip = (elmo_real)c->cell_clip,
              pclip = c->has_lstm_proj ? (elmo_real)c->proj_clip : 0;
    const elmo_real *Wx = W, *Wh = W + (size_t)P * H4;
    /* input products of all steps at once */
    real_mm(0, 0, T * B, H4, P, x, P, Wx, H4, 0, gates, H4);
    memcpy(cs, c0, sizeof(elmo_real) * (size_t)B * H);
    for (int t = 0; t < T; t++) {
        elmo_real *z = gates + (size_t)t * B * H4;
        const elmo_real *hp = t ? y + (size_t)(t - 1) * B * P : h0;
        const uint8_t *rs = any_reset(reset, t, B) ? reset + (size_t)t * B : NULL;
        if (rs) { /* restarting rows see a zero h_{t-1} */
            memcpy(hz, hp, sizeof(elmo_real) * (size_t)B * P);
            for (int r = 0; r < B; r++)
                if (rs[r]) memset(hz + (size_t)r * P, 0, sizeof(elmo_real) * P);
            hp = hz;
        }
        real_mm_weight(0, 0, B, H4, P, hp, P, Wh, H4, 1, z, H4);
        elmo_real *ut = u + (size_t)t * B * H;
        gates_forward(B, H, b, rs, cclip, cs + (size_t)t * B * H, z, cs + (size_t)(t + 1) * B * H,
                      tc + (size_t)t * B * H, ut);
        elmo_real *yt = y + (size_t)t * B * P;
        if (c->has_lstm_proj) {
            real_mm_weight(0, 0, B, P, H, ut, H, Wp, P, 0, yt, P);
            if (pclip > 0)
                for (size_t k = 0; k < (size_t)B * P; k++) yt[k] = real_clip(yt[k], pclip);
        } else {
            memcpy(yt, ut, sizeof(elmo_real) * (size_t)B * P);
        }
    }
}

void lstm_train_backward(const elmo_config *c, const elmo_real *W, const elmo_real *Wp, int T,
                         int B, const elmo_real *x, const elmo_real *h0, const uint8_t *reset,
                         const elmo_real *y, const elmo_real *gates, const elmo_real *cs,
                         const elmo_real *tc, const elmo_real *u, const elmo_real *dy,
                         elmo_real *dx, elmo_real *dW, elmo_real *db, elmo_real *dWp, elmo_real *dG,
                         elmo_real *dh, elmo_real *dc, elmo_real *du, elmo_real *xh) {
    int P = c->projection_dim, H = c->lstm_dim, H4 = 4 * H;
    elmo_real cclip = (elmo_real)c->cell_clip,
              pclip = c->has_lstm_proj ? (elmo_real)c->proj_clip : 0;
    const elmo_real *Wx = W, *Wh = W + (size_t)P * H4;
    memset(dh, 0, sizeof(elmo_real) * (size_t)B * P);
    memset(dc, 0, sizeof(elmo_real) * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--) {
        const elmo_real *yt = y + (size_t)t * B * P, *dyt = dy + (size_t)t * B * P;
        const elmo_real *gt = gates + (size_t)t * B * H4, *ct = cs + (size_t)(t + 1) * B * H;
        const elmo_real *cp = cs + (size_t)t * B * H, *tct = tc + (size_t)t * B * H;
        elmo_real *dz = dG + (size_t)t * B * H4;
        const uint8_t *rs = any_reset(reset, t, B) ? reset + (size_t)t * B : NULL;
        /* dh: from the output and from step t+1 (already in dh) */
        for (size_t k = 0; k < (size_t)B * P; k++) dh[k] = (dh[k] + dyt[k]) * inside(yt[k], pclip);
        if (c->has_lstm_proj) {
            memcpy(dx + (size_t)t * B * P, dh, sizeof(elmo_real) * (size_t)B * P); /* for dWp */
            real_mm_weight(0, 1, B, H, P, dh, P, Wp, P, 0, du, H);
        } else {
            memcpy(du, dh, sizeof(elmo_real) * (size_t)B * P);
        }
        gates_backward(B, H, gt, ct, cp, tct, du, rs, cclip, dz, dc, db);
        /* into h_{t-1} (not across a restart) */
        if (t > 0) {
            real_mm_weight(0, 1, B, P, H4, dz, H4, Wh, H4, 0, dh, P);
            if (rs)
                for (int r = 0; r < B; r++)
                    if (rs[r]) memset(dh + (size_t)r * P, 0, sizeof(elmo_real) * P);
        }
    }
    /* Weight gradients and dx over all steps: first dWp = sum_t u_t^T dh_t (dx holds the
     * dh_t until its own product); then dW = [x, h_{t-1}]^T dG as one product, xh holding
     * each row's x and h_{t-1} (a restarting row's zero) side by side, as dW's rows are Wx's
     * then Wh's; then dx = dG Wx^T. */
    if (c->has_lstm_proj) real_mm(1, 0, H, P, T * B, u, H, dx, P, 1, dWp, P);
    for (size_t r = 0; r < (size_t)T * B; r++) {
        elmo_real *xr = xh + r * 2 * P;
        memcpy(xr, x + r * P, sizeof(elmo_real) * P);
        if (reset && reset[r])
            memset(xr + P, 0, sizeof(elmo_real) * P);
        else
            memcpy(xr + P, r < (size_t)B ? h0 + r * P : y + (r - B) * P, sizeof(elmo_real) * P);
    }
    real_mm(1, 0, 2 * P, H4, T * B, xh, 2 * P, dG, H4, 1, dW, H4);
    real_mm(0, 1, T * B, P, H4, dG, H4, Wx, H4, 0, dx, P);
}
