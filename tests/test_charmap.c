/* test_charmap.c: character ids and whitespace splitting (core/charmap.c). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void ids_of(const char *tok, int W, int16_t *ids) {
    elmo_char_ids(tok, strlen(tok), W, ids);
}

static void test_ascii(void **state) {
    (void)state;
    int16_t ids[50];
    ids_of("The", 50, ids);
    int16_t want[] = {259, 85, 105, 102, 260};
    for (int k = 0; k < 5; k++) assert_int_equal(ids[k], want[k]);
    for (int k = 5; k < 50; k++) assert_int_equal(ids[k], 261);
    ids_of("Second", 50, ids);
    int16_t want2[] = {259, 84, 102, 100, 112, 111, 101, 260, 261};
    for (int k = 0; k < 9; k++) assert_int_equal(ids[k], want2[k]);
    ids_of(".", 50, ids);
    assert_int_equal(ids[1], 47);
    assert_int_equal(ids[2], 260);
}

static void test_specials(void **state) {
    (void)state;
    int16_t ids[50];
    ids_of("<S>", 50, ids);
    assert_int_equal(ids[0], 259);
    assert_int_equal(ids[1], 257);
    assert_int_equal(ids[2], 260);
    assert_int_equal(ids[3], 261);
    ids_of("</S>", 50, ids);
    assert_int_equal(ids[1], 258);
    assert_int_equal(ids[2], 260);
    /* near misses are spelled out */
    ids_of("<S", 50, ids);
    assert_int_equal(ids[1], '<' + 1);
    assert_int_equal(ids[3], 260);
}

static void test_multibyte(void **state) {
    (void)state;
    int16_t ids[50];
    ids_of("\xe2\x80\xa2", 50, ids); /* U+2022 bullet */
    int16_t want[] = {259, 227, 129, 163, 260, 261};
    for (int k = 0; k < 6; k++) assert_int_equal(ids[k], want[k]);
    /* bilm-tf unit test with W = 5: raw ids of "Āt" are 258 196 128 116 259 */
    int16_t s5[5];
    ids_of("\xc4\x80t", 5, s5);
    int16_t raw[] = {258, 196, 128, 116, 259};
    for (int k = 0; k < 5; k++) assert_int_equal(s5[k], raw[k] + 1);
    ids_of("thhhhh", 5, s5);
    int16_t raw2[] = {258, 116, 104, 104, 259};
    for (int k = 0; k < 5; k++) assert_int_equal(s5[k], raw2[k] + 1);
}

static void test_truncation_48_bytes(void **state) {
    (void)state;
    /* 30 two-byte characters (60 bytes): the cut after 48 bytes keeps 24 characters */
    char tok[61];
    for (int k = 0; k < 30; k++) {
        tok[2 * k] = (char)0xc3;
        tok[2 * k + 1] = (char)0xa9; /* é */
    }
    tok[60] = 0;
    int16_t ids[50];
    ids_of(tok, 50, ids);
    assert_int_equal(ids[0], 259);
    for (int k = 0; k < 48; k++) assert_int_equal(ids[1 + k], (k % 2 ? 0xa9 : 0xc3) + 1);
    assert_int_equal(ids[49], 260);
    /* a cut in the middle of a 3-byte character: 47 ASCII + € (3 bytes) keeps its first byte */
    char t2[64];
    memset(t2, 'a', 47);
    memcpy(t2 + 47, "\xe2\x82\xac", 4);
    ids_of(t2, 50, ids);
    assert_int_equal(ids[48], 0xe2 + 1);
    assert_int_equal(ids[49], 260);
    /* two tokens sharing a 48-byte prefix get the same ids */
    char a[60], b[60];
    memset(a, 'x', 55);
    a[55] = 0;
    memset(b, 'x', 48);
    strcpy(b + 48, "yyyy");
    int16_t ia[50], ib[50];
    ids_of(a, 50, ia);
    ids_of(b, 50, ib);
    assert_memory_equal(ia, ib, sizeof ia);
}

static size_t split(const char *s, char out[][64], size_t max) {
    size_t st[64], ln[64];
    size_t n = elmo_split_whitespace(s, strlen(s), st, ln, 64);
    for (size_t i = 0; i < n && i < max; i++) {
        memcpy(out[i], s + st[i], ln[i]);
        out[i][ln[i]] = 0;
    }
    return n;
}

static void test_whitespace(void **state) {
    (void)state;
    char t[16][64];
    assert_int_equal(split("  a b\tc\r\n", t, 16), 3);
    assert_string_equal(t[0], "a");
    assert_string_equal(t[2], "c");
    /* NBSP, ideographic space, em space, line separator, NEL, unit separator */
    assert_int_equal(
        split("x\xc2\xa0y\xe3\x80\x80z\xe2\x80\x83w\xe2\x80\xa8v\xc2\x85u\x1fq", t, 16), 7);
    assert_string_equal(t[0], "x");
    assert_string_equal(t[6], "q");
    /* not whitespace: zero-width space U+200B, the bullet, a lone continuation byte */
    assert_int_equal(split("a\xe2\x80\x8b"
                           "b \xe2\x80\xa2 \x80",
                           t, 16),
                     3);
    assert_string_equal(t[1], "\xe2\x80\xa2");
    assert_int_equal(split("", t, 16), 0);
    assert_int_equal(split(" \t \xe3\x80\x80 ", t, 16), 0);
    /* more tokens than room: the count is still right */
    size_t st[2], ln[2];
    assert_int_equal(elmo_split_whitespace("a b c d", 7, st, ln, 2), 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),      cmocka_unit_test(test_specials),
        cmocka_unit_test(test_multibyte),  cmocka_unit_test(test_truncation_48_bytes),
        cmocka_unit_test(test_whitespace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
