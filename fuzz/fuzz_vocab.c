/* fuzz_vocab.c: vocabulary files (src/train/vocab.c): loading and lookups; and `elmo vocab`
 * (elmo_vocab_build) on the same bytes read as text, whose output must load back with the
 * number of entries it reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "train/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_write("vocab.txt", data, size);
    elmo_vocab *v;
    elmo_status s = elmo_vocab_load(p, &v);
    fuzz_check_error(s);
    if (!s) {
        uint32_t n = elmo_vocab_size(v);
        if (elmo_vocab_bos(v) >= n || elmo_vocab_eos(v) >= n || elmo_vocab_unk(v) >= n) abort();
        for (uint32_t id = 0; id < n; id++) {
            const char *w = elmo_vocab_word(v, id);
            if (!w) abort();
            uint32_t got = elmo_vocab_id(v, w, strlen(w));
            if (got >= n) abort();
        }
        if (elmo_vocab_word(v, n) != NULL) abort();
        (void)elmo_vocab_id(v, "", 0);
        (void)elmo_vocab_hash(v);
        elmo_vocab_free(v);
    }
    const char *files[] = {p};
    const char *out = fuzz_path("built_vocab.txt");
    uint64_t distinct, tokens, kept;
    double cov;
    uint64_t max_size = size ? data[0] % 8 : 0;
    s = elmo_vocab_build(files, 1, 1, max_size < 3 ? 0 : max_size, out, &distinct, &tokens, &kept,
                         &cov);
    fuzz_check_error(s);
    if (!s) {
        if (elmo_vocab_load(out, &v) != ELMO_OK) {
            fprintf(stderr, "fuzz: a built vocabulary does not load: %s\n", elmo_last_error());
            abort();
        }
        if (elmo_vocab_size(v) != kept || kept > distinct + 3 || !(cov >= 0 && cov <= 1)) abort();
        elmo_vocab_free(v);
    }
    return 0;
}
