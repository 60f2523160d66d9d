/*
 * head_file.h: what the classifier's and the tagger's files share (internal). Both are
 * checkpoint files (io/checkpoint.h) with a JSON description in section "meta" and the
 * trained parameters in section "params"; the description names the biLM and the static
 * vectors the head was trained on (fingerprint, where they were), the biLM layers K, their
 * width D, the static vectors' width, the hidden width and the output names (classes, tags).
 */
#ifndef ELMO_HEAD_FILE_H
#define ELMO_HEAD_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "io/checkpoint.h"
#include "io/util.h"

typedef struct {
    int K, D, Ds, hidden;        /* biLM layers, their width, static vector width, hidden */
    uint64_t bilm_fp, static_fp; /* fingerprints of the biLM and the static vectors (0: none) */
    char *bilm_dir;              /* where the biLM was ("": unknown) */
    char *static_path;           /* where the static vectors were, or NULL */
    int n_names;
    char **names; /* (n_names) the output names (classes, tags) */
} elmo_head_desc;

/* The shared fields of a description: into m, the names as array `names_key`. */
void elmo_head_desc_put(cJSON *m, const elmo_head_desc *h, const char *names_key);

/* Write path (temp + rename): magic / version, "meta" = m printed (m is deleted), "params";
 * the caller adds its own sections to *w and commits (elmo_ckpt_commit). */
elmo_status elmo_head_file_begin(elmo_ckpt_writer *w, const char *path, const char *magic,
                                 int version, cJSON *m, const float *params, size_t n_params);

/* Read path (magic / version checked) into *ck and parse its description into *m (the
 * caller frees both, also after an error: elmo_ckpt_free, cJSON_Delete). */
elmo_status elmo_head_file_open(const char *path, const char *magic, int version, elmo_ckpt *ck,
                                cJSON **m);

/* An integer field of a description, in [0, 1e8]: 0, or -1 when absent or out of range. */
int elmo_head_json_int(const cJSON *m, const char *key, int *out);

/* The shared fields of description m of file path into *h (owning its strings: give them back
 * with elmo_head_desc_free, also after an error). what: "classifier", "tagger" (a missing
 * field: "damaged WHAT description"); the names: array names_key of 2..max_names strings
 * without control characters (else "bad NAME list", name: "label", "tag"). */
elmo_status elmo_head_desc_get(const cJSON *m, const char *path, const char *what,
                               const char *names_key, const char *name, int max_names,
                               elmo_head_desc *h);
void elmo_head_desc_free(elmo_head_desc *h);

#endif
