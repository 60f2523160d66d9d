/* h5rows.c: see h5rows.h. */
#include "io/h5rows.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "io/h5io.h"
#include "io/util.h"

struct elmo_h5_rows {
    hid_t file, ds;
    int cols;
    uint64_t rows;
    elmo_atomic_file af;
};

elmo_status elmo_h5_rows_open(const char *path, const char *dataset, int cols, elmo_h5_rows **out) {
    elmo_h5_quiet();
    *out = NULL;
    if (cols < 1) return elmo_fail(ELMO_ERR_ARG, "elmo_h5_rows_open: cols < 1");
    elmo_h5_rows *w = calloc(1, sizeof *w);
    if (!w) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s = elmo_atomic_begin(&w->af, path);
    if (s) {
        free(w);
        return s;
    }
    w->cols = cols;
    w->ds = -1;
    w->file = H5Fcreate(w->af.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        s = elmo_fail(ELMO_ERR_IO, "%s: cannot create output file: %s", path, strerror(errno));
        elmo_atomic_abort(&w->af);
        free(w);
        return s;
    }
    hsize_t dims[2] = {0, (hsize_t)cols}, maxd[2] = {H5S_UNLIMITED, (hsize_t)cols};
    hsize_t chunk[2] = {(hsize_t)(cols >= 16384 ? 16 : 262144 / cols + 1), (hsize_t)cols};
    hid_t space = H5Screate_simple(2, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    w->ds = H5Dcreate2(w->file, dataset, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (w->ds < 0) {
        s = elmo_fail(ELMO_ERR_IO, "%s: cannot create dataset %s", path, dataset);
        elmo_h5_rows_abort(w);
        return s;
    }
    *out = w;
    return ELMO_OK;
}

elmo_status elmo_h5_rows_append(elmo_h5_rows *w, int n, const float *rows) {
    if (n <= 0) return ELMO_OK;
    hsize_t size[2] = {(hsize_t)(w->rows + (uint64_t)n), (hsize_t)w->cols};
    hsize_t start[2] = {(hsize_t)w->rows, 0}, count[2] = {(hsize_t)n, (hsize_t)w->cols};
    herr_t e = H5Dset_extent(w->ds, size);
    hid_t fs = e >= 0 ? H5Dget_space(w->ds) : -1;
    hid_t ms = H5Screate_simple(2, count, NULL);
    if (fs >= 0) e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (fs >= 0 && e >= 0) e = H5Dwrite(w->ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, rows);
    if (fs >= 0) H5Sclose(fs);
    H5Sclose(ms);
    if (fs < 0 || e < 0)
        return elmo_fail(ELMO_ERR_IO, "%s: cannot write rows (disk full?)", w->af.path);
    w->rows += (uint64_t)n;
    return ELMO_OK;
}

uint64_t elmo_h5_rows_count(const elmo_h5_rows *w) { return w->rows; }

elmo_status elmo_h5_rows_commit(elmo_h5_rows *w) {
    elmo_status s = elmo_h5_close_commit(w->file, &w->af, H5Dclose(w->ds) >= 0);
    free(w);
    return s;
}

void elmo_h5_rows_abort(elmo_h5_rows *w) {
    if (!w) return;
    if (w->ds >= 0) H5Dclose(w->ds);
    H5Fclose(w->file);
    elmo_atomic_abort(&w->af);
    free(w);
}
