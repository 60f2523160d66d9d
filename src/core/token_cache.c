/*
 * token_cache.c: LRU cache of token vectors. Entries live in one preallocated pool; a chained
 * hash table (power-of-two buckets, twice the capacity) finds them and an intrusive doubly
 * linked list orders them by recency. No allocation after creation.
 */
#include "core/token_cache.h"

#include <stdlib.h>
#include <string.h>

#include "io/util.h"

typedef struct {
    int32_t next_in_bucket, prev, next; /* -1 = none */
    uint32_t hash;
} entry;

struct elmo_token_cache {
    size_t cap, used;
    int W, P;
    entry *e;
    int16_t *keys; /* (cap, W) */
    float *vecs;   /* (cap, P) */
    int32_t *bucket;
    uint32_t mask;
    int32_t head, tail; /* most / least recently used */
    uint64_t hits, misses;
};

static uint32_t hash_ids(const int16_t *ids, int W) {
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < W; k++) {
        h ^= (uint16_t)ids[k];
        h *= 1099511628211ULL;
        if (ids[k] == 261 && k > 0 && ids[k - 1] == 261) break; /* rest is PAD */
    }
    return (uint32_t)(h ^ (h >> 32));
}

elmo_token_cache *elmo_token_cache_new(size_t max_entries, int W, int P) {
    if (max_entries == 0 || max_entries > (1u << 30)) return NULL;
    elmo_token_cache *tc = calloc(1, sizeof *tc);
    if (!tc) return NULL;
    tc->cap = max_entries;
    tc->W = W;
    tc->P = P;
    size_t nb = 1;
    while (nb < 2 * max_entries) nb <<= 1;
    tc->mask = (uint32_t)(nb - 1);
    tc->e = elmo_alloc(sizeof(entry) * max_entries);
    tc->keys = elmo_alloc(sizeof(int16_t) * max_entries * W);
    tc->vecs = elmo_alloc(sizeof(float) * max_entries * P);
    tc->bucket = elmo_alloc(sizeof(int32_t) * nb);
    if (!tc->e || !tc->keys || !tc->vecs || !tc->bucket) {
        elmo_token_cache_free(tc);
        return NULL;
    }
    for (size_t i = 0; i < nb; i++) tc->bucket[i] = -1;
    tc->head = tc->tail = -1;
    return tc;
}

void elmo_token_cache_free(elmo_token_cache *tc) {
    if (!tc) return;
    elmo_free(tc->e);
    elmo_free(tc->keys);
    elmo_free(tc->vecs);
    elmo_free(tc->bucket);
    free(tc);
}

static void unlink_lru(elmo_token_cache *tc, int32_t i) {
    entry *x = &tc->e[i];
    if (x->prev >= 0)
        tc->e[x->prev].next = x->next;
    else
        tc->head = x->next;
    if (x->next >= 0)
        tc->e[x->next].prev = x->prev;
    else
        tc->tail = x->prev;
}

static void push_front(elmo_token_cache *tc, int32_t i) {
    entry *x = &tc->e[i];
    x->prev = -1;
    x->next = tc->head;
    if (tc->head >= 0) tc->e[tc->head].prev = i;
    tc->head = i;
    if (tc->tail < 0) tc->tail = i;
}

const float *elmo_token_cache_get(elmo_token_cache *tc, const int16_t *ids) {
    uint32_t h = hash_ids(ids, tc->W);
    for (int32_t i = tc->bucket[h & tc->mask]; i >= 0; i = tc->e[i].next_in_bucket) {
        if (tc->e[i].hash == h &&
            memcmp(tc->keys + (size_t)i * tc->W, ids, sizeof(int16_t) * tc->W) == 0) {
            if (tc->head != i) {
                unlink_lru(tc, i);
                push_front(tc, i);
            }
            tc->hits++;
            return tc->vecs + (size_t)i * tc->P;
        }
    }
    tc->misses++;
    return NULL;
}

void elmo_token_cache_put(elmo_token_cache *tc, const int16_t *ids, const float *vec) {
    int32_t i;
    if (tc->used < tc->cap) {
        i = (int32_t)tc->used++;
    } else {
        /* evict the least recently used entry: unlink it from its bucket chain */
        i = tc->tail;
        unlink_lru(tc, i);
        int32_t *pp = &tc->bucket[tc->e[i].hash & tc->mask];
        while (*pp != i) pp = &tc->e[*pp].next_in_bucket;
        *pp = tc->e[i].next_in_bucket;
    }
    uint32_t h = hash_ids(ids, tc->W);
    tc->e[i].hash = h;
    memcpy(tc->keys + (size_t)i * tc->W, ids, sizeof(int16_t) * tc->W);
    memcpy(tc->vecs + (size_t)i * tc->P, vec, sizeof(float) * tc->P);
    tc->e[i].next_in_bucket = tc->bucket[h & tc->mask];
    tc->bucket[h & tc->mask] = i;
    push_front(tc, i);
}

size_t elmo_token_cache_size(const elmo_token_cache *tc) { return tc->used; }

void elmo_token_cache_stats(const elmo_token_cache *tc, uint64_t *hits, uint64_t *misses) {
    *hits = tc->hits;
    *misses = tc->misses;
}
