/* fuzz_classifier.c: classifier files (elmo_classifier_load: the sectioned container of src/io/checkpoint.c
 * with a JSON description, the parameters and the bag-of-words terms). Each input is loaded as
 * it is and with its section CRCs recomputed; a classifier that loads predicts two texts
 * (ELMo features: with the tiny model the seeds were trained with). */
#include <stdlib.h>
#include <string.h>

#include "tasks/classify.h"
#include "fuzz_common.h"

static elmo_model *g_bilm;

static void check_classifier(const char *path) {
    elmo_classifier *c;
    elmo_status s = elmo_classifier_load(path, &c);
    fuzz_check_error(s);
    if (s) return;
    int C = elmo_classifier_n_classes(c);
    if (C < 2) abort();
    for (int k = 0; k < C; k++)
        if (!elmo_classifier_label(c, k)) abort();
    s = elmo_classifier_attach(c, g_bilm, NULL);
    fuzz_check_error(s);
    if (!s) {
        const char *texts[] = {"the cat sat on the mat", "FREE cash now !!!"};
        size_t lens[] = {strlen(texts[0]), strlen(texts[1])};
        float *probs = malloc(sizeof(float) * 2 * (size_t)C);
        if (probs) fuzz_check_error(elmo_classifier_predict(c, texts, lens, 2, probs, NULL, NULL));
        free(probs);
    }
    elmo_classifier_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_bilm && elmo_model_load_dir(fuzz_tiny_model_dir(), &g_bilm)) abort();
    fuzz_container_passes(data, size, "model.clf", check_classifier);
    return 0;
}
