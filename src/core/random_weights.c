/* random_weights.c: see random_weights.h. */
#include "core/random_weights.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5io.h"
#include "core/options.h"
#include "io/util.h"

static float unif(elmo_rng *r, double lim) { return (float)((2 * elmo_rng_uniform(r) - 1) * lim); }

void elmo_random_params(const elmo_config *c, elmo_params *p, uint64_t seed) {
    elmo_rng r;
    elmo_rng_seed(&r, seed);
    int E = c->char_embed_dim, F = c->n_filters, P = c->projection_dim, H = c->lstm_dim;
    /* char_embed (NC, E): row 0 (no char) stays zero */
    for (size_t k = E; k < (size_t)ELMO_NC * E; k++) p->char_embed[k] = unif(&r, 1.0);
    for (int i = 0; i < c->n_banks; i++) {
        int K = c->filter_width[i], n = c->filter_count[i];
        double sd = 1.0 / sqrt(K * E / 3.0);
        /* conv_w (K, E, n), conv_b (n) */
        for (size_t k = 0; k < (size_t)K * E * n; k++)
            p->conv_w[i][k] = (float)(sd * elmo_rng_normal(&r));
        for (int k = 0; k < n; k++) p->conv_b[i][k] = unif(&r, 0.1);
    }
    for (int i = 0; i < c->n_highway; i++) {
        /* W_carry, W_transform (F, F) */
        for (size_t k = 0; k < (size_t)F * F; k++) {
            p->hw_wc[i][k] = (float)(sqrt(1.0 / F) * elmo_rng_normal(&r));
            p->hw_wt[i][k] = (float)(sqrt(1.0 / F) * elmo_rng_normal(&r));
        }
        for (int k = 0; k < F; k++) {
            p->hw_bc[i][k] = -2.0f + unif(&r, 0.1);
            p->hw_bt[i][k] = unif(&r, 0.1);
        }
    }
    if (c->has_cnn_proj) {
        /* W_proj (F, P) */
        for (size_t k = 0; k < (size_t)F * P; k++)
            p->proj_w[k] = (float)(sqrt(1.0 / F) * elmo_rng_normal(&r));
        for (int k = 0; k < P; k++) p->proj_b[k] = unif(&r, 0.1);
    }
    for (int l = 0; l < c->n_layers; l++)
        for (int d = 0; d < 2; d++) {
            /* W_0 (2P, 4H): rows 0..P-1 input (x2.5), rows P..2P-1 recurrent (x0.5) */
            double lim = sqrt(3.0 / (P + P));
            for (size_t row = 0; row < (size_t)2 * P; row++)
                for (size_t k = 0; k < (size_t)4 * H; k++)
                    p->lstm_w[d][l][row * 4 * H + k] =
                        unif(&r, lim) * (row < (size_t)P ? 2.5f : 0.5f);
            for (int k = 0; k < 4 * H; k++) p->lstm_b[d][l][k] = unif(&r, 0.5);
            /* W_P_0 (H, P) */
            if (c->has_lstm_proj)
                for (size_t k = 0; k < (size_t)H * P; k++)
                    p->lstm_p[d][l][k] = unif(&r, 3.0 * sqrt(3.0 / H));
        }
}

elmo_status elmo_random_model_write(const char *dir, const char *options_json, uint64_t seed) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return elmo_fail(ELMO_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    char *op = elmo_path_join(dir, "options.json"), *wp = elmo_path_join(dir, "weights.hdf5");
    elmo_status s = op && wp ? ELMO_OK : elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    if (!s) {
        FILE *f = fopen(op, "wb");
        size_t len = strlen(options_json);
        if (!f || fwrite(options_json, 1, len, f) != len)
            s = elmo_fail(ELMO_ERR_IO, "%s: cannot write", op);
        if (f && fclose(f) != 0 && !s) s = elmo_fail(ELMO_ERR_IO, "%s: cannot write", op);
    }
    elmo_config c;
    elmo_params p = {0};
    if (!s) s = elmo_config_load(op, &c);
    if (!s) s = elmo_params_alloc(&c, &p);
    if (!s) {
        elmo_random_params(&c, &p, seed);
        s = elmo_weights_write(wp, &c, &p);
    }
    elmo_params_free(&p);
    free(op);
    free(wp);
    return s;
}
