/* test_spamassassin.c: e-mail to text (src/text/mail.c): transfer encodings, charsets, HTML, MIME
 * structure, on small synthetic messages. */
#include <stdlib.h>
#include <string.h>

#include "text/mail.h"
#include "testutil.h"
#include "io/textio.h"

static char g_buf[8192];

typedef int (*decoder)(const char *, size_t, elmo_strbuf *);

static const char *run(decoder f, const char *s) {
    elmo_strbuf b = {0};
    assert_int_equal(f(s, strlen(s), &b), 0);
    snprintf(g_buf, sizeof g_buf, "%s", b.p ? b.p : "");
    elmo_strbuf_free(&b);
    return g_buf;
}
static int qp_body(const char *s, size_t n, elmo_strbuf *b) { return elmo_qp_decode(s, n, 0, b); }
static int qp_header(const char *s, size_t n, elmo_strbuf *b) { return elmo_qp_decode(s, n, 1, b); }
static int latin1(const char *s, size_t n, elmo_strbuf *b) {
    return elmo_to_utf8(s, n, "\"ISO-8859-1\"", b);
}
static int undeclared(const char *s, size_t n, elmo_strbuf *b) {
    return elmo_to_utf8(s, n, NULL, b);
}
static int utf8(const char *s, size_t n, elmo_strbuf *b) { return elmo_to_utf8(s, n, "UTF-8", b); }
static int latin9(const char *s, size_t n, elmo_strbuf *b) {
    return elmo_to_utf8(s, n, "iso-8859-15", b);
}
static int koi8(const char *s, size_t n, elmo_strbuf *b) { return elmo_to_utf8(s, n, "koi8-r", b); }
static int bogus(const char *s, size_t n, elmo_strbuf *b) {
    return elmo_to_utf8(s, n, "x-no-such-charset", b);
}

static const char *mail(const char *raw) {
    elmo_strbuf b = {0};
    assert_int_equal(elmo_mail_text(raw, strlen(raw), &b), ELMO_OK);
    snprintf(g_buf, sizeof g_buf, "%s", b.p ? b.p : "");
    /* always valid UTF-8, no tabs or line breaks */
    assert_int_equal(elmo_utf8_valid_prefix(g_buf, strlen(g_buf)), strlen(g_buf));
    assert_null(strpbrk(g_buf, "\t\r\n"));
    elmo_strbuf_free(&b);
    return g_buf;
}

static void test_quoted_printable(void **state) {
    (void)state;
    assert_string_equal(run(qp_body, "caf=E9 =3D ok"), "caf\xe9 = ok");
    assert_string_equal(run(qp_body, "soft=\nbreak and=\r\nCRLF and=  \nblanks"),
                        "softbreak andCRLF andblanks");
    assert_string_equal(run(qp_body, "lower =e9=c3=a9 stray = and =ZZ end="),
                        "lower \xe9\xc3\xa9 stray = and =ZZ end");
    assert_string_equal(run(qp_header, "Hello_World=21"), "Hello World!");
    assert_string_equal(run(qp_body, "a_b"), "a_b");
}

static void test_base64(void **state) {
    (void)state;
    assert_string_equal(run(elmo_base64_decode, "SGVsbG8sIFdvcmxkIQ=="), "Hello, World!");
    assert_string_equal(run(elmo_base64_decode, "SGVs\r\nbG8g\nV29y bGQ="), "Hello World");
    assert_string_equal(run(elmo_base64_decode, "YQ==Yg=="), "ab"); /* concatenated groups */
    assert_string_equal(run(elmo_base64_decode, "w6k="), "\xc3\xa9");
    assert_string_equal(run(elmo_base64_decode, ""), "");
    assert_string_equal(run(elmo_base64_decode, "!!!"), "");
}

static void test_charsets(void **state) {
    (void)state;
    assert_string_equal(run(latin1, "caf\xe9 \x93quoted\x94 \x80"),
                        "caf\xc3\xa9 \xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac");
    assert_string_equal(run(latin9, "\xa4 \xbd"), "\xe2\x82\xac \xc5\x93");
    /* undeclared: UTF-8 when valid, else windows-1252 */
    assert_string_equal(run(undeclared, "caf\xc3\xa9"), "caf\xc3\xa9");
    assert_string_equal(run(undeclared, "caf\xe9"), "caf\xc3\xa9");
    /* declared UTF-8: invalid bytes become U+FFFD */
    assert_string_equal(run(utf8, "a\xff"
                                  "b\xc3"),
                        "a\xef\xbf\xbd"
                        "b\xef\xbf\xbd");
    /* iconv charsets; unknown names fall back to the undeclared rules */
    assert_string_equal(run(koi8, "\xf0\xd2\xc9\xd7\xc5\xd4"),
                        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
    assert_string_equal(run(bogus, "caf\xe9"), "caf\xc3\xa9");
}

static void test_html(void **state) {
    (void)state;
    assert_string_equal(
        run(elmo_html_to_text, "<p>Hello <b>bold</b> V<font color=red>i</font>agra</p>"),
        " Hello bold Viagra ");
    assert_string_equal(run(elmo_html_to_text,
                            "a<br>b<!-- hidden <p> -->c<script>var x = '<p>';</script>d"
                            "<STYLE type=\"text/css\">p {}</STYLE>e"),
                        "a b c d e");
    assert_string_equal(run(elmo_html_to_text,
                            "&lt;tag&gt; &amp; &quot;q&quot; &nbsp;x &copy; &#233; &#xE9; "
                            "&#150; &eacute; &unknown; & AT&T &amp"),
                        "<tag> & \"q\" \xc2\xa0x \xc2\xa9 \xc3\xa9 \xc3\xa9 \xe2\x80\x93 \xc3\xa9 "
                        "&unknown; & AT&T &");
    assert_string_equal(run(elmo_html_to_text, "x < y and 3<4 <!DOCTYPE html>z"),
                        "x < y and 3<4  z");
    assert_string_equal(run(elmo_html_to_text, "cut <a href=\"http://x"), "cut ");
    assert_string_equal(run(elmo_html_to_text, "&#0; &#xD800; &#99999999"),
                        "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
}

static void test_header_and_space(void **state) {
    (void)state;
    assert_string_equal(run(elmo_decode_header, " =?iso-8859-1?q?caf=E9?= =?UTF-8?B?w6k=?= plain"),
                        " caf\xc3\xa9\xc3\xa9 plain");
    assert_string_equal(run(elmo_decode_header, "=?bad"), "=?bad");
    assert_string_equal(run(elmo_collapse_space, "  a\t\tb\r\n c\xc2\xa0\xc2\xa0"
                                                 "d\x01"
                                                 "e\xef\xbb\xbf"
                                                 "f  "),
                        "a b c d ef");
    assert_string_equal(run(elmo_collapse_space, "x\xff y"), "x\xef\xbf\xbd y");
}

static void test_simple_messages(void **state) {
    (void)state;
    assert_string_equal(mail("From someone@example.com  Thu Aug 22 13:17:22 2002\n"
                             "Return-Path: <a@b>\nSubject: Hello\n  there\nX-Other: drop me\n\n"
                             "Body line one.\nLine\ttwo.\n"),
                        "Hello there Body line one. Line two.");
    /* quoted-printable latin-1 body, CRLF line ends */
    assert_string_equal(
        mail("Subject: =?ISO-8859-1?Q?R=E9sum=E9?=\r\nContent-Type: text/plain; "
             "charset=\"iso-8859-1\"\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=\r\n=E8me\r\n"),
        "R\xc3\xa9sum\xc3\xa9 Caf\xc3\xa9 cr\xc3\xa8me");
    /* base64 HTML body */
    assert_string_equal(
        mail("Subject: Offer\nContent-Type: TEXT/HTML\nContent-Transfer-Encoding: BASE64\n\n"
             "PGh0bWw+PGJvZHk+PHA+QnV5Jm5ic3A7bm93ITwvcD48L2JvZHk+PC9odG1sPg==\n"),
        "Offer Buy now!");
    /* no headers at all, no blank line */
    assert_string_equal(mail("just text"), "just text");
    assert_string_equal(mail(""), "");
    /* undeclared HTML is recognised */
    assert_string_equal(mail("Subject: x\n\n<html><body>Hi&nbsp;you</body></html>"), "x Hi you");
    /* so is text/plain made of HTML tags, but not a little markup in plain text */
    assert_string_equal(
        mail("Subject: y\nContent-Type: "
             "text/plain\n\n<p><b>Deal</b></p><br><table><tr><td>now</td></tr></table>"),
        "y Deal now");
    assert_string_equal(mail("Subject: z\n\nuse <b>bold</b> and <p> tags"),
                        "z use <b>bold</b> and <p> tags");
    /* a non-text type is dropped */
    assert_string_equal(mail("Subject: pic\nContent-Type: image/gif\n\nGIF89a...."), "pic");
}

static void test_multipart(void **state) {
    (void)state;
    const char *alt =
        "Subject: Alt\nMIME-Version: 1.0\nContent-Type: "
        "multipart/alternative;\n\tboundary=\"==XYZ\"\n\n"
        "This is a multi-part message in MIME format.\n"
        "--==XYZ\nContent-Type: text/plain; charset=us-ascii\n\nPlain version.\n"
        "--==XYZ\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n"
        "<p>HTML =3D version</p>\n--==XYZ--\nepilogue\n";
    assert_string_equal(mail(alt), "Alt Plain version.");
    const char *html_only = "Subject: Alt2\nContent-Type: multipart/alternative; boundary=b1\n\n"
                            "--b1\nContent-Type: text/plain\n\n   \n--b1\nContent-Type: "
                            "text/html\n\n<i>Rich</i> text\n--b1--\n";
    assert_string_equal(mail(html_only), "Alt2 Rich text");
    const char *stub =
        "Subject: Alt3\nContent-Type: multipart/alternative; boundary=b1\n\n"
        "--b1\nContent-Type: text/plain\n\nHTML mail!\n--b1\nContent-Type: text/html\n\n"
        "<p>The real offer is here and it is long</p>\n--b1--\n";
    assert_string_equal(mail(stub), "Alt3 The real offer is here and it is long");
    const char *mixed =
        "Subject: Mixed\nContent-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\n"
        "Content-Type: multipart/alternative; boundary=\"inner\"\n\n--inner\nContent-Type: "
        "text/plain\n\n"
        "Inner plain.\n--inner\nContent-Type: text/html\n\n<b>Inner "
        "html</b>\n--inner--\n\n--outer\n"
        "Content-Type: application/octet-stream\nContent-Transfer-Encoding: "
        "base64\n\nAAECAwQ=\n--outer\n"
        "Content-Type: text/html; charset=windows-1252\n\n<p>Second \x93part\x94</p>\n--outer\n"
        "Content-Type: message/rfc822\n\nSubject: inner message\nContent-Type: "
        "text/plain\n\nForwarded body.\n"
        "--outer--\n";
    assert_string_equal(mail(mixed),
                        "Mixed Inner plain. Second \xe2\x80\x9cpart\xe2\x80\x9d Forwarded body.");
    /* a multipart whose boundary never appears: its body is read as text */
    assert_string_equal(
        mail("Subject: Broken\nContent-Type: multipart/mixed; boundary=zzz\n\nonly text\n"),
        "Broken only text");
    /* an unterminated last part, and nesting deeper than the limit never crashes */
    assert_string_equal(
        mail("Content-Type: multipart/mixed; boundary=q\n\n--q\n\nfirst\n--q\n\nsecond"),
        "first second");
    elmo_strbuf deep = {0};
    for (int i = 0; i < 40; i++)
        assert_int_equal(elmo_strbuf_printf(
                             &deep, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i),
                         0);
    assert_int_equal(elmo_strbuf_add(&deep, "\ndeep text\n", 11), 0);
    elmo_strbuf out = {0};
    assert_int_equal(elmo_mail_text(deep.p, deep.n, &out), ELMO_OK);
    elmo_strbuf_free(&deep);
    elmo_strbuf_free(&out);
}

static void test_binary_garbage(void **state) {
    (void)state;
    /* NUL bytes, invalid UTF-8 and random bytes: valid UTF-8 out, never a crash */
    char raw[4096];
    elmo_rng r;
    elmo_rng_seed(&r, 7);
    for (int rep = 0; rep < 200; rep++) {
        size_t n = (size_t)elmo_rng_below(&r, sizeof raw);
        for (size_t i = 0; i < n; i++) {
            uint64_t x = elmo_rng_next(&r);
            raw[i] = (x & 3) == 0 ? "\n-=<>&;:?_ \t"[(x >> 8) % 12] : (char)(x >> 16);
        }
        if (rep % 3 == 0 && n > 60)
            memcpy(raw, "Content-Type: multipart/mixed; boundary=-\n\n---\n", 48);
        elmo_strbuf out = {0};
        assert_int_equal(elmo_mail_text(raw, n, &out), ELMO_OK);
        if (out.n) {
            assert_int_equal(elmo_utf8_valid_prefix(out.p, out.n), out.n);
            assert_null(memchr(out.p, '\t', out.n));
            assert_null(memchr(out.p, '\n', out.n));
        }
        elmo_strbuf_free(&out);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_printable), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_charsets),         cmocka_unit_test(test_html),
        cmocka_unit_test(test_header_and_space), cmocka_unit_test(test_simple_messages),
        cmocka_unit_test(test_multipart),        cmocka_unit_test(test_binary_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
