/*
 * checkpoint.h: elmo.c's own container for checkpoints and downstream model files: a magic
 * string, a format version, and named sections each with its size and CRC-32. Written to a
 * temporary file, fsync'ed and renamed into place; read back whole with every CRC checked.
 */
#ifndef ELMO_CHECKPOINT_H
#define ELMO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "elmo.h"
#include "io/util.h"

typedef struct {
    elmo_atomic_file af;
    FILE *f;
    int failed;
} elmo_ckpt_writer;

/* magic: 8 bytes identifying the kind of file ("ELMOCKPT", "ELMOCLF1", ...) */
elmo_status elmo_ckpt_begin(elmo_ckpt_writer *w, const char *path, const char *magic,
                            uint32_t version);
void elmo_ckpt_put(elmo_ckpt_writer *w, const char *name, const void *data, size_t bytes);
elmo_status elmo_ckpt_commit(elmo_ckpt_writer *w); /* fsync + rename */
void elmo_ckpt_abort(elmo_ckpt_writer *w);

typedef struct {
    char name[32];
    const char *data;
    size_t bytes;
} elmo_ckpt_section;

typedef struct {
    char *mem;
    size_t size;
    uint32_t version;
    elmo_ckpt_section *sec;
    int n;
    const char *path;
} elmo_ckpt;

/* Read and verify (magic, version <= max_version, CRCs). */
elmo_status elmo_ckpt_read(const char *path, const char *magic, uint32_t max_version,
                           elmo_ckpt *ck);
void elmo_ckpt_free(elmo_ckpt *ck);
/* Section by name; with want != SIZE_MAX its size must be exactly want bytes. */
elmo_status elmo_ckpt_get(const elmo_ckpt *ck, const char *name, size_t want, const char **data,
                          size_t *bytes);

uint32_t elmo_crc32(uint32_t crc, const void *data, size_t n);

#endif
