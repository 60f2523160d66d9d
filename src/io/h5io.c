/*
 * h5io.c: HDF5 reading and writing (see h5io.h).
 */
#include "io/h5io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/util.h"

/* Called before elmo's first HDF5 call. H5dont_atexit (effective when elmo is the first to
 * use libhdf5 in the process): libhdf5 1.10's shutdown at exit crashes (SIGSEGV in
 * H5F__close_cb) after an H5Fclose that failed, as it does when the disk fills while a file
 * is written; elmo closes every file it opens, so there is nothing left for it to do. */
void elmo_h5_quiet(void) {
    static _Atomic int once;
    if (!once) {
        once = 1;
        H5dont_atexit();
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void shape_str(char *buf, size_t n, int rank, const uint64_t *dims) {
    size_t o = 0;
    o += snprintf(buf + o, n - o, "(");
    for (int i = 0; i < rank && o < n; i++)
        o += snprintf(buf + o, n - o, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (rank == 1 && o < n) o += snprintf(buf + o, n - o, ",");
    if (o < n) snprintf(buf + o, n - o, ")");
}

static elmo_status open_ro(const char *path, hid_t *f) {
    elmo_h5_quiet();
    if (access(path, R_OK) != 0)
        return elmo_fail(ELMO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*f < 0)
        return elmo_fail(ELMO_ERR_FORMAT, "%s: not a readable HDF5 file (truncated or corrupt?)",
                         path);
    return ELMO_OK;
}

/* Open dataset name, check it is a float dataset and return its shape. */
static elmo_status open_dataset(hid_t f, const char *path, const char *name, hid_t *ds, int *rank,
                                uint64_t dims[4]) {
    htri_t exists = H5Lexists(f, name, H5P_DEFAULT);
    /* H5Lexists fails when an intermediate group is missing: "missing" either way */
    if (exists <= 0) return elmo_fail(ELMO_ERR_FORMAT, "%s: dataset %s is missing", path, name);
    *ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (*ds < 0) return elmo_fail(ELMO_ERR_FORMAT, "%s: %s is not a readable dataset", path, name);
    hid_t type = H5Dget_type(*ds);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (type >= 0) H5Tclose(type);
    if (cls != H5T_FLOAT) {
        H5Dclose(*ds);
        return elmo_fail(ELMO_ERR_FORMAT, "%s: dataset %s is not floating point", path, name);
    }
    hid_t space = H5Dget_space(*ds);
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (r < 0 || r > 4) {
        if (space >= 0) H5Sclose(space);
        H5Dclose(*ds);
        return elmo_fail(ELMO_ERR_FORMAT, "%s: dataset %s has an unsupported rank", path, name);
    }
    hsize_t hd[4] = {0, 0, 0, 0};
    H5Sget_simple_extent_dims(space, hd, NULL);
    H5Sclose(space);
    *rank = r;
    for (int i = 0; i < 4; i++) dims[i] = i < r ? (uint64_t)hd[i] : 0;
    return ELMO_OK;
}

elmo_status elmo_weights_read(const char *path, const elmo_config *c, elmo_params *p) {
    hid_t f;
    elmo_status s = open_ro(path, &f);
    if (s) return s;
    elmo_tensor t[ELMO_MAX_TENSORS];
    int n = elmo_params_tensors(c, p, t);
    for (int k = 0; k < n && !s; k++) {
        hid_t ds;
        int rank;
        uint64_t dims[4];
        if ((s = open_dataset(f, path, t[k].name, &ds, &rank, dims))) break;
        int same = rank == t[k].rank;
        for (int i = 0; same && i < rank; i++) same = dims[i] == t[k].dims[i];
        if (!same) {
            char got[96], want[96];
            shape_str(got, sizeof got, rank, dims);
            shape_str(want, sizeof want, t[k].rank, t[k].dims);
            s = elmo_fail(ELMO_ERR_SHAPE, "%s: dataset %s has shape %s, the options require %s",
                          path, t[k].name, got, want);
        } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t[k].data) < 0) {
            s = elmo_fail(ELMO_ERR_FORMAT, "%s: cannot read dataset %s (truncated file?)", path,
                          t[k].name);
        } else {
            size_t count = 1;
            for (int i = 0; i < rank; i++) count *= dims[i];
            for (size_t i = 0; i < count; i++)
                if (!isfinite(t[k].data[i])) {
                    s = elmo_fail(ELMO_ERR_FORMAT, "%s: dataset %s contains NaN or Inf", path,
                                  t[k].name);
                    break;
                }
        }
        H5Dclose(ds);
    }
    H5Fclose(f);
    return s;
}

elmo_status elmo_h5_read(const char *path, const char *dataset, float **data, int *rank,
                         uint64_t dims[4]) {
    hid_t f;
    elmo_status s = open_ro(path, &f);
    if (s) return s;
    hid_t ds;
    if ((s = open_dataset(f, path, dataset, &ds, rank, dims))) {
        H5Fclose(f);
        return s;
    }
    size_t count = 1;
    for (int i = 0; i < *rank; i++) count = elmo_mul_size(count, dims[i]);
    /* the shape comes from the file: checked against the memory limits before allocating */
    *data = elmo_alloc(count ? elmo_mul_size(count, sizeof(float)) : 1);
    if (!*data)
        s = elmo_fail(
            ELMO_ERR_NOMEM,
            "%s: dataset %s is too large (its shape claims more memory than is available)", path,
            dataset);
    else if (count && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0) {
        free(*data);
        *data = NULL;
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: cannot read dataset %s", path, dataset);
    }
    H5Dclose(ds);
    H5Fclose(f);
    return s;
}

/* Little-endian unsigned integer of n bytes. */
static uint64_t le_uint(const unsigned char *b, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = v << 8 | b[i];
    return v;
}

/* Guards around libhdf5 (1.10.8) for element 0 of a variable-length dataset, which is:
 * length (4 bytes), address of a global heap collection, object index (4 bytes), all
 * little-endian. libhdf5 allocates the claimed length before reading the object (a damaged
 * file made it allocate gigabytes), and loops forever on a collection holding a free-space
 * object of size 0 (its parser does not advance). So, for a contiguous dataset (what elmo
 * writes; other layouts are not checked), the element and its collection are read here
 * first: the length must fit in the file, the collection ("GCOL", version 1) must lie within
 * the file, and walking its objects as libhdf5 does must advance and stay inside it. */
static int vlen_element_sane(const char *path, hid_t f, hid_t ds) {
    haddr_t off = H5Dget_offset(ds);
    hsize_t fsize = 0, ub = 0;
    size_t sa = 8, ss = 8; /* sizes of addresses and lengths in the file */
    hid_t fcpl = H5Fget_create_plist(f);
    if (fcpl >= 0) {
        H5Pget_userblock(fcpl, &ub);
        H5Pget_sizes(fcpl, &sa, &ss);
        H5Pclose(fcpl);
    }
    if (off == HADDR_UNDEF || H5Fget_filesize(f, &fsize) < 0) return 1;
    if (sa < 2 || sa > 8 || ss < 2 || ss > 8) return 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    unsigned char e[16], *c = NULL;
    int ok = fseeko(fp, (off_t)(off + ub), SEEK_SET) == 0 && fread(e, 1, 8 + sa, fp) == 8 + sa;
    uint64_t len = ok ? le_uint(e, 4) : 0, coll = ok ? le_uint(e + 4, sa) + ub : 0, csize = 0;
    ok = ok && len <= fsize && coll < fsize;
    unsigned char h[16];
    size_t hdr = 8 + ss, objhdr = 8 + ss;
    ok = ok && fseeko(fp, (off_t)coll, SEEK_SET) == 0 && fread(h, 1, hdr, fp) == hdr &&
         memcmp(h, "GCOL", 4) == 0 && h[4] == 1;
    if (ok) csize = le_uint(h + 8, ss);
    ok = ok && csize >= hdr && csize <= fsize - coll && (c = malloc((size_t)csize)) != NULL &&
         fseeko(fp, (off_t)coll, SEEK_SET) == 0 && fread(c, 1, (size_t)csize, fp) == csize;
    fclose(fp);
    for (size_t p = hdr; ok && p < csize;) {
        if (p + objhdr > csize) break; /* a tail too small for an object: free space */
        unsigned idx = (unsigned)le_uint(c + p, 2);
        uint64_t size = le_uint(c + p + 8, ss);
        uint64_t need = idx ? objhdr + ((size + 7) & ~(uint64_t)7) : size;
        if (size > csize || need == 0 || need > csize - p)
            ok = 0; /* no progress, or outside */
        else
            p += (size_t)need;
    }
    free(c);
    return ok;
}

elmo_status elmo_h5_read_string(const char *path, const char *dataset, char **out) {
    hid_t f;
    elmo_status s = open_ro(path, &f);
    if (s) return s;
    *out = NULL;
    hid_t ds = H5Lexists(f, dataset, H5P_DEFAULT) > 0 ? H5Dopen2(f, dataset, H5P_DEFAULT) : -1;
    if (ds < 0) {
        H5Fclose(f);
        return elmo_fail(ELMO_ERR_FORMAT, "%s: dataset %s is missing", path, dataset);
    }
    hid_t ft = H5Dget_type(ds), space = H5Dget_space(ds), ms = H5Screate(H5S_SCALAR);
    /* element 0 only, whatever the dataset's shape says (its other elements are not read) */
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    for (int i = 0; i < H5S_MAX_RANK; i++) count[i] = 1;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING)
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: %s is not a string", path, dataset);
    else if (rank < 0 || npoints < 1 || ms < 0 ||
             (rank > 0 && H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0))
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: %s is empty or unreadable", path, dataset);
    else if (H5Tis_variable_str(ft) > 0) {
        char *val = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        if (!vlen_element_sane(path, f, ds))
            s = elmo_fail(ELMO_ERR_FORMAT, "%s: %s is damaged (its string heap is inconsistent)",
                          path, dataset);
        else if (H5Dread(ds, mt, ms, space, H5P_DEFAULT, &val) < 0)
            s = elmo_fail(ELMO_ERR_FORMAT, "%s: cannot read %s", path, dataset);
        else {
            *out = strdup(val ? val : "");
            if (!*out) s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
            H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, &val);
        }
        H5Tclose(mt);
    } else {
        /* fixed length: the size comes from the file */
        size_t sz = H5Tget_size(ft);
        char *b = sz && elmo_alloc_ok(sz + 1) ? calloc(1, sz + 1) : NULL;
        if (!b || H5Dread(ds, ft, ms, space, H5P_DEFAULT, b) < 0) {
            free(b);
            s = elmo_fail(ELMO_ERR_FORMAT, "%s: cannot read %s", path, dataset);
        } else
            *out = b;
    }
    if (ms >= 0) H5Sclose(ms);
    if (space >= 0) H5Sclose(space);
    if (ft >= 0) H5Tclose(ft);
    H5Dclose(ds);
    H5Fclose(f);
    return s;
}

/* ---- writing */

struct elmo_h5_writer {
    hid_t file;
    elmo_atomic_file af;
};

/* Create the intermediate groups of name ("a/b/c" -> a, a/b). */
static hid_t lcpl_with_groups(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Pset_char_encoding(lcpl, H5T_CSET_UTF8);
    return lcpl;
}

elmo_status elmo_h5_writer_open(const char *path, int many, elmo_h5_writer **out) {
    elmo_h5_quiet();
    elmo_h5_writer *w = calloc(1, sizeof *w);
    if (!w) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s = elmo_atomic_begin(&w->af, path);
    if (s) {
        free(w);
        return s;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* many datasets: the 1.8 format's indexed link storage scales to millions of them;
     * otherwise the oldest format (superblock 0), like bilm-tf's files */
    if (many) H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    w->file = H5Fcreate(w->af.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (w->file < 0) {
        s = elmo_fail(ELMO_ERR_IO, "%s: cannot create output file: %s", path, strerror(errno));
        elmo_atomic_abort(&w->af);
        free(w);
        return s;
    }
    *out = w;
    return ELMO_OK;
}

elmo_status elmo_h5_writer_put(elmo_h5_writer *w, const char *name, int rank, const uint64_t *dims,
                               const float *data) {
    hsize_t hd[4] = {0, 0, 0, 0};
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        hd[i] = dims[i];
        count *= dims[i];
    }
    hid_t space = H5Screate_simple(rank, hd, NULL);
    hid_t lcpl = lcpl_with_groups();
    hid_t ds = H5Dcreate2(w->file, name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = -1;
    if (ds >= 0) {
        e = count ? H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
        H5Dclose(ds);
    }
    H5Pclose(lcpl);
    H5Sclose(space);
    if (ds < 0 || e < 0)
        return elmo_fail(ELMO_ERR_IO, "%s: cannot write dataset %s (disk full?)", w->af.path, name);
    return ELMO_OK;
}

elmo_status elmo_h5_writer_put_string(elmo_h5_writer *w, const char *name, const char *text) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hsize_t one = 1;
    hid_t space = H5Screate_simple(1, &one, NULL);
    hid_t lcpl = lcpl_with_groups();
    hid_t ds = H5Dcreate2(w->file, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = -1;
    if (ds >= 0) {
        const char *ptrs[1] = {text};
        e = H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs);
        H5Dclose(ds);
    }
    H5Pclose(lcpl);
    H5Sclose(space);
    H5Tclose(type);
    if (ds < 0 || e < 0)
        return elmo_fail(ELMO_ERR_IO, "%s: cannot write dataset %s (disk full?)", w->af.path, name);
    return ELMO_OK;
}

elmo_status elmo_h5_close_commit(int64_t file, elmo_atomic_file *af, int ok) {
    if (H5Fclose((hid_t)file) < 0) ok = 0;
    if (!ok) {
        elmo_status s =
            elmo_fail(ELMO_ERR_IO, "%s: cannot finish writing the file (disk full?)", af->path);
        elmo_atomic_abort(af);
        return s;
    }
    return elmo_atomic_commit(af);
}

elmo_status elmo_h5_writer_commit(elmo_h5_writer *w) {
    elmo_status s = elmo_h5_close_commit(w->file, &w->af, 1);
    free(w);
    return s;
}

void elmo_h5_writer_abort(elmo_h5_writer *w) {
    if (!w) return;
    H5Fclose(w->file);
    elmo_atomic_abort(&w->af);
    free(w);
}

elmo_status elmo_weights_write(const char *path, const elmo_config *c, const elmo_params *p) {
    elmo_h5_writer *w;
    elmo_status s = elmo_h5_writer_open(path, 0, &w);
    if (s) return s;
    elmo_tensor t[ELMO_MAX_TENSORS];
    int n = elmo_params_tensors(c, p, t);
    for (int k = 0; k < n && !s; k++)
        s = elmo_h5_writer_put(w, t[k].name, t[k].rank, t[k].dims, t[k].data);
    if (s) {
        elmo_h5_writer_abort(w);
        return s;
    }
    return elmo_h5_writer_commit(w);
}
