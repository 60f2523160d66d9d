/* embed_output.c: see embed_output.h. */
#include "embed_output.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5io.h"
#include "io/textio.h"
#include "io/util.h"

/* npy: the header is written last, into this many bytes reserved at the start (v1.0:
 * magic, version, uint16 length, the dict padded with spaces and ended by '\n') */
#define NPY_HEADER_BYTES 256

typedef struct {
    uint64_t index;
    int used, rank;
    uint64_t dims[3];
    float *data;
} pending;

struct embed_output {
    embed_format fmt;
    const char *name; /* for messages */
    elmo_h5_writer *h5;
    elmo_atomic_file af; /* npy, jsonl to a file */
    FILE *f;             /* npy, jsonl (stdout when to_stdout) */
    int to_stdout;
    uint64_t next; /* next line to write (npy, jsonl) */
    pending *ring; /* results of lines next.. waiting; slot index & (cap - 1) */
    size_t cap;
    int rank0; /* npy: shape of every line (the first line's) */
    uint64_t dims0[3], count;
    elmo_strbuf line; /* jsonl: one line */
};

int embed_format_parse(const char *name, embed_format *out) {
    if (strcmp(name, "hdf5") == 0)
        *out = EMBED_HDF5;
    else if (strcmp(name, "npy") == 0)
        *out = EMBED_NPY;
    else if (strcmp(name, "jsonl") == 0)
        *out = EMBED_JSONL;
    else
        return -1;
    return 0;
}

static void output_free(embed_output *o) {
    for (size_t k = 0; k < o->cap; k++) free(o->ring[k].data);
    free(o->ring);
    elmo_strbuf_free(&o->line);
    free(o);
}

elmo_status embed_output_open(const char *path, embed_format fmt, embed_output **out) {
    *out = NULL;
    embed_output *o = calloc(1, sizeof *o);
    if (!o) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    o->fmt = fmt;
    o->name = path;
    elmo_status s = ELMO_OK;
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        output_free(o);
        return elmo_fail(ELMO_ERR_IO, "%s: is a directory", path);
    }
    if (fmt == EMBED_HDF5) {
        s = elmo_h5_writer_open(path, 1, &o->h5);
    } else if (strcmp(path, "-") == 0) {
        o->to_stdout = 1;
        o->f = stdout;
        o->name = "stdout";
    } else if (!(s = elmo_atomic_begin(&o->af, path))) {
        o->f = fopen(o->af.tmp, "wb");
        if (!o->f) {
            s = elmo_fail(ELMO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
            elmo_atomic_abort(&o->af);
        } else if (fmt == EMBED_NPY && fseek(o->f, NPY_HEADER_BYTES, SEEK_SET) != 0) {
            s = elmo_fail(ELMO_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
            fclose(o->f);
            o->f = NULL;
            elmo_atomic_abort(&o->af);
        }
    }
    if (s) {
        output_free(o);
        return s;
    }
    *out = o;
    return ELMO_OK;
}

static elmo_status write_error(embed_output *o) {
    return elmo_fail(ELMO_ERR_IO, "%s: write failed: %s", o->name, strerror(errno ? errno : EIO));
}

static elmo_status write_npy(embed_output *o, uint64_t index, int rank, const uint64_t *dims,
                             const float *data) {
    size_t n = 1;
    for (int r = 0; r < rank; r++) n *= (size_t)dims[r];
    if (o->count == 0) {
        o->rank0 = rank;
        memcpy(o->dims0, dims, sizeof(uint64_t) * (size_t)rank);
    } else if (rank != o->rank0 || memcmp(dims, o->dims0, sizeof(uint64_t) * (size_t)rank) != 0) {
        /* the token count is the varying dimension (rank 3: dims[1]; rank 2: dims[0]) */
        int t = rank == 3 ? 1 : 0;
        return elmo_fail(
            ELMO_ERR_SHAPE,
            "%s: line %llu has %llu tokens, line 1 has %llu: --output-format npy needs "
            "one shape for every line (use --layers mean, or hdf5 / jsonl)",
            o->name, (unsigned long long)index + 1, (unsigned long long)dims[t],
            (unsigned long long)o->dims0[t]);
    }
    o->count++;
    if (n && fwrite(data, sizeof(float), n, o->f) != n) return write_error(o);
    return ELMO_OK;
}

/* nested JSON arrays of the given dims; %.9g round-trips float32 exactly */
static int json_array(elmo_strbuf *b, int rank, const uint64_t *dims, const float **p) {
    if (elmo_strbuf_add(b, "[", 1)) return -1;
    for (uint64_t i = 0; i < dims[0]; i++) {
        if (i && elmo_strbuf_add(b, ", ", 2)) return -1;
        if (rank > 1) {
            if (json_array(b, rank - 1, dims + 1, p)) return -1;
        } else {
            float v = *(*p)++;
            if (isfinite(v) ? elmo_strbuf_printf(b, "%.9g", (double)v)
                            : elmo_strbuf_add(b, "null", 4))
                return -1;
        }
    }
    return elmo_strbuf_add(b, "]", 1);
}

static elmo_status write_jsonl(embed_output *o, uint64_t index, int rank, const uint64_t *dims,
                               const float *data) {
    o->line.n = 0;
    if (elmo_strbuf_printf(&o->line,
                           "{\"index\": %llu, \"embedding\": ", (unsigned long long)index) ||
        json_array(&o->line, rank, dims, &data) || elmo_strbuf_add(&o->line, "}\n", 2))
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    if (fwrite(o->line.p, 1, o->line.n, o->f) != o->line.n) return write_error(o);
    return ELMO_OK;
}

static elmo_status write_line(embed_output *o, uint64_t index, int rank, const uint64_t *dims,
                              const float *data) {
    return o->fmt == EMBED_NPY ? write_npy(o, index, rank, dims, data)
                               : write_jsonl(o, index, rank, dims, data);
}

/* room in the ring for line index (index - next < cap) */
static elmo_status ring_reserve(embed_output *o, uint64_t index) {
    if (index - o->next < o->cap) return ELMO_OK;
    size_t nc = o->cap ? o->cap : 64;
    while (index - o->next >= nc) nc *= 2;
    pending *nr = calloc(nc, sizeof *nr);
    if (!nr) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < o->cap; k++)
        if (o->ring[k].used) nr[o->ring[k].index & (nc - 1)] = o->ring[k];
    free(o->ring);
    o->ring = nr;
    o->cap = nc;
    return ELMO_OK;
}

elmo_status embed_output_put(embed_output *o, uint64_t index, int rank, const uint64_t *dims,
                             const float *data) {
    ELMO_ASSERT(rank >= 1 && rank <= 3);
    if (o->fmt == EMBED_HDF5) {
        char name[32];
        snprintf(name, sizeof name, "%llu", (unsigned long long)index);
        return elmo_h5_writer_put(o->h5, name, rank, dims, data);
    }
    ELMO_ASSERT(index >= o->next);
    elmo_status s;
    if (index != o->next) { /* keep a copy until the lines before it are written */
        if ((s = ring_reserve(o, index))) return s;
        pending *p = &o->ring[index & (o->cap - 1)];
        size_t n = 1;
        for (int r = 0; r < rank; r++) n *= (size_t)dims[r];
        p->data = malloc(sizeof(float) * (n ? n : 1));
        if (!p->data) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        memcpy(p->data, data, sizeof(float) * n);
        memcpy(p->dims, dims, sizeof(uint64_t) * (size_t)rank);
        p->rank = rank;
        p->index = index;
        p->used = 1;
        return ELMO_OK;
    }
    if ((s = write_line(o, index, rank, dims, data))) return s;
    o->next++;
    while (o->cap && o->ring[o->next & (o->cap - 1)].used) {
        pending *p = &o->ring[o->next & (o->cap - 1)];
        s = write_line(o, p->index, p->rank, p->dims, p->data);
        free(p->data);
        memset(p, 0, sizeof *p);
        if (s) return s;
        o->next++;
    }
    return ELMO_OK;
}

elmo_status embed_output_put_string(embed_output *o, const char *name, const char *text) {
    return o->fmt == EMBED_HDF5 ? elmo_h5_writer_put_string(o->h5, name, text) : ELMO_OK;
}

/* the npy header into the reserved bytes at the start of the file */
static elmo_status npy_header(embed_output *o) {
    char shape[160], hdr[NPY_HEADER_BYTES];
    int k = snprintf(shape, sizeof shape, "(%llu", (unsigned long long)o->count);
    for (int r = 0; r < o->rank0; r++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, ", %llu",
                      (unsigned long long)o->dims0[r]);
    snprintf(shape + k, sizeof shape - (size_t)k, ")");
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    const char *descr = ">f4";
#else
    const char *descr = "<f4";
#endif
    memset(hdr, ' ', sizeof hdr);
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)((NPY_HEADER_BYTES - 10) & 0xff);
    hdr[9] = (char)((NPY_HEADER_BYTES - 10) >> 8);
    int d = snprintf(hdr + 10, sizeof hdr - 10,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    hdr[10 + d] = ' '; /* snprintf's NUL */
    hdr[NPY_HEADER_BYTES - 1] = '\n';
    if (fseek(o->f, 0, SEEK_SET) != 0 || fwrite(hdr, 1, sizeof hdr, o->f) != sizeof hdr)
        return write_error(o);
    return ELMO_OK;
}

elmo_status embed_output_commit(embed_output *o) {
    elmo_status s = ELMO_OK;
    if (o->fmt == EMBED_HDF5) {
        s = elmo_h5_writer_commit(o->h5);
        o->h5 = NULL;
        output_free(o);
        return s;
    }
    for (size_t k = 0; k < o->cap; k++) ELMO_ASSERT(!o->ring[k].used); /* every line written */
    if (o->fmt == EMBED_NPY) s = npy_header(o);
    if (o->to_stdout) {
        if (!s && fflush(stdout) != 0) s = write_error(o);
    } else {
        int bad = fclose(o->f) != 0;
        if (!s && bad) s = write_error(o);
        s = s ? s : elmo_atomic_commit(&o->af);
        if (s) elmo_atomic_abort(&o->af);
    }
    output_free(o);
    return s;
}

void embed_output_abort(embed_output *o) {
    if (!o) return;
    if (o->h5) elmo_h5_writer_abort(o->h5);
    if (o->f && !o->to_stdout) {
        fclose(o->f);
        elmo_atomic_abort(&o->af);
    }
    if (o->to_stdout) fflush(stdout);
    output_free(o);
}
