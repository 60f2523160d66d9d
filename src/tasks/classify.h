/*
 * classify.h: text classification on ELMo (or bag-of-words) features (internal).
 *
 * The classic ELMo text classifier: the biLM frozen; trainable scalar-mix weights s_j and
 * gamma; the text vector is the mean over its tokens of the mixed ELMo vectors (TF-Hub's
 * "default" output), optionally concatenated with the mean of static word vectors; then
 * Dense(hidden, relu) and a sigmoid (two classes) or softmax output; Adam.
 *
 * Because the biLM is frozen and the mean is linear, mean_t(gamma sum_j s_j x_jt) =
 * gamma sum_j s_j mean_t(x_jt): the per-layer token means (K, D) of each text are computed
 * once and training runs on them, exactly.
 *
 * The bag-of-words baseline (features "bow") runs the same trainer on L2-normalised tf-idf
 * vectors (sklearn's smooth idf) of lower-cased tokens, optionally with word n-grams and the
 * character n-grams of each token.
 */
#ifndef ELMO_CLASSIFY_H
#define ELMO_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"
#include "tasks/featurize.h"
#include "tasks/pooling.h"
#include "tasks/static_vectors.h"

/* Features: ELMo vectors pooled over the tokens (pooling.h), the tf-idf bag of words, or both
 * side by side (the head's input: [pooled ELMo | static | bag of words], one sparse row). */
enum { ELMO_FEAT_ELMO = 0, ELMO_FEAT_BOW = 1, ELMO_FEAT_ELMO_BOW = 2 };

typedef struct {
    int features;    /* ELMO_FEAT_ELMO, ELMO_FEAT_BOW or ELMO_FEAT_ELMO_BOW */
    int pooling;     /* ELMO_POOL_* (pooling.h) of the ELMo features */
    int standardize; /* ELMo statistics to zero mean, unit variance (training texts); beside
                      * the bag of words each scaled by 1/sqrt(E) (classify.c, compute_norm) */
    elmo_tokenizer tokenizer;
    int max_tokens;     /* the biLM's tokens per text: the first N (0 = all) */
    int bow_max_tokens; /* the bag of words' tokens per text (0 = all: it costs little) */
    int hidden, epochs, batch_size;
    double lr;
    uint64_t seed;
    int threads;
    int bow_max_terms;    /* vocabulary of the bag-of-words (most frequent by df) */
    int word_ngrams;      /* bag of words: word n-grams 1..N (1 = words only) */
    int char_lo, char_hi; /* and character n-grams char_lo..char_hi of every token (0 = none) */
} elmo_classifier_options;
void elmo_classifier_options_default(elmo_classifier_options *o);

typedef struct elmo_classifier elmo_classifier;

/* A labelled text. */
typedef struct {
    const char *text;
    size_t len;
    int label; /* class id */
} elmo_classifier_item;

/* Progress of feature extraction and training (stage: "embed", "train"). */
typedef void (*elmo_classifier_progress)(const char *stage, size_t done, size_t total, double loss,
                                         void *user);

/* Train on items. bilm / bilm_dir: the biLM (for ELMo features; its directory is recorded);
 * sv / sv_path: optional static vectors. labels: the class names (n_classes). */
elmo_status elmo_classifier_train(const elmo_classifier_options *o, elmo_model *bilm,
                                  const char *bilm_dir, elmo_static_vectors *sv,
                                  const char *sv_path, const char *const *labels, int n_classes,
                                  const elmo_classifier_item *items, size_t n,
                                  elmo_classifier_progress progress, void *user,
                                  elmo_classifier **out);
void elmo_classifier_free(elmo_classifier *c);

/* Class probabilities (n, n_classes) of texts. For ELMo features the classifier must have
 * been given its biLM (elmo_classifier_attach) and, if it was trained with them, static vectors. */
elmo_status elmo_classifier_predict(elmo_classifier *c, const char *const *texts,
                                    const size_t *lens, size_t n, float *probs,
                                    elmo_classifier_progress progress, void *user);

/* File I/O: versioned container (magic ELMOCLF1), written atomically. Version 2 adds the
 * pooling, the attention vector and the elmo+bow features; version 3 the bag of words' own
 * token limit (bow_max_tokens; in older files the bag of words saw the biLM's max_tokens).
 * Version 1 and 2 files still load. */
elmo_status elmo_classifier_save(const elmo_classifier *c, const char *path);
elmo_status elmo_classifier_load(const char *path, elmo_classifier **out);
/* Give a loaded classifier its biLM and static vectors; refuses a biLM whose fingerprint
 * differs from the one it was trained with. */
elmo_status elmo_classifier_attach(elmo_classifier *c, elmo_model *bilm, elmo_static_vectors *sv);

int elmo_classifier_n_classes(const elmo_classifier *c);
const char *elmo_classifier_label(const elmo_classifier *c, int k);
int elmo_classifier_label_id(const elmo_classifier *c, const char *name); /* -1 if unknown */
int elmo_classifier_features(const elmo_classifier *c);
int elmo_classifier_pooling(const elmo_classifier *c);
/* The classifier's budget for attention pooling's kept token layers (bytes). */
#define ELMO_CLASSIFIER_TOKEN_BUDGET ((size_t)1536 << 20)
const char *elmo_classifier_bilm_dir(const elmo_classifier *c);    /* as recorded ("" for bow) */
const char *elmo_classifier_static_path(const elmo_classifier *c); /* NULL if none */
elmo_tokenizer elmo_classifier_tokenizer(const elmo_classifier *c);
int elmo_classifier_max_tokens(const elmo_classifier *c); /* biLM tokens per text (0 = all) */
/* The learned scalar mix: softmax weights (K) and gamma. */
int elmo_classifier_mix(const elmo_classifier *c, float *s, float *gamma);

/* For tests of the cached-statistics shortcut: the pooled ELMo part of the head's input of
 * one text computed the long way from every token's layers (K, n, D): each token mixed with the
 * learned s_j and gamma, then pooled (static and bag-of-words parts not included; for max,
 * mean+max: the per-layer statistic is mixed); and the class probabilities of an ELMo-only
 * input. */
void elmo_classifier_text_vector_slow(const elmo_classifier *c, const float *layers, int n,
                                      float *x);
void elmo_classifier_head_probs(const elmo_classifier *c, const float *x, float *probs);

/* Evaluation of predictions against gold labels. */
typedef struct {
    int n_classes;
    size_t n, correct;
    size_t confusion[16][16]; /* [gold][predicted], first 16 classes */
    double precision[16], recall[16], f1[16];
    size_t support[16];
} elmo_classifier_metrics;
void elmo_classifier_metrics_compute(int n_classes, size_t n, const int *gold, const float *probs,
                                     elmo_classifier_metrics *m);

#endif
