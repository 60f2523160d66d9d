/*
 * model.h: the loaded biLM (internal view of elmo_model) and the layer kernels that
 * bilm.c strings together. Shape letters: N token positions, W chars per token, E char
 * embedding width, F filters, P projection, H cell size, B rows, T steps.
 */
#ifndef ELMO_MODEL_H
#define ELMO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"
#include "kernels/matmul.h"
#include "io/params.h"

/* The weights of every product: conv (K_i*E, n_i), highway carry/transform (F, F), projection
 * (F, P), LSTM input half (P, 4H), recurrent half (P, 4H), projection (H, P). */
typedef struct {
    elmo_mat *conv[ELMO_MAX_FILTER_BANKS];
    elmo_mat *hw[ELMO_MAX_HIGHWAY][2];
    elmo_mat *proj;
    elmo_mat *lx[2][ELMO_MAX_LAYERS], *lh[2][ELMO_MAX_LAYERS], *lp[2][ELMO_MAX_LAYERS];
} elmo_model_mats;

struct elmo_model {
    elmo_config cfg;
    elmo_params w;
    /* conv_pad[i] (n_i): pre-activation value of bank i on a window made only of PAD chars,
     * bias included: the same for every token, so computed once (exact). */
    float *conv_pad[ELMO_MAX_FILTER_BANKS];
    float *conv_pad_mem;
    /* the weights of every product prepared for the matrix backend (matmul.h): f32 in place
     * of the loaded float32 weights (w's matrices then hold the kernels' layout: read them
     * with elmo_mat_unpack), low: the bfloat16 (and int8) copies while the precision is BF16
     * or INT8; mats: the set in use */
    elmo_model_mats f32, low;
    const elmo_model_mats *mats;
    uint64_t fingerprint; /* of the weights as loaded */
    char *weights_path; /* absolute: the float32 weights are read again after bf16 released them */
    int f32_released;   /* BF16, INT8: the float32 weights' memory was given back (madvise) */
    elmo_precision precision; /* resolved: FP32, BF16 or INT8 (elmo_model_set_precision) */
};

/* Fill the model's derived tables (conv_pad) from its weights. */
elmo_status elmo_model_prepare(elmo_model *m);
/* Prepare the float32 product weights in place (m->f32; after conv_pad and the fingerprint). */
elmo_status elmo_model_prepare_f32(elmo_model *m);
/* Make the reduced-precision set (p BF16 or INT8) from the float32 one (m->low): every
 * product in bfloat16, for INT8 the LSTMs' recurrent and projection weights in int8 instead.
 * Gives the float32 product weights' memory back to the system as it goes (m->f32 freed,
 * m->f32_released set: those parts of m->w read as zeros until the weights are read again),
 * also on failure. */
elmo_status elmo_model_prepare_low(elmo_model *m, elmo_precision p);
void elmo_model_mats_free(elmo_model_mats *s);
/* The loaded weights as plain row-major float32 (the active precision's values: bfloat16
 * ones widened) into p, allocated with elmo_params_alloc: for the plain reference path. */
elmo_status elmo_model_unpack(const elmo_model *m, elmo_params *p);
/* A fingerprint of the configuration and the weights in m->w (as loaded). */
uint64_t elmo_model_compute_fingerprint(const elmo_model *m);

/* ---- char CNN (charcnn.c): ids (N, W) -> y (N, F), conv + max over time + activation */

/* Workspace for the fast path; one per thread. */
typedef struct {
    float *emb; /* (CHUNK_TOKENS, W, E) */
    float *A;   /* (CHUNK_ROWS, max K*E) im2col windows */
    float *Z;   /* (CHUNK_ROWS, max n_i) window pre-activations */
    int *npos;  /* (CHUNK_TOKENS) windows computed per token */
} elmo_charcnn_ws;
/* Bytes of the workspace, and its pointers into mem (64-byte aligned, that many bytes). */
size_t elmo_charcnn_ws_bytes(const elmo_config *c);
void elmo_charcnn_ws_bind(const elmo_config *c, elmo_charcnn_ws *ws, void *mem);

/* Fast path: GEMMs over only the windows that touch a non-PAD char; windows made only of
 * PAD chars take the model's precomputed conv_pad value. */
void elmo_charcnn_forward(const elmo_model *m, int N, const int16_t *ids, float *y,
                          elmo_charcnn_ws *ws);
/* Plain reference: every window, direct loops. */
void elmo_charcnn_forward_ref(const elmo_config *c, const elmo_params *p, int N, const int16_t *ids,
                              float *y);

/* ---- highway (highway.c): x (N, F) in place, n_highway layers. ws: (N, 2F) */
void elmo_highway_forward(const elmo_model *m, int N, float *x, float *ws);
/* The pieces of layer i: out (N, F) = x W_carry (which 0) or x W_transform (which 1), and
 * x <- g * relu(gt + b_t) + (1 - g) * x with g = sigmoid(gc + b_c). */
void elmo_highway_product(const elmo_model *m, int i, int which, int N, const float *x, float *out);
void elmo_highway_combine(const elmo_config *c, const elmo_params *p, int i, int N, float *x,
                          const float *gc, const float *gt);
void elmo_highway_forward_ref(const elmo_config *c, const elmo_params *p, int N, float *x);

/* ---- projection: tok (N, P) = x (N, F) · W_proj + b_proj (copy when F == P) */
void elmo_projection_forward(const elmo_model *m, int N, const float *x, float *tok);
void elmo_projection_forward_ref(const elmo_config *c, const elmo_params *p, int N, const float *x,
                                 float *tok);

/* ---- LSTM with projection (lstm.c), TF LSTMCell semantics, one layer of one direction.
 * Rows are packed time-major and sorted by decreasing length: step t covers packed rows
 * offs[t] .. offs[t] + steps[t] - 1, and the active rows of step t are the first steps[t]
 * rows of the batch. A row may carry several sentences end to end (lanes.h): where pos
 * says a sentence starts after the first step, that row's state is set to zero first.
 * h (B, P) and c (B, H) hold the initial state of the B rows and end holding each row's
 * final state. x (N, P) packed; G (window rows, 4H) and u (B, H) are workspace. */
typedef struct {
    int T;            /* steps */
    const int *steps; /* (T) active rows per step, non-increasing */
    const int *offs;  /* (T + 1) packed row offsets */
    const int *pos;   /* (N) position of each packed row in its sentence, or NULL: one
                       * sentence per row */
} elmo_packing;
/* One direction-layer's prepared weights (fast path). */
typedef struct {
    const elmo_mat *Wx; /* (P, 4H): multiplies x_t */
    const elmo_mat *Wh; /* (P, 4H): multiplies h_{t-1} */
    const float *b;     /* (4H) */
    const elmo_mat *Wp; /* (H, P), or NULL without projection */
} elmo_lstm_cell;
/* The input products of a window of whole steps (at least one) are one GEMM: up to 256
 * packed rows, fewer for wide layers so that G stays within 8 MB (128 rows for H = 4096).
 * G needs max(B, elmo_lstm_window_rows(c)) rows of 4H. */
int elmo_lstm_window_rows(const elmo_config *c);
/* x (N, P) packed: the layer's input on entry, its output on return (plus the input when
 * residual), one buffer for both. zero_state: h and cst are all zero on entry (stateless),
 * so the first step's recurrent product is skipped. */
void elmo_lstm_forward(const elmo_config *c, const elmo_lstm_cell *cell, const elmo_packing *pk,
                       int zero_state, int residual, float *x, float *h, float *cst, float *G,
                       float *u);
/* Plain reference for one sequence of T steps (rows of x, y are consecutive steps). */
void elmo_lstm_forward_ref(const elmo_config *c, const float *W, const float *b, const float *Wp,
                           int T, const float *x, float *h, float *cst, float *y);

#endif
