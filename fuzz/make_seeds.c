/* make_seeds.c: writes the generated binary seeds of the fuzz corpus (small files of the
 * tiny architecture of fuzz_common.h):
 *   weights/tiny.hdf5           random weights (elmo_random_model_write, FUZZ_TINY_SEED)
 *   classifier/bow.clf, elmo.clf, elmo_attention.clf, elmo_bow_cnn.clf   classifiers (bag of
 *                               words; ELMo features of that model, mean, attention and CNN
 *                               pooling; standardised or not; word and character n-grams)
 *   tagger/mix.tagger, tagger/token.tagger
 *   checkpoint/step1.bin, checkpoint/step2.bin   training checkpoints (fuzz_train_setup)
 * Usage: make_seeds fuzz/corpus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tasks/classify.h"
#include "fuzz_common.h"
#include "core/options.h"
#include "tasks/tagger.h"
#include "io/util.h"

static const char *g_out;

static void die(const char *what) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, elmo_last_error());
    exit(1);
}

static void copy(const char *from, const char *sub, const char *name) {
    char *text;
    size_t n;
    if (elmo_read_file(from, (size_t)1 << 24, &text, &n)) die(from);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_out, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", g_out, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, n, f) != n || fclose(f)) die(path);
    printf("%s: %zu bytes\n", path, n);
    free(text);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    g_out = argv[1];
    fuzz_init();
    const char *dir = fuzz_tiny_model_dir();
    char wpath[700];
    snprintf(wpath, sizeof wpath, "%s/weights.hdf5", dir);
    copy(wpath, "weights", "tiny.hdf5");
    elmo_model *m;
    if (elmo_model_load_dir(dir, &m)) die("tiny model");

    /* classifiers */
    static const char *texts[] = {"free cash now",     "meeting at noon",
                                  "win a prize today", "lunch with the team",
                                  "cheap pills",       "the report is attached"};
    const char *labels[] = {"ham", "spam"};
    elmo_classifier_item items[6];
    for (int i = 0; i < 6; i++)
        items[i] = (elmo_classifier_item){texts[i], strlen(texts[i]), i % 2 == 0};
    /* every section and setting a classifier file can carry: the bag of words with n-grams,
     * the standardisation statistics, attention's vector, the CNN's weights */
    static const struct {
        int features, pooling, standardize, word_ngrams, char_lo, char_hi;
        const char *name;
    } clf[] = {
        {ELMO_FEAT_BOW, ELMO_POOL_MEAN, 0, 1, 0, 0, "bow.clf"},
        {ELMO_FEAT_ELMO, ELMO_POOL_MEAN, 1, 1, 0, 0, "elmo.clf"},
        {ELMO_FEAT_ELMO, ELMO_POOL_ATTN, 0, 1, 0, 0, "elmo_attention.clf"},
        {ELMO_FEAT_ELMO_BOW, ELMO_POOL_CNN, 1, 2, 2, 3, "elmo_bow_cnn.clf"},
    };
    for (size_t v = 0; v < sizeof clf / sizeof clf[0]; v++) {
        elmo_classifier_options o;
        elmo_classifier_options_default(&o);
        o.features = clf[v].features;
        o.pooling = clf[v].pooling;
        o.standardize = clf[v].standardize;
        o.word_ngrams = clf[v].word_ngrams;
        o.char_lo = clf[v].char_lo, o.char_hi = clf[v].char_hi;
        o.hidden = 3;
        o.epochs = 1;
        o.threads = 1;
        o.bow_max_terms = 20;
        int elmo = o.features != ELMO_FEAT_BOW;
        elmo_classifier *c;
        if (elmo_classifier_train(&o, elmo ? m : NULL, elmo ? dir : NULL, NULL, NULL, labels, 2,
                                  items, 6, NULL, NULL, &c))
            die("classifier");
        const char *p = fuzz_path("seed.clf");
        if (elmo_classifier_save(c, p)) die("classifier save");
        copy(p, "classifier", clf[v].name);
        elmo_classifier_free(c);
    }

    /* taggers */
    const char *tagged = "The/DT cat/NN sat/VBD ./.\nA/DT dog/NN ran/VBD !/.\n";
    elmo_tagged_dataset d;
    if (elmo_tagged_read(fuzz_write("seed_tagged.txt", tagged, strlen(tagged)), NULL, &d))
        die("tagged");
    for (int tok = 0; tok < 2; tok++) {
        elmo_tagger_options o;
        elmo_tagger_options_default(&o);
        o.layers = tok ? ELMO_TAG_LAYERS_TOKEN : ELMO_TAG_LAYERS_MIX;
        o.hidden = 3;
        o.epochs = 1;
        o.threads = 1;
        elmo_tagger *t;
        if (elmo_tagger_train(&o, m, dir, NULL, NULL, &d, NULL, NULL, NULL, &t)) die("tagger");
        const char *p = fuzz_path("seed.tagger");
        if (elmo_tagger_save(t, p)) die("tagger save");
        copy(p, "tagger", tok ? "token.tagger" : "mix.tagger");
        elmo_tagger_free(t);
    }
    elmo_tagged_free(&d);
    elmo_model_free(m);

    /* training checkpoints after 1 and 2 steps */
    for (int steps = 1; steps <= 2; steps++) {
        elmo_train_config c;
        const char *ck = fuzz_train_setup(&c);
        c.max_steps = steps;
        c.resume = steps > 1;
        if (elmo_train(&c)) die("train");
        copy(ck, "checkpoint", steps == 1 ? "step1.bin" : "step2.bin");
    }
    return 0;
}
