/*
 * charcnn_grad.c: the token encoder in training form (char CNN, highway, projection;
 * core/charcnn.c, core/highway.c) with its backward pass. Compiled twice, float and double
 * (train/grad.h).
 *
 * Forward, per token n (W chars, rs[n] = slots up to the last non-PAD char):
 *   z_i[p, f] = b_i[f] + sum_{k,d} e[p+k, d] W_i[k, d, f]     windows p = 0 .. W-K_i
 *   only windows p < rs[n] are computed (an all-PAD window has the same value for every
 *   token: computed once per call as `zpad`); m = max_p z; y = act(m); argmax saved.
 *   highway i: g = sigmoid(x Wc + bc), t = relu(x Wt + bt), x' = g t + (1 - g) x
 *   tok = x W_proj + b_proj
 * Backward routes dm to each filter's argmax window only (bank_backward): that window's chars
 * and the filter's weights, and through the PAD embedding for all-PAD windows.
 */
#include <math.h>
#include <string.h>

#include "train/grad_real.h"

void tparams_bind(const elmo_config *c, tparams *p, elmo_real *mem) {
    elmo_layout o;
    elmo_layout_make(c, &o);
    ELMO_BIND_VIEWS(p, &o, mem);
    p->mem = mem;
    p->n = o.n;
}

void tparams_take_encoder(tparams *p, const tparams *src) {
    p->char_embed = src->char_embed;
    memcpy(p->conv_w, src->conv_w, sizeof p->conv_w);
    memcpy(p->conv_b, src->conv_b, sizeof p->conv_b);
    memcpy(p->hw_wc, src->hw_wc, sizeof p->hw_wc);
    memcpy(p->hw_bc, src->hw_bc, sizeof p->hw_bc);
    memcpy(p->hw_wt, src->hw_wt, sizeof p->hw_wt);
    memcpy(p->hw_bt, src->hw_bt, sizeof p->hw_bt);
    p->proj_w = src->proj_w;
    p->proj_b = src->proj_b;
}

static int used_slots(const int16_t *ids, int W) {
    int r = W;
    while (r > 0 && ids[r - 1] == ELMO_CHAR_PAD) r--;
    return r;
}

/* windows of bank width K computed for a token with r elmo_real slots */
static inline int npos(int r, int W, int K) {
    int P = W - K + 1, n = r < P ? r : P;
    return n < 1 ? 1 : n;
}

/* Rows of a bank's products rounded up to a multiple of 256 (at most N W, what the
 * workspaces hold). The count of windows changes with every batch, and oneDNN makes (JITs) a
 * kernel for every new shape: ~28 new ones per training step, a fifth of the step's time,
 * before this. The extra rows are zero in A. */
static size_t padded_rows(size_t rows, int N, int W) {
    size_t cap = (size_t)N * W, r = (rows + 255) & ~(size_t)255;
    return r < cap ? r : cap;
}

ELMO_VECTOR_CLONES static void im2col(const elmo_real *char_embed, int E, int W, int K, int N,
                                      const int16_t *ids, const int *rs, elmo_real *A) {
    int KE = K * E;
    size_t row = 0;
    for (int n = 0; n < N; n++) {
        const int16_t *id = ids + (size_t)n * W;
        int np = npos(rs[n], W, K);
        for (int q = 0; q < np; q++, row++)
            for (int k = 0; k < K; k++) {
                int ch = id[q + k];
                if (ch < 0 || ch >= ELMO_NC) ch = 0;
                elmo_real *restrict a = A + row * KE + (size_t)k * E;
                const elmo_real *restrict e = char_embed + (size_t)ch * E;
                for (int d = 0; d < E; d++) a[d] = e[d];
            }
    }
}

/* One window q of the running max over windows: m = max(m, zq), am = q where zq wins (the
 * first maximum is kept). Branch-free, so it vectorizes (AVX-512 / AVX2 clones). */
ELMO_VECTOR_CLONES static void max_step(int nf, const elmo_real *restrict zq, int q,
                                        elmo_real *restrict m, int32_t *restrict am) {
    for (int f = 0; f < nf; f++) {
        int win = zq[f] > m[f];
        m[f] = win ? zq[f] : m[f];
        am[f] = win ? q : am[f];
    }
}

/* y (E) += a x (E). */
static inline __attribute__((always_inline)) void
axpy(int E, elmo_real a, const elmo_real *restrict x, elmo_real *restrict y) {
    for (int d = 0; d < E; d++) y[d] += a * x[d];
}

/* One bank's backward, sparse: a filter's gradient dm reaches only its maximum's window q
 * (or, for an all-PAD window, spad). For token n, filter f and position k of the window, the
 * char ch = ids[n, q + k]:
 *   gWt[f, k, :] += dm e[ch, :]      (the weight gradient, transposed: (nf, K, E))
 *   ge[ch, :]    += dm Wt[f, k, :]   (the char embeddings; id 0, the fixed zero row, gets
 *                                     nothing; ids out of range read row 0, as in im2col)
 * and gb[f] += dm. The dense form (dZ with one non-zero per token and filter, two products
 * over every window) did ~50x the arithmetic and rounded dZ to bfloat16 twice. Tokens in
 * order, so the sums do not depend on threads. Wt (nf, K, E) the bank's weights transposed;
 * dm, am rows F apart. */
ELMO_VECTOR_CLONES static void bank_backward(int E, int W, int K, int nf, int F, int N,
                                             const int16_t *ids, const int *rs, const elmo_real *dm,
                                             const int32_t *am, const elmo_real *e,
                                             const elmo_real *Wt, elmo_real *gWt, elmo_real *ge,
                                             elmo_real *gb, elmo_real *spad) {
    for (int n = 0; n < N; n++) {
        int np = npos(rs[n], W, K);
        const elmo_real *dmn = dm + (size_t)n * F;
        const int32_t *amn = am + (size_t)n * F;
        for (int f = 0; f < nf; f++) {
            elmo_real g = dmn[f];
            gb[f] += g;
            if (g == 0) continue; /* half the filters after a relu */
            if (amn[f] >= np) {
                spad[f] += g;
                continue;
            }
            const int16_t *id = ids + (size_t)n * W + amn[f];
            for (int k = 0; k < K; k++) {
                int ch = id[k];
                if (ch < 0 || ch >= ELMO_NC) ch = 0;
                size_t o = ((size_t)f * K + k) * E;
                axpy(E, g, e + (size_t)ch * E, gWt + o);
                if (ch > 0) axpy(E, g, Wt + o, ge + (size_t)ch * E);
            }
        }
    }
}

/* m (nf) = act(m + b): relu, or tanh. */
ELMO_VECTOR_CLONES static void activate(int nf, elmo_real *restrict m, const elmo_real *restrict b,
                                        int tanh_act) {
    if (tanh_act)
        for (int f = 0; f < nf; f++) m[f] = real_tanh(m[f] + b[f]);
    else
        for (int f = 0; f < nf; f++) {
            elmo_real v = m[f] + b[f];
            m[f] = v > 0 ? v : 0;
        }
}

/* dy (n) *= act'(y) at the activation's output y. */
ELMO_VECTOR_CLONES static void activate_backward(size_t n, elmo_real *restrict dy,
                                                 const elmo_real *restrict y, int tanh_act) {
    if (tanh_act)
        for (size_t k = 0; k < n; k++) dy[k] *= 1 - y[k] * y[k];
    else
        for (size_t k = 0; k < n; k++) dy[k] *= y[k] > 0 ? 1 : 0;
}

/* One token's highway layer (F): g = sigmoid(g + bc), t = relu(t + bt) kept for the backward
 * pass; xn = g t + (1 - g) x. */
ELMO_VECTOR_CLONES static void highway_row(int F, elmo_real *restrict g, elmo_real *restrict t,
                                           const elmo_real *restrict x,
                                           const elmo_real *restrict bc,
                                           const elmo_real *restrict bt, elmo_real *restrict xn) {
    for (int f = 0; f < F; f++) {
        elmo_real gv = real_sigmoid(g[f] + bc[f]);
        elmo_real tv = t[f] + bt[f];
        tv = tv > 0 ? tv : 0;
        g[f] = gv;
        t[f] = tv;
        xn[f] = gv * tv + (1 - gv) * x[f];
    }
}

/* Its backward: d (F) the gradient of xn in; da, dz of the gate's and the transform's
 * pre-activations, dx2 the direct path's part of d x; the biases' gradients gbc, gbt += da, dz. */
ELMO_VECTOR_CLONES static void
highway_row_backward(int F, const elmo_real *restrict d, const elmo_real *restrict g,
                     const elmo_real *restrict t, const elmo_real *restrict x,
                     elmo_real *restrict da, elmo_real *restrict dz, elmo_real *restrict dx2,
                     elmo_real *restrict gbc, elmo_real *restrict gbt) {
    for (int f = 0; f < F; f++) {
        elmo_real gg = g[f], tt = t[f];
        da[f] = d[f] * (tt - x[f]) * gg * (1 - gg);
        dz[f] = tt > 0 ? d[f] * gg : 0;
        dx2[f] = d[f] * (1 - gg);
        gbc[f] += da[f];
        gbt[f] += dz[f];
    }
}

void tokenc_forward(const elmo_config *c, const tparams *p, int N, const int16_t *ids,
                    elmo_real *tok, int *rs, int32_t *argmax, elmo_real *xs, elmo_real *hg,
                    elmo_real *ht, elmo_real *A, elmo_real *Z) {
    int W = c->max_chars, E = c->char_embed_dim, F = c->n_filters;
    for (int n = 0; n < N; n++) rs[n] = used_slots(ids + (size_t)n * W, W);
    const elmo_real *pad = p->char_embed + (size_t)ELMO_CHAR_PAD * E;
    elmo_real *y = xs; /* (N, F) */
    int foff = 0;
    for (int i = 0; i < c->n_banks; i++) {
        int K = c->filter_width[i], nf = c->filter_count[i], KE = K * E, P = W - K + 1;
        const elmo_real *Wc = p->conv_w[i], *bc = p->conv_b[i];
        im2col(p->char_embed, E, W, K, N, ids, rs, A);
        size_t rows = 0;
        for (int n = 0; n < N; n++) rows += (size_t)npos(rs[n], W, K);
        size_t prows = padded_rows(rows, N, W);
        memset(A + rows * KE, 0, sizeof(elmo_real) * (prows - rows) * KE);
        real_mm(0, 0, (int)prows, nf, KE, A, KE, Wc, nf, 0, Z, nf);
        /* the all-PAD window: z = sum_{k,d} pad[d] W[k, d, f] (bias added below) */
        elmo_real zpad[nf];
        for (int f = 0; f < nf; f++) {
            elmo_real acc = 0;
            for (int k = 0; k < K; k++)
                for (int d = 0; d < E; d++) acc += pad[d] * Wc[((size_t)k * E + d) * nf + f];
            zpad[f] = acc;
        }
        size_t row = 0;
        for (int n = 0; n < N; n++) {
            int np = npos(rs[n], W, K);
            elmo_real *m = y + (size_t)n * F + foff;
            int32_t *am = argmax + (size_t)n * F + foff;
            const elmo_real *z = Z + row * nf;
            for (int f = 0; f < nf; f++) {
                m[f] = z[f];
                am[f] = 0;
            }
            for (int q = 1; q < np; q++) max_step(nf, z + (size_t)q * nf, q, m, am);
            if (np < P)
                for (int f = 0; f < nf; f++)
                    if (zpad[f] > m[f]) {
                        m[f] = zpad[f];
                        am[f] = np; /* >= np: an all-PAD window */
                    }
            activate(nf, m, bc, c->activation == ELMO_ACT_TANH);
            row += (size_t)np;
        }
        foff += nf;
    }
    /* highway layers: xs[i+1] = g * t + (1 - g) * xs[i] */
    for (int i = 0; i < c->n_highway; i++) {
        const elmo_real *x = xs + (size_t)i * N * F;
        elmo_real *xn = xs + (size_t)(i + 1) * N * F, *g = hg + (size_t)i * N * F,
                  *t = ht + (size_t)i * N * F;
        real_mm(0, 0, N, F, F, x, F, p->hw_wc[i], F, 0, g, F);
        real_mm(0, 0, N, F, F, x, F, p->hw_wt[i], F, 0, t, F);
        for (int n = 0; n < N; n++) {
            size_t o = (size_t)n * F;
            highway_row(F, g + o, t + o, x + o, p->hw_bc[i], p->hw_bt[i], xn + o);
        }
    }
    const elmo_real *xo = xs + (size_t)c->n_highway * N * F;
    int Pd = c->projection_dim;
    if (c->has_cnn_proj) {
        for (int n = 0; n < N; n++) memcpy(tok + (size_t)n * Pd, p->proj_b, sizeof(elmo_real) * Pd);
        real_mm(0, 0, N, Pd, F, xo, F, p->proj_w, Pd, 1, tok, Pd);
    } else {
        memcpy(tok, xo, sizeof(elmo_real) * (size_t)N * F);
    }
}

void tokenc_backward(const elmo_config *c, const tparams *p, tparams *g, int N, const int16_t *ids,
                     const elmo_real *dtok, const int *rs, const int32_t *argmax,
                     const elmo_real *xs, const elmo_real *hg, const elmo_real *ht, elmo_real *A,
                     elmo_real *Z, elmo_real *dxs) {
    int W = c->max_chars, E = c->char_embed_dim, F = c->n_filters, Pd = c->projection_dim;
    elmo_real *dx = dxs, *dx2 = dxs + (size_t)N * F;
    /* projection */
    const elmo_real *xo = xs + (size_t)c->n_highway * N * F;
    if (c->has_cnn_proj) {
        real_mm(1, 0, F, Pd, N, xo, F, dtok, Pd, 1, g->proj_w, Pd);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < Pd; k++) g->proj_b[k] += dtok[(size_t)n * Pd + k];
        real_mm(0, 1, N, F, Pd, dtok, Pd, p->proj_w, Pd, 0, dx, F);
    } else {
        memcpy(dx, dtok, sizeof(elmo_real) * (size_t)N * F);
    }
    /* highway layers, last first: dx holds d x_{i+1} */
    for (int i = c->n_highway - 1; i >= 0; i--) {
        const elmo_real *x = xs + (size_t)i * N * F, *gv = hg + (size_t)i * N * F,
                        *tv = ht + (size_t)i * N * F;
        /* reuse Z for da (N, F) and dz (N, F) */
        elmo_real *da = Z, *dz = Z + (size_t)N * F;
        for (int n = 0; n < N; n++) {
            size_t o = (size_t)n * F;
            highway_row_backward(F, dx + o, gv + o, tv + o, x + o, da + o, dz + o, dx2 + o,
                                 g->hw_bc[i], g->hw_bt[i]);
        }
        real_mm(1, 0, F, F, N, x, F, da, F, 1, g->hw_wc[i], F);
        real_mm(1, 0, F, F, N, x, F, dz, F, 1, g->hw_wt[i], F);
        real_mm(0, 1, N, F, F, da, F, p->hw_wc[i], F, 1, dx2, F);
        real_mm(0, 1, N, F, F, dz, F, p->hw_wt[i], F, 1, dx2, F);
        elmo_real *tmp = dx;
        dx = dx2;
        dx2 = tmp;
    }
    /* activation: dm = dy * act'(m), from y = xs[0] */
    activate_backward((size_t)N * F, dx, xs, c->activation == ELMO_ACT_TANH);
    const elmo_real *pad = p->char_embed + (size_t)ELMO_CHAR_PAD * E;
    elmo_real *gpad = g->char_embed + (size_t)ELMO_CHAR_PAD * E;
    int foff = 0;
    for (int i = 0; i < c->n_banks; i++) {
        int K = c->filter_width[i], nf = c->filter_count[i], KE = K * E;
        const elmo_real *Wc = p->conv_w[i];
        /* A holds the weights transposed, Wt (nf, K, E), then their gradient gWt */
        elmo_real *Wt = A, *gWt = A + (size_t)nf * KE;
        for (int r = 0; r < KE; r++)
            for (int f = 0; f < nf; f++) Wt[(size_t)f * KE + r] = Wc[(size_t)r * nf + f];
        memset(gWt, 0, sizeof(elmo_real) * (size_t)nf * KE);
        elmo_real spad[nf];
        memset(spad, 0, sizeof spad);
        bank_backward(E, W, K, nf, F, N, ids, rs, dx + foff, argmax + foff, p->char_embed, Wt, gWt,
                      g->char_embed, g->conv_b[i], spad);
        for (int r = 0; r < KE; r++) {
            elmo_real *gw = g->conv_w[i] + (size_t)r * nf;
            for (int f = 0; f < nf; f++) gw[f] += gWt[(size_t)f * KE + r];
        }
        /* all-PAD windows: dW[k, d, f] += spad[f] pad[d];
         * dpad[d] += sum_{k,f} spad[f] W[k, d, f] */
        for (int k = 0; k < K; k++)
            for (int d = 0; d < E; d++) {
                elmo_real *gw = g->conv_w[i] + ((size_t)k * E + d) * nf;
                const elmo_real *w = Wc + ((size_t)k * E + d) * nf;
                elmo_real acc = 0;
                for (int f = 0; f < nf; f++) {
                    gw[f] += spad[f] * pad[d];
                    acc += spad[f] * w[f];
                }
                gpad[d] += acc;
            }
        foff += nf;
    }
}
