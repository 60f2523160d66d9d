/* test_textdata.c: classification (CSV / TSV / fastText) and tagged-sentence readers, label
 * sets, split and shuffle. Every input is a small generated file in the temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "text/textdata.h"
#include "io/textio.h"
#include "io/util.h"

/* Write a file (length explicit so that NUL bytes can be part of it). */
static const char *put_n(const char *name, const char *data, size_t len) {
    const char *p = tmpfile_path(name);
    write_file(p, data, len);
    return p;
}
#define PUT(name, lit) put_n(name, lit, sizeof(lit) - 1)

/* The last error contains every given piece. */
static void expect_msg(const char *a, const char *b, const char *c) {
    const char *m = elmo_last_error();
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (parts[i] && !strstr(m, parts[i]))
            fail_msg("error message '%s' lacks '%s'", m, parts[i]);
}

static elmo_labeled_options labeled_opts(elmo_labeled_format f, const char *label, const char *text,
                                         elmo_encoding enc, int header) {
    elmo_labeled_options o;
    elmo_labeled_options_default(&o);
    o.format = f;
    o.label_column = label;
    o.text_column = text;
    o.encoding = enc;
    o.header = header;
    return o;
}

static void expect_ex(const elmo_labeled_dataset *d, size_t i, const char *label, const char *text,
                      uint64_t line) {
    assert_true(i < d->n);
    assert_string_equal(d->ex[i].label, label);
    assert_string_equal(d->ex[i].text, text);
    assert_int_equal(d->ex[i].text_len, strlen(text));
    assert_int_equal(d->ex[i].line, line);
}

/* Read expecting a failure with status want, message naming file:line and a keyword. */
static void labeled_fails(const char *path, const elmo_labeled_options *o, elmo_status want,
                          unsigned long long line, const char *word) {
    elmo_labeled_dataset d;
    assert_int_equal(elmo_labeled_read(path, o, &d), want);
    assert_int_equal(d.n, 0);
    assert_null(d.ex);
    char where[600];
    if (line)
        snprintf(where, sizeof where, "%s:%llu:", path, line);
    else
        snprintf(where, sizeof where, "%s", path);
    expect_msg(where, word, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* CSV                                                                                        */

static void test_csv_quoting(void **state) {
    (void)state;
    const char *p = PUT("q.csv", "label,text\r\n"                     /* 1 */
                                 "ham,\"Hello, world\"\r\n"           /* 2 */
                                 "spam,\"He said \"\"hi\"\"\"\n"      /* 3 */
                                 "ham,\"line one\nline two\"\r\n"     /* 4-5 */
                                 "spam,\"crlf one\r\ncrlf two\"\n"    /* 6-7 */
                                 "ham,plain \"\"q\"\" text\n"         /* 8: quotes literal */
                                 "spam,  padded  \n"                  /* 9 */
                                 "ham,\"a\",\n"                       /* 10: extra empty field */
                                 "spam,\"abc\"def\n"                  /* 11: after the quote */
                                 "\"ham\",\"\"\"quoted\"\" start\"\n" /* 12 */
                                 "ham,\"lone\rcr\"\n"                 /* 13-14 */
                                 "spam,last line without newline");   /* 15 */
    elmo_labeled_dataset d;
    assert_int_equal(elmo_labeled_read(p, NULL, &d), ELMO_OK);
    assert_int_equal(d.n, 11);
    expect_ex(&d, 0, "ham", "Hello, world", 2);
    expect_ex(&d, 1, "spam", "He said \"hi\"", 3);
    expect_ex(&d, 2, "ham", "line one\nline two", 4);
    expect_ex(&d, 3, "spam", "crlf one\r\ncrlf two", 6);
    expect_ex(&d, 4, "ham", "plain \"\"q\"\" text", 8);
    expect_ex(&d, 5, "spam", "padded", 9);
    expect_ex(&d, 6, "ham", "a", 10);
    expect_ex(&d, 7, "spam", "abcdef", 11);
    expect_ex(&d, 8, "ham", "\"quoted\" start", 12);
    expect_ex(&d, 9, "ham", "lone\rcr", 13);
    expect_ex(&d, 10, "spam", "last line without newline", 15);
    elmo_labeled_free(&d);
    assert_null(d.ex);
    elmo_labeled_free(&d); /* twice is harmless */

    /* lone CR ends records too; blank lines are skipped; no header */
    p = PUT("cr.csv", "ham,x\r\rspam,y\r\n\n   \nham,\"\"\"\"\n");
    elmo_labeled_options o = labeled_opts(ELMO_LABELED_CSV, NULL, NULL, ELMO_ENC_UTF8, 0);
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 3);
    expect_ex(&d, 0, "ham", "x", 1);
    expect_ex(&d, 1, "spam", "y", 3);
    expect_ex(&d, 2, "ham", "\"", 6);
    elmo_labeled_free(&d);
}

static void test_csv_spam_latin1(void **state) {
    (void)state;
    /* The Kaggle spam.csv layout: v1 = label, v2 = text, three empty unnamed columns,
     * Latin-1 (0xA3 pound sign, 0xE9 e acute); some rows spill text into the unnamed columns. */
    const char *p = PUT("spam.csv", "v1,v2,,,\r\n"
                                    "ham,\"Go until jurong point, crazy..\",,,\r\n"
                                    "spam,Free entry \xa3"
                                    "100 caf\xe9,,,\r\n"
                                    "ham,\"Nah I don't think he goes to usf\",,,\r\n"
                                    "ham,first part, second part,,\r\n"
                                    "ham,short row\r\n");
    elmo_labeled_options o = labeled_opts(ELMO_LABELED_CSV, "v1", "v2", ELMO_ENC_LATIN1, -1);
    elmo_labeled_dataset d;
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 5);
    expect_ex(&d, 0, "ham", "Go until jurong point, crazy..", 2);
    expect_ex(&d, 1, "spam",
              "Free entry \xc2\xa3"
              "100 caf\xc3\xa9",
              3);
    expect_ex(&d, 3, "ham", "first part", 5);
    expect_ex(&d, 4, "ham", "short row", 6);
    elmo_labeled_free(&d);

    /* the same columns by index, and the defaults (0 = label, 1 = text) */
    o = labeled_opts(ELMO_LABELED_CSV, "0", "1", ELMO_ENC_LATIN1, -1);
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 5);
    expect_ex(&d, 1, "spam",
              "Free entry \xc2\xa3"
              "100 caf\xc3\xa9",
              3);
    elmo_labeled_free(&d);

    /* read as UTF-8: invalid on line 3, and the message suggests latin-1 */
    o = labeled_opts(ELMO_LABELED_CSV, "v1", "v2", ELMO_ENC_UTF8, -1);
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 3, "invalid UTF-8");
    expect_msg("latin-1", "0xA3", NULL);

    /* every Latin-1 byte becomes its code point */
    char all[256 + 16];
    size_t n = 0;
    n += (size_t)sprintf(all, "l,");
    for (int b = 0xa0; b <= 0xff; b++) all[n++] = (char)b;
    all[n++] = '\n';
    p = put_n("all.csv", all, n);
    o = labeled_opts(ELMO_LABELED_CSV, NULL, NULL, ELMO_ENC_LATIN1, 0);
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 1);
    /* 0xA0 (no-break space) is stripped as whitespace; the rest are 2-byte sequences */
    assert_int_equal(d.ex[0].text_len, 2 * 95);
    assert_int_equal(elmo_utf8_valid_prefix(d.ex[0].text, d.ex[0].text_len), 2 * 95);
    assert_memory_equal(d.ex[0].text, "\xc2\xa1", 2);
    assert_memory_equal(d.ex[0].text + 2 * 94, "\xc3\xbf", 2);
    elmo_labeled_free(&d);
}

static void test_csv_bom_and_utf8(void **state) {
    (void)state;
    const char *p =
        PUT("bom.csv", "\xef\xbb\xbfv1,v2\nham,caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n");
    elmo_labeled_options o = labeled_opts(ELMO_LABELED_CSV, "v1", "v2", ELMO_ENC_UTF8, -1);
    elmo_labeled_dataset d;
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 1);
    expect_ex(&d, 0, "ham", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 2);
    elmo_labeled_free(&d);
    /* a BOM in latin-1 mode is skipped as well */
    o.encoding = ELMO_ENC_LATIN1;
    p = PUT("bom1.csv", "\xef\xbb\xbfv1,v2\nham,x\n");
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    expect_ex(&d, 0, "ham", "x", 2);
    elmo_labeled_free(&d);
    /* a BOM-only file, and a file of 2 bytes, have no examples */
    p = PUT("bomonly.csv", "\xef\xbb\xbf");
    labeled_fails(p, NULL, ELMO_ERR_FORMAT, 0, "no examples");
    p = PUT("tiny.csv", "a,b\n");
    labeled_fails(p, NULL, ELMO_ERR_FORMAT, 0, "no examples");
    /* a one-column header has no text column 1 */
    p = PUT("onecol.csv", "a\nx\n");
    labeled_fails(p, NULL, ELMO_ERR_ARG, 0, "no text column 1");
}

static void test_csv_errors(void **state) {
    (void)state;
    elmo_labeled_options o = labeled_opts(ELMO_LABELED_CSV, NULL, NULL, ELMO_ENC_UTF8, -1);
    /* unterminated quote: the line where the quoted field starts */
    const char *p = PUT("unterm.csv", "a,b\nham,x\nham,\"never closed\nmore\nlines\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 3, "unterminated");
    p = PUT("unterm2.csv", "a,b\nham,\"ok\nstill ok\"\nspam,\"a \"\"b\"\" c");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 4, "unterminated");
    /* invalid UTF-8 inside a multi-line quoted field: the physical line of the byte */
    p = PUT("bad8.csv", "h,t\nham,\"ok\r\nok\n\xff bad\"\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 4, "invalid UTF-8");
    /* overlong encoding, surrogate, truncated sequence */
    p = PUT("bad8b.csv", "h,t\nham,x\nham,\xc0\xaf\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 3, "invalid UTF-8");
    p = PUT("bad8c.csv", "h,t\nham,\xed\xa0\x80\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "invalid UTF-8");
    p = PUT("bad8d.csv", "h,t\nham,ok\nham,ok\nspam,\xe2\x82");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 4, "invalid UTF-8");
    /* in an unused column too */
    p = PUT("bad8e.csv", "h,t,x\nham,ok,\xe9\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "invalid UTF-8");
    /* NUL byte */
    p = PUT("nul.csv", "h,t\nham,a\0b\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "NUL");
    /* empty text (whitespace, quoted empty, Unicode space), empty label */
    p = PUT("empty.csv", "label,text\nham,hello\nspam,   \n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 3, "text is empty");
    p = PUT("empty2.csv", "label,text\nham,\"\"\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "text is empty");
    p = PUT("empty3.csv", "label,text\nham,x\nham,y\nham,\"\xc2\xa0\xe3\x80\x80\t\"\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 4, "text is empty");
    p = PUT("nolabel.csv", "a,b\nham,x\n ,hello\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 3, "label is empty");
    /* the text column missing from a record */
    p = PUT("short.csv", "label,text\nham,x\nham\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 3, "missing");
    expect_msg("text column 1 (text)", "1 field", NULL);
    /* a multi-line record's number is where it starts */
    p = PUT("short2.csv", "label,text\n\"h\nam\"\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "missing");
    /* more fields than the header: fine when empty, an error when not */
    p = PUT("extra.csv", "a,b\nham,x,,\r\nham,x, \nham,x,y\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 4, "header has 2");
    /* missing file, directory */
    labeled_fails(tmpfile_path("does-not-exist.csv"), &o, ELMO_ERR_IO, 0, "cannot open");
    labeled_fails(tmpdir(), &o, ELMO_ERR_IO, 0, "directory");
    /* bad options */
    elmo_labeled_options bad = o;
    bad.header = 2;
    labeled_fails(p, &bad, ELMO_ERR_ARG, 0, "header");
    bad = o;
    bad.format = (elmo_labeled_format)7;
    labeled_fails(p, &bad, ELMO_ERR_ARG, 0, "format");
}

static void test_columns(void **state) {
    (void)state;
    const char *p = PUT("cols.csv", "id, text ,label\n1,hello there,pos\n2,\"bad, bad\",neg\n");
    elmo_labeled_dataset d;
    /* by name (header names are stripped), by index, mixed */
    const char *specs[][2] = {{"label", "text"}, {"2", "1"}, {"label", "1"}, {" 2 ", "text"}};
    for (int k = 0; k < 4; k++) {
        elmo_labeled_options o =
            labeled_opts(ELMO_LABELED_CSV, specs[k][0], specs[k][1], ELMO_ENC_UTF8, -1);
        assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
        assert_int_equal(d.n, 2);
        expect_ex(&d, 0, "pos", "hello there", 2);
        expect_ex(&d, 1, "neg", "bad, bad", 3);
        elmo_labeled_free(&d);
    }
    /* unknown name: the message lists the columns */
    elmo_labeled_options o = labeled_opts(ELMO_LABELED_CSV, "category", "text", ELMO_ENC_UTF8, -1);
    labeled_fails(p, &o, ELMO_ERR_ARG, 0, "no column named 'category'");
    expect_msg("'id'", "'label'", NULL);
    /* index beyond the header */
    o = labeled_opts(ELMO_LABELED_CSV, "5", "text", ELMO_ENC_UTF8, -1);
    labeled_fails(p, &o, ELMO_ERR_ARG, 0, "the header has 3 columns");
    /* the same column twice */
    o = labeled_opts(ELMO_LABELED_CSV, "1", "text", ELMO_ENC_UTF8, -1);
    labeled_fails(p, &o, ELMO_ERR_ARG, 0, "same column");
    /* a name without a header */
    o = labeled_opts(ELMO_LABELED_CSV, "label", "text", ELMO_ENC_UTF8, 0);
    labeled_fails(p, &o, ELMO_ERR_ARG, 0, "without a header");
    o = labeled_opts(ELMO_LABELED_CSV, "", "1", ELMO_ENC_UTF8, 0);
    labeled_fails(p, &o, ELMO_ERR_ARG, 0, "empty");
    /* no header: indices only; the header row is then an example */
    o = labeled_opts(ELMO_LABELED_CSV, "2", "1", ELMO_ENC_UTF8, 0);
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 3);
    expect_ex(&d, 0, "label", "text", 1);
    expect_ex(&d, 2, "neg", "bad, bad", 3);
    elmo_labeled_free(&d);
    /* a header name that looks like a number wins over the index reading */
    p = PUT("numcols.csv", "1,0\nneg,text one\n");
    o = labeled_opts(ELMO_LABELED_CSV, "0", "1", ELMO_ENC_UTF8, -1);
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    expect_ex(&d, 0, "text one", "neg", 2);
    elmo_labeled_free(&d);
    /* without a header, a record too short for the index */
    p = PUT("noh.csv", "a,b,c\nx,y\n");
    o = labeled_opts(ELMO_LABELED_CSV, "0", "2", ELMO_ENC_UTF8, 0);
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "text column 2 is missing");
}

/* ------------------------------------------------------------------------------------------ */
/* TSV and fastText                                                                           */

static void test_tsv(void **state) {
    (void)state;
    /* SMSSpamCollection: label TAB text, no header, quotes are plain characters */
    const char *p = PUT("sms.tsv", "ham\tGo until jurong point, crazy..\n"
                                   "spam\tFree \"entry\" in 2 a wkly comp\r\n"
                                   "\n"
                                   "ham\tone\ttwo\tthree\n"
                                   "spam\t  spaced  \n");
    elmo_labeled_options o = labeled_opts(ELMO_LABELED_TSV, NULL, NULL, ELMO_ENC_UTF8, -1);
    elmo_labeled_dataset d;
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 4);
    expect_ex(&d, 0, "ham", "Go until jurong point, crazy..", 1);
    expect_ex(&d, 1, "spam", "Free \"entry\" in 2 a wkly comp", 2);
    expect_ex(&d, 2, "ham", "one\ttwo\tthree", 4); /* the text keeps further tabs */
    expect_ex(&d, 3, "spam", "spaced", 5);
    elmo_labeled_free(&d);

    /* a header on request; columns by name; the last column takes the rest of the line */
    p = PUT("h.tsv", "id\ttext\tlabel\n7\thello\tpos\n8\tbye\tneg extra\n");
    o = labeled_opts(ELMO_LABELED_TSV, "label", "text", ELMO_ENC_UTF8, 1);
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 2);
    expect_ex(&d, 0, "pos", "hello", 2);
    assert_string_equal(d.ex[1].label, "neg extra");
    elmo_labeled_free(&d);
    /* ... but a label holding a tab would break every output that prints it: refused */
    p = PUT("t.tsv", "id\ttext\tlabel\n8\tbye\tneg\textra\n");
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_ERR_FORMAT);
    assert_non_null(
        strstr(elmo_last_error(), "t.tsv:2: label column 2 (label) contains a control character"));

    /* Latin-1, text first, BOM */
    p = PUT("l1.tsv", "\xef\xbb\xbf"
                      "caf\xe9\tfr\n\xa3"
                      "5\ten\n");
    o = labeled_opts(ELMO_LABELED_TSV, "1", "0", ELMO_ENC_LATIN1, 0);
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 2);
    expect_ex(&d, 0, "fr", "caf\xc3\xa9", 1);
    expect_ex(&d, 1, "en",
              "\xc2\xa3"
              "5",
              2);
    elmo_labeled_free(&d);
    /* Latin-1 header names */
    p = PUT("l1h.tsv", "cat\xe9gorie\ttexte\nA\tb\n");
    o = labeled_opts(ELMO_LABELED_TSV, "cat\xc3\xa9gorie", "texte", ELMO_ENC_LATIN1, 1);
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    expect_ex(&d, 0, "A", "b", 2);
    elmo_labeled_free(&d);

    /* errors */
    o = labeled_opts(ELMO_LABELED_TSV, NULL, NULL, ELMO_ENC_UTF8, -1);
    p = PUT("notab.tsv", "ham\tok\nham no tab here\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "text column 1 is missing");
    p = PUT("emptytext.tsv", "ham\tok\n\nspam\t \t \n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 3, "text column 1 is empty");
    p = PUT("emptylabel.tsv", "\tok\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 1, "label column 0 is empty");
    p = PUT("bad8.tsv", "ham\tok\nham\tok\nham\tcaf\xe9\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 3, "invalid UTF-8");
    expect_msg("--encoding latin-1", NULL, NULL);
    p = PUT("cr.tsv", "ham\tok\rham\tbad \xff\r\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "invalid UTF-8");
    p = PUT("nul.tsv", "ham\tok\nham\to\0k\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "NUL");
}

static void test_fasttext(void **state) {
    (void)state;
    const char *p = PUT("ft.txt", "__label__pos __label__extra great movie\n"
                                  "__label__neg  bad __label__x film \r\n"
                                  "\n"
                                  "  __label__neu\tok\n"
                                  "__label__caf\xc3\xa9 d\xc3\xa9j\xc3\xa0 vu\n");
    elmo_labeled_options o = labeled_opts(ELMO_LABELED_FASTTEXT, NULL, NULL, ELMO_ENC_UTF8, -1);
    elmo_labeled_dataset d;
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 4);
    expect_ex(&d, 0, "pos", "great movie", 1);
    expect_ex(&d, 1, "neg", "bad __label__x film", 2);
    expect_ex(&d, 2, "neu", "ok", 4);
    expect_ex(&d, 3, "caf\xc3\xa9", "d\xc3\xa9j\xc3\xa0 vu", 5);
    elmo_labeled_free(&d);

    p = PUT("ft1.txt", "__label__a x\nno label here\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "__label__");
    p = PUT("ft2.txt", "__label__a x\n__label__b __label__c  \n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "text is empty");
    p = PUT("ft3.txt", "__label__ some text\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 1, "label is empty");
    p = PUT("ft4.txt", "__label__a x\n__label__b caf\xe9\n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 2, "invalid UTF-8");
    o.encoding = ELMO_ENC_LATIN1;
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    expect_ex(&d, 1, "b", "caf\xc3\xa9", 2);
    elmo_labeled_free(&d);
    p = PUT("ft5.txt", "\n  \n");
    labeled_fails(p, &o, ELMO_ERR_FORMAT, 0, "no examples");
}

static void test_parse_names(void **state) {
    (void)state;
    elmo_labeled_format f;
    assert_int_equal(elmo_labeled_format_parse("CSV", &f), ELMO_OK);
    assert_int_equal(f, ELMO_LABELED_CSV);
    assert_int_equal(elmo_labeled_format_parse("tsv", &f), ELMO_OK);
    assert_int_equal(f, ELMO_LABELED_TSV);
    assert_int_equal(elmo_labeled_format_parse("fasttext", &f), ELMO_OK);
    assert_int_equal(f, ELMO_LABELED_FASTTEXT);
    assert_int_equal(elmo_labeled_format_parse("json", &f), ELMO_ERR_ARG);
    expect_msg("json", NULL, NULL);
    elmo_encoding e;
    assert_int_equal(elmo_encoding_parse("latin-1", &e), ELMO_OK);
    assert_int_equal(e, ELMO_ENC_LATIN1);
    assert_int_equal(elmo_encoding_parse("ISO-8859-1", &e), ELMO_OK);
    assert_int_equal(e, ELMO_ENC_LATIN1);
    assert_int_equal(elmo_encoding_parse("utf8", &e), ELMO_OK);
    assert_int_equal(e, ELMO_ENC_UTF8);
    assert_int_equal(elmo_encoding_parse("cp1252", &e), ELMO_ERR_ARG);
    elmo_tag_format t;
    assert_int_equal(elmo_tag_format_parse("CoNLL", &t), ELMO_OK);
    assert_int_equal(t, ELMO_TAGFMT_CONLL);
    assert_int_equal(elmo_tag_format_parse("wordtag", &t), ELMO_OK);
    assert_int_equal(t, ELMO_TAGFMT_SLASH);
    assert_int_equal(elmo_tag_format_parse("auto", &t), ELMO_OK);
    assert_int_equal(t, ELMO_TAGFMT_AUTO);
    assert_int_equal(elmo_tag_format_parse("xml", &t), ELMO_ERR_ARG);
}

/* ------------------------------------------------------------------------------------------ */
/* Label sets, split, shuffle                                                                 */

static void test_labelset(void **state) {
    (void)state;
    elmo_labeled_example ex[5] = {{"spam", "a", 1, 1},
                                  {"ham", "b", 1, 2},
                                  {"spam", "c", 1, 3},
                                  {"other", "d", 1, 4},
                                  {"ham", "e", 1, 5}};
    elmo_labelset ls;
    assert_int_equal(elmo_labelset_from_labeled(&ls, ex, 5, ELMO_LABELS_SORTED), ELMO_OK);
    assert_int_equal(ls.n, 3);
    assert_int_equal(elmo_labelset_id(&ls, "ham"), 0);
    assert_int_equal(elmo_labelset_id(&ls, "other"), 1);
    assert_int_equal(elmo_labelset_id(&ls, "spam"), 2);
    assert_int_equal(elmo_labelset_id(&ls, "eggs"), -1);
    assert_int_equal(elmo_labelset_id(&ls, ""), -1);
    assert_string_equal(elmo_labelset_name(&ls, 2), "spam");
    assert_null(elmo_labelset_name(&ls, 3));
    assert_null(elmo_labelset_name(&ls, -1));
    elmo_labelset_free(&ls);

    assert_int_equal(elmo_labelset_from_labeled(&ls, ex, 5, ELMO_LABELS_FIRST_SEEN), ELMO_OK);
    assert_int_equal(elmo_labelset_id(&ls, "spam"), 0);
    assert_int_equal(elmo_labelset_id(&ls, "ham"), 1);
    assert_int_equal(elmo_labelset_id(&ls, "other"), 2);
    elmo_labelset_free(&ls);

    /* binary sets: the positive class is 1 whatever comes first in the file */
    const char *pairs[][2] = {
        {"spam", "ham"}, {"pos", "neg"}, {"positive", "negative"}, {"true", "false"}, {"1", "0"}};
    for (int k = 0; k < 5; k++) {
        elmo_labeled_example b[2] = {{pairs[k][0], "x", 1, 1}, {pairs[k][1], "y", 1, 2}};
        assert_int_equal(elmo_labelset_from_labeled(&ls, b, 2, ELMO_LABELS_SORTED), ELMO_OK);
        assert_int_equal(elmo_labelset_id(&ls, pairs[k][0]), 1);
        assert_int_equal(elmo_labelset_id(&ls, pairs[k][1]), 0);
        elmo_labelset_free(&ls);
    }

    /* integers in numeric order before the other labels */
    elmo_labelset_init(&ls);
    const char *names[] = {"10", "b", "9", "-1", "A", "2", "+3", "007"};
    for (int k = 0; k < 8; k++) {
        int id;
        assert_int_equal(elmo_labelset_add(&ls, names[k], &id), ELMO_OK);
        assert_int_equal(id, k);
    }
    int again;
    assert_int_equal(elmo_labelset_add(&ls, "9", &again), ELMO_OK);
    assert_int_equal(again, 2);
    assert_int_equal(ls.n, 8);
    assert_int_equal(elmo_labelset_sort(&ls), ELMO_OK);
    const char *want[] = {"-1", "2", "+3", "007", "9", "10", "A", "b"};
    for (int k = 0; k < 8; k++) {
        assert_string_equal(elmo_labelset_name(&ls, k), want[k]);
        assert_int_equal(elmo_labelset_id(&ls, want[k]), k);
    }
    elmo_labelset_free(&ls);

    /* many labels: growth and rehashing keep every id */
    elmo_labelset_init(&ls);
    char buf[32];
    for (int k = 0; k < 5000; k++) {
        snprintf(buf, sizeof buf, "tag-%d", k * 7919 % 5000);
        int id;
        assert_int_equal(elmo_labelset_add(&ls, buf, &id), ELMO_OK);
        assert_int_equal(id, k);
    }
    for (int k = 0; k < 5000; k++) {
        snprintf(buf, sizeof buf, "tag-%d", k * 7919 % 5000);
        assert_int_equal(elmo_labelset_id(&ls, buf), k);
    }
    assert_int_equal(elmo_labelset_sort(&ls), ELMO_OK);
    for (int k = 1; k < 5000; k++)
        assert_true(strcmp(elmo_labelset_name(&ls, k - 1), elmo_labelset_name(&ls, k)) < 0);
    for (int k = 0; k < 5000; k++)
        assert_int_equal(elmo_labelset_id(&ls, elmo_labelset_name(&ls, k)), k);
    elmo_labelset_free(&ls);
}

static void test_split_shuffle(void **state) {
    (void)state;
    elmo_strbuf b = {0};
    elmo_strbuf_add(&b, "label,text\n", 11);
    for (int k = 0; k < 50; k++) elmo_strbuf_printf(&b, "%s,text %d\n", k % 3 ? "ham" : "spam", k);
    const char *p = put_n("split.csv", b.p, b.n);
    elmo_strbuf_free(&b);
    elmo_labeled_dataset d, d2;
    assert_int_equal(elmo_labeled_read(p, NULL, &d), ELMO_OK);
    assert_int_equal(d.n, 50);

    /* split in file order */
    elmo_labeled_slice a, r;
    assert_int_equal(elmo_labeled_split(&d, 0.8, &a, &r), ELMO_OK);
    assert_int_equal(a.n, 40);
    assert_int_equal(r.n, 10);
    assert_string_equal(a.ex[0].text, "text 0");
    assert_string_equal(a.ex[39].text, "text 39");
    assert_string_equal(r.ex[0].text, "text 40");
    assert_int_equal(r.ex[0].line, 42);
    assert_int_equal(elmo_labeled_split(&d, 0, &a, &r), ELMO_OK);
    assert_int_equal(a.n, 0);
    assert_int_equal(r.n, 50);
    assert_int_equal(elmo_labeled_split(&d, 1, &a, &r), ELMO_OK);
    assert_int_equal(a.n, 50);
    assert_int_equal(r.n, 0);
    assert_int_equal(elmo_labeled_split(&d, 1.5, &a, &r), ELMO_ERR_ARG);
    assert_int_equal(elmo_labeled_split(&d, -0.1, &a, &r), ELMO_ERR_ARG);
    assert_int_equal(elmo_td_split_point(100, 0.29), 29);
    assert_int_equal(elmo_td_split_point(10, 0.7), 7);
    assert_int_equal(elmo_td_split_point(3, 0.5), 1);
    assert_int_equal(elmo_td_split_point(5572, 0.8), 4457);
    assert_int_equal(elmo_td_split_point(0, 0.5), 0);

    /* shuffle: deterministic for a seed, a permutation, different for another seed */
    assert_int_equal(elmo_labeled_read(p, NULL, &d2), ELMO_OK);
    elmo_labeled_shuffle(&d, 42);
    elmo_labeled_shuffle(&d2, 42);
    int moved = 0, seen[50] = {0};
    for (size_t i = 0; i < 50; i++) {
        assert_int_equal(d.ex[i].line, d2.ex[i].line);
        assert_string_equal(d.ex[i].text, d2.ex[i].text);
        int k = atoi(d.ex[i].text + 5);
        assert_int_equal(d.ex[i].line, (uint64_t)k + 2); /* strings travel with their line */
        seen[k]++;
        moved += k != (int)i;
    }
    for (int k = 0; k < 50; k++) assert_int_equal(seen[k], 1);
    assert_true(moved > 25);
    elmo_labeled_free(&d2);
    assert_int_equal(elmo_labeled_read(p, NULL, &d2), ELMO_OK);
    elmo_labeled_shuffle(&d2, 43);
    int same = 0;
    for (size_t i = 0; i < 50; i++) same += d.ex[i].line == d2.ex[i].line;
    assert_true(same < 25);
    elmo_labeled_free(&d);
    elmo_labeled_free(&d2);

    /* the generic shuffle is the documented Fisher-Yates over elmo_rng */
    int v[10], w[10];
    for (int k = 0; k < 10; k++) v[k] = w[k] = k;
    elmo_td_shuffle(v, 10, sizeof *v, 7);
    elmo_rng rng;
    elmo_rng_seed(&rng, 7);
    for (size_t i = 9; i > 0; i--) {
        size_t j = (size_t)elmo_rng_below(&rng, i + 1);
        int t = w[i];
        w[i] = w[j];
        w[j] = t;
    }
    assert_memory_equal(v, w, sizeof v);
    elmo_td_shuffle(v, 1, sizeof *v, 7); /* n < 2: nothing */
    elmo_td_shuffle(NULL, 0, sizeof *v, 7);
}

/* Many records, quotes and line breaks among them, and one text larger than an arena block. */
static void test_large(void **state) {
    (void)state;
    const char *p = tmpfile_path("large.csv");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("v1,v2,,,\r\n", f);
    const int N = 200000;
    uint64_t line = 2, big_line = 0;
    for (int k = 0; k < N; k++) {
        if (k == N / 2) {
            big_line = line;
            fputs("spam,\"", f);
            for (int j = 0; j < 300000; j++) fputs("big \"\"x\"\" ", f);
            fputs("\",,,\r\n", f);
            line++;
        } else if (k % 7 == 0) {
            fprintf(f, "ham,\"message %d, with a comma\nand a second line\",,,\r\n", k);
            line += 2;
        } else {
            fprintf(f, "%s,message %d caf\xe9 \xa3%d,,,\r\n", k % 2 ? "spam" : "ham", k, k);
            line++;
        }
    }
    fclose(f);
    elmo_labeled_options o = labeled_opts(ELMO_LABELED_CSV, "v1", "v2", ELMO_ENC_LATIN1, -1);
    elmo_labeled_dataset d;
    double t0 = elmo_now();
    assert_int_equal(elmo_labeled_read(p, &o, &d), ELMO_OK);
    double t1 = elmo_now();
    assert_int_equal(d.n, (size_t)N);
    const elmo_labeled_example *big = &d.ex[N / 2];
    assert_int_equal(big->line, big_line);
    assert_int_equal(big->text_len, 300000 * 8 - 1);
    assert_memory_equal(big->text, "big \"x\" big ", 12);
    char want[128];
    snprintf(want, sizeof want, "message %d caf\xc3\xa9 \xc2\xa3%d", N - 1, N - 1);
    assert_string_equal(d.ex[N - 1].text, want);
    assert_string_equal(d.ex[7].text, "message 7, with a comma\nand a second line");
    assert_int_equal(d.ex[N - 1].line, line - 1);
    print_message("read %d records (%.1f MB of text) in %.3f s\n", N, d.arena_.bytes / 1e6,
                  t1 - t0);
    elmo_labeled_free(&d);
}

/* ------------------------------------------------------------------------------------------ */
/* Tagged and untagged sentences                                                              */

static void expect_sent(const elmo_tagged_dataset *d, size_t i, const char *words, const char *tags,
                        uint64_t line) {
    assert_true(i < d->n);
    const elmo_sentence *s = &d->sent[i];
    char wb[512] = "", tb[512] = "";
    for (size_t k = 0; k < s->n; k++) {
        strcat(wb, k ? " " : "");
        strcat(wb, s->words[k]);
        if (s->tags) {
            strcat(tb, k ? " " : "");
            strcat(tb, s->tags[k]);
        }
        assert_ptr_equal(s->words[k], d->words[s->first + k]);
    }
    assert_string_equal(wb, words);
    if (tags)
        assert_string_equal(tb, tags);
    else
        assert_null(s->tags);
    assert_int_equal(s->line, line);
}

static void tagged_fails(const char *path, const elmo_tagged_options *o, unsigned long long line,
                         const char *word) {
    elmo_tagged_dataset d;
    assert_int_equal(elmo_tagged_read(path, o, &d), ELMO_ERR_FORMAT);
    assert_int_equal(d.n, 0);
    assert_null(d.sent);
    char where[600];
    if (line)
        snprintf(where, sizeof where, "%s:%llu:", path, line);
    else
        snprintf(where, sizeof where, "%s", path);
    expect_msg(where, word, NULL);
}

static void test_slash(void **state) {
    (void)state;
    const char *p = PUT("pos.txt", "The/DT dog/NN barks/VBZ ./.\n"
                                   "\n"
                                   "  1\\/2/CD of/IN a//SYM  //: \r\n"
                                   "\xef\xbc\xa1/NNP\n");
    elmo_tagged_dataset d;
    assert_int_equal(elmo_tagged_read(p, NULL, &d), ELMO_OK);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_tokens, 9);
    expect_sent(&d, 0, "The dog barks .", "DT NN VBZ .", 1);
    expect_sent(&d, 1, "1\\/2 of a/ /", "CD IN SYM :", 3);
    expect_sent(&d, 2, "\xef\xbc\xa1", "NNP", 4);
    elmo_labelset tags;
    assert_int_equal(elmo_labelset_from_tags(&tags, &d, ELMO_LABELS_SORTED), ELMO_OK);
    assert_int_equal(tags.n, 9);
    assert_string_equal(elmo_labelset_name(&tags, 0), ".");
    assert_int_equal(elmo_labelset_id(&tags, "VBZ"), 8);
    elmo_labelset_free(&tags);
    elmo_tagged_free(&d);
    assert_null(d.sent);

    elmo_tagged_options o = {ELMO_TAGFMT_SLASH, ELMO_ENC_UTF8};
    p = PUT("pos1.txt", "The/DT dog/NN\n\nA/DT cat\n");
    tagged_fails(p, &o, 3, "token 2 ('cat') has no /TAG");
    p = PUT("pos2.txt", "good/JJ /NN\n");
    tagged_fails(p, &o, 1, "empty word");
    p = PUT("pos3.txt", "a/DT\nb/DT\nword/ x/NN\n");
    tagged_fails(p, &o, 3, "empty tag");
    p = PUT("pos4.txt", "a/DT\nb/DT caf\xe9/NN\n");
    tagged_fails(p, &o, 2, "invalid UTF-8");
    o.encoding = ELMO_ENC_LATIN1;
    assert_int_equal(elmo_tagged_read(p, &o, &d), ELMO_OK);
    expect_sent(&d, 1, "b caf\xc3\xa9", "DT NN", 2);
    elmo_tagged_free(&d);
    /* space-separated CoNLL read as word/TAG: the message points at the conll format */
    p = PUT("space.conll", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n");
    tagged_fails(p, NULL, 1, "conll");
    p = PUT("blank.txt", "\n \n");
    tagged_fails(p, NULL, 0, "no tagged sentences");
}

static void test_conll(void **state) {
    (void)state;
    /* auto-detected by the TAB; several columns: first = token, last = tag; CRLF; blank runs */
    const char *p = PUT("a.conll", "\n"
                                   "The\tDT\n"
                                   "dog\tNN\r\n"
                                   "\r\n"
                                   "\n"
                                   "barks\tVBZ\tB-VP\tVBZ\n"
                                   "  \t \n"
                                   "1/2\tx\tCD\n"
                                   "#\t#\n");
    elmo_tagged_dataset d;
    assert_int_equal(elmo_tagged_read(p, NULL, &d), ELMO_OK);
    assert_int_equal(d.n, 3);
    expect_sent(&d, 0, "The dog", "DT NN", 2);
    expect_sent(&d, 1, "barks", "VBZ", 6);
    expect_sent(&d, 2, "1/2 #", "CD #", 8);
    /* split and shuffle of sentences */
    elmo_sentence_slice a, r;
    assert_int_equal(elmo_tagged_split(&d, 0.5, &a, &r), ELMO_OK);
    assert_int_equal(a.n, 1);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.sent[0].line, 6);
    assert_int_equal(elmo_tagged_split(&d, 2, &a, &r), ELMO_ERR_ARG);
    elmo_tagged_shuffle(&d, 5);
    int lines = 0;
    for (size_t i = 0; i < d.n; i++) {
        lines += (int)d.sent[i].line;
        if (d.sent[i].line == 2) assert_string_equal(d.sent[i].tags[1], "NN");
    }
    assert_int_equal(lines, 16);
    elmo_tagged_free(&d);

    /* explicit conll with space-separated columns, -DOCSTART- skipped (CoNLL-2003) */
    p = PUT("b.conll", "-DOCSTART- -X- -X- O\n"
                       "\n"
                       "EU NNP B-NP B-ORG\n"
                       "rejects VBZ B-VP O\n"
                       "\n"
                       "-DOCSTART- -X- O\n"
                       "Peter NNP B-NP B-PER\n");
    elmo_tagged_options o = {ELMO_TAGFMT_CONLL, ELMO_ENC_UTF8};
    assert_int_equal(elmo_tagged_read(p, &o, &d), ELMO_OK);
    assert_int_equal(d.n, 2);
    expect_sent(&d, 0, "EU rejects", "B-ORG O", 3);
    expect_sent(&d, 1, "Peter", "B-PER", 7);
    elmo_tagged_free(&d);

    /* errors with line numbers */
    p = PUT("c.conll", "The\tDT\n\nlonely\n");
    tagged_fails(p, NULL, 3, "one column");
    p = PUT("d.conll", "The\tDT\nword\t \n");
    tagged_fails(p, NULL, 2, "empty tag");
    p = PUT("e.conll", "The\tDT\n\tNN\n");
    tagged_fails(p, NULL, 2, "empty token");
    p = PUT("f.conll", "The\tDT\n\na\tb\nc\xff\tNN\n");
    tagged_fails(p, NULL, 4, "invalid UTF-8");
    p = PUT("g.conll", "-DOCSTART-\tO\n\n");
    tagged_fails(p, NULL, 0, "no tagged sentences");
    elmo_tagged_options bad = {(elmo_tag_format)9, ELMO_ENC_UTF8};
    assert_int_equal(elmo_tagged_read(p, &bad, &d), ELMO_ERR_ARG);
    assert_int_equal(elmo_tagged_read(tmpfile_path("nope.conll"), NULL, &d), ELMO_ERR_IO);
}

static void test_untagged(void **state) {
    (void)state;
    const char *p = PUT("in.txt", "\xef\xbb\xbfHello world .\n\n  a  b\tc \r\n\xe3\x80\x80\nlast");
    elmo_tagged_dataset d;
    assert_int_equal(elmo_untagged_read(p, ELMO_ENC_UTF8, &d), ELMO_OK);
    assert_int_equal(d.n, 5);
    assert_null(d.tags);
    expect_sent(&d, 0, "Hello world .", NULL, 1);
    expect_sent(&d, 1, "", NULL, 2);
    expect_sent(&d, 2, "a b c", NULL, 3);
    expect_sent(&d, 3, "", NULL, 4);
    expect_sent(&d, 4, "last", NULL, 5);
    assert_int_equal(d.sent[1].n, 0);
    assert_non_null(d.sent[1].words);
    /* word/TAG tokens are plain words here */
    elmo_labelset ls;
    assert_int_equal(elmo_labelset_from_tags(&ls, &d, ELMO_LABELS_SORTED), ELMO_ERR_ARG);
    elmo_tagged_free(&d);

    p = PUT("in2.txt", "ok\ncaf\xe9\n");
    assert_int_equal(elmo_untagged_read(p, ELMO_ENC_UTF8, &d), ELMO_ERR_FORMAT);
    expect_msg(":2:", "invalid UTF-8", NULL);
    assert_int_equal(elmo_untagged_read(p, ELMO_ENC_LATIN1, &d), ELMO_OK);
    expect_sent(&d, 1, "caf\xc3\xa9", NULL, 2);
    elmo_tagged_free(&d);

    p = PUT("in3.txt", "");
    assert_int_equal(elmo_untagged_read(p, ELMO_ENC_UTF8, &d), ELMO_OK);
    assert_int_equal(d.n, 0);
    elmo_tagged_free(&d);

    /* many sentences: the token arrays grow; every sentence points at its own tokens */
    elmo_strbuf b = {0};
    for (int k = 0; k < 3000; k++) elmo_strbuf_printf(&b, "w%d x%d y%d\n", k, k, k);
    p = put_n("in4.txt", b.p, b.n);
    elmo_strbuf_free(&b);
    assert_int_equal(elmo_untagged_read(p, ELMO_ENC_UTF8, &d), ELMO_OK);
    assert_int_equal(d.n, 3000);
    assert_int_equal(d.n_tokens, 9000);
    assert_string_equal(d.sent[2999].words[2], "y2999");
    assert_string_equal(d.sent[1234].words[0], "w1234");
    elmo_tagged_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_csv_spam_latin1),
        cmocka_unit_test(test_csv_bom_and_utf8),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_tsv),
        cmocka_unit_test(test_fasttext),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_labelset),
        cmocka_unit_test(test_split_shuffle),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_slash),
        cmocka_unit_test(test_conll),
        cmocka_unit_test(test_untagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
