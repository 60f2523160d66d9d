/*
 * checkpoint.c: the sectioned container (see checkpoint.h).
 *
 * Layout (little-endian): magic[8] | u32 version | sections... | "END!" marker section.
 * Section: name[32] (NUL-padded) | u64 bytes | u32 crc32 | data.
 */
#include "io/checkpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECTIONS 4096

uint32_t elmo_crc32(uint32_t crc, const void *data, size_t n) {
    static uint32_t table[256];
    static int init;
    if (!init) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        init = 1;
    }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

elmo_status elmo_ckpt_begin(elmo_ckpt_writer *w, const char *path, const char *magic,
                            uint32_t version) {
    memset(w, 0, sizeof *w);
    elmo_status s = elmo_atomic_begin(&w->af, path);
    if (s) return s;
    w->f = fopen(w->af.tmp, "wb");
    if (!w->f) {
        s = elmo_fail(ELMO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        elmo_atomic_abort(&w->af);
        return s;
    }
    w->failed = fwrite(magic, 1, 8, w->f) != 8 || fwrite(&version, 4, 1, w->f) != 1;
    return ELMO_OK;
}

void elmo_ckpt_put(elmo_ckpt_writer *w, const char *name, const void *data, size_t bytes) {
    if (w->failed) return;
    char nm[32] = {0};
    strncpy(nm, name, sizeof nm - 1);
    uint64_t n = bytes;
    uint32_t crc = elmo_crc32(0, data, bytes);
    w->failed = fwrite(nm, 1, 32, w->f) != 32 || fwrite(&n, 8, 1, w->f) != 1 ||
                fwrite(&crc, 4, 1, w->f) != 1 || (bytes && fwrite(data, 1, bytes, w->f) != bytes);
}

elmo_status elmo_ckpt_commit(elmo_ckpt_writer *w) {
    elmo_ckpt_put(w, "END!", "", 0);
    int bad = w->failed || fflush(w->f) != 0 || ferror(w->f);
    bad |= fclose(w->f) != 0;
    w->f = NULL;
    if (bad) {
        elmo_status s = elmo_fail(ELMO_ERR_IO, "%s: write error (disk full?)", w->af.path);
        elmo_atomic_abort(&w->af);
        return s;
    }
    return elmo_atomic_commit(&w->af);
}

void elmo_ckpt_abort(elmo_ckpt_writer *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    elmo_atomic_abort(&w->af);
}

elmo_status elmo_ckpt_read(const char *path, const char *magic, uint32_t max_version,
                           elmo_ckpt *ck) {
    memset(ck, 0, sizeof *ck);
    ck->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) return elmo_fail(ELMO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseeko(f, 0, SEEK_END) != 0) {
        fclose(f);
        return elmo_fail(ELMO_ERR_IO, "%s: cannot read", path);
    }
    off_t size = ftello(f);
    rewind(f);
    if (size < 12) {
        fclose(f);
        return elmo_fail(ELMO_ERR_FORMAT, "%s: not an elmo.c file (too short)", path);
    }
    ck->mem = elmo_alloc((size_t)size);
    if (!ck->mem) {
        fclose(f);
        return elmo_fail(ELMO_ERR_NOMEM, "%s: file too large to load (%lld bytes)", path,
                         (long long)size);
    }
    size_t got = fread(ck->mem, 1, (size_t)size, f);
    fclose(f);
    ck->size = (size_t)size;
    elmo_status s = ELMO_OK;
    if (got != (size_t)size)
        s = elmo_fail(ELMO_ERR_IO, "%s: read error", path);
    else if (memcmp(ck->mem, magic, 8) != 0)
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: not a %.8s file (wrong magic)", path, magic);
    if (s) {
        elmo_ckpt_free(ck);
        return s;
    }
    memcpy(&ck->version, ck->mem + 8, 4);
    if (ck->version == 0 || ck->version > max_version) {
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: format version %u, this elmo reads up to version %u",
                      path, ck->version, max_version);
        elmo_ckpt_free(ck);
        return s;
    }
    ck->sec = calloc(MAX_SECTIONS, sizeof *ck->sec);
    if (!ck->sec) {
        elmo_ckpt_free(ck);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    size_t off = 12;
    int ended = 0;
    while (!ended) {
        if (ck->size - off < 44 || ck->n >= MAX_SECTIONS) {
            s = elmo_fail(ELMO_ERR_FORMAT, "%s: truncated or damaged file", path);
            break;
        }
        elmo_ckpt_section *x = &ck->sec[ck->n];
        memcpy(x->name, ck->mem + off, 32);
        x->name[31] = 0;
        uint64_t n;
        uint32_t crc;
        memcpy(&n, ck->mem + off + 32, 8);
        memcpy(&crc, ck->mem + off + 40, 4);
        off += 44;
        if (n > ck->size - off) {
            s = elmo_fail(ELMO_ERR_FORMAT, "%s: truncated or damaged file (section %s)", path,
                          x->name);
            break;
        }
        x->data = ck->mem + off;
        x->bytes = (size_t)n;
        if (elmo_crc32(0, x->data, x->bytes) != crc) {
            s = elmo_fail(ELMO_ERR_FORMAT, "%s: section %s is corrupt (CRC mismatch)", path,
                          x->name);
            break;
        }
        off += (size_t)n;
        if (strcmp(x->name, "END!") == 0)
            ended = 1;
        else
            ck->n++;
    }
    if (s) elmo_ckpt_free(ck);
    return s;
}

void elmo_ckpt_free(elmo_ckpt *ck) {
    elmo_free(ck->mem);
    free(ck->sec);
    memset(ck, 0, sizeof *ck);
}

elmo_status elmo_ckpt_get(const elmo_ckpt *ck, const char *name, size_t want, const char **data,
                          size_t *bytes) {
    for (int i = 0; i < ck->n; i++)
        if (strcmp(ck->sec[i].name, name) == 0) {
            if (want != SIZE_MAX && ck->sec[i].bytes != want)
                return elmo_fail(ELMO_ERR_FORMAT, "%s: section %s has %zu bytes, expected %zu",
                                 ck->path, name, ck->sec[i].bytes, want);
            *data = ck->sec[i].data;
            if (bytes) *bytes = ck->sec[i].bytes;
            return ELMO_OK;
        }
    return elmo_fail(ELMO_ERR_FORMAT, "%s: section %s is missing", ck->path, name);
}
