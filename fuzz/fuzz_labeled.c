/* fuzz_labeled.c: the classification dataset readers (src/text/textdata.c): CSV (RFC 4180), TSV and
 * fastText, in UTF-8 or Latin-1, with and without a header, columns by index or by name; then
 * label sets, shuffling and splitting. The first byte chooses the options. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "text/textdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0];
    elmo_labeled_options o;
    elmo_labeled_options_default(&o);
    o.format = (elmo_labeled_format)(sel % 3);
    o.encoding = (sel >> 2) & 1 ? ELMO_ENC_LATIN1 : ELMO_ENC_UTF8;
    o.header = (int)((sel >> 3) % 3) - 1;
    static const char *cols[4][2] = {{NULL, NULL}, {"1", "0"}, {"label", "text"}, {"v1", "v2"}};
    o.label_column = cols[(sel >> 5) & 3][0];
    o.text_column = cols[(sel >> 5) & 3][1];
    const char *p = fuzz_write("data.csv", data + 1, size - 1);
    elmo_labeled_dataset d;
    elmo_status s = elmo_labeled_read(p, &o, &d);
    fuzz_check_error(s);
    if (s) return 0;
    for (size_t i = 0; i < d.n; i++) {
        const elmo_labeled_example *e = &d.ex[i];
        size_t ll = strlen(e->label);
        if (!ll || !e->text_len || strlen(e->text) != e->text_len || e->line < 1) abort();
        fuzz_check_utf8(e->label, ll);
        fuzz_check_utf8(e->text, e->text_len);
    }
    elmo_labelset ls;
    if (elmo_labelset_from_labeled(
            &ls, d.ex, d.n, (sel >> 7) ? ELMO_LABELS_FIRST_SEEN : ELMO_LABELS_SORTED) == ELMO_OK) {
        for (size_t i = 0; i < d.n; i++) {
            int id = elmo_labelset_id(&ls, d.ex[i].label);
            if (id < 0 || strcmp(elmo_labelset_name(&ls, id), d.ex[i].label) != 0) abort();
        }
        elmo_labelset_free(&ls);
    }
    elmo_labeled_shuffle(&d, sel);
    elmo_labeled_slice a, b;
    if (elmo_labeled_split(&d, 0.3, &a, &b) != ELMO_OK || a.n + b.n != d.n) abort();
    elmo_labeled_free(&d);
    return 0;
}
