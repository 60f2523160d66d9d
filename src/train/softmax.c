/*
 * softmax.c: the language-model losses of bilm-tf (bilm/training.py): the full softmax and TF's
 * sampled softmax, forward and backward side by side (the log-uniform candidate sampler is in
 * sampler.c). Compiled twice, float and double (train/grad.h).
 *
 * Sampled softmax for position n with target y_n and candidates c_1..c_S (shared by the batch):
 *   logits = [h W_y + b_y - log Q(y) ; h W_c + b_c - log Q(c)],  c_s == y_n removed (-inf)
 *   CE_n = logsumexp(logits) - logits[0]
 *   d logits = weight * (softmax(logits) - onehot(0))
 */
#include <math.h>
#include <string.h>

#include "train/grad_real.h"

/* In place: the logits [*t ; z (n)] -> weight * softmax (entries at -inf give 0); returns the
 * logsumexp. */
ELMO_VECTOR_CLONES static double softmax_row(elmo_real *t, elmo_real *z, int n, elmo_real weight) {
    elmo_real mx = real_max(z, n, *t);
    /* the exponentials in a loop of their own (it vectorizes), then their sum in 16 running
     * sums (element k into sum k mod 16), added in a fixed order: one sum in order was a
     * chain of dependent additions, the larger part of a training step's softmax time */
    elmo_real e0 = real_exp(*t - mx);
    for (int k = 0; k < n; k++) z[k] = real_exp(z[k] - mx);
    double part[16] = {0};
    int k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 16; j++) part[j] += z[k + j];
    for (; k < n; k++) part[k % 16] += z[k];
    for (int w = 8; w > 0; w /= 2)
        for (int j = 0; j < w; j++) part[j] += part[j + w];
    double sum = e0 + part[0];
    elmo_real inv = (elmo_real)(weight / sum);
    *t = e0 * inv;
    for (int k = 0; k < n; k++) z[k] *= inv;
    return (double)mx + log(sum);
}

/* z (S) += bc, the candidate equal to the target y removed (-inf). */
ELMO_VECTOR_CLONES static void add_bias(int S, elmo_real *restrict z, const elmo_real *restrict bc,
                                        const int32_t *restrict cand, int32_t y) {
    for (int s = 0; s < S; s++) z[s] = cand[s] == y ? -INFINITY : z[s] + bc[s];
}

/* out (S) = the column sums of z (N, S), rows ld apart, row by row (each sum in row order). */
ELMO_VECTOR_CLONES static void col_sums(int N, int S, const elmo_real *z, int ld,
                                        elmo_real *restrict out) {
    memset(out, 0, sizeof(elmo_real) * S);
    for (int n = 0; n < N; n++) {
        const elmo_real *restrict zn = z + (size_t)n * ld;
        for (int s = 0; s < S; s++) out[s] += zn[s];
    }
}

double softmax_sampled(int N, int P, int S, const elmo_real *h, const int32_t *y,
                       const int32_t *cand, const elmo_real *logq_c, const elmo_real *logq_y,
                       const elmo_real *W, const elmo_real *b, elmo_real weight, elmo_real *dh,
                       elmo_real *dWc, elmo_real *dbc, elmo_real *dWy, elmo_real *dby,
                       elmo_real *ws) {
    /* z (N, S) candidate logits, rows Sp apart (a multiple of 16: oneDNN's AMX kernel takes
     * such rows, an odd stride sent it to a general kernel 2-3 times slower); zt (N) the true
     * logits */
    int Sp = elmo_softmax_ld(S);
    elmo_real *z = ws, *zt = z + (size_t)N * Sp, *Wc = zt + N, *bc = Wc + (size_t)S * P;
    for (int s = 0; s < S; s++) {
        memcpy(Wc + (size_t)s * P, W + (size_t)cand[s] * P, sizeof(elmo_real) * P);
        bc[s] = b[cand[s]] - logq_c[s];
    }
    real_mm(0, 1, N, S, P, h, P, Wc, P, 0, z, Sp);
    double loss = 0;
    for (int n = 0; n < N; n++) {
        elmo_real *zn = z + (size_t)n * Sp;
        const elmo_real *hn = h + (size_t)n * P, *wy = W + (size_t)y[n] * P;
        elmo_real t = 0;
        for (int k = 0; k < P; k++) t += hn[k] * wy[k];
        t += b[y[n]] - logq_y[n];
        zt[n] = t;
        add_bias(S, zn, bc, cand, y[n]);
        loss += softmax_row(zt + n, zn, S, weight) - (double)t; /* CE = logsumexp - true logit */
        zt[n] -= weight;                                        /* d logit_true = weight (p0 - 1) */
    }
    if (!dh) return loss;
    /* dh = dz_true W_y + dz_cand Wc;  dWc = dz_cand^T h;  dWy = dz_true h */
    real_mm(0, 0, N, P, S, z, Sp, Wc, P, 0, dh, P);
    for (int n = 0; n < N; n++) {
        elmo_real d0 = zt[n];
        const elmo_real *wy = W + (size_t)y[n] * P, *hn = h + (size_t)n * P;
        elmo_real *dhn = dh + (size_t)n * P, *dwy = dWy + (size_t)n * P;
        for (int k = 0; k < P; k++) {
            dhn[k] += d0 * wy[k];
            dwy[k] = d0 * hn[k];
        }
        dby[n] = d0;
    }
    real_mm(1, 0, S, P, N, z, Sp, h, P, 0, dWc, P);
    col_sums(N, S, z, Sp, dbc);
    return loss;
}

double softmax_full(int N, int P, int V, const elmo_real *h, const int32_t *y, const elmo_real *W,
                    const elmo_real *b, elmo_real weight, elmo_real *dh, elmo_real *dW,
                    elmo_real *db, elmo_real *ws) {
    double loss = 0;
    for (int n0 = 0; n0 < N; n0 += ELMO_SOFTMAX_CHUNK) {
        int nc = N - n0 < ELMO_SOFTMAX_CHUNK ? N - n0 : ELMO_SOFTMAX_CHUNK;
        const elmo_real *hc = h + (size_t)n0 * P;
        elmo_real *z = ws;
        for (int n = 0; n < nc; n++) memcpy(z + (size_t)n * V, b, sizeof(elmo_real) * V);
        real_mm(0, 1, nc, V, P, hc, P, W, P, 1, z, V);
        for (int n = 0; n < nc; n++) {
            elmo_real *zn = z + (size_t)n * V;
            elmo_real zy = zn[y[n0 + n]];
            double lse = softmax_row(zn, zn + 1, V - 1, weight);
            loss += lse - zy;
            zn[y[n0 + n]] -= weight;
        }
        if (dh) real_mm(0, 0, nc, P, V, z, V, W, P, 0, dh + (size_t)n0 * P, P);
        if (dW) real_mm(1, 0, V, P, nc, z, V, hc, P, 1, dW, P);
        if (db)
            for (int n = 0; n < nc; n++)
                for (int k = 0; k < V; k++) db[k] += z[(size_t)n * V + k];
    }
    return loss;
}
