/*
 * bilm_grad.c: the biLM training objective (bilm-tf's LanguageModel) for one direction of one
 * batch: token encoder -> dropout -> LSTM stack (dropout on every layer's input, residual around
 * layers >= 1 adding the dropped-out input) -> dropout -> softmax loss, and the backward pass in
 * reverse order. Compiled twice, float and double (train/grad.h).
 *
 * The two directions share the token encoder and the softmax but nothing else, so a caller
 * may run them on two threads with separate gradient blocks and sum the shared parts.
 * LSTM states are carried from batch to batch (truncated BPTT: no gradient into them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/grad_real.h"

/* Views of one direction's activation block. Shapes: N = T*B tokens. */
typedef struct {
    elmo_real *tok;                       /* (N, P) */
    elmo_real *xs, *hg, *ht;              /* ((NH+1) or NH, N, F) */
    elmo_real *A, *Z, *dxs;               /* token-encoder workspace */
    elmo_real *xin[ELMO_MAX_LAYERS];      /* (N, P) each layer's input after dropout */
    elmo_real *mask[ELMO_MAX_LAYERS + 1]; /* (N, P) dropout masks (0 or 1/keep); [L] = top */
    elmo_real *h0[ELMO_MAX_LAYERS];       /* (B, P) initial h of each layer */
    elmo_real *y[ELMO_MAX_LAYERS];        /* (N, P) LSTM outputs before the residual */
    elmo_real *out[ELMO_MAX_LAYERS];      /* (N, P) layer outputs (residual added) */
    elmo_real *gates[ELMO_MAX_LAYERS];    /* (N, 4H) */
    elmo_real *cs[ELMO_MAX_LAYERS];       /* ((T+1)*B, H) */
    elmo_real *tc[ELMO_MAX_LAYERS], *u[ELMO_MAX_LAYERS]; /* (N, H) */
    elmo_real *top;                                      /* (N, P) dropped-out top output */
    elmo_real *d1, *d2;                                  /* (N, P) gradients flowing down */
    elmo_real *dG;                                       /* (N, 4H) */
    elmo_real *dh, *dc, *du;                             /* (B, P), (B, H), (B, H) */
    elmo_real *xh;                                       /* (N, 2P) */
    elmo_real *sm_ws;                                    /* softmax workspace */
    elmo_real *logq_y;                                   /* (N) */
    elmo_real *sdW, *sdb;                                /* ((S+N), P), (S+N) sparse softmax rows */
    int *rs;                                             /* (N) */
    int32_t *argmax;                                     /* (N, F) */
    int32_t *sids;                                       /* (S+N) */
} dir_views;

/* Walk the block layout: count when base is NULL. Returns reals used; *ints the int32s. */
static size_t dir_layout(const bilm_trainer *t, dir_views *v, elmo_real *base, int32_t *ibase,
                         size_t *ints) {
    const elmo_config *c = t->c;
    size_t N = (size_t)t->T * t->B, B = t->B, P = c->projection_dim, H = c->lstm_dim;
    size_t F = c->n_filters, NH = c->n_highway, W = c->max_chars, L = c->n_layers;
    size_t kemax = 0, nmax = 0, asz = 0;
    for (int i = 0; i < c->n_banks; i++) {
        size_t ke = (size_t)c->filter_width[i] * c->char_embed_dim;
        kemax = ke > kemax ? ke : kemax;
        nmax = (size_t)c->filter_count[i] > nmax ? (size_t)c->filter_count[i] : nmax;
        size_t tw = 2 * ke * c->filter_count[i]; /* a bank's weights and gradient, backward */
        asz = tw > asz ? tw : asz;
    }
    size_t zsz = N * W * nmax > 2 * N * F ? N * W * nmax : 2 * N * F;
    size_t S = t->S;
    size_t smws = S ? elmo_softmax_sampled_ws(N, P, S) : (size_t)ELMO_SOFTMAX_CHUNK * t->V;
    size_t off = 0, ioff = 0;
#define TAKE(field, count)                                                                         \
    do {                                                                                           \
        if (base) v->field = base + off;                                                           \
        off += ((size_t)(count) + 15) & ~(size_t)15;                                               \
    } while (0)
#define ITAKE(field, type, count)                                                                  \
    do {                                                                                           \
        if (ibase) v->field = (type *)(ibase + ioff);                                              \
        ioff += ((size_t)(count) + 15) & ~(size_t)15;                                              \
    } while (0)
    TAKE(tok, N * P);
    TAKE(xs, (NH + 1) * N * F);
    TAKE(hg, (NH ? NH : 1) * N * F);
    TAKE(ht, (NH ? NH : 1) * N * F);
    TAKE(A, N * W * kemax > asz ? N * W * kemax : asz);
    TAKE(Z, zsz);
    TAKE(dxs, 2 * N * F);
    for (size_t l = 0; l < L; l++) {
        TAKE(xin[l], N * P);
        TAKE(mask[l], N * P);
        TAKE(h0[l], B * P);
        TAKE(y[l], N * P);
        TAKE(out[l], N * P);
        TAKE(gates[l], N * 4 * H);
        TAKE(cs[l], (N + B) * H);
        TAKE(tc[l], N * H);
        TAKE(u[l], N * H);
    }
    TAKE(mask[L], N * P);
    TAKE(top, N * P);
    TAKE(d1, N * P);
    TAKE(d2, N * P);
    TAKE(dG, N * 4 * H);
    TAKE(dh, B * P);
    TAKE(dc, B * H);
    TAKE(du, B * H);
    TAKE(xh, N * 2 * P);
    TAKE(sm_ws, smws);
    TAKE(logq_y, N);
    size_t rows = S ? S + N : (size_t)t->V; /* full softmax: every word's row */
    TAKE(sdW, rows * P);
    TAKE(sdb, rows);
    ITAKE(rs, int, N);
    ITAKE(argmax, int32_t, N * F);
    ITAKE(sids, int32_t, rows);
#undef TAKE
#undef ITAKE
    *ints = ioff;
    return off;
}

typedef struct {
    elmo_real *mem[2];
    int32_t *imem[2];
    dir_views v[2];
} trainer_blocks;

elmo_status bilm_trainer_init(bilm_trainer *t, const elmo_config *c, int V, int B, int T, int S,
                              double dropout, elmo_real *params, elmo_real *sm_W, elmo_real *sm_b) {
    memset(t, 0, sizeof *t);
    t->c = c;
    t->V = V;
    t->B = B;
    t->T = T;
    t->S = S < V ? S : 0; /* as many negatives as words: the full softmax is exact and cheaper */
    t->keep = (elmo_real)(1.0 - dropout);
    tparams_bind(c, &t->p, params);
    t->sm_W = sm_W;
    t->sm_b = sm_b;
    dir_views v;
    size_t ints, reals = dir_layout(t, &v, NULL, NULL, &ints);
    size_t P = c->projection_dim, H = c->lstm_dim, L = c->n_layers;
    size_t state = 2 * L * (size_t)B * (P + H);
    trainer_blocks *tb = calloc(1, sizeof *tb);
    if (!tb) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    t->mem = elmo_calloc(state, sizeof(elmo_real));
    for (int d = 0; d < 2; d++) {
        tb->mem[d] = elmo_calloc(reals, sizeof(elmo_real));
        tb->imem[d] = elmo_calloc(ints, sizeof(int32_t));
        if (!tb->mem[d] || !tb->imem[d]) break;
        dir_layout(t, &tb->v[d], tb->mem[d], tb->imem[d], &ints);
    }
    if (!t->mem || !tb->mem[0] || !tb->mem[1] || !tb->imem[0] || !tb->imem[1]) {
        t->blocks = tb;
        bilm_trainer_free(t);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory for training activations (%zu MB)",
                         2 * reals * sizeof(elmo_real) >> 20);
    }
    for (int d = 0; d < 2; d++)
        for (size_t l = 0; l < L; l++) {
            t->state_h[d][l] = t->mem + ((size_t)d * L + l) * B * (P + H);
            t->state_c[d][l] = t->state_h[d][l] + (size_t)B * P;
        }
    t->blocks = tb;
    return ELMO_OK;
}

void bilm_trainer_free(bilm_trainer *t) {
    trainer_blocks *tb = t->blocks;
    if (tb) {
        for (int d = 0; d < 2; d++) {
            elmo_free(tb->mem[d]);
            elmo_free(tb->imem[d]);
        }
        free(tb);
    }
    elmo_free(t->mem);
    memset(t, 0, sizeof *t);
}

void bilm_trainer_reset_state(bilm_trainer *t) {
    const elmo_config *c = t->c;
    memset(t->mem, 0,
           sizeof(elmo_real) * 2 * c->n_layers * (size_t)t->B * (c->projection_dim + c->lstm_dim));
}

const elmo_real *bilm_trainer_layer(const bilm_trainer *t, int d, int layer) {
    const dir_views *v = &((const trainer_blocks *)t->blocks)->v[d];
    return layer == 0 ? v->tok : v->out[layer - 1];
}

/* dst = src * mask (T*B, P) with the inverted-dropout mask of `layer` (or a copy without
 * dropout); the mask is a function of the key and of the global position (see grad.h) */
static void apply_dropout(const elmo_dropout_key *dk, int layer, elmo_real keep, int T, int B,
                          int P, const elmo_real *src, elmo_real *dst, elmo_real *mask) {
    size_t n = (size_t)T * B * P;
    if (!dk || keep >= 1) {
        for (size_t k = 0; k < n; k++) mask[k] = 1;
        memcpy(dst, src, sizeof(elmo_real) * n);
        return;
    }
    elmo_real scale = 1 / keep;
    uint64_t thr = (uint64_t)((double)keep * 4294967296.0); /* keep iff hash >> 32 < thr */
    uint64_t lk = elmo_mix64(dk->key ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(layer + 1)));
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            uint64_t base =
                ((uint64_t)t * (uint64_t)dk->rows + (uint64_t)(dk->row0 + b)) * (uint64_t)P;
            size_t o = ((size_t)t * B + b) * P;
            elmo_real *mk = mask + o, *dd = dst + o;
            const elmo_real *ss = src + o;
            for (int k = 0; k < P; k++) {
                uint64_t h = elmo_mix64(lk + (base + (uint64_t)k) * 0x9e3779b97f4a7c15ULL);
                mk[k] = (h >> 32) < thr ? scale : 0;
                dd[k] = ss[k] * mk[k];
            }
        }
}

double bilm_direction_step(bilm_trainer *t, int d, const elmo_train_batch *bt, const int32_t *cand,
                           const elmo_real *logq_c, int tries, const elmo_dropout_key *drop,
                           elmo_real weight, tparams *g, sparse_rows *sm, int backward) {
    const elmo_config *c = t->c;
    trainer_blocks *tb = t->blocks;
    dir_views *v = &tb->v[d];
    /* a batch may be smaller than the trainer was sized for (the last batch of a group) */
    ELMO_ASSERT(bt->B >= 1 && bt->B <= t->B && bt->T >= 1 && bt->T <= t->T);
    int B = bt->B, T = bt->T, N = T * B, P = c->projection_dim, H = c->lstm_dim, L = c->n_layers;
    size_t NP = (size_t)N * P;
    const tparams *p = &t->p;
    const int16_t *ids = bt->ids[d];
    const int32_t *y = bt->targets[d];

    /* ---- forward */
    tokenc_forward(c, p, N, ids, v->tok, v->rs, v->argmax, v->xs, v->hg, v->ht, v->A, v->Z);
    const elmo_real *in = v->tok;
    for (int l = 0; l < L; l++) {
        apply_dropout(drop, l, t->keep, T, B, P, in, v->xin[l], v->mask[l]);
        memcpy(v->h0[l], t->state_h[d][l], sizeof(elmo_real) * (size_t)B * P);
        lstm_train_forward(c, p->lstm_w[d][l], p->lstm_b[d][l], p->lstm_p[d][l], T, B, v->xin[l],
                           v->h0[l], t->state_c[d][l], bt->reset[d], v->y[l], v->gates[l], v->cs[l],
                           v->tc[l], v->u[l], v->dh);
        if (c->use_skip_connections && l > 0)
            for (size_t k = 0; k < NP; k++) v->out[l][k] = v->y[l][k] + v->xin[l][k];
        else
            memcpy(v->out[l], v->y[l], sizeof(elmo_real) * NP);
        in = v->out[l];
        /* carry the final state to the next batch */
        memcpy(t->state_h[d][l], v->y[l] + (size_t)(T - 1) * B * P,
               sizeof(elmo_real) * (size_t)B * P);
        memcpy(t->state_c[d][l], v->cs[l] + (size_t)T * B * H, sizeof(elmo_real) * (size_t)B * H);
    }
    apply_dropout(drop, L, t->keep, T, B, P, in, v->top, v->mask[L]);
    double loss;
    elmo_real *dtop = backward ? v->d1 : NULL;
    if (t->S > 0) {
        for (int n = 0; n < N; n++)
            v->logq_y[n] = (elmo_real)elmo_log_uniform_logq(t->V, y[n], tries);
        int S = t->S;
        loss =
            softmax_sampled(N, P, S, v->top, y, cand, logq_c, v->logq_y, t->sm_W, t->sm_b, weight,
                            dtop, v->sdW, v->sdb, v->sdW + (size_t)S * P, v->sdb + S, v->sm_ws);
        if (sm) {
            memcpy(v->sids, cand, sizeof(int32_t) * S);
            memcpy(v->sids + S, y, sizeof(int32_t) * N);
            sm->n = S + N;
        }
    } else {
        /* full softmax: dense gradient rows of every word (only with a small vocabulary or
         * at evaluation) */
        elmo_real *dW = NULL, *db = NULL;
        if (backward && sm) {
            dW = v->sdW;
            db = v->sdb;
            memset(dW, 0, sizeof(elmo_real) * (size_t)t->V * P);
            memset(db, 0, sizeof(elmo_real) * t->V);
            for (int k = 0; k < t->V; k++) v->sids[k] = k;
            sm->n = t->V;
        }
        loss =
            softmax_full(N, P, t->V, v->top, y, t->sm_W, t->sm_b, weight, dtop, dW, db, v->sm_ws);
    }
    if (sm) {
        sm->ids = v->sids;
        sm->dW = v->sdW;
        sm->db = v->sdb;
    }
    if (!backward) return loss;

    /* ---- backward: d1 holds d top (after dropout) */
    elmo_real *dcur = v->d1, *dnext = v->d2;
    for (size_t k = 0; k < NP; k++) dcur[k] *= v->mask[L][k]; /* now d out[L-1] */
    for (int l = L - 1; l >= 0; l--) {
        lstm_train_backward(c, p->lstm_w[d][l], p->lstm_p[d][l], T, B, v->xin[l], v->h0[l],
                            bt->reset[d], v->y[l], v->gates[l], v->cs[l], v->tc[l], v->u[l], dcur,
                            dnext, g->lstm_w[d][l], g->lstm_b[d][l], g->lstm_p[d][l], v->dG, v->dh,
                            v->dc, v->du, v->xh);
        /* dnext = d xin[l]; the residual adds d out[l] */
        if (c->use_skip_connections && l > 0)
            for (size_t k = 0; k < NP; k++) dnext[k] += dcur[k];
        for (size_t k = 0; k < NP; k++) dnext[k] *= v->mask[l][k]; /* d of the layer's input */
        elmo_real *tmp = dcur;
        dcur = dnext;
        dnext = tmp;
    }
    tokenc_backward(c, p, g, N, ids, dcur, v->rs, v->argmax, v->xs, v->hg, v->ht, v->A, v->Z,
                    v->dxs);
    return loss;
}
