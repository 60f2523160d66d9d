/* fuzz_weights.c: the weights HDF5 loader (src/io/h5io.c) on mutated weight files: each input is
 * written to a file and loaded as the weights of the tiny architecture of the seeds and of the
 * fixture models' architectures (when ../shared/fixtures is there); a model that loads embeds
 * a sentence. The generic readers (elmo_h5_read, elmo_h5_read_string) read the same file. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "io/h5io.h"
#include "io/util.h"

static const char *g_opts[3];
static int g_nopts;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init();
    g_opts[g_nopts++] =
        fuzz_write("tiny_options.json", FUZZ_TINY_OPTIONS, sizeof FUZZ_TINY_OPTIONS - 1);
    const char *f;
    static char keep[2][1024];
    if ((f = fuzz_fixture("bilm-tf/model/options.json"))) {
        snprintf(keep[0], sizeof keep[0], "%s", f);
        g_opts[g_nopts++] = keep[0];
    }
    if ((f = fuzz_fixture("allennlp-elmo/options.json"))) {
        snprintf(keep[1], sizeof keep[1], "%s", f);
        g_opts[g_nopts++] = keep[1];
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_write("weights.hdf5", data, size);
    for (int k = 0; k < g_nopts; k++) {
        elmo_model *m;
        elmo_status s = elmo_model_load(g_opts[k], p, &m);
        fuzz_check_error(s);
        if (s) continue;
        elmo_session *se;
        if (elmo_session_new(m, 2, 1, &se) == ELMO_OK) {
            const char *s0[] = {"The", "cat", "sat"}, *s1[] = {"\xc3\xa9t\xc3\xa9"};
            const char *const *toks[] = {s0, s1};
            int n[] = {3, 1};
            int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
            float *o0 = malloc(sizeof(float) * K * 3 * D), *o1 = malloc(sizeof(float) * K * D);
            float *outs[] = {o0, o1};
            if (o0 && o1) fuzz_check_error(elmo_embed(se, 2, toks, n, outs));
            free(o0);
            free(o1);
            elmo_session_free(se);
        }
        elmo_model_free(m);
    }
    float *d = NULL;
    int rank;
    uint64_t dims[4];
    elmo_status s = elmo_h5_read(p, "char_embed", &d, &rank, dims);
    fuzz_check_error(s);
    free(d);
    char *str = NULL;
    s = elmo_h5_read_string(p, "sentence_to_index", &str);
    fuzz_check_error(s);
    free(str);
    return 0;
}
