/*
 * h5io.h: HDF5 input and output (internal): the bilm-tf weight file, generic float datasets,
 * and the AllenNLP `elmo` embedding file writer. HDF5's own error printing is switched off;
 * failures come back as elmo_status with a message naming the file and dataset.
 */
#ifndef ELMO_H5IO_H
#define ELMO_H5IO_H

#include <stdint.h>

#include "elmo.h"
#include "io/params.h"
#include "io/util.h"

void elmo_h5_quiet(void);

/* Read every tensor of the weight file into p, checking names, types and shapes. */
elmo_status elmo_weights_read(const char *path, const elmo_config *c, elmo_params *p);
/* Write p in the bilm-tf layout (atomic: temporary file, fsync, rename). */
elmo_status elmo_weights_write(const char *path, const elmo_config *c, const elmo_params *p);

/* Read a float dataset of any rank <= 4: *data malloc'd (free()), dims[0..rank-1]. */
elmo_status elmo_h5_read(const char *path, const char *dataset, float **data, int *rank,
                         uint64_t dims[4]);

/* Read element 0 of a string dataset (variable or fixed length) into a malloc'd string. */
elmo_status elmo_h5_read_string(const char *path, const char *dataset, char **out);

/* AllenNLP `elmo` command output: one float32 dataset per sentence, named by its index, and
 * the sentence_to_index JSON string. Written to a temporary name, renamed on close. */
typedef struct elmo_h5_writer elmo_h5_writer;
/* many: expect many datasets (use the HDF5 1.8+ format) */
elmo_status elmo_h5_writer_open(const char *path, int many, elmo_h5_writer **out);
/* rank 2 or 3 float dataset */
elmo_status elmo_h5_writer_put(elmo_h5_writer *w, const char *name, int rank, const uint64_t *dims,
                               const float *data);
/* a variable-length UTF-8 string dataset of shape (1,) */
elmo_status elmo_h5_writer_put_string(elmo_h5_writer *w, const char *name, const char *text);
elmo_status elmo_h5_writer_commit(elmo_h5_writer *w); /* close + rename; frees w */
/* Close the HDF5 file (a hid_t) being written to af's temporary and rename it into place; when
 * the close fails or ok is 0 (an earlier close failed), remove the temporary instead. */
elmo_status elmo_h5_close_commit(int64_t file, elmo_atomic_file *af, int ok);
void elmo_h5_writer_abort(elmo_h5_writer *w); /* close + unlink; frees w */

#endif
