/*
 * test_heads.c: the classifier's heads beyond the mean (issue 16): the pooling statistics'
 * shapes and values, attention pooling's gradients against finite differences, every pooling
 * and the elmo+bow concatenation trained end to end with the fixture biLM (a tiny overfit
 * case, the file round trip, the cached statistics against the token-level definition, with
 * and without standardisation), the bag of words' word and character n-grams, the bag of
 * words reading past the biLM's --max-tokens, prediction a chunk of texts at a time, and
 * classifier files of version 1 still loading with the same predictions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/classify.h"
#include "tasks/pooling.h"
#include "testutil.h"
#include "io/util.h"

static char g_args[8192];

static double json_number(const char *json, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(json, k);
    assert_non_null(p);
    return atof(p + strlen(k));
}

/* mean+max of a known (K 2, n 3, D 2) input: (2, K, D) */
static void test_pool_stats(void **state) {
    (void)state;
    const float layers[] = {1, -1, 2,  5, 3, 2, /* layer 0: tokens (1,-1) (2,5) (3,2) */
                            0, 0,  -6, 3, 3, 0};
    float out[8];
    elmo_pool_stats(ELMO_POOL_MEANMAX, 2, 3, 2, layers, out);
    const float want[] = {2, 2, -1, 1, /* means */ 3, 5, 3, 3 /* maxima */};
    for (int k = 0; k < 8; k++) assert_float_equal(out[k], want[k], 1e-6);
    assert_int_equal(elmo_pool_n_stats(ELMO_POOL_MEANMAX), 2);
    assert_int_equal(elmo_pool_n_stats(ELMO_POOL_ATTN), 0);
    assert_int_equal(elmo_pool_width(ELMO_POOL_MEANMAX, 7), 14);
    assert_int_equal(elmo_pool_parse("attention"), ELMO_POOL_ATTN);
    assert_int_equal(elmo_pool_parse("cnn"), ELMO_POOL_CNN);
    assert_int_equal(elmo_pool_n_stats(ELMO_POOL_CNN), 0);
    assert_string_equal(elmo_pool_name(ELMO_POOL_CNN), "cnn");
    assert_int_equal(elmo_pool_parse("median"), -1);
    assert_float_equal(elmo_pool_from_bf16(elmo_pool_to_bf16(1.5f)), 1.5f, 0);
}

/* loss = r . out: dw, dgamma, dv of attention pooling against central differences */
static double attn_loss(int K, int n, int D, const float *layers, const float *w, float gamma,
                        const float *v, const float *r) {
    float mixed[64 * 8], alpha[8], out[64];
    elmo_attn_pool_forward(K, n, D, layers, w, gamma, v, mixed, alpha, out);
    double l = 0;
    for (int d = 0; d < D; d++) l += (double)r[d] * out[d];
    return l;
}

static void test_attention_gradients(void **state) {
    (void)state;
    enum { K = 3, N = 5, D = 6 };
    elmo_rng rg;
    elmo_rng_seed(&rg, 11);
    float layers[K * N * D], w[K], v[D], r[D], gamma = 1.3f;
    for (int k = 0; k < K * N * D; k++) layers[k] = (float)(2 * elmo_rng_uniform(&rg) - 1);
    for (int k = 0; k < K; k++) w[k] = (float)(elmo_rng_uniform(&rg) - 0.5);
    for (int k = 0; k < D; k++)
        v[k] = (float)(elmo_rng_uniform(&rg) - 0.5), r[k] = (float)(2 * elmo_rng_uniform(&rg) - 1);
    float mixed[N * D], alpha[N], out[D], dmixed[N * D], dw[K] = {0}, dg = 0, dv[D] = {0};
    elmo_attn_pool_forward(K, N, D, layers, w, gamma, v, mixed, alpha, out);
    double asum = 0;
    for (int t = 0; t < N; t++) asum += alpha[t];
    assert_float_equal(asum, 1.0, 1e-5);
    elmo_attn_pool_backward(K, N, D, layers, w, gamma, v, mixed, alpha, r, dmixed, dw, &dg, dv);
    const float h = 1e-2f;
    double worst = 0;
    for (int k = 0; k < K + 1 + D; k++) {
        float *p = k < K ? &w[k] : k == K ? &gamma : &v[k - K - 1];
        double an = k < K ? dw[k] : k == K ? dg : dv[k - K - 1];
        float keep = *p;
        *p = keep + h;
        double lp = attn_loss(K, N, D, layers, w, gamma, v, r);
        *p = keep - h;
        double lm = attn_loss(K, N, D, layers, w, gamma, v, r);
        *p = keep;
        double num = (lp - lm) / (2 * h), err = fabs(num - an) / fmax(1e-2, fabs(num));
        worst = fmax(worst, err);
    }
    print_message("attention pooling: worst relative gradient error %.2g\n", worst);
    assert_true(worst < 2e-2);
}

/* loss = r . out: dw, dgamma, dU, dc of CNN pooling against central differences (max over
 * time and relu are piecewise linear: the seed gives peaks apart by more than the step) */
enum { CK = 3, CN = 6, CD = 4 };
static double cnn_loss(const float *layers, const float *w, float gamma, const float *U,
                       const float *c, const float *r, int32_t *arg, float *out) {
    float mixed[CN * CD], win[CN * 3 * CD], a[CN * CD];
    elmo_cnn_pool_forward(CK, CN, CD, CD, layers, w, gamma, U, c, mixed, win, a, arg, out);
    double l = 0;
    for (int f = 0; f < CD; f++) l += (double)r[f] * out[f];
    return l;
}

static void test_cnn_gradients(void **state) {
    (void)state;
    elmo_rng rg;
    elmo_rng_seed(&rg, 12);
    float layers[CK * CN * CD], w[CK], U[CD * 3 * CD], c[CD], r[CD], gamma = 1.3f;
    for (int k = 0; k < CK * CN * CD; k++) layers[k] = (float)(2 * elmo_rng_uniform(&rg) - 1);
    for (int k = 0; k < CK; k++) w[k] = (float)(elmo_rng_uniform(&rg) - 0.5);
    for (int k = 0; k < CD * 3 * CD; k++) U[k] = (float)(elmo_rng_uniform(&rg) - 0.5);
    for (int k = 0; k < CD; k++)
        c[k] = (float)(elmo_rng_uniform(&rg) - 0.5), r[k] = (float)(2 * elmo_rng_uniform(&rg) - 1);
    c[0] = -10; /* one filter never fires: relu gives it no gradient */
    int32_t arg[CD];
    float out[CD], mixed[CN * CD], dmixed[CN * CD], dw[CK] = {0}, dg = 0, dU[CD * 3 * CD] = {0},
                                                    dc[CD] = {0};
    cnn_loss(layers, w, gamma, U, c, r, arg, out);
    assert_float_equal(out[0], 0, 0);
    elmo_cnn_pool_backward(CK, CN, CD, CD, layers, w, gamma, U, arg, out, r, mixed, dmixed, dw, &dg,
                           dU, dc);
    const float h = 1e-3f;
    double worst = 0;
    int np = CK + 1 + CD * 3 * CD + CD;
    for (int k = 0; k < np; k++) {
        int u = k - CK - 1, v = u - CD * 3 * CD;
        float *p = k < CK ? &w[k] : k == CK ? &gamma : v < 0 ? &U[u] : &c[v];
        double an = k < CK ? dw[k] : k == CK ? dg : v < 0 ? dU[u] : dc[v];
        float keep = *p, o2[CD];
        int32_t a2[CD];
        *p = keep + h;
        double lp = cnn_loss(layers, w, gamma, U, c, r, a2, o2);
        *p = keep - h;
        double lm = cnn_loss(layers, w, gamma, U, c, r, a2, o2);
        *p = keep;
        double num = (lp - lm) / (2 * h), err = fabs(num - an) / fmax(1e-2, fabs(num));
        worst = fmax(worst, err);
    }
    print_message("cnn pooling: worst relative gradient error %.2g over %d parameters\n", worst,
                  np);
    assert_true(worst < 2e-2);
}

static const char *spam_words[] = {"win",   "cash",  "prize", "free",
                                   "money", "claim", "offer", "urgent"};
static const char *ham_words[] = {"rain", "sun",  "cloud", "weather",
                                  "cold", "warm", "snow",  "wind"};

static void write_tsv(const char *path, int n, uint64_t seed) {
    elmo_rng r;
    elmo_rng_seed(&r, seed);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < n; i++) {
        int spam = (int)elmo_rng_below(&r, 2), len = 3 + (int)elmo_rng_below(&r, 5);
        fprintf(f, "%s\t", spam ? "spam" : "ham");
        for (int k = 0; k < len; k++)
            fprintf(f, "%s%s", k ? " " : "",
                    spam ? spam_words[elmo_rng_below(&r, 8)] : ham_words[elmo_rng_below(&r, 8)]);
        fprintf(f, "\n");
    }
    fclose(f);
}

/* The classifier's probabilities from its cached statistics equal the token-level definition. */
static double cached_vs_slow(const char *clf) {
    elmo_classifier *c;
    assert_int_equal(elmo_classifier_load(clf, &c), ELMO_OK);
    elmo_model *m;
    assert_int_equal(elmo_model_load_dir(fixture_model_dir(), &m), ELMO_OK);
    assert_int_equal(elmo_classifier_attach(c, m, NULL), ELMO_OK);
    const char *texts[] = {"win free cash prize", "rain and cold wind today with snow",
                           "urgent offer"};
    size_t lens[3];
    for (int i = 0; i < 3; i++) lens[i] = strlen(texts[i]);
    float fast[6];
    assert_int_equal(elmo_classifier_predict(c, texts, lens, 3, fast, NULL, NULL), ELMO_OK);
    elmo_session *s;
    assert_int_equal(elmo_session_new(m, 1, 1, &s), ELMO_OK);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        char copy[128];
        strcpy(copy, texts[i]);
        const char *tok[16];
        int n = 0;
        for (char *p = strtok(copy, " "); p; p = strtok(NULL, " ")) tok[n++] = p;
        float *layers = malloc(sizeof(float) * 3 * n * 32), x[64], slow[2];
        const char *const *tk[1] = {tok};
        assert_int_equal(elmo_embed(s, 1, tk, &n, &layers), ELMO_OK);
        int pool = elmo_classifier_pooling(c);
        if (pool == ELMO_POOL_ATTN || pool == ELMO_POOL_CNN) /* tokens kept in bfloat16 */
            for (int k = 0; k < 3 * n * 32; k++)
                layers[k] = elmo_pool_from_bf16(elmo_pool_to_bf16(layers[k]));
        elmo_classifier_text_vector_slow(c, layers, n, x);
        elmo_classifier_head_probs(c, x, slow);
        for (int k = 0; k < 2; k++) worst = fmax(worst, fabs(slow[k] - fast[i * 2 + k]));
        free(layers);
    }
    elmo_session_free(s);
    elmo_model_free(m);
    elmo_classifier_free(c);
    return worst;
}

static void test_every_head(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *tsv = tmpfile_path("heads.tsv"), *clf = tmpfile_path("heads.clf");
    write_tsv(tsv, 80, 5);
    const char *pools[] = {"mean", "max", "mean+max", "attention", "cnn"};
    for (int f = 0; f < 2; f++)
        for (int p = 0; p < 5; p++)
            for (int st = 0; st < 2; st++) {
                const char *feat = f ? "elmo+bow" : "elmo";
                /* tiny overfit: trained and tested on the same 80 texts */
                snprintf(g_args, sizeof g_args,
                         "classify train --train '%s' --test '%s' --format tsv --model '%s' "
                         "--features %s --pooling %s "
                         "--standardize %s --epochs 100 --hidden 32 --lr 0.03 --json --output '%s'",
                         tsv, tsv, fixture_model_dir(), feat, pools[p], st ? "yes" : "no", clf);
                char *err = NULL;
                if (run_elmo(g_args, NULL, &err)) fail_msg("%s / %s: %s", feat, pools[p], err);
                free(err);
                char *out = read_text(tmpfile_path("stdout.txt"), NULL);
                double acc = json_number(out, "accuracy");
                free(out);
                /* round trip: the saved file gives the same accuracy */
                snprintf(g_args, sizeof g_args,
                         "classify eval --classifier '%s' --test '%s' --format tsv --json", clf,
                         tsv);
                assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
                out = read_text(tmpfile_path("stdout.txt"), NULL);
                double acc2 = json_number(out, "accuracy");
                free(out);
                double diff = f ? 0 : cached_vs_slow(clf);
                print_message("%-8s %-9s standardize %-3s: training accuracy %.3f, reloaded %.3f, "
                              "cached vs token level %.2g\n",
                              feat, pools[p], st ? "yes" : "no", acc, acc2, diff);
                assert_true(acc >= 0.95);
                assert_float_equal(acc, acc2, 1e-9);
                assert_true(diff < 1e-4);
            }
}

/* Prediction featurizes a chunk of texts at a time, so that the token layers attention and
 * the CNN keep stay bounded however many texts are given: 2,500 texts (three chunks) score
 * exactly as each text alone does, and a text without tokens in the third chunk is named by
 * its place in the whole input. */
static void test_predict_in_chunks(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *tsv = tmpfile_path("chunk.tsv"), *clf = tmpfile_path("chunk.clf");
    write_tsv(tsv, 40, 7);
    snprintf(g_args, sizeof g_args,
             "classify train --train '%s' --format tsv --model '%s' --features elmo --pooling cnn "
             "--epochs 5 --hidden 8 --output '%s'",
             tsv, fixture_model_dir(), clf);
    char *err = NULL;
    if (run_elmo(g_args, NULL, &err)) fail_msg("cnn: %s", err);
    free(err);
    elmo_classifier *c;
    elmo_model *m;
    assert_int_equal(elmo_classifier_load(clf, &c), ELMO_OK);
    assert_int_equal(elmo_model_load_dir(fixture_model_dir(), &m), ELMO_OK);
    assert_int_equal(elmo_classifier_attach(c, m, NULL), ELMO_OK);
    enum { N = 2500 };
    const char *pool[] = {"win free cash prize", "rain and cold wind today with snow",
                          "urgent offer", "sun"};
    const char **texts = malloc(sizeof(char *) * N);
    size_t *lens = malloc(sizeof(size_t) * N);
    float *probs = malloc(sizeof(float) * 2 * N), alone[4][2];
    for (int i = 0; i < N; i++) texts[i] = pool[i % 4], lens[i] = strlen(pool[i % 4]);
    for (int k = 0; k < 4; k++)
        assert_int_equal(elmo_classifier_predict(c, texts + k, lens + k, 1, alone[k], NULL, NULL),
                         ELMO_OK);
    assert_int_equal(elmo_classifier_predict(c, texts, lens, N, probs, NULL, NULL), ELMO_OK);
    int same = 0;
    for (int i = 0; i < N; i++)
        same += probs[2 * i] == alone[i % 4][0] && probs[2 * i + 1] == alone[i % 4][1];
    print_message("%d of %d texts score as alone\n", same, N);
    assert_int_equal(same, N);
    texts[2100] = "   ", lens[2100] = 3;
    assert_int_equal(elmo_classifier_predict(c, texts, lens, N, probs, NULL, NULL),
                     ELMO_ERR_FORMAT);
    print_message("%s\n", elmo_last_error());
    assert_non_null(strstr(elmo_last_error(), "text 2101 has no tokens"));
    free(texts), free(lens), free(probs);
    elmo_model_free(m);
    elmo_classifier_free(c);
}

/* Files written by the version-1 code (tests/data, trained on tests/data/tiny.tsv with the
 * fixture biLM) load and predict as they did. */
static void test_version1_files(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *in = tmpfile_path("v1.txt");
    /* the first three texts of tests/data/tiny.tsv; the figures printed by the version-1 code */
    const char *texts =
        "warm wind sun rain wind\nfree urgent urgent offer prize\nsnow rain sun cloud rain\n";
    write_file(in, texts, strlen(texts));
    struct {
        const char *file, *want;
    } cases[] = {{"classifier-v1-elmo.clf", "spam\t0.5179\nspam\t0.5171\nspam\t0.5215\n"},
                 {"classifier-v1-bow.clf", "spam\t0.5362\nspam\t0.6230\nspam\t0.5323\n"}};
    for (int k = 0; k < 2; k++) {
        snprintf(g_args, sizeof g_args,
                 "classify predict --classifier '%s/tests/data/%s' --model '%s' -", ELMO_SOURCE_DIR,
                 cases[k].file, fixture_model_dir());
        char *err = NULL;
        if (run_elmo(g_args, in, &err)) fail_msg("%s: %s", cases[k].file, err);
        free(err);
        char *out = read_text(tmpfile_path("stdout.txt"), NULL);
        print_message("%s: %s", cases[k].file, out);
        assert_string_equal(out, cases[k].want);
        free(out);
    }
}

/* The bag of words with word bigrams and character 2-5-grams: learns, round-trips, and
 * counts its terms (a vocabulary larger than the words'). */
static void test_ngrams(void **state) {
    (void)state;
    const char *tsv = tmpfile_path("ng.tsv"), *clf = tmpfile_path("ng.clf");
    write_tsv(tsv, 80, 6);
    snprintf(g_args, sizeof g_args,
             "classify train --train '%s' --test '%s' --format tsv --features bow --ngrams 2 "
             "--char-ngrams 2-5 "
             "--epochs 30 --hidden 16 --lr 0.01 --json --output '%s'",
             tsv, tsv, clf);
    char *err = NULL;
    if (run_elmo(g_args, NULL, &err)) fail_msg("bow n-grams: %s", err);
    free(err);
    char *out = read_text(tmpfile_path("stdout.txt"), NULL);
    double acc = json_number(out, "accuracy");
    free(out);
    snprintf(g_args, sizeof g_args,
             "classify eval --classifier '%s' --test '%s' --format tsv --json", clf, tsv);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    out = read_text(tmpfile_path("stdout.txt"), NULL);
    assert_float_equal(json_number(out, "accuracy"), acc, 1e-9);
    free(out);
    assert_true(acc >= 0.95);
    elmo_classifier *c;
    assert_int_equal(elmo_classifier_load(clf, &c), ELMO_OK);
    elmo_classifier_free(c);
    char *e2 = NULL;
    snprintf(g_args, sizeof g_args,
             "classify train --train '%s' --output '%s' --features bow --char-ngrams 5-2", tsv,
             clf);
    assert_int_not_equal(run_elmo(g_args, NULL, &e2), 0);
    assert_non_null(strstr(e2, "--char-ngrams must be"));
    free(e2);
}

/* Every text starts with the same three words; its class shows only after them. The bag of
 * words reads the whole text whatever the biLM's --max-tokens (3), unless --bow-max-tokens
 * cuts it too; the classifier file keeps the setting (eval agrees with train). */
static void test_bow_reads_whole_text(void **state) {
    (void)state;
    const char *tsv = tmpfile_path("late.tsv"), *clf = tmpfile_path("late.clf");
    elmo_rng r;
    elmo_rng_seed(&r, 11);
    FILE *f = fopen(tsv, "wb");
    for (int i = 0; i < 80; i++) {
        int spam = (int)elmo_rng_below(&r, 2);
        fprintf(f, "%s\tdear friend hello", spam ? "spam" : "ham");
        for (int k = 0; k < 3; k++)
            fprintf(f, " %s",
                    spam ? spam_words[elmo_rng_below(&r, 8)] : ham_words[elmo_rng_below(&r, 8)]);
        fprintf(f, "\n");
    }
    fclose(f);
    const char *cut[] = {"", "--bow-max-tokens 3"};
    double acc[2];
    for (int k = 0; k < 2; k++) {
        snprintf(g_args, sizeof g_args,
                 "classify train --train '%s' --test '%s' --format tsv --features bow "
                 "--max-tokens 3 %s --epochs 30 --hidden 16 --lr 0.01 --json --output '%s'",
                 tsv, tsv, cut[k], clf);
        char *err = NULL;
        if (run_elmo(g_args, NULL, &err)) fail_msg("%s: %s", cut[k], err);
        free(err);
        char *out = read_text(tmpfile_path("stdout.txt"), NULL);
        acc[k] = json_number(out, "accuracy");
        free(out);
        snprintf(g_args, sizeof g_args,
                 "classify eval --classifier '%s' --test '%s' --format tsv --json", clf, tsv);
        assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
        out = read_text(tmpfile_path("stdout.txt"), NULL);
        assert_float_equal(json_number(out, "accuracy"), acc[k], 1e-9);
        free(out);
    }
    print_message("whole text %.3f, first 3 tokens %.3f\n", acc[0], acc[1]);
    assert_true(acc[0] >= 0.95);
    assert_true(acc[1] <= 0.70); /* the same three words: nothing to learn from */
}

static void test_bad_options(void **state) {
    (void)state;
    char *err = NULL;
    int rc = run_elmo("classify train --train x.tsv --output y.clf --pooling median", NULL, &err);
    assert_int_not_equal(rc, 0);
    assert_non_null(err);
    assert_non_null(strstr(err, "--pooling must be"));
    free(err);
    err = NULL;
    rc = run_elmo("classify train --train x.tsv --output y.clf --features glove", NULL, &err);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "elmo+bow"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_stats),    cmocka_unit_test(test_attention_gradients),
        cmocka_unit_test(test_cnn_gradients), cmocka_unit_test(test_predict_in_chunks),
        cmocka_unit_test(test_every_head),    cmocka_unit_test(test_version1_files),
        cmocka_unit_test(test_ngrams),        cmocka_unit_test(test_bow_reads_whole_text),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
