/* test_data_cli.c: `elmo data brown|text|spamassassin` end to end on small synthetic inputs:
 * outputs, the held-out rule, tag normalisation, JSON input, labels, and error handling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

static void put(const char *path, const char *text) { write_file(path, text, strlen(text)); }

static const char *slurp(const char *path) {
    static char buf[8192];
    size_t n;
    char *t = read_text(path, &n);
    assert_non_null(t);
    snprintf(buf, sizeof buf, "%s", t);
    free(t);
    return buf;
}

static int run(const char *fmt, const char *a, const char *b, const char *c, char **err) {
    char args[2048];
    snprintf(args, sizeof args, fmt, a, b, c);
    return run_elmo(args, NULL, err);
}

static void test_brown(void **state) {
    (void)state;
    const char *dir = tmpfile_path("brown");
    mkdir(dir, 0755);
    put(tmpfile_path("brown/ca01"),
        "\n\n\tThe/at Fulton/np-tl County/nn-tl said/vbd ./.\n\n\n"
        "\tIt/pps did/dod n't/* ,/, 1/2/cd //in ---/--- end/nn-hl-tl\n");
    put(tmpfile_path("brown/ca10"), "\tHeld/vbn out/rp ./.\n");
    put(tmpfile_path("brown/cj40"),
        "\tAlso/rb held/vbn ,/, oui/fw-rb-tl bon/fw-jj a/fw-in+at-t x/ppss+ber-n ./.\n");
    put(tmpfile_path("brown/cb09"), "\tle/fw-at+nn-tl ---/---hl ./.-hl\n");
    put(tmpfile_path("brown/README"), "not a corpus file/xx\n");
    put(tmpfile_path("brown/cats.txt"), "ca01 news\n");
    const char *tr = tmpfile_path("tr.txt"), *ho = tmpfile_path("ho.txt");
    char *err = NULL;
    assert_int_equal(run("data brown --input '%s' --train '%s' --heldout '%s'", dir, tr, ho, &err),
                     0);
    assert_non_null(strstr(err, "train: 2 files, 3 sentences, 16 tokens"));
    assert_non_null(strstr(err, "held-out: 2 files, 2 sentences, 11 tokens"));
    free(err);
    assert_string_equal(slurp(tr),
                        "The Fulton County said .\nIt did n't , 1/2 / --- end\nle --- .\n");
    assert_string_equal(slurp(ho), "Held out .\nAlso held , oui bon a x .\n");
    assert_int_equal(
        run("data brown --input '%s' --train '%s' --heldout '%s' --tagged", dir, tr, ho, NULL), 0);
    assert_string_equal(slurp(tr), "The/at Fulton/np County/nn said/vbd ./.\n"
                                   "It/pps did/dod n't/* ,/, 1/2/cd //in ---/--- end/nn\n"
                                   "le/at+nn ---/-- ./.\n");
    assert_string_equal(
        slurp(ho),
        "Held/vbn out/rp ./.\nAlso/rb held/vbn ,/, oui/rb bon/jj a/in+at x/ppss+ber ./.\n");
    /* only one output */
    assert_int_equal(
        run("data brown --input '%s' --heldout '%s'%s", dir, tmpfile_path("ho2.txt"), "", NULL), 0);
    assert_string_equal(slurp(tmpfile_path("ho2.txt")), "Held out .\nAlso held , oui bon a x .\n");
}

static void test_brown_errors(void **state) {
    (void)state;
    char *err = NULL;
    const char *out = tmpfile_path("never.txt");
    assert_int_equal(run("data brown --train '%s'%s%s", out, "", "", &err), 1);
    assert_non_null(strstr(err, "elmo data brown: --input DIR is required"));
    free(err);
    assert_int_equal(
        run("data brown --input '%s' --train '%s'%s", tmpfile_path("nope"), out, "", &err), 1);
    assert_non_null(strstr(err, "not a directory"));
    free(err);
    const char *empty = tmpfile_path("empty");
    mkdir(empty, 0755);
    assert_int_equal(run("data brown --input '%s' --train '%s'%s", empty, out, "", &err), 1);
    assert_non_null(strstr(err, "no Brown corpus files"));
    free(err);
    /* a token without a tag: the error names file and line, and no output is left behind */
    const char *bad = tmpfile_path("badbrown");
    mkdir(bad, 0755);
    put(tmpfile_path("badbrown/ca01"), "\tGood/jj ./.\n\n\tBad/jj token ./.\n");
    assert_int_equal(run("data brown --input '%s' --train '%s'%s", bad, out, "", &err), 1);
    assert_non_null(strstr(err, "ca01:3: token 'token' is not WORD/TAG"));
    assert_null(strchr(strchr(err, '\n') + 1, '\n')); /* one line */
    free(err);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
    assert_int_equal(run("data brown --input '%s' --train '%s' --bogus%s", bad, out, "", &err), 2);
    free(err);
    assert_int_equal(run_elmo("data brown --help", NULL, &err), 0);
    assert_non_null(strstr(err, "usage: elmo data brown"));
    free(err);
    assert_int_equal(run_elmo("data nosuchmode", NULL, &err), 2);
    assert_non_null(strstr(err, "elmo data: unknown mode"));
    free(err);
    assert_int_equal(run_elmo("data", NULL, NULL), 2);
    assert_int_equal(run_elmo("data --help", NULL, NULL), 0);
}

static void test_text(void **state) {
    (void)state;
    const char *a = tmpfile_path("a.txt"), *b = tmpfile_path("b.json"), *c = tmpfile_path("c.json");
    put(a, "\xef\xbb\xbf"
           "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago\xe2\x80\x94never mind "
           "how long\xe2\x80\x94I went to sea, with Mr. Starbuck.\n\n\n");
    put(b, "{\"year\": 1790, \"name\": \"George Washington\", \"text\": \"Fellow-Citizens: I feel "
           "much satisfaction. It's true!\"}");
    put(c, "[{\"text\": \"One.\"}, \"Two, three.\", {\"other\": 1}]");
    const char *out = tmpfile_path("text.txt");
    char args[1024], *err = NULL;
    snprintf(args, sizeof args, "data text --input '%s' '%s' '%s' --output '%s'", a, b, c, out);
    assert_int_equal(run_elmo(args, NULL, &err), 0);
    assert_non_null(strstr(err, "3 files, 8 sentences, 43 tokens"));
    free(err);
    assert_string_equal(slurp(out), "CHAPTER 1 .\n" /* a number before a period ends a sentence */
                                    "Loomings .\n"
                                    "Call me Ishmael .\n"
                                    "Some years ago \xe2\x80\x94 never mind how long \xe2\x80\x94 "
                                    "I went to sea , with Mr. Starbuck .\n"
                                    "Fellow-Citizens : I feel much satisfaction .\n"
                                    "It's true !\n"
                                    "One .\n"
                                    "Two , three .\n");
    /* invalid UTF-8 is repaired */
    put(a, "caf\xe9 ok.");
    snprintf(args, sizeof args, "data text --input '%s' --output '%s'", a, out);
    assert_int_equal(run_elmo(args, NULL, NULL), 0);
    assert_string_equal(slurp(out), "caf\xef\xbf\xbd ok .\n");
    /* errors: bad JSON, JSON without text, missing file */
    put(b, "{\"text\": ");
    snprintf(args, sizeof args, "data text --input '%s' --output '%s'", b, out);
    assert_int_equal(run_elmo(args, NULL, &err), 1);
    assert_non_null(strstr(err, "invalid JSON"));
    free(err);
    put(b, "{\"title\": \"x\"}");
    assert_int_equal(run_elmo(args, NULL, &err), 1);
    assert_non_null(strstr(err, "no text in the JSON"));
    free(err);
    snprintf(args, sizeof args, "data text --input '%s' --output '%s'", tmpfile_path("missing.txt"),
             out);
    assert_int_equal(run_elmo(args, NULL, &err), 1);
    assert_non_null(strstr(err, "missing.txt"));
    free(err);
    assert_string_equal(slurp(out), "caf\xef\xbf\xbd ok .\n"); /* the old output is untouched */
    snprintf(args, sizeof args, "data text --output '%s'", out);
    assert_int_equal(run_elmo(args, NULL, &err), 1);
    assert_non_null(strstr(err, "--input FILE... is required"));
    free(err);
}

static void test_spamassassin(void **state) {
    (void)state;
    const char *dir = tmpfile_path("sa");
    mkdir(dir, 0755);
    mkdir(tmpfile_path("sa/easy-ham-1"), 0755);
    mkdir(tmpfile_path("sa/spam-2"), 0755);
    mkdir(tmpfile_path("sa/other"), 0755);
    put(tmpfile_path("sa/file_list.json"), "[]");
    put(tmpfile_path("sa/easy-ham-1/00001.abc.txt"), "Subject: Hi\n\nSee\tyou\n\nsoon.\n");
    put(tmpfile_path("sa/easy-ham-1/00001.abc.json"),
        "{\"text\": \"Subject: duplicate\\n\\nskipped\"}");
    put(tmpfile_path("sa/easy-ham-1/00002.def.json"),
        "{\"text\": \"Subject: json only\\n\\nbody\"}");
    put(tmpfile_path("sa/easy-ham-1/00003.empty.txt"), "X-Nothing: here\n\n  \n");
    put(tmpfile_path("sa/spam-2/00001.xyz"),
        "Subject: =?iso-8859-1?q?Gr=FC=DFe?=\nContent-Type: text/html\n\n"
        "<b>Buy</b>&nbsp;now!");
    put(tmpfile_path("sa/spam-2/cmds"), "mv 00001 x\n");
    put(tmpfile_path("sa/other/00001.txt"), "Subject: not labelled\n\nx");
    const char *out = tmpfile_path("sa.tsv");
    char *err = NULL;
    assert_int_equal(run("data spamassassin --input '%s' --output '%s'%s", dir, out, "", &err), 0);
    assert_non_null(strstr(err, "3 messages (ham 2, spam 1; 1 skipped: no text)"));
    free(err);
    assert_string_equal(slurp(out),
                        "ham\tHi See you soon.\nham\tjson only body\nspam\tGr\xc3\xbc\xc3\x9f"
                        "e Buy now!\n");
    assert_int_equal(run("data spamassassin --input '%s' --output '%s'%s", tmpfile_path("sa/other"),
                         out, "", &err),
                     1);
    assert_non_null(strstr(err, "no spam*/ or *ham*/ subdirectories"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brown),
        cmocka_unit_test(test_brown_errors),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_spamassassin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
