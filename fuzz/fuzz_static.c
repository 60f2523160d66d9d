/* fuzz_static.c: static word vectors (src/tasks/static_vectors.c): GloVe / word2vec text. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tasks/static_vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_write("vectors.txt", data, size);
    elmo_static_vectors *sv;
    elmo_status s = elmo_static_load(p, &sv);
    fuzz_check_error(s);
    if (s) return 0;
    int dim = elmo_static_dim(sv);
    if (dim < 1 || elmo_static_size(sv) < 1) abort();
    const char *tok[] = {"the", "The", "x", "", "\xc3\xa9"};
    float *out = malloc(sizeof(float) * (size_t)dim);
    if (out) {
        int found = elmo_static_mean(sv, 5, tok, NULL, out);
        if (found < 0 || found > 5) abort();
    }
    free(out);
    (void)elmo_static_fingerprint(sv);
    elmo_static_free(sv);
    return 0;
}
