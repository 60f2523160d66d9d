/*
 * model.h: the loaded biLM (internal view of elmo_model) and the layer kernels that
 * bilm.c strings together. Shape letters: N token positions, W chars per token, E char
 * embedding width, F filters, P projection, H cell size, B rows, T steps.
 */
#ifndef ELMO_MODEL_H
#define ELMO_MODEL_H

#include <stdint.h>

#include "elmo.h"
#include "params.h"

struct elmo_model {
    elmo_config cfg;
    elmo_params w;
    /* conv_pad[i] (n_i): pre-activation value of bank i on a window made only of PAD chars,
     * bias included: the same for every token, so computed once (exact). */
    float *conv_pad[ELMO_MAX_FILTER_BANKS];
    float *conv_pad_mem;
};

/* Fill the model's derived tables (conv_pad) from its weights. */
elmo_status elmo_model_prepare(elmo_model *m);

/* ---- char CNN (charcnn.c): ids (N, W) -> y (N, F), conv + max over time + activation */

/* Workspace for the fast path; one per thread. */
typedef struct {
    float *emb;  /* (CHUNK_TOKENS, W, E) */
    float *A;    /* (CHUNK_ROWS, max K*E) im2col windows */
    float *Z;    /* (CHUNK_ROWS, max n_i) window pre-activations */
    int *npos;   /* (CHUNK_TOKENS) windows computed per token */
} elmo_charcnn_ws;
elmo_status elmo_charcnn_ws_alloc(const elmo_config *c, elmo_charcnn_ws *ws);
void elmo_charcnn_ws_free(elmo_charcnn_ws *ws);

/* Fast path: GEMMs over only the windows that touch a non-PAD char; windows made only of
 * PAD chars take the model's precomputed conv_pad value. */
void elmo_charcnn_forward(const elmo_model *m, int N, const int16_t *ids, float *y,
                          elmo_charcnn_ws *ws);
/* Plain reference: every window, direct loops. */
void elmo_charcnn_forward_ref(const elmo_model *m, int N, const int16_t *ids, float *y);

/* ---- highway (highway.c): x (N, F) in place, n_highway layers. ws: (N, 2F) */
void elmo_highway_forward(const elmo_config *c, const elmo_params *p, int N, float *x, float *ws);
void elmo_highway_forward_ref(const elmo_config *c, const elmo_params *p, int N, float *x);

/* ---- projection: tok (N, P) = x (N, F) · W_proj + b_proj (copy when F == P) */
void elmo_projection_forward(const elmo_config *c, const elmo_params *p, int N, const float *x,
                             float *tok);

/* ---- LSTM with projection (lstm.c), TF LSTMCell semantics, one layer of one direction.
 * Rows are packed time-major and sorted by decreasing length: step t covers packed rows
 * offs[t] .. offs[t] + steps[t] - 1, and the active rows of step t are the first steps[t]
 * rows of the batch. h (B, P) and c (B, H) hold the initial state of the B rows and end
 * holding each row's final state. x, y (N, P) packed; G (window rows, 4H) and u (B, H) are
 * workspace. */
typedef struct {
    int T;             /* steps */
    const int *steps;  /* (T) active rows per step, non-increasing */
    const int *offs;   /* (T + 1) packed row offsets */
} elmo_packing;
#define ELMO_LSTM_WINDOW 8 /* time steps whose input products are computed in one GEMM */
void elmo_lstm_forward(const elmo_config *c, const float *W, const float *b, const float *Wp,
                       const elmo_packing *pk, const float *x, float *h, float *cst, float *y,
                       float *G, float *u);
/* Plain reference for one sequence of T steps (rows of x, y are consecutive steps). */
void elmo_lstm_forward_ref(const elmo_config *c, const float *W, const float *b, const float *Wp,
                           int T, const float *x, float *h, float *cst, float *y);

#endif
