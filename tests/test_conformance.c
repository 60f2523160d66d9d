/*
 * test_conformance.c: elmo.c against the original TensorFlow outputs (../shared/fixtures).
 *
 * The 30 fixture sentences go through `elmo embed --stateful --batch-size 3` with batch i =
 * [S[0][i], S[1][i], S[2][i]] (line 3i+k = S[k][i]); layer 2 of every sentence must match
 * [fw ; bw] of lm_embeddings_k.hdf5 dataset "i" with numpy's allclose(atol 1e-6, rtol
 * 1e-5), for both fixture models (bilm-tf: no skip connections; allennlp: skip). The token
 * layer must match allennlp's elmo_token_embeddings.hdf5, and lower layers the intermediate
 * reference values of test_intermediate_values.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "io/h5io.h"
#include "core/options.h"
#include "testutil.h"

typedef struct {
    const char *name, *dir, *sentences;
} fixture_set;

static const fixture_set sets[] = {
    {"bilm-tf", "bilm-tf/model", "bilm-tf/model/lm_embeddings_sentences.json"},
    {"allennlp", "allennlp-elmo", "allennlp-elmo/sentences.json"},
};

/* Write the 30 sentences in batch order to path. */
static void write_sentences(const char *json_path, const char *path) {
    cJSON *root;
    assert_int_equal(elmo_json_load(json_path, &root), ELMO_OK);
    assert_int_equal(cJSON_GetArraySize(root), 3);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 10; i++)
        for (int k = 0; k < 3; k++) {
            cJSON *s = cJSON_GetArrayItem(cJSON_GetArrayItem(root, k), i);
            assert_true(cJSON_IsString(s));
            fprintf(f, "%s\n", s->valuestring);
        }
    fclose(f);
    cJSON_Delete(root);
}

/* The fixture set through `elmo embed ... extra`, every value within allclose(atol, rtol) of
 * the reference; returns the max |diff| (and its RMS in *rms). */
static double run_set_tol(const fixture_set *fs, const char *extra, double atol, double rtol,
                          double *rms) {
    char dir[512], in[512], out[512], args[4096];
    snprintf(dir, sizeof dir, "%s", fixture(fs->dir));
    snprintf(in, sizeof in, "%s", tmpfile_path("conf_in.txt"));
    snprintf(out, sizeof out, "%s", tmpfile_path("conf_out.hdf5"));
    write_sentences(fixture(fs->sentences), in);
    snprintf(args, sizeof args,
             "embed --options '%s/options.json' --weights '%s/lm_weights.hdf5' --input '%s' "
             "--output '%s' --stateful --batch-size 3 %s",
             dir, dir, in, out, extra);
    char *err = NULL;
    int rc = run_elmo(args, NULL, &err);
    if (rc != 0) fail_msg("elmo embed failed (%d): %s", rc, err ? err : "");
    free(err);
    double worst = 0, ss = 0;
    size_t cnt = 0;
    int all_ok = 1;
    for (int k = 0; k < 3; k++) {
        char expf[600];
        snprintf(expf, sizeof expf, "%s/lm_embeddings_%d.hdf5", dir, k);
        for (int i = 0; i < 10; i++) {
            char name[16];
            snprintf(name, sizeof name, "%d", i);
            float *e, *a;
            int re, ra;
            uint64_t de[4], da[4];
            assert_int_equal(elmo_h5_read(expf, name, &e, &re, de), ELMO_OK);
            snprintf(name, sizeof name, "%d", 3 * i + k);
            assert_int_equal(elmo_h5_read(out, name, &a, &ra, da), ELMO_OK);
            /* expected (2, n, 16): fw, bw; ours (3, n, 32) */
            assert_int_equal(re, 3);
            assert_int_equal(ra, 3);
            assert_int_equal(da[0], 3);
            assert_int_equal(da[1], de[1]); /* token count */
            size_t n = de[1], P = de[2];
            assert_int_equal(da[2], 2 * P);
            float *exp = malloc(sizeof(float) * n * 2 * P);
            for (size_t t = 0; t < n; t++)
                for (size_t d = 0; d < 2; d++)
                    memcpy(exp + t * 2 * P + d * P, e + (d * n + t) * P, sizeof(float) * P);
            cmp_result r = allclose(a + 2 * n * 2 * P, exp, n * 2 * P, atol, rtol);
            if (r.max_abs > worst) worst = r.max_abs;
            for (size_t q = 0; q < n * 2 * P; q++, cnt++)
                ss += (double)(a[2 * n * 2 * P + q] - exp[q]) * (a[2 * n * 2 * P + q] - exp[q]);
            if (!r.ok) {
                all_ok = 0;
                print_message("%s: sentence %d of file %d differs: max |diff| %.3g\n", fs->name, i,
                              k, r.max_abs);
            }
            free(exp);
            free(e);
            free(a);
        }
    }
    *rms = cnt ? sqrt(ss / cnt) : 0;
    print_message("%s fixture (%s): top layer max |diff| %.3g (RMS %.3g) over 30 sentences\n",
                  fs->name, extra[0] ? extra : "default threads", worst, *rms);
    assert_true(all_ok);
    return worst;
}

static void run_set(const fixture_set *fs, const char *extra) {
    double rms;
    run_set_tol(fs, extra, 1e-6, 1e-5, &rms);
}

static void test_bilm_tf_fixture(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    run_set(&sets[0], "");
    run_set(&sets[0], "--threads 1");
}

static void test_allennlp_fixture(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    run_set(&sets[1], "");
    run_set(&sets[1], "--threads 1");
}

/* bfloat16 (--precision bf16) on both fixtures: within its measured error of the reference
 * (the CPU's native bf16 kernels, or the emulation where it has none); int8 (--precision
 * int8: bf16 + int8 per-step weights) likewise */
static void test_bf16_fixtures(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    for (int k = 0; k < 2; k++) {
        double rms, worst = run_set_tol(&sets[k], "--precision bf16", 2e-2, 2e-2, &rms);
        assert_true(worst > 0 && rms < 5e-3);
    }
}

static void test_int8_fixtures(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    for (int k = 0; k < 2; k++) {
        double rms, worst = run_set_tol(&sets[k], "--precision int8", 3e-2, 3e-2, &rms);
        assert_true(worst > 0 && rms < 5e-3);
    }
}

/* elmo_token_embeddings.hdf5: row r = token layer of line r of vocab_test.txt */
static void test_token_embeddings(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    elmo_model *m;
    assert_int_equal(elmo_model_load(fixture("allennlp-elmo/options.json"),
                                     fixture("allennlp-elmo/lm_weights.hdf5"), &m),
                     ELMO_OK);
    size_t len;
    char *vocab = read_text(fixture("allennlp-elmo/vocab_test.txt"), &len);
    assert_non_null(vocab);
    const char *toks[1024];
    int n = 0;
    for (char *p = strtok(vocab, "\n"); p; p = strtok(NULL, "\n")) toks[n++] = p;
    assert_int_equal(n, 458);
    float *e;
    int rank;
    uint64_t dims[4];
    assert_int_equal(elmo_h5_read(fixture("allennlp-elmo/elmo_token_embeddings.hdf5"), "embedding",
                                  &e, &rank, dims),
                     ELMO_OK);
    assert_int_equal(dims[0], 458);
    assert_int_equal(dims[1], 16);
    float *got = malloc(sizeof(float) * 458 * 16);
    for (int reference = 0; reference < 2; reference++) {
        elmo_session *s;
        assert_int_equal(elmo_session_new(m, 1, 1, &s), ELMO_OK);
        elmo_session_set_reference(s, reference);
        assert_int_equal(elmo_token_vectors(s, n, toks, got), ELMO_OK);
        cmp_result r = allclose(got, e, 458 * 16, 1e-6, 1e-5);
        print_message("token embeddings (%s path): max |diff| %.3g (values up to 7.06)\n",
                      reference ? "reference" : "fast", r.max_abs);
        assert_true(r.ok);
        elmo_session_free(s);
    }
    free(got);
    free(e);
    free(vocab);
    elmo_model_free(m);
}

/* tok(<S>), tok(</S>), tok(The) and layer 1/2 of batch 0, row 0, token 0, first four values
 * (reference values from an independent re-implementation verified against the TensorFlow
 * outputs). */
static void test_intermediate_values(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    static const float want_tok[2][3][4] = {{{0.2661468f, 0.0951555f, 0.1373695f, -0.0493795f},
                                             {0.2548903f, 0.1271264f, 0.1449674f, -0.0498538f},
                                             {0.2379522f, 0.1492789f, 0.1591221f, -0.0379831f}},
                                            {{0.2898040f, -0.6028591f, -0.1826483f, 0.3293563f},
                                             {-2.3861544f, 0.8002945f, -4.2020656f, 0.6665351f},
                                             {1.4023353f, -1.9006824f, -0.3715611f, 2.3824228f}}};
    static const float want_l[2][2][2][4] = {
        {{{0.1777055f, -0.0777559f, -0.0753630f, 0.0459354f},
          {-0.1002359f, -0.6376222f, 0.1292893f, -0.0709486f}},
         {{0.0262729f, -0.4088042f, -0.3865758f, 0.1932873f},
          {0.0450538f, 0.0322384f, -0.7050310f, 0.7013511f}}},
        {{{1.6211002f, 2.5625694f, 0.8559413f, -2.0163378f},
          {-0.2741034f, 0.4789368f, -0.3757273f, 0.1941069f}},
         {{1.8224440f, 2.8207566f, 0.5328438f, -1.9163837f},
          {0.1582598f, 1.5020028f, -0.8261006f, -0.5911492f}}}};
    for (int f = 0; f < 2; f++) {
        char o[600], w[600];
        snprintf(o, sizeof o, "%s/options.json", fixture(sets[f].dir));
        snprintf(w, sizeof w, "%s/lm_weights.hdf5", fixture(sets[f].dir));
        elmo_model *m;
        assert_int_equal(elmo_model_load(o, w, &m), ELMO_OK);
        elmo_session *s;
        assert_int_equal(elmo_session_new(m, 3, 1, &s), ELMO_OK);
        const char *toks[3] = {"<S>", "</S>", "The"};
        float tv[3 * 16];
        assert_int_equal(elmo_token_vectors(s, 3, toks, tv), ELMO_OK);
        for (int k = 0; k < 3; k++)
            for (int d = 0; d < 4; d++) assert_float_equal(tv[k * 16 + d], want_tok[f][k][d], 2e-6);
        /* batch 0: the first sentence of each list */
        cJSON *root;
        assert_int_equal(elmo_json_load(fixture(sets[f].sentences), &root), ELMO_OK);
        const char *words[3][64];
        int n[3];
        char *copies[3];
        for (int k = 0; k < 3; k++) {
            copies[k] = strdup(cJSON_GetArrayItem(cJSON_GetArrayItem(root, k), 0)->valuestring);
            n[k] = 0;
            for (char *p = strtok(copies[k], " "); p; p = strtok(NULL, " ")) words[k][n[k]++] = p;
        }
        assert_int_equal(n[0], 50);
        assert_int_equal(n[1], 16);
        assert_int_equal(n[2], 53);
        float *out[3];
        for (int k = 0; k < 3; k++) out[k] = malloc(sizeof(float) * 3 * n[k] * 32);
        const char *const *tk[3] = {words[0], words[1], words[2]};
        elmo_session_set_stateful(s, 1);
        assert_int_equal(elmo_embed(s, 3, tk, n, out), ELMO_OK);
        for (int l = 0; l < 2; l++)
            for (int dir = 0; dir < 2; dir++)
                for (int d = 0; d < 4; d++)
                    assert_float_equal(out[0][(size_t)(l + 1) * n[0] * 32 + dir * 16 + d],
                                       want_l[f][l][dir][d], 2e-6);
        for (int k = 0; k < 3; k++) {
            free(out[k]);
            free(copies[k]);
        }
        cJSON_Delete(root);
        elmo_session_free(s);
        elmo_model_free(m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bilm_tf_fixture),  cmocka_unit_test(test_allennlp_fixture),
        cmocka_unit_test(test_bf16_fixtures),    cmocka_unit_test(test_int8_fixtures),
        cmocka_unit_test(test_token_embeddings), cmocka_unit_test(test_intermediate_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
