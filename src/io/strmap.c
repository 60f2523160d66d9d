/* strmap.c: see strmap.h. */
#include "io/strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t elmo_hash_bytes(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

void elmo_strmap_init(elmo_strmap *m) { memset(m, 0, sizeof *m); }

void elmo_strmap_free(elmo_strmap *m) {
    free(m->arena);
    free(m->off);
    free(m->len);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(const elmo_strmap *m, const char *key, size_t len) {
    size_t mask = m->nslots - 1, j = elmo_hash_bytes(key, len) & mask;
    for (; m->slots[j]; j = (j + 1) & mask) {
        size_t id = m->slots[j] - 1;
        if (m->len[id] == len && memcmp(m->arena + m->off[id], key, len) == 0) break;
    }
    return j;
}

int64_t elmo_strmap_find(const elmo_strmap *m, const char *key, size_t len) {
    if (!m->nslots) return -1;
    size_t j = slot_of(m, key, len);
    return m->slots[j] ? (int64_t)m->slots[j] - 1 : -1;
}

static int grow_slots(elmo_strmap *m) {
    size_t ns = m->nslots ? m->nslots * 2 : 1024;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return -1;
    for (size_t id = 0; id < m->n; id++) {
        size_t j = elmo_hash_bytes(m->arena + m->off[id], m->len[id]) & (ns - 1);
        while (sl[j]) j = (j + 1) & (ns - 1);
        sl[j] = (uint32_t)id + 1;
    }
    free(m->slots);
    m->slots = sl;
    m->nslots = ns;
    return 0;
}

int64_t elmo_strmap_add(elmo_strmap *m, const char *key, size_t len, int *added) {
    if (added) *added = 0;
    if (len > UINT32_MAX || m->n >= UINT32_MAX - 1) return -1;
    if ((m->n + 1) * 2 > m->nslots && grow_slots(m)) return -1;
    size_t j = slot_of(m, key, len);
    if (m->slots[j]) return (int64_t)m->slots[j] - 1;
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        size_t *no = realloc(m->off, nc * sizeof *no);
        if (!no) return -1;
        m->off = no;
        uint32_t *nl = realloc(m->len, nc * sizeof *nl);
        if (!nl) return -1;
        m->len = nl;
        m->cap = nc;
    }
    if (m->used + len + 1 > m->acap) {
        size_t nc = m->acap ? m->acap : 1 << 16;
        while (nc < m->used + len + 1) nc *= 2;
        char *na = realloc(m->arena, nc);
        if (!na) return -1;
        m->arena = na;
        m->acap = nc;
    }
    memcpy(m->arena + m->used, key, len);
    m->arena[m->used + len] = 0;
    m->off[m->n] = m->used;
    m->len[m->n] = (uint32_t)len;
    m->used += len + 1;
    m->slots[j] = (uint32_t)++m->n;
    if (added) *added = 1;
    return (int64_t)m->n - 1;
}
