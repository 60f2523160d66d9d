/*
 * charmap.c: text to model input (bilm-tf's character ids, bilm/data.py).
 *
 * Character ids (inference space = raw + 1, 0 = no token): slot 0 = BOW, then the first W-2
 * UTF-8 bytes of the token (byte v -> v + 1; the cut may split a multi-byte character), then
 * EOW, then PAD up to W. <S> and </S> are BOW, BOS|EOS, EOW, PAD...
 *
 * Whitespace: runs of the characters Python's str.split() treats as whitespace.
 */
#include <string.h>

#include "elmo.h"
#include "io/textio.h"

void elmo_char_ids(const char *token, size_t len, int W, int16_t *ids) {
    for (int k = 0; k < W; k++) ids[k] = ELMO_CHAR_PAD;
    ids[0] = ELMO_CHAR_BOW;
    if (len == 3 && memcmp(token, "<S>", 3) == 0) {
        ids[1] = ELMO_CHAR_BOS;
        ids[2] = ELMO_CHAR_EOW;
        return;
    }
    if (len == 4 && memcmp(token, "</S>", 4) == 0) {
        ids[1] = ELMO_CHAR_EOS;
        ids[2] = ELMO_CHAR_EOW;
        return;
    }
    size_t m = len < (size_t)(W - 2) ? len : (size_t)(W - 2);
    const unsigned char *u = (const unsigned char *)token;
    for (size_t k = 0; k < m; k++) ids[1 + k] = (int16_t)(u[k] + 1);
    ids[1 + m] = ELMO_CHAR_EOW;
}

size_t elmo_split_whitespace(const char *text, size_t len, size_t *starts, size_t *lens,
                             size_t max) {
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0, n = 0;
    while (i < len) {
        size_t s;
        while (i < len && (s = elmo_space_len(u + i, len - i)) > 0) i += s;
        if (i >= len) break;
        size_t start = i;
        while (i < len && elmo_space_len(u + i, len - i) == 0) i++;
        if (n < max) {
            starts[n] = start;
            lens[n] = i - start;
        }
        n++;
    }
    return n;
}
