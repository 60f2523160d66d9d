/*
 * fuzz_common.h: what the libFuzzer targets share (see fuzz/README.md).
 *
 * The parsers of elmo.c read files by path, so every input is written to a file in a
 * per-process temporary directory (removed at exit) and loaded from there. The binary
 * containers (checkpoints, classifier and tagger files) carry a CRC per section: a target
 * loads each input as it is (the container checks) and once more with the CRCs recomputed,
 * so that mutations reach the code that interprets the sections.
 */
#ifndef ELMO_FUZZ_COMMON_H
#define ELMO_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

/* The tiny architecture of the generated seeds (inference form, 262 characters) and its
 * training form (261 characters). */
#define FUZZ_TINY_OPTIONS                                                                          \
    "{\"lstm\": {\"dim\": 6, \"projection_dim\": 4, \"n_layers\": 1, \"cell_clip\": 3, "           \
    "\"proj_clip\": 3, \"use_skip_connections\": false}, \"char_cnn\": {\"embedding\": "           \
    "{\"dim\": 2}, \"filters\": [[1, 2], [2, 4]], \"n_highway\": 1, \"n_characters\": 262, "       \
    "\"max_characters_per_token\": 6, \"activation\": \"relu\"}}"
#define FUZZ_TINY_TRAIN_OPTIONS                                                                    \
    "{\"lstm\": {\"dim\": 6, \"projection_dim\": 4, \"n_layers\": 1, \"cell_clip\": 3, "           \
    "\"proj_clip\": 3, \"use_skip_connections\": false}, \"char_cnn\": {\"embedding\": "           \
    "{\"dim\": 2}, \"filters\": [[1, 2], [2, 4]], \"n_highway\": 1, \"n_characters\": 261, "       \
    "\"max_characters_per_token\": 6, \"activation\": \"relu\"}, \"dropout\": 0.1, "               \
    "\"n_negative_samples_batch\": 4}"
#define FUZZ_TINY_SEED 1
/* Training text and vocabulary of the checkpoint target. */
#define FUZZ_TRAIN_TEXT "the cat sat on the mat .\nthe dog sat .\na cat and a dog .\n"
#define FUZZ_TRAIN_VOCAB "<S>\n</S>\n<UNK>\nthe\n.\ncat\nsat\ndog\na\n"

/* Once per process: HDF5 quiet, a 256 MiB bound on every allocation the library sizes from
 * a file's content (elmo_set_memory_limit), the temporary directory. */
void fuzz_init(void);
/* Path of name in the temporary directory (static buffer rotation of 8). */
const char *fuzz_path(const char *name);
/* Write data to the temporary file name; returns its path. */
const char *fuzz_write(const char *name, const void *data, size_t size);
/* Recompute the CRC of every complete section of an elmo.c container (checkpoint.h). */
void fuzz_fix_crcs(uint8_t *buf, size_t size);
/* The two passes of a container target: check the input written to the temporary file name
 * as it is (the container's own checks), then, when recomputing its section CRCs changes it,
 * once more so (mutations reach the code that interprets the sections). */
void fuzz_container_passes(const uint8_t *data, size_t size, const char *name,
                           void (*check)(const char *path));
/* A fixture file (ELMO_FIXTURES, or the directory compiled in): NULL when absent. */
const char *fuzz_fixture(const char *rel);
/* The tiny random model directory (options.json + weights.hdf5), made once. */
const char *fuzz_tiny_model_dir(void);
/* The tiny training run of the checkpoint target and of the seeds: options, vocabulary and
 * text in the temporary directory, save directory "save" (created), 3 steps of batch 2 x 3,
 * one thread, no resume. Returns the path of the checkpoint file. */
const char *fuzz_train_setup(elmo_train_config *c);
/* Abort (a finding) unless a failure left a one-line, non-empty message. */
void fuzz_check_error(elmo_status s);
/* Abort unless s[0..len) is valid UTF-8. */
void fuzz_check_utf8(const char *s, size_t len);

#endif
