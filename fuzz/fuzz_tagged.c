/* fuzz_tagged.c: the tagged-sentence readers (src/text/textdata.c): word/TAG lines and CoNLL
 * columns (auto-detected or forced), UTF-8 or Latin-1, and the untagged reader; then the tag
 * set. The first byte chooses the options. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "text/textdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0];
    elmo_tagged_options o = {(elmo_tag_format)(sel % 3),
                             (sel >> 2) & 1 ? ELMO_ENC_LATIN1 : ELMO_ENC_UTF8};
    int untagged = (sel >> 3) & 1;
    const char *p = fuzz_write("tagged.txt", data + 1, size - 1);
    elmo_tagged_dataset d;
    elmo_status s = untagged ? elmo_untagged_read(p, o.encoding, &d) : elmo_tagged_read(p, &o, &d);
    fuzz_check_error(s);
    if (s) return 0;
    size_t tokens = 0;
    for (size_t i = 0; i < d.n; i++) {
        const elmo_sentence *se = &d.sent[i];
        if ((!untagged && se->n < 1) || se->first + se->n > d.n_tokens) abort();
        if (se->words != d.words + se->first) abort();
        for (size_t k = 0; k < se->n; k++) {
            size_t wl = strlen(se->words[k]);
            if (!wl) abort();
            fuzz_check_utf8(se->words[k], wl);
            if (!untagged) {
                size_t tl = strlen(se->tags[k]);
                if (!tl) abort();
                fuzz_check_utf8(se->tags[k], tl);
            }
        }
        tokens += se->n;
    }
    if (tokens != d.n_tokens) abort();
    elmo_labelset ls;
    if (!untagged && elmo_labelset_from_tags(&ls, &d, ELMO_LABELS_SORTED) == ELMO_OK) {
        for (size_t i = 0; i < d.n_tokens; i++)
            if (elmo_labelset_id(&ls, d.tags[i]) < 0) abort();
        elmo_labelset_free(&ls);
    }
    elmo_tagged_shuffle(&d, sel);
    elmo_sentence_slice a, b;
    if (elmo_tagged_split(&d, 0.5, &a, &b) != ELMO_OK || a.n + b.n != d.n) abort();
    elmo_tagged_free(&d);
    return 0;
}
