/*
 * params.c: layout of the parameter block and the weight-file tensor table.
 */
#include "io/params.h"

#include <stdio.h>
#include <string.h>

#include "io/util.h"

void elmo_layout_make(const elmo_config *c, elmo_layout *o) {
    memset(o, 0xff, sizeof *o); /* absent parts: ELMO_ABSENT */
    size_t off = 0;
    int E = c->char_embed_dim, F = c->n_filters, P = c->projection_dim, H = c->lstm_dim;
#define TAKE(field, count)                                                                         \
    do {                                                                                           \
        o->field = off;                                                                            \
        off += (size_t)(count);                                                                    \
        off = (off + 15) & ~(size_t)15; /* keep every view 64-byte aligned */                      \
    } while (0)
    TAKE(char_embed, (size_t)ELMO_NC * E);
    for (int i = 0; i < c->n_banks; i++) {
        TAKE(conv_w[i], (size_t)c->filter_width[i] * E * c->filter_count[i]);
        TAKE(conv_b[i], c->filter_count[i]);
    }
    for (int i = 0; i < c->n_highway; i++) {
        TAKE(hw_wc[i], (size_t)F * F);
        TAKE(hw_bc[i], F);
        TAKE(hw_wt[i], (size_t)F * F);
        TAKE(hw_bt[i], F);
    }
    if (c->has_cnn_proj) {
        TAKE(proj_w, (size_t)F * P);
        TAKE(proj_b, P);
    }
    o->cnn_end = off; /* the char CNN, highway and projection: shared by both directions */
    for (int d = 0; d < 2; d++) {
        o->dir_begin[d] = off;
        for (int l = 0; l < c->n_layers; l++) {
            TAKE(lstm_w[d][l], (size_t)2 * P * 4 * H);
            TAKE(lstm_b[d][l], (size_t)4 * H);
            if (c->has_lstm_proj) TAKE(lstm_p[d][l], (size_t)H * P);
        }
        o->dir_end[d] = off;
    }
#undef TAKE
    o->n = off;
}

size_t elmo_params_count(const elmo_config *c) {
    /* sizes are bounded by the option parser (dims <= 2^20); products fit in size_t */
    elmo_layout o;
    elmo_layout_make(c, &o);
    return o.n;
}

void elmo_params_bind(const elmo_config *c, elmo_params *p, float *mem) {
    elmo_layout o;
    elmo_layout_make(c, &o);
    ELMO_BIND_VIEWS(p, &o, mem);
    p->n = o.n;
    p->mem = mem;
}

elmo_status elmo_params_alloc(const elmo_config *c, elmo_params *p) {
    size_t n = elmo_params_count(c);
    float *mem = elmo_calloc(n, sizeof(float));
    if (!mem) return ELMO_ERR_NOMEM;
    elmo_params_bind(c, p, mem);
    return ELMO_OK;
}

void elmo_params_free(elmo_params *p) {
    elmo_free(p->mem);
    memset(p, 0, sizeof *p);
}

static void add(elmo_tensor *t, int *n, float *data, int rank, uint64_t d0, uint64_t d1,
                uint64_t d2, uint64_t d3, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

#include <stdarg.h>
static void add(elmo_tensor *t, int *n, float *data, int rank, uint64_t d0, uint64_t d1,
                uint64_t d2, uint64_t d3, const char *fmt, ...) {
    elmo_tensor *x = &t[(*n)++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->name, sizeof x->name, fmt, ap);
    va_end(ap);
    x->data = data;
    x->rank = rank;
    x->dims[0] = d0;
    x->dims[1] = d1;
    x->dims[2] = d2;
    x->dims[3] = d3;
}

int elmo_params_tensors(const elmo_config *c, const elmo_params *p, elmo_tensor *t) {
    int n = 0;
    uint64_t E = c->char_embed_dim, F = c->n_filters, P = c->projection_dim, H = c->lstm_dim;
    /* the file holds raw ids 0..260: our rows 1..261 */
    add(t, &n, p->char_embed + E, 2, ELMO_NC - 1, E, 0, 0, "char_embed");
    for (int i = 0; i < c->n_banks; i++) {
        add(t, &n, p->conv_w[i], 4, 1, c->filter_width[i], E, c->filter_count[i], "CNN/W_cnn_%d",
            i);
        add(t, &n, p->conv_b[i], 1, c->filter_count[i], 0, 0, 0, "CNN/b_cnn_%d", i);
    }
    for (int i = 0; i < c->n_highway; i++) {
        add(t, &n, p->hw_wc[i], 2, F, F, 0, 0, "CNN_high_%d/W_carry", i);
        add(t, &n, p->hw_bc[i], 1, F, 0, 0, 0, "CNN_high_%d/b_carry", i);
        add(t, &n, p->hw_wt[i], 2, F, F, 0, 0, "CNN_high_%d/W_transform", i);
        add(t, &n, p->hw_bt[i], 1, F, 0, 0, 0, "CNN_high_%d/b_transform", i);
    }
    if (c->has_cnn_proj) {
        add(t, &n, p->proj_w, 2, F, P, 0, 0, "CNN_proj/W_proj");
        add(t, &n, p->proj_b, 1, P, 0, 0, 0, "CNN_proj/b_proj");
    }
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < c->n_layers; l++) {
            const char *g = "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/";
            char pre[64];
            snprintf(pre, sizeof pre, g, d, l);
            add(t, &n, p->lstm_w[d][l], 2, 2 * P, 4 * H, 0, 0, "%sW_0", pre);
            add(t, &n, p->lstm_b[d][l], 1, 4 * H, 0, 0, 0, "%sB", pre);
            if (c->has_lstm_proj) add(t, &n, p->lstm_p[d][l], 2, H, P, 0, 0, "%sW_P_0", pre);
        }
    return n;
}
