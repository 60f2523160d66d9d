/*
 * strmap.h: a string -> dense id map (internal): byte strings (any bytes, with a length) are
 * stored once in a growing arena, NUL-terminated, and found through an open-addressing hash
 * table. Ids are 0, 1, 2, ... in insertion order. Used for vocabularies, tag sets, word lists
 * and static vectors.
 */
#ifndef ELMO_STRMAP_H
#define ELMO_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *arena;
    size_t used, acap;
    size_t *off;   /* (cap) offset of each key in the arena */
    uint32_t *len; /* (cap) */
    size_t n, cap;
    uint32_t *slots; /* id + 1, 0 = empty */
    size_t nslots;
} elmo_strmap;

uint64_t elmo_hash_bytes(const void *p, size_t n); /* FNV-1a */

void elmo_strmap_init(elmo_strmap *m);
void elmo_strmap_free(elmo_strmap *m);
/* Id of key (len bytes), or -1. */
int64_t elmo_strmap_find(const elmo_strmap *m, const char *key, size_t len);
/* Id of key, inserted when absent (*added = 1 then). -1 when out of memory. */
int64_t elmo_strmap_add(elmo_strmap *m, const char *key, size_t len, int *added);
/* The key of an id (NUL-terminated) and its length. */
static inline const char *elmo_strmap_key(const elmo_strmap *m, size_t id) {
    return m->arena + m->off[id];
}
static inline size_t elmo_strmap_keylen(const elmo_strmap *m, size_t id) { return m->len[id]; }

#endif
