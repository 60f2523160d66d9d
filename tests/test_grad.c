/*
 * test_grad.c: every backward pass against central finite differences, in double precision
 * on tiny sizes: the token encoder (char CNN with trimmed windows and all-PAD windows,
 * highway, projection), the LSTM with projection and both clips, the full and the sampled
 * softmax, and the whole biLM objective (both directions, dropout, residuals). The tests call
 * the double build (names ending in _d); training runs the same sources compiled for float
 * (_f; see src/train/grad.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/grad.h"
#include "core/options.h"
#include "testutil.h"

#define EPS 1e-6
#define TOL 1e-4

typedef double (*loss_fn)(void *ctx);

/* Compare analytic gradients ga (n) of the parameters x (n) with central differences of f. */
static double check(const char *what, loss_fn f, void *ctx, double *x, const double *ga, size_t n,
                    size_t stride) {
    double worst = 0;
    size_t checked = 0;
    for (size_t i = 0; i < n; i += stride) {
        double save = x[i];
        x[i] = save + EPS;
        double lp = f(ctx);
        x[i] = save - EPS;
        double lm = f(ctx);
        x[i] = save;
        double num = (lp - lm) / (2 * EPS), an = ga[i];
        double scale = fmax(fabs(num), fabs(an));
        double err = fabs(num - an) / fmax(scale, 1e-5); /* absolute below 1e-5 */
        if (err > worst) worst = err;
        if (err > TOL) print_message("%s[%zu]: numeric %.10g analytic %.10g\n", what, i, num, an);
        checked++;
    }
    print_message("%-28s %6zu values checked, max relative error %.2e\n", what, checked, worst);
    return worst;
}

static void fill(elmo_rng *r, double *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (2 * elmo_rng_uniform(r) - 1);
}

static const char *tiny_options =
    "{\"lstm\": {\"dim\": 6, \"projection_dim\": 4, \"n_layers\": 2, \"cell_clip\": 0.8, "
    "\"proj_clip\": 0.6, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": "
    "3}, "
    "\"filters\": [[1, 3], [2, 4], [3, 5]], \"n_highway\": 2, \"n_characters\": 261, "
    "\"max_characters_per_token\": 8, \"activation\": \"tanh\"}}";

static void load_cfg(const char *json, elmo_config *c) {
    const char *p = tmpfile_path("grad_options.json");
    write_file(p, json, strlen(json));
    assert_int_equal(elmo_config_load(p, c), ELMO_OK);
}

/* Random char ids of N tokens: words of 1..W-2 bytes (some full length, some short). */
static void random_ids(elmo_rng *r, int N, int W, int16_t *ids) {
    for (int n = 0; n < N; n++) {
        int len = 1 + (int)elmo_rng_below(r, W - 2);
        char w[64];
        for (int k = 0; k < len; k++) w[k] = (char)('a' + elmo_rng_below(r, 6));
        elmo_char_ids(w, (size_t)len, W, ids + (size_t)n * W);
    }
}

/* ---- token encoder */
typedef struct {
    elmo_config c;
    tparams_d p, g;
    int N;
    int16_t *ids;
    double *r, *tok, *xs, *hg, *ht, *A, *Z, *dxs;
    int *rs;
    int32_t *am;
} enc_ctx;

static double enc_loss(void *vc) {
    enc_ctx *e = vc;
    tokenc_forward_d(&e->c, &e->p, e->N, e->ids, e->tok, e->rs, e->am, e->xs, e->hg, e->ht, e->A,
                     e->Z);
    double l = 0;
    for (size_t k = 0; k < (size_t)e->N * e->c.projection_dim; k++) l += e->tok[k] * e->r[k];
    return l;
}

static void test_token_encoder(void **state) {
    (void)state;
    for (int act = 0; act < 2; act++) {
        enc_ctx e = {0};
        load_cfg(tiny_options, &e.c);
        e.c.activation = act;
        elmo_rng r;
        elmo_rng_seed(&r, 11 + act);
        size_t np = elmo_params_count(&e.c);
        double *pm = calloc(np, sizeof(double)), *gm = calloc(np, sizeof(double));
        tparams_bind_d(&e.c, &e.p, pm);
        tparams_bind_d(&e.c, &e.g, gm);
        fill(&r, pm, np, 0.6);
        memset(e.p.char_embed, 0, sizeof(double) * e.c.char_embed_dim); /* id 0 row stays zero */
        int W = e.c.max_chars, F = e.c.n_filters, P = e.c.projection_dim, NH = e.c.n_highway;
        e.N = 12;
        e.ids = malloc(sizeof(int16_t) * e.N * W);
        random_ids(&r, e.N, W, e.ids);
        e.r = malloc(sizeof(double) * e.N * P);
        fill(&r, e.r, (size_t)e.N * P, 1);
        e.tok = malloc(sizeof(double) * e.N * P);
        e.xs = malloc(sizeof(double) * (NH + 1) * e.N * F);
        e.hg = malloc(sizeof(double) * NH * e.N * F);
        e.ht = malloc(sizeof(double) * NH * e.N * F);
        e.A = malloc(sizeof(double) * e.N * W * 3 * 3);
        e.Z = malloc(sizeof(double) * (e.N * W * 5 + 2 * e.N * F));
        e.dxs = malloc(sizeof(double) * 2 * e.N * F);
        e.rs = malloc(sizeof(int) * e.N);
        e.am = malloc(sizeof(int32_t) * e.N * F);
        enc_loss(&e);
        tokenc_backward_d(&e.c, &e.p, &e.g, e.N, e.ids, e.r, e.rs, e.am, e.xs, e.hg, e.ht, e.A, e.Z,
                          e.dxs);
        /* row 0 of the char table is fixed at zero: no gradient is expected there */
        double worst =
            check(act ? "token encoder (tanh)" : "token encoder (relu)", enc_loss, &e,
                  pm + e.c.char_embed_dim, gm + e.c.char_embed_dim, np - e.c.char_embed_dim, 1);
        assert_true(worst <= TOL);
        free(pm), free(gm), free(e.ids), free(e.r), free(e.tok), free(e.xs), free(e.hg), free(e.ht);
        free(e.A), free(e.Z), free(e.dxs), free(e.rs), free(e.am);
    }
}

/* ---- LSTM layer */
typedef struct {
    elmo_config c;
    int T, B;
    double *W, *b, *Wp, *x, *h0, *c0, *y, *gates, *cs, *tc, *u, *r, *hz;
    const uint8_t *reset;
} lstm_ctx;

static double lstm_loss(void *vc) {
    lstm_ctx *s = vc;
    lstm_train_forward_d(&s->c, s->W, s->b, s->Wp, s->T, s->B, s->x, s->h0, s->c0, s->reset, s->y,
                         s->gates, s->cs, s->tc, s->u, s->hz);
    double l = 0;
    for (size_t k = 0; k < (size_t)s->T * s->B * s->c.projection_dim; k++) l += s->y[k] * s->r[k];
    return l;
}

static void test_lstm(void **state) {
    (void)state;
    /* row restarts (sentence starts) at t=0 of row 1, t=2 of rows 0 and 2, t=4 of row 1 */
    static const uint8_t resets[5 * 3] = {0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0};
    for (int variant = 0; variant < 3; variant++) {
        int proj = variant > 0;
        lstm_ctx s = {0};
        s.reset = variant == 2 ? resets : NULL;
        load_cfg(tiny_options, &s.c);
        if (!proj) { /* no projection: P == H */
            s.c.lstm_dim = s.c.projection_dim;
            s.c.has_lstm_proj = 0;
        }
        s.T = 5;
        s.B = 3;
        int P = s.c.projection_dim, H = s.c.lstm_dim, N = s.T * s.B;
        elmo_rng r;
        elmo_rng_seed(&r, 5 + proj);
#define AL(f, n) s.f = malloc(sizeof(double) * (size_t)(n))
        AL(W, 2 * P * 4 * H);
        AL(b, 4 * H);
        AL(Wp, H * P);
        AL(x, N * P);
        AL(h0, s.B * P);
        AL(c0, s.B * H);
        AL(y, N * P);
        AL(gates, N * 4 * H);
        AL(cs, (N + s.B) * H);
        AL(tc, N * H);
        AL(u, N * H);
        AL(r, N * P);
        AL(hz, s.B * P);
        fill(&r, s.W, 2 * P * 4 * H, 1.0);
        fill(&r, s.b, 4 * H, 0.5);
        fill(&r, s.Wp, H * P, 1.2);
        fill(&r, s.x, N * P, 1);
        fill(&r, s.h0, s.B * P, 0.5);
        fill(&r, s.c0, s.B * H, 0.5);
        fill(&r, s.r, N * P, 1);
        double *dW = calloc(2 * P * 4 * H, sizeof(double)), *db = calloc(4 * H, sizeof(double));
        double *dWp = calloc(H * P, sizeof(double)), *dx = calloc(N * P, sizeof(double));
        double *dG = malloc(sizeof(double) * N * 4 * H), *dh = malloc(sizeof(double) * s.B * P);
        double *dc = malloc(sizeof(double) * s.B * H), *du = malloc(sizeof(double) * s.B * H);
        double *xh = malloc(sizeof(double) * N * 2 * P);
        lstm_loss(&s);
        /* some values must actually be clipped for the test to mean something */
        int clipped_c = 0, clipped_h = 0;
        for (int k = 0; k < N * H; k++) clipped_c += fabs(s.cs[s.B * H + k]) >= 0.8;
        for (int k = 0; k < N * P; k++) clipped_h += fabs(s.y[k]) >= 0.6;
        print_message("LSTM (%s%s): %d of %d cell values and %d of %d outputs clipped\n",
                      proj ? "projection" : "no projection", s.reset ? ", row restarts" : "",
                      clipped_c, N * H, clipped_h, N * P);
        assert_true(clipped_c > 0);
        if (proj) assert_true(clipped_h > 0);
        lstm_train_backward_d(&s.c, s.W, s.Wp, s.T, s.B, s.x, s.h0, s.reset, s.y, s.gates, s.cs,
                              s.tc, s.u, s.r, dx, dW, db, dWp, dG, dh, dc, du, xh);
        double w = 0;
        w = fmax(w, check("LSTM W_0", lstm_loss, &s, s.W, dW, 2 * P * 4 * H, 1));
        w = fmax(w, check("LSTM B", lstm_loss, &s, s.b, db, 4 * H, 1));
        if (proj) w = fmax(w, check("LSTM W_P_0", lstm_loss, &s, s.Wp, dWp, H * P, 1));
        w = fmax(w, check("LSTM input x", lstm_loss, &s, s.x, dx, N * P, 1));
        assert_true(w <= TOL);
        free(s.W), free(s.b), free(s.Wp), free(s.x), free(s.h0), free(s.c0), free(s.y),
            free(s.gates);
        free(s.cs), free(s.tc), free(s.u), free(s.r), free(dW), free(db), free(dWp), free(dx);
        free(dG), free(dh), free(dc), free(du), free(xh), free(s.hz);
    }
}

/* ---- softmax */
typedef struct {
    int N, P, V, S, tries, full;
    double *h, *W, *b, *logq_c, *logq_y, *ws;
    int32_t *y, *cand;
} sm_ctx;

static double sm_loss(void *vc) {
    sm_ctx *s = vc;
    if (s->full)
        return 0.7 * softmax_full_d(s->N, s->P, s->V, s->h, s->y, s->W, s->b, 0.7, NULL, NULL, NULL,
                                    s->ws);
    return 0.7 * softmax_sampled_d(s->N, s->P, s->S, s->h, s->y, s->cand, s->logq_c, s->logq_y,
                                   s->W, s->b, 0.7, NULL, NULL, NULL, NULL, NULL, s->ws);
}

static void test_softmax(void **state) {
    (void)state;
    sm_ctx s = {0};
    s.N = 9, s.P = 4, s.V = 15, s.S = 6;
    elmo_rng r;
    elmo_rng_seed(&r, 3);
    s.h = malloc(sizeof(double) * s.N * s.P);
    s.W = malloc(sizeof(double) * s.V * s.P);
    s.b = malloc(sizeof(double) * s.V);
    s.y = malloc(sizeof(int32_t) * s.N);
    s.cand = malloc(sizeof(int32_t) * s.S);
    float lq[16];
    uint8_t seen[16] = {0};
    s.tries = elmo_sample_log_uniform(&r, s.V, s.S, s.cand, lq, seen);
    s.logq_c = malloc(sizeof(double) * s.S);
    s.logq_y = malloc(sizeof(double) * s.N);
    for (int k = 0; k < s.S; k++) s.logq_c[k] = elmo_log_uniform_logq(s.V, s.cand[k], s.tries);
    fill(&r, s.h, s.N * s.P, 1);
    fill(&r, s.W, s.V * s.P, 1);
    fill(&r, s.b, s.V, 0.5);
    for (int n = 0; n < s.N; n++) {
        /* some targets are among the candidates (accidental hits) */
        s.y[n] = n % 3 == 0 ? s.cand[n % s.S] : (int32_t)elmo_rng_below(&r, s.V);
        s.logq_y[n] = elmo_log_uniform_logq(s.V, s.y[n], s.tries);
    }
    s.ws = malloc(sizeof(double) *
                  (elmo_softmax_sampled_ws(s.N, s.P, s.S) + ELMO_SOFTMAX_CHUNK * s.V));
    double *dh = calloc(s.N * s.P, sizeof(double)), *dWc = calloc(s.S * s.P, sizeof(double));
    double *dbc = calloc(s.S, sizeof(double)), *dWy = calloc(s.N * s.P, sizeof(double));
    double *dby = calloc(s.N, sizeof(double));
    softmax_sampled_d(s.N, s.P, s.S, s.h, s.y, s.cand, s.logq_c, s.logq_y, s.W, s.b, 0.7, dh, dWc,
                      dbc, dWy, dby, s.ws);
    /* scatter the sparse rows into dense dW, db */
    double *dW = calloc(s.V * s.P, sizeof(double)), *db = calloc(s.V, sizeof(double));
    for (int k = 0; k < s.S; k++) {
        for (int q = 0; q < s.P; q++) dW[s.cand[k] * s.P + q] += dWc[k * s.P + q];
        db[s.cand[k]] += dbc[k];
    }
    for (int n = 0; n < s.N; n++) {
        for (int q = 0; q < s.P; q++) dW[s.y[n] * s.P + q] += dWy[n * s.P + q];
        db[s.y[n]] += dby[n];
    }
    double w = check("sampled softmax h", sm_loss, &s, s.h, dh, s.N * s.P, 1);
    w = fmax(w, check("sampled softmax W", sm_loss, &s, s.W, dW, s.V * s.P, 1));
    w = fmax(w, check("sampled softmax b", sm_loss, &s, s.b, db, s.V, 1));
    s.full = 1;
    memset(dW, 0, sizeof(double) * s.V * s.P);
    memset(db, 0, sizeof(double) * s.V);
    softmax_full_d(s.N, s.P, s.V, s.h, s.y, s.W, s.b, 0.7, dh, dW, db, s.ws);
    w = fmax(w, check("full softmax h", sm_loss, &s, s.h, dh, s.N * s.P, 1));
    w = fmax(w, check("full softmax W", sm_loss, &s, s.W, dW, s.V * s.P, 1));
    w = fmax(w, check("full softmax b", sm_loss, &s, s.b, db, s.V, 1));
    assert_true(w <= TOL);
    /* the sampler: S distinct ids within [0, V) */
    for (int a = 0; a < s.S; a++) {
        assert_true(s.cand[a] >= 0 && s.cand[a] < s.V);
        for (int b2 = a + 1; b2 < s.S; b2++) assert_true(s.cand[a] != s.cand[b2]);
    }
    free(s.h), free(s.W), free(s.b), free(s.y), free(s.cand), free(s.logq_c), free(s.logq_y),
        free(s.ws);
    free(dh), free(dWc), free(dbc), free(dWy), free(dby), free(dW), free(db);
}

/* ---- the whole model: both directions, dropout (fixed masks), residuals, sampled softmax */
typedef struct {
    bilm_trainer_d t;
    elmo_train_batch bt;
    int32_t cand[8];
    double logq_c[8];
    int tries;
    uint64_t seed;
    double *grad, *sm_grad_W, *sm_grad_b;
    double *state_copy;
    size_t state_n;
} model_ctx;

static double model_run(model_ctx *m, int backward) {
    /* same dropout masks and same initial state at every evaluation */
    memcpy(m->t.mem, m->state_copy, sizeof(double) * m->state_n);
    double loss = 0;
    for (int d = 0; d < 2; d++) {
        elmo_dropout_key drop = {m->seed + (uint64_t)d, m->bt.B, 0};
        tparams_d g;
        tparams_bind_d(m->t.c, &g, m->grad);
        sparse_rows_d sm = {0};
        loss += 0.25 * bilm_direction_step_d(&m->t, d, &m->bt, m->cand, m->logq_c, m->tries, &drop,
                                             0.25, &g, &sm, backward);
        if (backward)
            for (int k = 0; k < sm.n; k++) {
                for (int q = 0; q < m->t.c->projection_dim; q++)
                    m->sm_grad_W[sm.ids[k] * m->t.c->projection_dim + q] +=
                        sm.dW[k * m->t.c->projection_dim + q];
                m->sm_grad_b[sm.ids[k]] += sm.db[k];
            }
    }
    return loss;
}

static double model_loss(void *vc) { return model_run(vc, 0); }

static void test_whole_model(void **state) {
    (void)state;
    for (int sampled = 0; sampled < 2; sampled++) {
        elmo_config c;
        load_cfg(tiny_options, &c);
        c.activation = ELMO_ACT_RELU;
        int V = 12, B = 2, T = 3, P = c.projection_dim, W = c.max_chars;
        elmo_rng r;
        elmo_rng_seed(&r, 21);
        size_t np = elmo_params_count(&c);
        double *pm = calloc(np, sizeof(double)), *sW = malloc(sizeof(double) * V * P),
               *sb = malloc(sizeof(double) * V);
        fill(&r, pm, np, 0.5);
        memset(pm, 0, sizeof(double) * c.char_embed_dim);
        fill(&r, sW, V * P, 1);
        fill(&r, sb, V, 0.3);
        model_ctx m = {0};
        m.seed =
            78; /* dropout key (counter-based masks; 77's put element 1154 at 1.02e-4: FD noise) */
        assert_int_equal(bilm_trainer_init_d(&m.t, &c, V, B, T, sampled ? 5 : 0, 0.2, pm, sW, sb),
                         ELMO_OK);
        int16_t *ids[2];
        int32_t *tg[2];
        for (int d = 0; d < 2; d++) {
            ids[d] = malloc(sizeof(int16_t) * T * B * W);
            tg[d] = malloc(sizeof(int32_t) * T * B);
            random_ids(&r, T * B, W, ids[d]);
            for (int k = 0; k < T * B; k++) tg[d][k] = (int32_t)elmo_rng_below(&r, V);
            m.bt.ids[d] = ids[d];
            m.bt.targets[d] = tg[d];
        }
        m.bt.B = B;
        m.bt.T = T;
        /* the sampled-softmax variant also has sentence starts inside the window */
        static const uint8_t rst_fw[3 * 2] = {0, 0, 1, 0, 0, 1}, rst_bw[3 * 2] = {0, 1, 0, 0, 0, 0};
        m.bt.reset[0] = sampled ? rst_fw : NULL;
        m.bt.reset[1] = sampled ? rst_bw : NULL;
        if (sampled) {
            float lq[8];
            uint8_t seen[16] = {0};
            m.tries = elmo_sample_log_uniform(&r, V, 5, m.cand, lq, seen);
            for (int k = 0; k < 5; k++) m.logq_c[k] = elmo_log_uniform_logq(V, m.cand[k], m.tries);
        }
        /* a non-zero carried state, as after earlier batches */
        m.state_n = 2 * c.n_layers * (size_t)B * (P + c.lstm_dim);
        m.state_copy = malloc(sizeof(double) * m.state_n);
        fill(&r, m.state_copy, m.state_n, 0.3);
        m.grad = calloc(np, sizeof(double));
        m.sm_grad_W = calloc(V * P, sizeof(double));
        m.sm_grad_b = calloc(V, sizeof(double));
        model_run(&m, 1);
        const char *name = sampled ? "whole biLM, sampled softmax" : "whole biLM, full softmax";
        double w = check(name, model_loss, &m, pm + c.char_embed_dim, m.grad + c.char_embed_dim,
                         np - c.char_embed_dim, 1);
        w = fmax(w, check("  softmax W", model_loss, &m, sW, m.sm_grad_W, V * P, 1));
        w = fmax(w, check("  softmax b", model_loss, &m, sb, m.sm_grad_b, V, 1));
        assert_true(w <= TOL);
        bilm_trainer_free_d(&m.t);
        for (int d = 0; d < 2; d++) free(ids[d]), free(tg[d]);
        free(pm), free(sW), free(sb), free(m.state_copy), free(m.grad), free(m.sm_grad_W),
            free(m.sm_grad_b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_encoder),
        cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_whole_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
