/* test_tokenize.c: the simple tokenizer and the sentence splitter (src/text/tokenize.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "io/textio.h"
#include "text/tokenize.h"
#include "io/util.h"

/* Tokens of s joined by single spaces (static buffer). */
static const char *tok(const char *s) {
    static char buf[4096];
    elmo_strbuf b = {0};
    size_t n = elmo_tokenize_simple(s, strlen(s), &b);
    assert_true(n != SIZE_MAX);
    snprintf(buf, sizeof buf, "%s", b.p ? b.p : "");
    elmo_strbuf_free(&b);
    return buf;
}

/* Sentences of s joined by " | ". */
static const char *sents(const char *s) {
    static char buf[4096];
    size_t st[64], ln[64];
    size_t n = elmo_split_sentences(s, strlen(s), st, ln, 64);
    assert_true(n <= 64);
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(buf, " | ");
        strncat(buf, s + st[i], ln[i]);
    }
    return buf;
}

static void test_basic_punctuation(void **state) {
    (void)state;
    assert_string_equal(tok("Hello, world!"), "Hello , world !");
    assert_string_equal(tok("  \"Quoted,\" she said (twice); then: stop?  "),
                        "\" Quoted , \" she said ( twice ) ; then : stop ?");
    assert_string_equal(tok("[a] {b} `c'"), "[ a ] { b } ` c '");
    assert_string_equal(tok("Wait?!"), "Wait ? !");
    assert_string_equal(tok(""), "");
    assert_string_equal(tok(" \t\n "), "");
    assert_string_equal(tok("..."), "...");
    assert_string_equal(tok("?"), "?");
}

static void test_word_internal(void **state) {
    (void)state;
    assert_string_equal(tok("The U.S. e-mail costs 3.14 or 3,000,000 at 10:30 and/or more."),
                        "The U.S. e-mail costs 3.14 or 3,000,000 at 10:30 and/or more .");
    assert_string_equal(tok("I don't know John's dog."), "I don't know John's dog .");
    assert_string_equal(tok("the boys' toys"), "the boys' toys");
    assert_string_equal(tok("'Yes,' he said, 'the boys'"), "' Yes , ' he said , ' the boys '");
    assert_string_equal(tok("rock in the '90s, 'tis 'em"), "rock in the '90s , 'tis 'em");
    assert_string_equal(tok("friend(s) and (so)."), "friend(s) and ( so ) .");
    assert_string_equal(tok("see www.example.com."), "see www.example.com .");
    assert_string_equal(tok("it was .5 inch"), "it was .5 inch");
    assert_string_equal(tok("a -5 b pre- c -almost (-the"), "a -5 b pre- c - almost ( - the");
}

static void test_abbreviations(void **state) {
    (void)state;
    assert_string_equal(tok("Mr. Smith met Dr. J. Jones, Jr., in St. Louis."),
                        "Mr. Smith met Dr. J. Jones , Jr. , in St. Louis .");
    assert_string_equal(tok("apples, pears, etc. and e.g. Ph.D. or a.m.)"),
                        "apples , pears , etc. and e.g. Ph.D. or a.m. )");
    assert_true(elmo_is_abbreviation("Mr.", 3));
    assert_true(elmo_is_abbreviation("U.S.A.", 6));
    assert_true(elmo_is_abbreviation("J.", 2));
    assert_false(elmo_is_abbreviation("j.", 2));
    assert_false(elmo_is_abbreviation("Mr", 2));
    assert_false(elmo_is_abbreviation(".", 1));
    assert_false(elmo_is_abbreviation("1990.", 5));
    assert_false(elmo_is_abbreviation("end.", 4));
    assert_false(elmo_is_abbreviation("www.abc.", 8));
    assert_false(elmo_is_abbreviation("U..S.", 5));
}

static void test_dashes_and_ellipses(void **state) {
    (void)state;
    /* em dash inside a word (Moby Dick), double hyphen, en dash, ellipsis */
    assert_string_equal(tok("ago\xe2\x80\x94never mind\xe2\x80\x94having"),
                        "ago \xe2\x80\x94 never mind \xe2\x80\x94 having");
    assert_string_equal(tok("well--no"), "well -- no");
    assert_string_equal(tok("1990\xe2\x80\x93"
                            "2000"),
                        "1990 \xe2\x80\x93 2000");
    assert_string_equal(tok("wait...what.... fine\xe2\x80\xa6"),
                        "wait ... what .... fine \xe2\x80\xa6");
    assert_string_equal(tok("\xe2\x80\x94\xe2\x80\x94"), "\xe2\x80\x94\xe2\x80\x94");
    assert_string_equal(tok("it---"), "it ---");
}

static void test_unicode(void **state) {
    (void)state;
    /* curly quotes and apostrophes, guillemets, inverted marks */
    assert_string_equal(tok("\xe2\x80\x9c"
                            "Don\xe2\x80\x99t,\xe2\x80\x9d he said."),
                        "\xe2\x80\x9c"
                        " Don\xe2\x80\x99t , \xe2\x80\x9d he said .");
    assert_string_equal(tok("\xc2\xab"
                            "Bonjour\xc2\xbb \xc2\xbfQu\xc3\xa9?"),
                        "\xc2\xab Bonjour \xc2\xbb \xc2\xbf Qu\xc3\xa9 ?");
    /* NBSP and ideographic space separate words */
    assert_string_equal(tok("a\xc2\xa0"
                            "b\xe3\x80\x80"
                            "c."),
                        "a b c .");
    /* multi-byte letters next to punctuation stay whole */
    assert_string_equal(tok("(\xc3\xa9t\xc3\xa9)"), "( \xc3\xa9t\xc3\xa9 )");
    assert_string_equal(tok("\xe6\x97\xa5\xe6\x9c\xac,"), "\xe6\x97\xa5\xe6\x9c\xac ,");
    /* invalid bytes are word characters; a lone continuation byte before a period */
    assert_string_equal(tok("ab\x80."), "ab\x80 .");
    assert_string_equal(tok("\xff\xfe!"), "\xff\xfe !");
    /* a truncated sequence at the end is not read past */
    assert_string_equal(tok("x \xe2\x80"), "x \xe2\x80");
}

static void test_no_split_inside_characters(void **state) {
    (void)state;
    /* every token boundary of a mixed string falls on a character boundary */
    const char *s = "\xe2\x80\x9c\xc3\xa9l\xc3\xa8ve\xe2\x80\x9d\xe2\x80\x94(\xe2\x82\xac"
                    "5)\xe2\x80\xa6"
                    "\xf0\x9f\x98\x80!";
    size_t st[32], ln[32];
    size_t n = elmo_tokenize_spans(s, strlen(s), st, ln, 32);
    assert_true(n > 3 && n <= 32);
    for (size_t i = 0; i < n; i++) {
        assert_true((s[st[i]] & 0xc0) != 0x80);
        size_t e = st[i] + ln[i];
        assert_true(s[e] == 0 || (s[e] & 0xc0) != 0x80);
        assert_int_equal(elmo_utf8_valid_prefix(s + st[i], ln[i]), ln[i]);
    }
    /* small max: the count is still right and only max spans are written */
    size_t st2[2], ln2[2];
    assert_int_equal(elmo_tokenize_spans(s, strlen(s), st2, ln2, 2), n);
}

static void test_long_input(void **state) {
    (void)state;
    /* more than the tokenizer's internal stack room (256 tokens) */
    elmo_strbuf in = {0}, out = {0};
    for (int i = 0; i < 1000; i++) assert_int_equal(elmo_strbuf_add(&in, "w, ", 3), 0);
    assert_int_equal(elmo_tokenize_simple(in.p, in.n, &out), 2000);
    assert_int_equal(out.n, 1000 * 4 - 1);
    /* appending after existing content puts one space between */
    elmo_strbuf b = {0};
    assert_int_equal(elmo_strbuf_add(&b, "x", 1), 0);
    assert_int_equal(elmo_tokenize_simple("y.", 2, &b), 2);
    assert_string_equal(b.p, "x y .");
    elmo_strbuf_free(&in);
    elmo_strbuf_free(&out);
    elmo_strbuf_free(&b);
}

static void test_sentences(void **state) {
    (void)state;
    assert_string_equal(sents("Call me Ishmael. Some years ago I sailed. It was fun!"),
                        "Call me Ishmael. | Some years ago I sailed. | It was fun!");
    /* abbreviations, initials, dotted abbreviations, lowercase continuation */
    assert_string_equal(sents("Mr. Smith and Dr. J. Jones met in the U.S. Senate. Then, etc. and "
                              "so on. Really? yes."),
                        "Mr. Smith and Dr. J. Jones met in the U.S. Senate. | Then, etc. and so "
                        "on. | Really? yes.");
    /* closing quotes and brackets stay with their sentence; opening quotes start one */
    assert_string_equal(
        sents("He said \"Stop.\" Then he left. \"Why?\" she asked. (Applause.) And so."),
        "He said \"Stop.\" | Then he left. | \"Why?\" she asked. | (Applause.) | "
        "And so.");
    assert_string_equal(sents("A\xe2\x80\x99s end.\xe2\x80\x9d \xe2\x80\x9cNew one.\xe2\x80\x9d"),
                        "A\xe2\x80\x99s end.\xe2\x80\x9d | \xe2\x80\x9cNew one.\xe2\x80\x9d");
    /* a number before the period, an ellipsis, and no uppercase after it */
    assert_string_equal(sents("In 1990. The end... What now\xe2\x80\xa6 Nothing. 3 more."),
                        "In 1990. | The end... | What now\xe2\x80\xa6 | Nothing. 3 more.");
    /* paragraph breaks end sentences; single line breaks do not */
    assert_string_equal(sents("CHAPTER 1\n\nCall me\nIshmael\r\n\r\nNext para"),
                        "CHAPTER 1 | Call me\nIshmael | Next para");
    assert_string_equal(sents("one\n \n two"), "one | two");
    assert_string_equal(sents("  \n\n  "), "");
    assert_string_equal(sents("no final period"), "no final period");
    /* uppercase non-ASCII letters start sentences */
    assert_string_equal(sents("Fin. \xc3\x89t\xc3\xa9 venait."),
                        "Fin. | \xc3\x89t\xc3\xa9 venait.");
    size_t st[1], ln[1];
    assert_int_equal(elmo_split_sentences("Go. Be. Up.", 11, st, ln, 1), 3);
    assert_int_equal(st[0], 0);
    assert_int_equal(ln[0], 3);
}

static void test_utf8_decode(void **state) {
    (void)state;
    unsigned cp;
    assert_int_equal(elmo_utf8_decode((const unsigned char *)"a", 1, &cp), 1);
    assert_int_equal(cp, 'a');
    assert_int_equal(elmo_utf8_decode((const unsigned char *)"\xe2\x80\x94", 3, &cp), 3);
    assert_int_equal(cp, 0x2014);
    assert_int_equal(elmo_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1f600);
    /* truncated, overlong, surrogate, stray continuation */
    assert_int_equal(elmo_utf8_decode((const unsigned char *)"\xe2\x80", 2, &cp), 1);
    assert_int_equal(cp, 0xfffd);
    assert_int_equal(elmo_utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp), 1);
    assert_int_equal(elmo_utf8_decode((const unsigned char *)"\xe0\x80\xaf", 3, &cp), 1);
    assert_int_equal(elmo_utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 1);
    assert_int_equal(elmo_utf8_decode((const unsigned char *)"\x80", 1, &cp), 1);
    assert_int_equal(cp, 0xfffd);
}

static void test_random_bytes(void **state) {
    (void)state;
    /* arbitrary bytes: spans are in bounds, ordered and non-empty (and ASan-clean) */
    elmo_rng r;
    elmo_rng_seed(&r, 11);
    static const char pieces[][5] = {
        " ", ".", "\n",           "\n\n",         "'",        "\"", "-", "--", "...",
        "A", "a", "\xe2\x80\x94", "\xe2\x80\x99", "\xc2\xa0", "(",  ")", "?",  "\xc3"};
    char text[2048];
    size_t st[2048], ln[2048];
    for (int rep = 0; rep < 300; rep++) {
        size_t n = 0;
        while (n < sizeof text - 8) {
            uint64_t x = elmo_rng_next(&r);
            if (x % 3 == 0) {
                text[n++] = (char)(x >> 8);
            } else {
                const char *p = pieces[(x >> 8) % (sizeof pieces / sizeof pieces[0])];
                size_t k = strlen(p);
                memcpy(text + n, p, k);
                n += k;
            }
            if ((x >> 20) % 50 == 0) break;
        }
        size_t m = elmo_tokenize_spans(text, n, st, ln, 2048);
        assert_true(m <= 2048);
        size_t prev = 0;
        for (size_t i = 0; i < m; i++) {
            assert_true(ln[i] > 0 && st[i] >= prev && st[i] + ln[i] <= n);
            prev = st[i] + ln[i];
        }
        size_t s = elmo_split_sentences(text, n, st, ln, 2048);
        assert_true(s <= 2048);
        prev = 0;
        for (size_t i = 0; i < s; i++) {
            assert_true(ln[i] > 0 && st[i] >= prev && st[i] + ln[i] <= n);
            prev = st[i] + ln[i];
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_punctuation), cmocka_unit_test(test_word_internal),
        cmocka_unit_test(test_abbreviations),     cmocka_unit_test(test_dashes_and_ellipses),
        cmocka_unit_test(test_unicode),           cmocka_unit_test(test_no_split_inside_characters),
        cmocka_unit_test(test_long_input),        cmocka_unit_test(test_sentences),
        cmocka_unit_test(test_utf8_decode),       cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
