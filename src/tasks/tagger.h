/*
 * tagger.h: sequence tagging on ELMo (internal): a trainable scalar mix over the frozen biLM
 * layers (or the context-free token layer only, the ablation), optional static vectors, and
 * the shared head (mlp.h) on every token; softmax cross-entropy; Adam.
 *
 * The biLM layers of every training sentence are computed once into a feature store (a
 * memory-mapped temporary file, so memory stays bounded), and every epoch reads them back.
 */
#ifndef ELMO_TAGGER_H
#define ELMO_TAGGER_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"
#include "tasks/static_vectors.h"
#include "text/textdata.h"

enum { ELMO_TAG_LAYERS_MIX = 0, ELMO_TAG_LAYERS_TOKEN = 1 };

typedef struct {
    int layers; /* ELMO_TAG_LAYERS_MIX or _TOKEN */
    int hidden, epochs, batch_tokens;
    double lr;
    uint64_t seed;
    int threads;
} elmo_tagger_options;
void elmo_tagger_options_default(elmo_tagger_options *o);

typedef struct elmo_tagger elmo_tagger;

typedef void (*elmo_tag_progress)(const char *stage, size_t done, size_t total, double loss,
                                  double dev_acc, void *user);

/* Train on tagged sentences; dev (may be NULL) is evaluated after each epoch. */
elmo_status elmo_tagger_train(const elmo_tagger_options *o, elmo_model *bilm, const char *bilm_dir,
                              elmo_static_vectors *sv, const char *sv_path,
                              const elmo_tagged_dataset *train, const elmo_tagged_dataset *dev,
                              elmo_tag_progress progress, void *user, elmo_tagger **out);
void elmo_tagger_free(elmo_tagger *t);

/* Predicted tag ids of every token of d (d->n_tokens). */
elmo_status elmo_tagger_predict(elmo_tagger *t, const elmo_tagged_dataset *d, int32_t *pred,
                                elmo_tag_progress progress, void *user);

typedef struct {
    size_t n_tokens, correct;
    size_t n_oov, correct_oov; /* tokens whose word was not seen in training */
    size_t n_unknown_tag;      /* gold tags the tagger does not know (counted as errors) */
} elmo_tag_metrics;
elmo_status elmo_tagger_evaluate(elmo_tagger *t, const elmo_tagged_dataset *d, elmo_tag_metrics *m,
                                 elmo_tag_progress progress, void *user);

elmo_status elmo_tagger_save(const elmo_tagger *t, const char *path);
elmo_status elmo_tagger_load(const char *path, elmo_tagger **out);
elmo_status elmo_tagger_attach(elmo_tagger *t, elmo_model *bilm, elmo_static_vectors *sv);
const char *elmo_tagger_tag(const elmo_tagger *t, int id);
int elmo_tagger_n_tags(const elmo_tagger *t);
const char *elmo_tagger_bilm_dir(const elmo_tagger *t);
const char *elmo_tagger_static_path(const elmo_tagger *t);
int elmo_tagger_mix(const elmo_tagger *t, float *s, float *gamma);

/* The most-frequent-tag baseline: each word gets its most frequent training tag, unseen words
 * the most frequent tag overall. */
elmo_status elmo_tag_baseline(const elmo_tagged_dataset *train, const elmo_tagged_dataset *test,
                              elmo_tag_metrics *m);

#endif
