/*
 * test_classify.c: `elmo classify` end to end on small generated files, with the AllenNLP
 * fixture biLM: every input format (the Kaggle spam.csv layout in latin-1 with RFC 4180
 * quoting, UCI-style TSV, fastText), train / eval --json / predict, the bag-of-words
 * baseline, the cached-means shortcut against recomputation, and every bad input of the
 * issue (unknown label at eval, empty text, unterminated quote, wrong encoding, a classifier
 * of another version or another biLM).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/classify.h"
#include "testutil.h"
#include "io/util.h"

static char g_args[8192];

static const char *model_args(void) {
    static char b[1024];
    snprintf(b, sizeof b, "--model '%s'", fixture_model_dir());
    return b;
}

/* An easy task: "money" words vs "weather" words, with punctuation and case. */
static const char *spam_words[] = {"win",   "cash",  "prize", "free",
                                   "money", "claim", "offer", "urgent"};
static const char *ham_words[] = {"rain", "sun",  "cloud", "weather",
                                  "cold", "warm", "snow",  "wind"};

static void make_text(elmo_rng *r, int spam, char *out, size_t cap) {
    size_t n = 0;
    int len = 4 + (int)elmo_rng_below(r, 6);
    for (int i = 0; i < len; i++) {
        const char *w = spam ? spam_words[elmo_rng_below(r, 8)] : ham_words[elmo_rng_below(r, 8)];
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "", w);
    }
}

/* spam.csv: header v1,v2,,, ; latin-1; quoted fields with commas, doubled quotes, line breaks */
static void write_csv(const char *path, int n, uint64_t seed) {
    elmo_rng r;
    elmo_rng_seed(&r, seed);
    FILE *f = fopen(path, "wb");
    fprintf(f, "v1,v2,,,\r\n");
    for (int i = 0; i < n; i++) {
        int spam = (int)elmo_rng_below(&r, 2);
        char t[256];
        make_text(&r, spam, t, sizeof t);
        switch (i % 4) {
            case 0: fprintf(f, "%s,%s,,,\r\n", spam ? "spam" : "ham", t); break;
            case 1:
                fprintf(f,
                        "%s,\"%s, \"\"quoted\"\" \xa3"
                        "5\",,,\r\n",
                        spam ? "spam" : "ham", t);
                break;
            case 2:
                fprintf(f, "%s,\"%s\nsecond line caf\xe9\",,,\n", spam ? "spam" : "ham", t);
                break;
            default: fprintf(f, "%s,%s,,,\r\n", spam ? "spam" : "ham", t);
        }
    }
    fclose(f);
}

static void write_tsv(const char *path, int n, uint64_t seed, int fasttext) {
    elmo_rng r;
    elmo_rng_seed(&r, seed);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < n; i++) {
        int spam = (int)elmo_rng_below(&r, 2);
        char t[256];
        make_text(&r, spam, t, sizeof t);
        if (fasttext)
            fprintf(f, "__label__%s %s\n", spam ? "spam" : "ham", t);
        else
            fprintf(f, "%s\t%s\n", spam ? "spam" : "ham", t);
    }
    fclose(f);
}

static void expect_fail(const char *args, const char *want) {
    char *err = NULL;
    int rc = run_elmo(args, NULL, &err);
    if (rc == 0 || !err || !strstr(err, want))
        fail_msg("expected failure with '%s'; exit %d: %s", want, rc, err ? err : "");
    assert_non_null(strchr(err, '\n'));
    assert_null(strchr(strchr(err, '\n') + 1, '\n')); /* one line */
    free(err);
}

static double json_number(const char *json, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(json, k);
    assert_non_null(p);
    return atof(p + strlen(k));
}

static void test_formats_train_eval_predict(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *csv = tmpfile_path("spam.csv"), *tsv = tmpfile_path("spam.tsv"),
               *ft = tmpfile_path("spam.ft");
    write_csv(csv, 200, 1);
    write_tsv(tsv, 200, 2, 0);
    write_tsv(ft, 200, 3, 1);
    struct {
        const char *file, *flags;
    } cases[] = {
        {csv, "--format csv --encoding latin-1 --label-column v1 --text-column v2"},
        {tsv, "--format tsv"},
        {ft, "--format fasttext"},
    };
    const char *clf = tmpfile_path("c.clf");
    for (int k = 0; k < 3; k++) {
        snprintf(g_args, sizeof g_args,
                 "classify train --train '%s' %s --split 0.75 %s --epochs 100 --hidden 32 --lr "
                 "0.03 --tokenize simple --json --output '%s'",
                 cases[k].file, cases[k].flags, model_args(), clf);
        char *err = NULL;
        int rc = run_elmo(g_args, NULL, &err);
        if (rc) fail_msg("classify train (%s) failed: %s", cases[k].flags, err);
        free(err);
        char *out = read_text(tmpfile_path("stdout.txt"), NULL);
        double acc = json_number(out, "accuracy");
        print_message("%-62s test accuracy %.3f (n %.0f)\n", cases[k].flags, acc,
                      json_number(out, "n"));
        assert_true(acc >= 0.9);
        assert_int_equal((int)json_number(out, "n"), 50);
        assert_non_null(strstr(out, "\"spam\": {\"precision\""));
        assert_non_null(strstr(out, "\"f1\""));
        free(out);
    }
    /* eval on the TSV with the fastText-trained classifier, predict from stdin */
    snprintf(g_args, sizeof g_args,
             "classify eval --classifier '%s' --test '%s' --format tsv --json", clf, tsv);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    char *out = read_text(tmpfile_path("stdout.txt"), NULL);
    assert_true(json_number(out, "accuracy") >= 0.9);
    assert_int_equal((int)json_number(out, "n"), 200);
    free(out);
    const char *in = tmpfile_path("predict.txt");
    write_file(in, "win free cash prize now\nrain and cold wind today\n", 49);
    snprintf(g_args, sizeof g_args, "classify predict --classifier '%s' -", clf);
    assert_int_equal(run_elmo(g_args, in, NULL), 0);
    out = read_text(tmpfile_path("stdout.txt"), NULL);
    assert_true(strncmp(out, "spam\t", 5) == 0);
    assert_non_null(strstr(out, "\nham\t"));
    free(out);
    /* the bag-of-words baseline on the same data */
    snprintf(g_args, sizeof g_args,
             "classify train --train '%s' --format tsv --split 0.75 --features bow --epochs 30 "
             "--hidden 16 --lr 0.01 --json --output '%s'",
             tsv, tmpfile_path("bow.clf"));
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    out = read_text(tmpfile_path("stdout.txt"), NULL);
    assert_true(json_number(out, "accuracy") >= 0.9);
    free(out);
    snprintf(g_args, sizeof g_args, "classify predict --classifier '%s' -",
             tmpfile_path("bow.clf"));
    assert_int_equal(run_elmo(g_args, in, NULL), 0);
}

/* mean_t(gamma sum_j s_j x_jt) == gamma sum_j s_j mean_t(x_jt): the classifier's output from
 * the cached per-layer means equals the long way round. */
static void test_cached_means_exact(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *tsv = tmpfile_path("exact.tsv");
    write_tsv(tsv, 60, 9, 0);
    const char *clf = tmpfile_path("exact.clf");
    snprintf(g_args, sizeof g_args,
             "classify train --train '%s' --format tsv %s --features elmo --pooling mean --epochs "
             "5 --hidden 8 --lr 0.05 --output '%s'",
             tsv, model_args(), clf);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    elmo_classifier *c;
    assert_int_equal(elmo_classifier_load(clf, &c), ELMO_OK);
    elmo_model *m;
    assert_int_equal(elmo_model_load_dir(fixture_model_dir(), &m), ELMO_OK);
    assert_int_equal(elmo_classifier_attach(c, m, NULL), ELMO_OK);
    float sw[8], g;
    assert_int_equal(elmo_classifier_mix(c, sw, &g), 3);
    print_message("learned mix: s = %.3f %.3f %.3f, gamma %.3f\n", sw[0], sw[1], sw[2], g);
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
        float *layers = malloc(sizeof(float) * 3 * n * 32), x[32], slow[2];
        const char *const *tk[1] = {tok};
        assert_int_equal(elmo_embed(s, 1, tk, &n, &layers), ELMO_OK);
        elmo_classifier_text_vector_slow(c, layers, n, x);
        elmo_classifier_head_probs(c, x, slow);
        for (int k = 0; k < 2; k++) worst = fmax(worst, fabs(slow[k] - fast[i * 2 + k]));
        free(layers);
    }
    print_message("cached means vs token-level mixing: max |diff| of probabilities %.2g\n", worst);
    assert_true(worst < 1e-5);
    elmo_session_free(s);
    elmo_model_free(m);
    elmo_classifier_free(c);
}

static void test_bad_inputs(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *tsv = tmpfile_path("good.tsv");
    write_tsv(tsv, 40, 5, 0);
    const char *clf = tmpfile_path("bad.clf");
    snprintf(g_args, sizeof g_args,
             "classify train --train '%s' --format tsv %s --epochs 2 --hidden 4 --output '%s'", tsv,
             model_args(), clf);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    /* an unknown label at eval */
    const char *unk = tmpfile_path("unknown_label.tsv");
    write_file(unk, "ham\train today\nphishing\twin cash\n", 33);
    snprintf(g_args, sizeof g_args, "classify eval --classifier '%s' --test '%s' --format tsv", clf,
             unk);
    expect_fail(g_args, "unknown_label.tsv:2: label 'phishing' was not seen in training");
    /* an empty text */
    const char *empty = tmpfile_path("empty_text.tsv");
    write_file(empty, "ham\train today\nspam\t   \n", 24);
    snprintf(g_args, sizeof g_args, "classify eval --classifier '%s' --test '%s' --format tsv", clf,
             empty);
    expect_fail(g_args, "empty_text.tsv:2:");
    /* an unterminated quote, with the line where it starts */
    const char *uq = tmpfile_path("unterminated.csv");
    const char *uqs = "v1,v2\nham,fine\nspam,\"never closed\nham,more\n";
    write_file(uq, uqs, strlen(uqs));
    snprintf(g_args, sizeof g_args, "classify train --train '%s' --format csv %s --output '%s'", uq,
             model_args(), tmpfile_path("x.clf"));
    expect_fail(g_args, "unterminated.csv:3:");
    /* a wrong encoding: latin-1 bytes read as UTF-8 */
    const char *l1 = tmpfile_path("latin1.tsv");
    write_file(l1, "ham\tcaf\xe9 au lait\nspam\tfree cash\n", 31);
    snprintf(g_args, sizeof g_args, "classify train --train '%s' --format tsv %s --output '%s'", l1,
             model_args(), tmpfile_path("x.clf"));
    expect_fail(g_args, "latin1.tsv:1: invalid UTF-8");
    /* a classifier file of another version */
    size_t n;
    char *bytes = read_text(clf, &n);
    bytes[8] = 99; /* the version field */
    const char *v99 = tmpfile_path("v99.clf");
    write_file(v99, bytes, n);
    free(bytes);
    snprintf(g_args, sizeof g_args, "classify eval --classifier '%s' --test '%s' --format tsv", v99,
             tsv);
    expect_fail(g_args, "format version 99");
    /* not a classifier at all */
    snprintf(g_args, sizeof g_args, "classify eval --classifier '%s' --test '%s' --format tsv", tsv,
             tsv);
    expect_fail(g_args, "not a ELMOCLF1 file");
    /* another biLM */
    snprintf(
        g_args, sizeof g_args,
        "classify eval --classifier '%s' --test '%s' --format tsv --options '%s' --weights '%s'",
        clf, tsv, fixture("bilm-tf/model/options.json"), fixture("bilm-tf/model/lm_weights.hdf5"));
    expect_fail(g_args, "unknown option --options"); /* eval takes --model only */
    char other[600];
    snprintf(other, sizeof other, "%s/other_model", tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && ln -sf '%s' '%s/options.json' && ln -sf '%s' '%s/weights.hdf5'",
             other, fixture("bilm-tf/model/options.json"), other,
             fixture("bilm-tf/model/lm_weights.hdf5"), other);
    assert_int_equal(system(cmd), 0);
    snprintf(g_args, sizeof g_args,
             "classify eval --classifier '%s' --test '%s' --format tsv --model '%s'", clf, tsv,
             other);
    expect_fail(g_args, "trained with another biLM");
    /* a truncated classifier file is refused, and train leaves no partial output */
    bytes = read_text(clf, &n);
    const char *tr = tmpfile_path("truncated.clf");
    write_file(tr, bytes, n / 2);
    free(bytes);
    snprintf(g_args, sizeof g_args, "classify eval --classifier '%s' --test '%s' --format tsv", tr,
             tsv);
    expect_fail(g_args, "truncated or damaged");
}

/* --static-vectors: GloVe and word2vec text formats, concatenated with ELMo; recorded in the
 * classifier and required again at eval; a malformed file is refused with its line. */
static void test_static_vectors(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *glove = tmpfile_path("vectors.glove.txt"), *w2v = tmpfile_path("vectors.w2v.txt");
    elmo_strbuf g = {0}, w = {0};
    elmo_strbuf_printf(&w, "16 3\n");
    for (int k = 0; k < 8; k++) {
        elmo_strbuf_printf(&g, "%s 1.0 0.0 %d\n%s 0.0 1.0 %d\n", spam_words[k], k, ham_words[k], k);
        elmo_strbuf_printf(&w, "%s 1.0 0.0 %d\n%s 0.0 1.0 %d\n", spam_words[k], k, ham_words[k], k);
    }
    write_file(glove, g.p, g.n);
    write_file(w2v, w.p, w.n);
    elmo_strbuf_free(&g);
    elmo_strbuf_free(&w);
    const char *tsv = tmpfile_path("sv.tsv"), *clf = tmpfile_path("sv.clf");
    write_tsv(tsv, 120, 11, 0);
    const char *files[] = {glove, w2v};
    for (int f = 0; f < 2; f++) {
        snprintf(g_args, sizeof g_args,
                 "classify train --train '%s' --format tsv --split 0.75 %s --static-vectors '%s' "
                 "--epochs 60 --hidden 16 --lr 0.03 --json --output '%s'",
                 tsv, model_args(), files[f], clf);
        char *err = NULL;
        int rc = run_elmo(g_args, NULL, &err);
        if (rc) fail_msg("train with static vectors failed: %s", err);
        free(err);
        char *out = read_text(tmpfile_path("stdout.txt"), NULL);
        print_message("ELMo + static vectors (%s): test accuracy %.3f\n", f ? "word2vec" : "GloVe",
                      json_number(out, "accuracy"));
        assert_true(json_number(out, "accuracy") >= 0.95);
        free(out);
    }
    /* eval finds the vectors where they were; other vectors are refused */
    snprintf(g_args, sizeof g_args, "classify eval --classifier '%s' --test '%s' --format tsv", clf,
             tsv);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    const char *other = tmpfile_path("other.vec");
    write_file(other, "win 0.5 0.5 0.5\nrain 0.1 0.2 0.3\n", 32);
    snprintf(g_args, sizeof g_args,
             "classify eval --classifier '%s' --test '%s' --format tsv --static-vectors '%s'", clf,
             tsv, other);
    expect_fail(g_args, "not the ones the classifier was trained with");
    const char *bad = tmpfile_path("bad.vec");
    write_file(bad, "a 1 2 3\nb 1 2\n", 15);
    snprintf(g_args, sizeof g_args,
             "classify train --train '%s' --format tsv %s --static-vectors '%s' --output '%s'", tsv,
             model_args(), bad, clf);
    expect_fail(g_args, "bad.vec:2: 2 values, the first vector had 3");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_train_eval_predict),
        cmocka_unit_test(test_cached_means_exact),
        cmocka_unit_test(test_static_vectors),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
