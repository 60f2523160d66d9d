/* fuzz_textio.c: the line reader (src/io/textio.c) on arbitrary bytes, and what `elmo embed`
 * does with each line: UTF-8 check, stripping, whitespace splitting, character ids, the
 * JSON escaping of sentence_to_index; also the simple tokenizer and sentence splitter. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/textio.h"
#include "text/tokenize.h"
#include "io/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the first byte sets the line limit (small, to reach the long-line refusal) */
    size_t max_bytes = size ? 1 + data[0] * 4 : 64;
    const char *p = fuzz_write("text.txt", data, size);
    elmo_line_reader r;
    elmo_status s = elmo_line_reader_open(&r, p, max_bytes);
    fuzz_check_error(s);
    if (s) return 0;
    size_t cap = 8, *st = malloc(cap * sizeof *st), *ln = malloc(cap * sizeof *ln);
    int16_t ids[16];
    int got;
    uint64_t lines = 0;
    while (!(s = elmo_line_reader_next(&r, &got)) && got) {
        lines++;
        if (r.len > max_bytes || r.line[r.len] != 0 || r.lineno != lines) abort();
        if (memchr(r.line, '\n', r.len) || memchr(r.line, '\r', r.len)) abort();
        size_t valid = elmo_utf8_valid_prefix(r.line, r.len);
        size_t sl;
        const char *t = elmo_strip(r.line, r.len, &sl);
        if (t < r.line || t + sl > r.line + r.len) abort();
        size_t n = elmo_split_whitespace(t, sl, st, ln, cap);
        if (n > cap) {
            cap = n;
            st = realloc(st, cap * sizeof *st);
            ln = realloc(ln, cap * sizeof *ln);
            if (elmo_split_whitespace(t, sl, st, ln, cap) != n) abort();
        }
        for (size_t i = 0; i < n; i++) {
            if (ln[i] == 0 || st[i] + ln[i] > sl) abort();
            elmo_char_ids(t + st[i], ln[i], 16, ids);
            for (int q = 0; q < 16; q++)
                if (ids[q] < 1 || ids[q] > ELMO_CHAR_PAD) abort();
        }
        elmo_strbuf b = {0};
        if (elmo_json_escape(&b, r.line, valid == r.len ? r.len : valid) == 0 && b.p)
            for (size_t i = 0; i < b.n; i++)
                if ((unsigned char)b.p[i] < 0x20 || (unsigned char)b.p[i] >= 0x7f) abort();
        elmo_strbuf_free(&b);
        elmo_strbuf tk = {0};
        elmo_tokenize_simple(r.line, r.len, &tk);
        elmo_strbuf_free(&tk);
        size_t ns = elmo_split_sentences(r.line, r.len, NULL, NULL, 0);
        (void)ns;
    }
    fuzz_check_error(s);
    elmo_line_reader_close(&r);
    free(st);
    free(ln);
    return 0;
}
