/*
 * test_tag.c: `elmo tag`: a tiny tagger on the fixture biLM overfits a few sentences to 100%
 * (the training loop, the mix and the head work), in both input formats and both layer
 * modes; predict prints word/TAG; the most-frequent-tag baseline; bad inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "io/util.h"

static char g_args[8192];

/* "saw" is a verb after a name and a noun after "the": only context tells them apart. */
static const char *slash = "John/np saw/vbd the/at saw/nn ./.\n"
                           "Mary/np saw/vbd a/at dog/nn ./.\n"
                           "the/at saw/nn cut/vbd the/at wood/nn ./.\n"
                           "a/at dog/nn saw/vbd John/np ./.\n"
                           "the/at old/jj saw/nn is/bez sharp/jj ./.\n";

static double json_number(const char *json, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(json, k);
    assert_non_null(p);
    return atof(p + strlen(k));
}

static void test_overfit(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *train = tmpfile_path("tiny.tagged.txt"), *tagger = tmpfile_path("tiny.tagger");
    write_file(train, slash, strlen(slash));
    const char *modes[] = {"mix", "token"};
    for (int m = 0; m < 2; m++) {
        snprintf(g_args, sizeof g_args,
                 "tag train --train '%s' --model '%s' --layers %s --epochs 300 --hidden 32 --lr "
                 "0.01 --output '%s'",
                 train, fixture_model_dir(), modes[m], tagger);
        char *err = NULL;
        int rc = run_elmo(g_args, NULL, &err);
        if (rc) fail_msg("tag train failed: %s", err);
        free(err);
        snprintf(g_args, sizeof g_args, "tag eval --tagger '%s' --test '%s' --json", tagger, train);
        assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
        char *out = read_text(tmpfile_path("stdout.txt"), NULL);
        double acc = json_number(out, "accuracy");
        print_message("--layers %-5s: training accuracy %.3f on %d tokens\n", modes[m], acc,
                      (int)json_number(out, "n_tokens"));
        if (m == 0) assert_true(acc == 1.0); /* the contextual model separates saw/vbd and saw/nn */
        assert_int_equal((int)json_number(out, "n_tokens"), 27);
        assert_non_null(strstr(out, "\"oov_accuracy\""));
        free(out);
    }
    /* CoNLL input gives the same data */
    const char *conll = tmpfile_path("tiny.conll");
    elmo_strbuf b = {0};
    const char *p = slash;
    while (*p) {
        const char *sp = strpbrk(p, " \n");
        const char *sl = p;
        while (sl < sp && *sl != '/') sl++;
        elmo_strbuf_add(&b, p, (size_t)(sl - p));
        elmo_strbuf_add(&b, "\t", 1);
        elmo_strbuf_add(&b, sl + 1, (size_t)(sp - sl - 1));
        elmo_strbuf_add(&b, "\n", 1);
        if (*sp == '\n') elmo_strbuf_add(&b, "\n", 1);
        p = sp + 1;
    }
    write_file(conll, b.p, b.n);
    elmo_strbuf_free(&b);
    snprintf(g_args, sizeof g_args,
             "tag train --train '%s' --format conll --model '%s' --epochs 300 --hidden 32 --lr "
             "0.01 --output '%s'",
             conll, fixture_model_dir(), tagger);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    snprintf(g_args, sizeof g_args, "tag eval --tagger '%s' --test '%s' --json", tagger, conll);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    char *out = read_text(tmpfile_path("stdout.txt"), NULL);
    assert_true(json_number(out, "accuracy") == 1.0);
    free(out);
    /* predict: word/TAG per token, a line per sentence */
    const char *in = tmpfile_path("untagged.txt");
    write_file(in, "John saw the saw .\nthe saw cut the wood .\n", 42);
    snprintf(g_args, sizeof g_args, "tag predict --tagger '%s' '%s'", tagger, in);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    out = read_text(tmpfile_path("stdout.txt"), NULL);
    assert_string_equal(
        out, "John/np saw/vbd the/at saw/nn ./.\nthe/at saw/nn cut/vbd the/at wood/nn ./.\n");
    free(out);
}

static void test_baseline_and_errors(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *train = tmpfile_path("b.tagged.txt");
    write_file(train, slash, strlen(slash));
    const char *test = tmpfile_path("b.test.txt");
    write_file(test, "Bill/np saw/vbd the/at dog/nn ./.\n", 34);
    snprintf(g_args, sizeof g_args, "tag baseline --train '%s' --test '%s' --json", train, test);
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    char *out = read_text(tmpfile_path("stdout.txt"), NULL);
    /* saw -> nn (3 of 5), Bill unseen -> the most frequent tag: 3 of 5 right */
    assert_true(json_number(out, "accuracy") == 0.6);
    assert_int_equal((int)json_number(out, "n_oov"), 1);
    free(out);
    /* a token without a tag */
    const char *bad = tmpfile_path("bad.tagged.txt");
    write_file(bad, "the/at dog/nn\nthe cat/nn\n", 25);
    snprintf(g_args, sizeof g_args, "tag train --train '%s' --model '%s' --output '%s'", bad,
             fixture_model_dir(), tmpfile_path("x.tagger"));
    char *err = NULL;
    assert_int_not_equal(run_elmo(g_args, NULL, &err), 0);
    assert_non_null(strstr(err, "bad.tagged.txt:2"));
    free(err);
    /* a file that is not a tagger */
    snprintf(g_args, sizeof g_args, "tag eval --tagger '%s' --test '%s'", train, train);
    assert_int_not_equal(run_elmo(g_args, NULL, &err), 0);
    assert_non_null(strstr(err, "not a ELMOTAG1 file"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overfit),
        cmocka_unit_test(test_baseline_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
