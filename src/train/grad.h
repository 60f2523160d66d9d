/*
 * grad.h: training kernels: forward passes that keep what backward needs, and the backward
 * passes beside them.
 *
 * Two builds of one source. charcnn_grad.c, lstm_grad.c, softmax.c and bilm_grad.c are
 * compiled twice (CMakeLists.txt, as llm.c picks its floatX per build): in float for training,
 * every name ending in _f, and in double (-DELMO_REAL_DOUBLE) for the finite-difference
 * gradient checks of tests/test_grad.c, every name ending in _d. The sources spell the plain
 * names (lstm_train_forward) and the element type elmo_real; train/grad_real.h maps them to
 * the build's names. Both sets are declared below, the float set with its documentation, the
 * double set after it (the same functions and types with double for float).
 *
 * Shapes: N tokens, W chars per token, E char-embedding width, F filters, NH highway layers,
 * P projection, H cell size, B rows, T steps (time-major: row index t*B + b), V vocabulary,
 * S sampled candidates.
 */
#ifndef ELMO_GRAD_H
#define ELMO_GRAD_H

#include <stdint.h>

#include "elmo.h"
#include "io/params.h"
#include "io/util.h"

#define ELMO_SOFTMAX_CHUNK 64

/* One training batch: per direction, time-major char ids (T, B, W) (inference id space:
 * raw + 1) of the inputs and word ids (T, B) of the targets; reset (T, B), when not NULL,
 * marks the positions where a row's LSTM state restarts from zero (a sentence start). */
typedef struct {
    int B, T;
    const int16_t *ids[2];
    const int32_t *targets[2];
    const uint8_t *reset[2];
} elmo_train_batch;

/* Counter-based dropout masks (training). The decision for unit k of global batch row b at
 * time step t of mask `layer` (0..L-1: the LSTM inputs, L: the top output) is a hash of
 * (key, layer, (t * rows + b) * P + k): it does not depend on how a batch is split across
 * processes, nor on the order of evaluation. key: the caller's (seed, step, direction);
 * rows: the global batch B; row0: the global index of the trainer's first row. */
typedef struct {
    uint64_t key;
    int rows, row0;
} elmo_dropout_key;

/* SplitMix64's finalizer: a bijective 64-bit mix. */
static inline uint64_t elmo_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Log-uniform (Zipf) candidate sampler of TF's sampled_softmax_loss (unique = true), in
 * sampler.c: P(k) = (log(k+2) - log(k+1)) / log(V+1); draws floor(exp(u log(V+1))) - 1
 * until S distinct ids; expected count Q(k) = -expm1(tries * log1p(-P(k))). Writes cand (S)
 * and logq (S); returns the number of tries. */
int elmo_sample_log_uniform(elmo_rng *r, int V, int S, int32_t *cand, float *logq, uint8_t *seen);
/* log Q(k) for given tries. */
double elmo_log_uniform_logq(int V, int k, int tries);

/* ======== float: training ======== */

/* Parameter views with elmo_params' names (see params.h). */
typedef struct {
    float *char_embed;
    float *conv_w[ELMO_MAX_FILTER_BANKS], *conv_b[ELMO_MAX_FILTER_BANKS];
    float *hw_wc[ELMO_MAX_HIGHWAY], *hw_bc[ELMO_MAX_HIGHWAY];
    float *hw_wt[ELMO_MAX_HIGHWAY], *hw_bt[ELMO_MAX_HIGHWAY];
    float *proj_w, *proj_b;
    float *lstm_w[2][ELMO_MAX_LAYERS], *lstm_b[2][ELMO_MAX_LAYERS], *lstm_p[2][ELMO_MAX_LAYERS];
    float *mem;
    size_t n;
} tparams_f;
void tparams_bind_f(const elmo_config *c, tparams_f *p, float *mem);
/* p's token-encoder views (char embeddings to projection) made src's: the encoder of one
 * direction's gradient in a block of its own, its LSTM stack in the shared one. */
void tparams_take_encoder_f(tparams_f *p, const tparams_f *src);

/* ---- token encoder (charcnn_grad.c): char CNN + highway + projection, training form.
 * Saved for backward: rs (N) used char slots per token, argmax (N, F) window of each filter's
 * max (>= the token's computed windows: an all-PAD window), xs ((NH+1), N, F) highway inputs
 * (xs[0] = CNN output after activation) and the highway output, hg, ht (NH, N, F) gate and
 * transform. A (max(N*W*K*E, 2*n_i*K*E) over the banks) and Z (N*W, max n_i) are workspace. */
void tokenc_forward_f(const elmo_config *c, const tparams_f *p, int N, const int16_t *ids,
                      float *tok, int *rs, int32_t *argmax, float *xs, float *hg, float *ht,
                      float *A, float *Z);
/* Accumulates parameter gradients into g from dtok (N, P). dxs (2, N, F) is workspace. */
void tokenc_backward_f(const elmo_config *c, const tparams_f *p, tparams_f *g, int N,
                       const int16_t *ids, const float *dtok, const int *rs, const int32_t *argmax,
                       const float *xs, const float *hg, const float *ht, float *A, float *Z,
                       float *dxs);

/* ---- LSTM with projection (lstm_grad.c), one layer over T steps of B rows.
 * x (T*B, P) input; h0 (B, P), c0 (B, H) initial state. Output y (T*B, P) (the projected,
 * clipped h_t, before any residual). Saved: gates (T*B, 4H) activated i, j, f, o;
 * cs ((T+1)*B, H) cell states with cs[0] = c0 (after clipping); tc, u (T*B, H) tanh(c), u.
 * reset (T*B) or NULL: where set, step t of row b starts from zero h and c (no gradient
 * flows back across it); hz (B, P) is workspace for it. */
void lstm_train_forward_f(const elmo_config *c, const float *W, const float *b, const float *Wp,
                          int T, int B, const float *x, const float *h0, const float *c0,
                          const uint8_t *reset, float *y, float *gates, float *cs, float *tc,
                          float *u, float *hz);
/* dy (T*B, P) -> dx (T*B, P) (overwritten); dW (2P, 4H), db (4H), dWp (H, P) accumulated.
 * Gradients into h0, c0 are dropped (truncated BPTT). dG (T*B, 4H), dh (B, P), dc (B, H),
 * du (B, H), xh (T*B, 2P) are workspace. reset as in the forward pass. */
void lstm_train_backward_f(const elmo_config *c, const float *W, const float *Wp, int T, int B,
                           const float *x, const float *h0, const uint8_t *reset, const float *y,
                           const float *gates, const float *cs, const float *tc, const float *u,
                           const float *dy, float *dx, float *dW, float *db, float *dWp, float *dG,
                           float *dh, float *dc, float *du, float *xh);

/* ---- softmax losses (softmax.c). weight: each position's CE is multiplied by it.
 * Sampled (TF sampled_softmax_loss with remove_accidental_hits): cand (S) ids with log
 * expected counts logq_c (S); logq_y (N) of the targets. Returns sum of CE over positions.
 * Gradients: dh (N, P) (overwritten), dWc (S, P), dbc (S), dWy (N, P), dby (N) (overwritten):
 * the caller scatters them into the rows of the softmax weights. ws: elmo_softmax_sampled_ws
 * reals. */
static inline int elmo_softmax_ld(int S) { return (S + 15) & ~15; }
static inline size_t elmo_softmax_sampled_ws(size_t N, size_t P, size_t S) {
    return N * (size_t)elmo_softmax_ld((int)S) + N + S * P + S;
}
double softmax_sampled_f(int N, int P, int S, const float *h, const int32_t *y, const int32_t *cand,
                         const float *logq_c, const float *logq_y, const float *W, const float *b,
                         float weight, float *dh, float *dWc, float *dbc, float *dWy, float *dby,
                         float *ws);
/* Full softmax over V classes. dW (V, P), db (V) accumulated when not NULL, dh overwritten
 * when not NULL. Rows are processed in chunks: ws holds ELMO_SOFTMAX_CHUNK * V. */
double softmax_full_f(int N, int P, int V, const float *h, const int32_t *y, const float *W,
                      const float *b, float weight, float *dh, float *dW, float *db, float *ws);

/* ---- the whole biLM training objective (bilm_grad.c) */
typedef struct {
    const elmo_config *c;
    int V, B, T;
    int S;              /* sampled candidates per direction; 0 = full softmax */
    float keep;         /* 1 - dropout */
    tparams_f p;        /* weights */
    float *sm_W, *sm_b; /* softmax (V, P), (V) */
    float *state_h[2][ELMO_MAX_LAYERS], *state_c[2][ELMO_MAX_LAYERS]; /* (B, P), (B, H) carried */
    float *mem;                                                       /* the carried states */
    void *blocks; /* activations and workspace of both directions */
} bilm_trainer_f;

/* Softmax gradient rows of one direction, to be scattered by the caller. */
typedef struct {
    int n;        /* rows */
    int32_t *ids; /* (n) */
    float *dW;    /* (n, P) */
    float *db;    /* (n) */
} sparse_rows_f;

elmo_status bilm_trainer_init_f(bilm_trainer_f *t, const elmo_config *c, int V, int B, int T, int S,
                                double dropout, float *params, float *sm_W, float *sm_b);
void bilm_trainer_free_f(bilm_trainer_f *t);
void bilm_trainer_reset_state_f(bilm_trainer_f *t);
/* One direction d: forward and backward on the batch. Returns the sum of CE over the B*T
 * positions. Gradients: g (a full parameter block; the token encoder and direction d's
 * LSTMs are accumulated), sm (softmax rows). cand/logq_c: the direction's sampled
 * candidates when S > 0 and the sampler's tries (see elmo_sample_log_uniform). drop: the
 * dropout masks' key (NULL: no dropout). backward = 0: forward only (evaluation). weight:
 * the per-position loss multiplier. */
double bilm_direction_step_f(bilm_trainer_f *t, int d, const elmo_train_batch *bt,
                             const int32_t *cand, const float *logq_c, int tries,
                             const elmo_dropout_key *drop, float weight, tparams_f *g,
                             sparse_rows_f *sm, int backward);
/* The forward activations of direction d's last bilm_direction_step, time-major (T*B, P)
 * for that step's T and B: layer 0 the token encoder's output, layer l = 1..L the output of
 * LSTM layer l (residual included; before the next dropout). For tests that compare the
 * training graph with inference (tests/test_train_infer.c). */
const float *bilm_trainer_layer_f(const bilm_trainer_f *t, int d, int layer);

/* ======== double: the gradient checks (the same as above, double for float) ======== */

typedef struct {
    double *char_embed;
    double *conv_w[ELMO_MAX_FILTER_BANKS], *conv_b[ELMO_MAX_FILTER_BANKS];
    double *hw_wc[ELMO_MAX_HIGHWAY], *hw_bc[ELMO_MAX_HIGHWAY];
    double *hw_wt[ELMO_MAX_HIGHWAY], *hw_bt[ELMO_MAX_HIGHWAY];
    double *proj_w, *proj_b;
    double *lstm_w[2][ELMO_MAX_LAYERS], *lstm_b[2][ELMO_MAX_LAYERS], *lstm_p[2][ELMO_MAX_LAYERS];
    double *mem;
    size_t n;
} tparams_d;
void tparams_bind_d(const elmo_config *c, tparams_d *p, double *mem);
void tparams_take_encoder_d(tparams_d *p, const tparams_d *src);

void tokenc_forward_d(const elmo_config *c, const tparams_d *p, int N, const int16_t *ids,
                      double *tok, int *rs, int32_t *argmax, double *xs, double *hg, double *ht,
                      double *A, double *Z);
void tokenc_backward_d(const elmo_config *c, const tparams_d *p, tparams_d *g, int N,
                       const int16_t *ids, const double *dtok, const int *rs, const int32_t *argmax,
                       const double *xs, const double *hg, const double *ht, double *A, double *Z,
                       double *dxs);

void lstm_train_forward_d(const elmo_config *c, const double *W, const double *b, const double *Wp,
                          int T, int B, const double *x, const double *h0, const double *c0,
                          const uint8_t *reset, double *y, double *gates, double *cs, double *tc,
                          double *u, double *hz);
void lstm_train_backward_d(const elmo_config *c, const double *W, const double *Wp, int T, int B,
                           const double *x, const double *h0, const uint8_t *reset, const double *y,
                           const double *gates, const double *cs, const double *tc, const double *u,
                           const double *dy, double *dx, double *dW, double *db, double *dWp,
                           double *dG, double *dh, double *dc, double *du, double *xh);

double softmax_sampled_d(int N, int P, int S, const double *h, const int32_t *y,
                         const int32_t *cand, const double *logq_c, const double *logq_y,
                         const double *W, const double *b, double weight, double *dh, double *dWc,
                         double *dbc, double *dWy, double *dby, double *ws);
double softmax_full_d(int N, int P, int V, const double *h, const int32_t *y, const double *W,
                      const double *b, double weight, double *dh, double *dW, double *db,
                      double *ws);

typedef struct {
    const elmo_config *c;
    int V, B, T;
    int S;
    double keep;
    tparams_d p;
    double *sm_W, *sm_b;
    double *state_h[2][ELMO_MAX_LAYERS], *state_c[2][ELMO_MAX_LAYERS];
    double *mem;
    void *blocks;
} bilm_trainer_d;

typedef struct {
    int n;
    int32_t *ids;
    double *dW;
    double *db;
} sparse_rows_d;

elmo_status bilm_trainer_init_d(bilm_trainer_d *t, const elmo_config *c, int V, int B, int T, int S,
                                double dropout, double *params, double *sm_W, double *sm_b);
void bilm_trainer_free_d(bilm_trainer_d *t);
void bilm_trainer_reset_state_d(bilm_trainer_d *t);
double bilm_direction_step_d(bilm_trainer_d *t, int d, const elmo_train_batch *bt,
                             const int32_t *cand, const double *logq_c, int tries,
                             const elmo_dropout_key *drop, double weight, tparams_d *g,
                             sparse_rows_d *sm, int backward);
const double *bilm_trainer_layer_d(const bilm_trainer_d *t, int d, int layer);

#endif
