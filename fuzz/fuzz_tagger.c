/* fuzz_tagger.c: tagger files (elmo_tagger_load: the sectioned container with a JSON
 * description, the parameters and the training words). Each input is loaded as it is and
 * with its section CRCs recomputed; a tagger that loads and accepts the tiny model of the
 * seeds tags two sentences. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tasks/tagger.h"

static elmo_model *g_bilm;
static elmo_tagged_dataset g_sents;

static void check_tagger(const char *path) {
    elmo_tagger *t;
    elmo_status s = elmo_tagger_load(path, &t);
    fuzz_check_error(s);
    if (s) return;
    int n = elmo_tagger_n_tags(t);
    if (n < 2) abort();
    for (int k = 0; k < n; k++)
        if (!elmo_tagger_tag(t, k)) abort();
    s = elmo_tagger_attach(t, g_bilm, NULL);
    fuzz_check_error(s);
    if (!s) {
        int32_t pred[16];
        s = elmo_tagger_predict(t, &g_sents, pred, NULL, NULL);
        fuzz_check_error(s);
        for (size_t i = 0; !s && i < g_sents.n_tokens; i++)
            if (pred[i] < 0 || pred[i] >= n) abort();
    }
    elmo_tagger_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_bilm) {
        if (elmo_model_load_dir(fuzz_tiny_model_dir(), &g_bilm)) abort();
        const char *t = "The cat sat .\nA dog \xc3\xa9t\xc3\xa9 !\n";
        if (elmo_untagged_read(fuzz_write("sents.txt", t, strlen(t)), ELMO_ENC_UTF8, &g_sents))
            abort();
    }
    fuzz_container_passes(data, size, "model.tagger", check_tagger);
    return 0;
}
