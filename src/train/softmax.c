/*
 * softmax.c: the language-model losses of bilm-tf (bilm/training.py): the full softmax and TF's
 * sampled softmax with the log-uniform candidate sampler, forward and backward side by side. The
 * losses are compiled twice (float, double; see real.h); the sampler once.
 *
 * Sampled softmax for position n with target y_n and candidates c_1..c_S (shared by the batch):
 *   logits = [h W_y + b_y - log Q(y) ; h W_c + b_c - log Q(c)],  c_s == y_n removed (-inf)
 *   CE_n = logsumexp(logits) - logits[0]
 *   d logits = weight * (softmax(logits) - onehot(0))
 */
#ifndef ELMO_TEMPLATE_PASS
#include <math.h>
#include <string.h>

#include "kernels/matmul.h"

#include "train/grad.h"

double elmo_log_uniform_logq(int V, int k, int tries) {
    double p = (log(k + 2.0) - log(k + 1.0)) / log(V + 1.0);
    return log(-expm1(tries * log1p(-p)));
}

int elmo_sample_log_uniform(elmo_rng *r, int V, int S, int32_t *cand, float *logq,
                            uint8_t *seen) {
    double lv = log(V + 1.0);
    int n = 0, tries = 0;
    while (n < S) {
        int64_t k = (int64_t)floor(exp(elmo_rng_uniform(r) * lv)) - 1;
        if (k < 0) k = 0;
        if (k >= V) k = V - 1;
        tries++;
        if (seen[k]) continue;
        seen[k] = 1;
        cand[n++] = (int32_t)k;
    }
    for (int s = 0; s < S; s++) {
        seen[cand[s]] = 0;
        logq[s] = (float)elmo_log_uniform_logq(V, cand[s], tries);
    }
    return tries;
}

#define ELMO_TEMPLATE_PASS
#include "train/real.h"
#include "train/softmax.c"
#define ELMO_DOUBLE
#include "train/real.h"
#include "train/softmax.c"
#undef ELMO_DOUBLE
#undef ELMO_TEMPLATE_PASS

#else /* ---- templated part ---- */

static inline void R(sgemm_)(int ta, int tb, int M, int N, int K, const real *A, int lda,
                             const real *B, int ldb, real beta, real *C, int ldc) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    R_MM(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

/* In place: logits (n) -> weight * softmax(logits) (entries at -inf give 0); returns the
 * logsumexp. */
static double R(softmax_row)(real *z, int n, real weight) {
    real mx = z[0];
    for (int k = 1; k < n; k++) mx = z[k] > mx ? z[k] : mx;
    double sum = 0;
    for (int k = 0; k < n; k++) {
        real e = R_EXP(z[k] - mx);
        z[k] = e;
        sum += e;
    }
    real inv = (real)(weight / sum);
    for (int k = 0; k < n; k++) z[k] *= inv;
    return (double)mx + log(sum);
}

double R(softmax_sampled)(int N, int P, int S, const real *h, const int32_t *y,
                          const int32_t *cand, const real *logq_c, const real *logq_y,
                          const real *W, const real *b, real weight, real *dh, real *dWc,
                          real *dbc, real *dWy, real *dby, real *ws) {
    int S1 = S + 1;
    real *z = ws, *Wc = ws + (size_t)N * S1, *bc = Wc + (size_t)S * P;
    for (int s = 0; s < S; s++) {
        memcpy(Wc + (size_t)s * P, W + (size_t)cand[s] * P, sizeof(real) * P);
        bc[s] = b[cand[s]] - logq_c[s];
    }
    /* candidate logits into columns 1..S of z (N, S+1) */
    R(sgemm_)(0, 1, N, S, P, h, P, Wc, P, 0, z + 1, S1);
    double loss = 0;
    for (int n = 0; n < N; n++) {
        real *zn = z + (size_t)n * S1;
        const real *hn = h + (size_t)n * P, *wy = W + (size_t)y[n] * P;
        real t = 0;
        for (int k = 0; k < P; k++) t += hn[k] * wy[k];
        t += b[y[n]] - logq_y[n];
        zn[0] = t;
        for (int s = 0; s < S; s++) zn[1 + s] = cand[s] == y[n] ? -INFINITY : zn[1 + s] + bc[s];
        loss += R(softmax_row)(zn, S1, weight) - (double)t; /* CE = logsumexp - true logit */
        zn[0] -= weight;                                     /* d logit_true = weight (p0 - 1) */
    }
    if (!dh) return loss;
    /* dh = dz_true W_y + dz_cand Wc;  dWc = dz_cand^T h;  dWy = dz_true h */
    R(sgemm_)(0, 0, N, P, S, z + 1, S1, Wc, P, 0, dh, P);
    for (int n = 0; n < N; n++) {
        real d0 = z[(size_t)n * S1];
        const real *wy = W + (size_t)y[n] * P, *hn = h + (size_t)n * P;
        real *dhn = dh + (size_t)n * P, *dwy = dWy + (size_t)n * P;
        for (int k = 0; k < P; k++) {
            dhn[k] += d0 * wy[k];
            dwy[k] = d0 * hn[k];
        }
        dby[n] = d0;
    }
    R(sgemm_)(1, 0, S, P, N, z + 1, S1, h, P, 0, dWc, P);
    for (int s = 0; s < S; s++) {
        real acc = 0;
        for (int n = 0; n < N; n++) acc += z[(size_t)n * S1 + 1 + s];
        dbc[s] = acc;
    }
    return loss;
}

double R(softmax_full)(int N, int P, int V, const real *h, const int32_t *y, const real *W,
                       const real *b, real weight, real *dh, real *dW, real *db, real *ws) {
    double loss = 0;
    for (int n0 = 0; n0 < N; n0 += ELMO_SOFTMAX_CHUNK) {
        int nc = N - n0 < ELMO_SOFTMAX_CHUNK ? N - n0 : ELMO_SOFTMAX_CHUNK;
        const real *hc = h + (size_t)n0 * P;
        real *z = ws;
        for (int n = 0; n < nc; n++) memcpy(z + (size_t)n * V, b, sizeof(real) * V);
        R(sgemm_)(0, 1, nc, V, P, hc, P, W, P, 1, z, V);
        for (int n = 0; n < nc; n++) {
            real *zn = z + (size_t)n * V;
            real zy = zn[y[n0 + n]];
            double lse = R(softmax_row)(zn, V, weight);
            loss += lse - zy;
            zn[y[n0 + n]] -= weight;
        }
        if (dh) R(sgemm_)(0, 0, nc, P, V, z, V, W, P, 0, dh + (size_t)n0 * P, P);
        if (dW) R(sgemm_)(1, 0, V, P, nc, z, V, hc, P, 1, dW, P);
        if (db)
            for (int n = 0; n < nc; n++)
                for (int k = 0; k < V; k++) db[k] += z[(size_t)n * V + k];
    }
    return loss;
}

#endif
