/*
 * testutil.h: what the tests share: cmocka, fixture paths, running the elmo CLI, temporary
 * directories, and allclose comparisons that print the worst difference.
 */
#ifndef ELMO_TESTUTIL_H
#define ELMO_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "elmo.h"

/* Path under the shared fixtures directory (static buffer rotation of 8). */
const char *fixture(const char *rel);
/* Fail (or, outside CI, skip) when the fixtures are not there. */
int fixtures_available(void);
#define REQUIRE_FIXTURES()                                                                         \
    do {                                                                                           \
        if (!fixtures_available()) {                                                               \
            if (getenv("CI")) fail_msg("fixtures not found at %s", ELMO_FIXTURES);                 \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* A model directory (options.json, weights.hdf5) made of links to the AllenNLP fixture
 * model, for commands that take --model DIR. */
const char *fixture_model_dir(void);

/* A fresh temporary directory (removed at exit); path of a file inside it. */
const char *tmpdir(void);
const char *tmpfile_path(const char *name);
void write_file(const char *path, const char *data, size_t len);
char *read_text(const char *path, size_t *len);

/* Run the elmo CLI with a shell-quoted argument string; returns its exit status and its
 * stderr (malloc'd, in *err when err != NULL). stdin from in_path when not NULL. */
int run_elmo(const char *args, const char *in_path, char **err);

/* max |a - e| over n values, and whether all satisfy |a - e| <= atol + rtol |e|. */
typedef struct {
    double max_abs;
    size_t worst;
    int ok;
} cmp_result;
cmp_result allclose(const float *a, const float *e, size_t n, double atol, double rtol);

/* Random weights in the bilm-tf layout for a config (deterministic for a seed), written to
 * dir/options.json and dir/weights.hdf5. Scaled like the peer's make_weights.py. */
void make_random_model(const char *dir, const char *options_json, uint64_t seed);

/* Every section of two checkpoints that holds training state (parameters, accumulators,
 * carried LSTM states, generators, data positions) is byte-identical; what ends the failure
 * message ("after resume"). */
void assert_same_checkpoint(const char *a, const char *b, const char *what);

/* The tiny biLM that the training tests train on the bilm-tf fixture corpus (options.json). */
#define TINY_TRAIN_OPTIONS                                                                         \
    "{\"lstm\": {\"dim\": 16, \"projection_dim\": 8, \"n_layers\": 2, \"cell_clip\": 3, "          \
    "\"proj_clip\": 3, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": "  \
    "4}, "                                                                                         \
    "\"filters\": [[1, 8], [2, 8], [3, 16], [4, 32], [5, 64]], \"n_highway\": 1, "                 \
    "\"n_characters\": 261, \"max_characters_per_token\": 10, \"activation\": \"tanh\"}, "         \
    "\"dropout\": 0.1, \"all_clip_norm_val\": 1.0, \"n_negative_samples_batch\": 16}"

#endif
