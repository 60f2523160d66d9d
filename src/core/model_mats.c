/*
 * model_mats.c: the model's product weights prepared for the matrix backend (model.h,
 * matmul.h): float32 in place of the loaded weights, the bfloat16 (or bfloat16 + int8) set
 * made from it (giving the float32 memory back), and the plain copy the reference path reads.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/model.h"
#include "io/util.h"

void elmo_model_mats_free(elmo_model_mats *s) {
    for (int i = 0; i < ELMO_MAX_FILTER_BANKS; i++) elmo_mat_free(s->conv[i]);
    for (int i = 0; i < ELMO_MAX_HIGHWAY; i++)
        for (int k = 0; k < 2; k++) elmo_mat_free(s->hw[i][k]);
    elmo_mat_free(s->proj);
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < ELMO_MAX_LAYERS; l++) {
            elmo_mat_free(s->lx[d][l]);
            elmo_mat_free(s->lh[d][l]);
            elmo_mat_free(s->lp[d][l]);
        }
    memset(s, 0, sizeof *s);
}

/* Every product's weights: the matrix slot in the set, its plain float32 location in the
 * loaded weights, K and N. Returns the count. */
typedef struct {
    elmo_mat **slot;
    float *w;
    int K, N;
    int per_step; /* a product of every time step (the LSTM's recurrent and projection) */
} mat_ref;

static int mat_refs(const elmo_config *c, const elmo_params *w, elmo_model_mats *set, mat_ref *r) {
    int E = c->char_embed_dim, F = c->n_filters, P = c->projection_dim, H = c->lstm_dim, n = 0;
    for (int i = 0; i < c->n_banks; i++)
        r[n++] =
            (mat_ref){&set->conv[i], w->conv_w[i], c->filter_width[i] * E, c->filter_count[i], 0};
    for (int i = 0; i < c->n_highway; i++) {
        r[n++] = (mat_ref){&set->hw[i][0], w->hw_wc[i], F, F, 0};
        r[n++] = (mat_ref){&set->hw[i][1], w->hw_wt[i], F, F, 0};
    }
    if (c->has_cnn_proj) r[n++] = (mat_ref){&set->proj, w->proj_w, F, P, 0};
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < c->n_layers; l++) {
            r[n++] = (mat_ref){&set->lx[d][l], w->lstm_w[d][l], P, 4 * H, 0};
            r[n++] = (mat_ref){&set->lh[d][l], w->lstm_w[d][l] + (size_t)P * 4 * H, P, 4 * H, 1};
            if (c->has_lstm_proj) r[n++] = (mat_ref){&set->lp[d][l], w->lstm_p[d][l], H, P, 1};
        }
    return n;
}

#define MAX_MATS (ELMO_MAX_FILTER_BANKS + 2 * ELMO_MAX_HIGHWAY + 1 + 6 * ELMO_MAX_LAYERS)

elmo_status elmo_model_prepare_f32(elmo_model *m) {
    mat_ref r[MAX_MATS];
    int n = mat_refs(&m->cfg, &m->w, &m->f32, r), in_place;
    elmo_status s = ELMO_OK;
    for (int k = 0; k < n && !s; k++)
        s = elmo_mat_new_inplace(r[k].K, r[k].N, r[k].w, r[k].slot, &in_place);
    m->mats = &m->f32;
    return s ? elmo_fail(s, "out of memory preparing the weights") : ELMO_OK;
}

/* Give back the whole pages inside n floats at w (madvise: zeros on the next read). */
static void release_pages(float *w, size_t n) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)w, e = a + sizeof(float) * n;
    a = (a + page - 1) & ~(page - 1);
    e &= ~(page - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

elmo_status elmo_model_prepare_low(elmo_model *m, elmo_precision p) {
    mat_ref f[MAX_MATS], b[MAX_MATS];
    int n = mat_refs(&m->cfg, &m->w, &m->f32, f);
    mat_refs(&m->cfg, &m->w, &m->low, b);
    elmo_status s = ELMO_OK;
    /* matrix by matrix, each float32 one given back once converted: the peak stays near the
     * float32 size */
    for (int k = 0; k < n && !s; k++) {
        elmo_precision pk =
            p == ELMO_PRECISION_INT8 && f[k].per_step ? ELMO_PRECISION_INT8 : ELMO_PRECISION_BF16;
        s = elmo_mat_convert(*f[k].slot, pk, b[k].slot);
        if (!s) release_pages(f[k].w, (size_t)f[k].K * f[k].N);
    }
    elmo_model_mats_free(&m->f32);
    m->f32_released = 1;
    if (s) {
        elmo_model_mats_free(&m->low);
        return elmo_fail(s, "out of memory preparing the weights in %s", elmo_precision_name(p));
    }
    return ELMO_OK;
}

elmo_status elmo_model_unpack(const elmo_model *m, elmo_params *p) {
    elmo_status s = elmo_params_alloc(&m->cfg, p);
    if (s) return s;
    memcpy(p->mem, m->w.mem, sizeof(float) * m->w.n); /* biases, char embeddings */
    mat_ref r[MAX_MATS], q[MAX_MATS];
    elmo_model_mats *set = (elmo_model_mats *)m->mats; /* only its slots' addresses are taken */
    int n = mat_refs(&m->cfg, &m->w, set, r);
    mat_refs(&m->cfg, p, set, q);
    for (int k = 0; k < n && !s; k++) s = elmo_mat_unpack(*r[k].slot, q[k].w, r[k].N);
    if (s) elmo_params_free(p);
    return s;
}
