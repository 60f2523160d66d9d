/*
 * test_stateless.c: properties of the forward pass on random models of several shapes:
 *  - stateless results do not depend on the batch size nor on a sentence's place in its batch;
 *  - the fast path (packed LSTM GEMMs, trimmed char-CNN windows, token cache, two threads)
 *    equals the plain reference path on every layer (max |diff| <= 1e-5);
 *  - stateful mode carries state per row and reset clears it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "util.h"

/* Variants exercising every option: skip or not, relu/tanh, highway count, optional
 * projections, clips absent. */
static const char *variants[] = {
    "{\"lstm\": {\"dim\": 48, \"projection_dim\": 12, \"n_layers\": 2, \"cell_clip\": 3, "
    "\"proj_clip\": 3, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": 5}, "
    "\"filters\": [[1, 4], [2, 6], [3, 8], [5, 10]], \"n_highway\": 2, \"n_characters\": 262, "
    "\"max_characters_per_token\": 50, \"activation\": \"relu\"}}",
    /* tanh, no highway, three layers, no clips, no skip */
    "{\"lstm\": {\"dim\": 20, \"projection_dim\": 8, \"n_layers\": 3, "
    "\"use_skip_connections\": false}, \"char_cnn\": {\"embedding\": {\"dim\": 3}, "
    "\"filters\": [[1, 5], [4, 7]], \"n_highway\": 0, \"n_characters\": 261, "
    "\"max_characters_per_token\": 20, \"activation\": \"tanh\"}}",
    /* no CNN projection (F == P) and no LSTM projection (P == H) */
    "{\"lstm\": {\"dim\": 16, \"projection_dim\": 16, \"n_layers\": 2, \"cell_clip\": 2, "
    "\"proj_clip\": 0, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": 4}, "
    "\"filters\": [[2, 6], [3, 10]], \"n_highway\": 1, \"n_characters\": 262, "
    "\"max_characters_per_token\": 50, \"activation\": \"relu\"}}",
};

static const char *sentences[] = {
    "The bank raised interest rates .",
    "He sat on the river bank and watched the water .",
    "",
    "a",
    "Ünïcödé wörds and a veryveryveryveryveryveryveryveryveryverylongtokenthatexceedsfiftybytes",
    "The bank raised interest rates .",
    "Colorless green ideas sleep furiously , said the linguist , and nobody disagreed with "
    "that claim in the seminar room that afternoon",
    "<S> literal boundary tokens </S>",
};
#define NS (int)(sizeof sentences / sizeof *sentences)

typedef struct {
    char *copy;
    const char *tok[64];
    int n;
} tokenized;

static void tokenize(const char *s, tokenized *t) {
    t->copy = strdup(s);
    t->n = 0;
    for (char *p = strtok(t->copy, " "); p; p = strtok(NULL, " ")) t->tok[t->n++] = p;
}

/* Embed sentences [first, first+count) as batches of bs; outputs per sentence. */
static void embed_all(elmo_session *s, tokenized *ts, int bs, float **out) {
    for (int b0 = 0; b0 < NS; b0 += bs) {
        int B = NS - b0 < bs ? NS - b0 : bs;
        const char *const *tk[NS];
        int n[NS];
        for (int b = 0; b < B; b++) {
            tk[b] = ts[b0 + b].tok;
            n[b] = ts[b0 + b].n;
        }
        assert_int_equal(elmo_embed(s, B, tk, n, out + b0), ELMO_OK);
    }
}

static double maxdiff(float **a, float **b, tokenized *ts, int K, int D) {
    double m = 0;
    for (int i = 0; i < NS; i++) {
        cmp_result r = allclose(a[i], b[i], (size_t)K * ts[i].n * D, 0, 0);
        if (r.max_abs > m) m = r.max_abs;
    }
    return m;
}

static void test_variants(void **state) {
    (void)state;
    tokenized ts[NS];
    for (int i = 0; i < NS; i++) tokenize(sentences[i], &ts[i]);
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        char dir[300];
        snprintf(dir, sizeof dir, "%s/model%zu", tmpdir(), v);
        make_random_model(dir, variants[v], 1234 + v);
        elmo_model *m;
        assert_int_equal(elmo_model_load_dir(dir, &m), ELMO_OK);
        int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
        float *ref[NS], *out[NS];
        for (int i = 0; i < NS; i++) {
            ref[i] = calloc((size_t)K * (ts[i].n + 1) * D, sizeof(float));
            out[i] = calloc((size_t)K * (ts[i].n + 1) * D, sizeof(float));
        }
        /* the plain reference, one sentence per batch */
        elmo_session *sr;
        assert_int_equal(elmo_session_new(m, NS, 1, &sr), ELMO_OK);
        elmo_session_set_reference(sr, 1);
        embed_all(sr, ts, 1, ref);
        elmo_session_free(sr);
        /* the fast path: batch sizes 1, 3, all; 1 and 2 threads; cache on and off */
        int sizes[] = {1, 3, NS};
        for (int si = 0; si < 3; si++)
            for (int th = 1; th <= 2; th++)
                for (int cache = 0; cache < 2; cache++) {
                    elmo_session *s;
                    assert_int_equal(elmo_session_new(m, NS, th, &s), ELMO_OK);
                    elmo_session_set_token_cache(s, cache ? 4 : 0); /* tiny: forces evictions */
                    embed_all(s, ts, sizes[si], out);
                    embed_all(s, ts, sizes[si], out); /* second pass: cache hits */
                    double d = maxdiff(ref, out, ts, K, D);
                    if (d > 1e-5)
                        fail_msg("variant %zu, batch %d, %d threads, cache %d: max |diff| %.3g", v,
                                 sizes[si], th, cache, d);
                    elmo_session_free(s);
                }
        /* reversed order inside one batch: each sentence at another row */
        elmo_session *s;
        assert_int_equal(elmo_session_new(m, NS, 2, &s), ELMO_OK);
        tokenized rev[NS];
        float *rout[NS];
        for (int i = 0; i < NS; i++) {
            rev[i] = ts[NS - 1 - i];
            rout[i] = out[NS - 1 - i];
        }
        embed_all(s, rev, NS, rout);
        double d = maxdiff(ref, out, ts, K, D);
        print_message("variant %zu: fast vs reference, all batchings: max |diff| <= %.3g\n", v, d);
        assert_true(d <= 1e-5);
        elmo_session_free(s);
        for (int i = 0; i < NS; i++) {
            free(ref[i]);
            free(out[i]);
        }
        elmo_model_free(m);
    }
    for (int i = 0; i < NS; i++) free(ts[i].copy);
}

/* Stateful: the same sentence twice in the same row differs the second time; reset restores
 * the first result; other rows keep their state. Fast and reference paths agree. */
static void test_stateful(void **state) {
    (void)state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/stateful", tmpdir());
    make_random_model(dir, variants[0], 99);
    elmo_model *m;
    assert_int_equal(elmo_model_load_dir(dir, &m), ELMO_OK);
    int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
    tokenized a, b;
    tokenize("the cat sat on the mat", &a);
    tokenize("dogs bark", &b);
    size_t na = (size_t)K * a.n * D, nb = (size_t)K * b.n * D;
    float *o[4][2];
    for (int r = 0; r < 4; r++) {
        o[r][0] = malloc(sizeof(float) * na);
        o[r][1] = malloc(sizeof(float) * nb);
    }
    for (int reference = 0; reference < 2; reference++) {
        elmo_session *s;
        assert_int_equal(elmo_session_new(m, 2, 2, &s), ELMO_OK);
        elmo_session_set_stateful(s, 1);
        elmo_session_set_reference(s, reference);
        const char *const *tk[2] = {a.tok, b.tok};
        int n[2] = {a.n, b.n};
        assert_int_equal(elmo_embed(s, 2, tk, n, o[0]), ELMO_OK);
        assert_int_equal(elmo_embed(s, 2, tk, n, o[1]), ELMO_OK);
        cmp_result r = allclose(o[0][0] + (size_t)a.n * D, o[1][0] + (size_t)a.n * D,
                                na - (size_t)a.n * D, 0, 0);
        assert_true(r.max_abs > 1e-4); /* state carried: LSTM layers differ */
        cmp_result r0 = allclose(o[0][0], o[1][0], (size_t)a.n * D, 0, 0);
        assert_true(r0.max_abs == 0); /* the token layer does not */
        /* reset row 0 only: row 0 repeats its first result, row 1 continues */
        assert_int_equal(elmo_session_reset_row(s, 0), ELMO_OK);
        assert_int_equal(elmo_embed(s, 2, tk, n, o[2]), ELMO_OK);
        assert_true(allclose(o[2][0], o[0][0], na, 1e-6, 0).ok);
        assert_false(allclose(o[2][1], o[0][1], nb, 1e-6, 0).ok);
        /* a batch of one touches only row 0 */
        elmo_session_reset(s);
        assert_int_equal(elmo_embed(s, 1, tk, n, o[3]), ELMO_OK);
        assert_true(allclose(o[3][0], o[0][0], na, 1e-6, 0).ok);
        /* more rows than the state capacity is refused */
        const char *const *tk3[3] = {a.tok, b.tok, a.tok};
        int n3[3] = {a.n, b.n, a.n};
        float *o3[3] = {o[0][0], o[0][1], o[1][0]};
        assert_int_equal(elmo_embed(s, 3, tk3, n3, o3), ELMO_ERR_STATE);
        assert_non_null(strstr(elmo_last_error(), "exceeds"));
        elmo_session_free(s);
    }
    for (int r = 0; r < 4; r++) {
        free(o[r][0]);
        free(o[r][1]);
    }
    free(a.copy);
    free(b.copy);
    elmo_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_stateful),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
