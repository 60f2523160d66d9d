/*
 * params.h: the biLM parameters as one contiguous float block with named views (llm.c
 * style). The same layout serves weights, gradients and optimizer accumulators, so a whole
 * gradient can be clipped, all-reduced or checkpointed as one array.
 *
 * Shapes (TF orientation, x · W with W [in, out]; never transposed):
 *   char_embed   (NC, E)        NC = 262 rows indexed by inference char id; row 0 stays zero
 *   conv_w[i]    (K_i, E, n_i)  = (K_i*E, n_i) as an im2col weight matrix
 *   conv_b[i]    (n_i)
 *   hw_wc[i], hw_wt[i]  (F, F); hw_bc[i], hw_bt[i]  (F)
 *   proj_w (F, P), proj_b (P)                      when F != P
 *   lstm_w[d][l] (2P, 4H)  rows 0..P-1 multiply x_t, rows P..2P-1 multiply h_{t-1};
 *                          gate columns in TF order i, j, f, o
 *   lstm_b[d][l] (4H)      without the +1 forget bias (added at run time)
 *   lstm_p[d][l] (H, P)    when P < H
 */
#ifndef ELMO_PARAMS_H
#define ELMO_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "elmo.h"

#define ELMO_NC 262 /* char table rows, inference id space (raw 0..260 -> 1..261) */

typedef struct {
    float *char_embed;
    float *conv_w[ELMO_MAX_FILTER_BANKS], *conv_b[ELMO_MAX_FILTER_BANKS];
    float *hw_wc[ELMO_MAX_HIGHWAY], *hw_bc[ELMO_MAX_HIGHWAY];
    float *hw_wt[ELMO_MAX_HIGHWAY], *hw_bt[ELMO_MAX_HIGHWAY];
    float *proj_w, *proj_b;
    float *lstm_w[2][ELMO_MAX_LAYERS], *lstm_b[2][ELMO_MAX_LAYERS], *lstm_p[2][ELMO_MAX_LAYERS];
    float *mem; /* the block every view points into */
    size_t n;   /* floats in the block */
} elmo_params;

/* Offsets of every view in the block (ELMO_ABSENT for parts the config does not have). */
#define ELMO_ABSENT ((size_t)-1)
typedef struct {
    size_t char_embed;
    size_t conv_w[ELMO_MAX_FILTER_BANKS], conv_b[ELMO_MAX_FILTER_BANKS];
    size_t hw_wc[ELMO_MAX_HIGHWAY], hw_bc[ELMO_MAX_HIGHWAY];
    size_t hw_wt[ELMO_MAX_HIGHWAY], hw_bt[ELMO_MAX_HIGHWAY];
    size_t proj_w, proj_b;
    size_t lstm_w[2][ELMO_MAX_LAYERS], lstm_b[2][ELMO_MAX_LAYERS], lstm_p[2][ELMO_MAX_LAYERS];
    size_t cnn_end;                  /* [0, cnn_end): token encoder, shared by both directions */
    size_t dir_begin[2], dir_end[2]; /* the LSTM stack of each direction */
    size_t n;
} elmo_layout;
void elmo_layout_make(const elmo_config *c, elmo_layout *o);

/* Point every view of a struct with elmo_params' field names at mem + offset (any element
 * type: used for float parameters and for the double-precision gradient checks). */
#define ELMO_BIND_VIEWS(p, o, mem)                                                                 \
    do {                                                                                           \
        memset((p), 0, sizeof *(p));                                                               \
        (p)->char_embed = (mem) + (o)->char_embed;                                                 \
        for (int i_ = 0; i_ < ELMO_MAX_FILTER_BANKS; i_++)                                         \
            if ((o)->conv_w[i_] != ELMO_ABSENT) {                                                  \
                (p)->conv_w[i_] = (mem) + (o)->conv_w[i_];                                         \
                (p)->conv_b[i_] = (mem) + (o)->conv_b[i_];                                         \
            }                                                                                      \
        for (int i_ = 0; i_ < ELMO_MAX_HIGHWAY; i_++)                                              \
            if ((o)->hw_wc[i_] != ELMO_ABSENT) {                                                   \
                (p)->hw_wc[i_] = (mem) + (o)->hw_wc[i_];                                           \
                (p)->hw_bc[i_] = (mem) + (o)->hw_bc[i_];                                           \
                (p)->hw_wt[i_] = (mem) + (o)->hw_wt[i_];                                           \
                (p)->hw_bt[i_] = (mem) + (o)->hw_bt[i_];                                           \
            }                                                                                      \
        if ((o)->proj_w != ELMO_ABSENT) {                                                          \
            (p)->proj_w = (mem) + (o)->proj_w;                                                     \
            (p)->proj_b = (mem) + (o)->proj_b;                                                     \
        }                                                                                          \
        for (int d_ = 0; d_ < 2; d_++)                                                             \
            for (int l_ = 0; l_ < ELMO_MAX_LAYERS; l_++)                                           \
                if ((o)->lstm_w[d_][l_] != ELMO_ABSENT) {                                          \
                    (p)->lstm_w[d_][l_] = (mem) + (o)->lstm_w[d_][l_];                             \
                    (p)->lstm_b[d_][l_] = (mem) + (o)->lstm_b[d_][l_];                             \
                    if ((o)->lstm_p[d_][l_] != ELMO_ABSENT)                                        \
                        (p)->lstm_p[d_][l_] = (mem) + (o)->lstm_p[d_][l_];                         \
                }                                                                                  \
    } while (0)

/* Number of floats the layout needs for this config (SIZE_MAX if absurdly large). */
size_t elmo_params_count(const elmo_config *c);
/* Point the views of p into mem (which holds elmo_params_count floats). */
void elmo_params_bind(const elmo_config *c, elmo_params *p, float *mem);
/* Allocate a zeroed block and bind it. */
elmo_status elmo_params_alloc(const elmo_config *c, elmo_params *p);
void elmo_params_free(elmo_params *p);

/* The tensors of the weight file, in file order: name, view, shape, and the row offset into
 * the view (char_embed skips its zero row). Used by the HDF5 reader and writer. */
typedef struct {
    char name[96];
    float *data;
    int rank;
    uint64_t dims[4];
} elmo_tensor;
#define ELMO_MAX_TENSORS                                                                           \
    (1 + 2 * ELMO_MAX_FILTER_BANKS + 4 * ELMO_MAX_HIGHWAY + 2 + 6 * ELMO_MAX_LAYERS)
int elmo_params_tensors(const elmo_config *c, const elmo_params *p, elmo_tensor *out);

#endif
