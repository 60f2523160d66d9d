/*
 * charcnn.c: the character CNN of the token encoder (bilm-tf's bilm/model.py,
 * https://github.com/allenai/bilm-tf).
 *
 *   e[n, s, :]  = char_embed[ids[n, s]]                         (N, W, E)
 *   z_i[n, p, f] = b_i[f] + sum_{k<K_i, d<E} e[n, p+k, d] W_i[k, d, f]   p = 0 .. W-K_i
 *   y[n, F_i + f] = act(max_p z_i[n, p, f])                      (N, F), banks concatenated
 *
 * TF cross-correlation (kernel not flipped), VALID padding over all W slots, activation after
 * the max. Fast path: a window made only of PAD chars has the same value for every token
 * (model->conv_pad), so only windows touching a non-PAD char are computed, as one GEMM per
 * bank over an im2col matrix (a window of K chars is K*E contiguous floats of e).
 */
#include <math.h>
#include <string.h>

#include "core/model.h"
#include "io/util.h"

#define CHUNK_TOKENS 256
#define CHUNK_ROWS 512    /* windows per GEMM: Z is (CHUNK_ROWS, max n_i), 2 MB for 1024 filters */
#define CONV_ROW_BLOCK 64 /* a product's rows are a multiple of this (CHUNK_ROWS is one) */

static inline float act(int a, float v) { return a == ELMO_ACT_TANH ? tanhf(v) : (v > 0 ? v : 0); }

static int max_kE(const elmo_config *c) {
    int m = 0;
    for (int i = 0; i < c->n_banks; i++)
        if (c->filter_width[i] * c->char_embed_dim > m) m = c->filter_width[i] * c->char_embed_dim;
    return m;
}

static int max_n(const elmo_config *c) {
    int m = 0;
    for (int i = 0; i < c->n_banks; i++)
        if (c->filter_count[i] > m) m = c->filter_count[i];
    return m;
}

static size_t up64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t elmo_charcnn_ws_bytes(const elmo_config *c) {
    size_t rows = CHUNK_ROWS > c->max_chars ? CHUNK_ROWS : c->max_chars;
    rows = (rows + CONV_ROW_BLOCK - 1) / CONV_ROW_BLOCK * CONV_ROW_BLOCK;
    return up64(sizeof(float) * (size_t)CHUNK_TOKENS * c->max_chars * c->char_embed_dim) +
           up64(sizeof(float) * rows * max_kE(c)) + up64(sizeof(float) * rows * max_n(c)) +
           up64(sizeof(int) * CHUNK_TOKENS);
}

void elmo_charcnn_ws_bind(const elmo_config *c, elmo_charcnn_ws *ws, void *mem) {
    size_t rows = CHUNK_ROWS > c->max_chars ? CHUNK_ROWS : c->max_chars;
    rows = (rows + CONV_ROW_BLOCK - 1) / CONV_ROW_BLOCK * CONV_ROW_BLOCK;
    char *p = mem;
    ws->emb = (float *)p;
    p += up64(sizeof(float) * (size_t)CHUNK_TOKENS * c->max_chars * c->char_embed_dim);
    ws->A = (float *)p;
    p += up64(sizeof(float) * rows * max_kE(c));
    ws->Z = (float *)p;
    p += up64(sizeof(float) * rows * max_n(c));
    ws->npos = (int *)p;
}

/* Number of leading slots up to and including the last non-PAD one. */
static int real_slots(const int16_t *ids, int W) {
    int r = W;
    while (r > 0 && ids[r - 1] == ELMO_CHAR_PAD) r--;
    return r;
}

static void embed(const elmo_params *p, int E, int W, const int16_t *ids, float *e) {
    for (int s = 0; s < W; s++) {
        int id = ids[s];
        if (id < 0 || id >= ELMO_NC) id = 0; /* out-of-range ids are "no char" */
        memcpy(e + (size_t)s * E, p->char_embed + (size_t)id * E, sizeof(float) * E);
    }
}

void elmo_charcnn_forward(const elmo_model *m, int N, const int16_t *ids, float *y,
                          elmo_charcnn_ws *ws) {
    const elmo_config *c = &m->cfg;
    const elmo_params *p = &m->w;
    int W = c->max_chars, E = c->char_embed_dim, F = c->n_filters;
    int kmin = W;
    for (int i = 0; i < c->n_banks; i++)
        if (c->filter_width[i] < kmin) kmin = c->filter_width[i];
    int n0 = 0;
    while (n0 < N) {
        /* chunk: at most CHUNK_TOKENS tokens and CHUNK_ROWS windows of the narrowest bank */
        int nt = 0, rows = 0;
        while (n0 + nt < N && nt < CHUNK_TOKENS) {
            int r = real_slots(ids + (size_t)(n0 + nt) * W, W);
            int np = r < W - kmin + 1 ? r : W - kmin + 1;
            if (np < 1) np = 1;
            if (nt > 0 && rows + np > CHUNK_ROWS) break;
            ws->npos[nt++] = r;
            rows += np;
        }
        for (int n = 0; n < nt; n++)
            embed(p, E, W, ids + (size_t)(n0 + n) * W, ws->emb + (size_t)n * W * E);
        int foff = 0;
        for (int i = 0; i < c->n_banks; i++) {
            int K = c->filter_width[i], nf = c->filter_count[i], KE = K * E, P = W - K + 1;
            /* im2col over the windows that touch a real char */
            int R = 0;
            for (int n = 0; n < nt; n++) {
                int np = ws->npos[n] < P ? ws->npos[n] : P;
                if (np < 1) np = 1; /* an all-PAD token still has window 0 */
                const float *e = ws->emb + (size_t)n * W * E;
                for (int q = 0; q < np; q++)
                    memcpy(ws->A + (size_t)(R + q) * KE, e + (size_t)q * E, sizeof(float) * KE);
                R += np;
            }
            /* the product over whole blocks of CONV_ROW_BLOCK rows, the extra rows zero: a
             * few product shapes instead of one per window count (each shape is a compiled
             * kernel kept for the process); a row's result does not depend on the others */
            int Rp = (R + CONV_ROW_BLOCK - 1) / CONV_ROW_BLOCK * CONV_ROW_BLOCK;
            memset(ws->A + (size_t)R * KE, 0, sizeof(float) * (size_t)(Rp - R) * KE);
            elmo_mat_mul(Rp, ws->A, KE, m->mats->conv[i], 0, ws->Z, nf);
            /* max over each token's windows (+ bias), with the all-PAD windows' value */
            R = 0;
            for (int n = 0; n < nt; n++) {
                int np = ws->npos[n] < P ? ws->npos[n] : P;
                if (np < 1) np = 1;
                float *out = y + (size_t)(n0 + n) * F + foff;
                const float *z = ws->Z + (size_t)R * nf;
                for (int f = 0; f < nf; f++) out[f] = z[f];
                for (int q = 1; q < np; q++) {
                    const float *zq = z + (size_t)q * nf;
                    for (int f = 0; f < nf; f++) out[f] = zq[f] > out[f] ? zq[f] : out[f];
                }
                const float *b = p->conv_b[i];
                for (int f = 0; f < nf; f++) out[f] += b[f];
                if (np < P) {
                    const float *pad = m->conv_pad[i];
                    for (int f = 0; f < nf; f++) out[f] = pad[f] > out[f] ? pad[f] : out[f];
                }
                for (int f = 0; f < nf; f++) out[f] = act(c->activation, out[f]);
                R += np;
            }
            foff += nf;
        }
        n0 += nt;
    }
}

void elmo_charcnn_forward_ref(const elmo_config *c, const elmo_params *p, int N, const int16_t *ids,
                              float *y) {
    int W = c->max_chars, E = c->char_embed_dim, F = c->n_filters;
    for (int n = 0; n < N; n++) {
        const int16_t *id = ids + (size_t)n * W;
        int foff = 0;
        for (int i = 0; i < c->n_banks; i++) {
            int K = c->filter_width[i], nf = c->filter_count[i];
            for (int f = 0; f < nf; f++) {
                float best = -INFINITY;
                for (int q = 0; q + K <= W; q++) {
                    float z = p->conv_b[i][f];
                    for (int k = 0; k < K; k++) {
                        int ch = id[q + k];
                        if (ch < 0 || ch >= ELMO_NC) ch = 0;
                        const float *e = p->char_embed + (size_t)ch * E;
                        for (int d = 0; d < E; d++)
                            z += e[d] * p->conv_w[i][((size_t)k * E + d) * nf + f];
                    }
                    if (z > best) best = z;
                }
                y[(size_t)n * F + foff + f] = act(c->activation, best);
            }
            foff += nf;
        }
    }
}

/* conv_pad[i][f] = b_i[f] + sum_{k,d} PAD_embedding[d] W_i[k, d, f] */
elmo_status elmo_model_prepare(elmo_model *m) {
    const elmo_config *c = &m->cfg;
    int E = c->char_embed_dim, total = 0;
    for (int i = 0; i < c->n_banks; i++) total += c->filter_count[i];
    m->conv_pad_mem = elmo_alloc(sizeof(float) * (size_t)total);
    if (!m->conv_pad_mem) return ELMO_ERR_NOMEM;
    const float *pad = m->w.char_embed + (size_t)ELMO_CHAR_PAD * E;
    int off = 0;
    for (int i = 0; i < c->n_banks; i++) {
        int K = c->filter_width[i], nf = c->filter_count[i];
        float *z = m->conv_pad[i] = m->conv_pad_mem + off;
        /* same summation order as the GEMM path would use is not guaranteed; the value is
         * compared with max(), so a 1-ulp difference only matters on exact ties */
        for (int f = 0; f < nf; f++) {
            float acc = 0;
            for (int k = 0; k < K; k++)
                for (int d = 0; d < E; d++)
                    acc += pad[d] * m->w.conv_w[i][((size_t)k * E + d) * nf + f];
            z[f] = acc + m->w.conv_b[i][f];
        }
        off += nf;
    }
    return ELMO_OK;
}
