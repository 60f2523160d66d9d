/*
 * h5rows.h: one (rows, cols) float32 HDF5 dataset written block by block with bounded
 * memory (internal). The dataset is chunked and extendible (rows grow as blocks are
 * appended); readers see an ordinary (rows, cols) dataset. Written to a temporary name and
 * renamed on commit, like elmo_h5_writer. Used by `elmo dump-token-embeddings`.
 */
#ifndef ELMO_H5ROWS_H
#define ELMO_H5ROWS_H

#include <stdint.h>

#include "elmo.h"

typedef struct elmo_h5_rows elmo_h5_rows;

elmo_status elmo_h5_rows_open(const char *path, const char *dataset, int cols, elmo_h5_rows **out);
/* Append n rows (n, cols). */
elmo_status elmo_h5_rows_append(elmo_h5_rows *w, int n, const float *rows);
uint64_t elmo_h5_rows_count(const elmo_h5_rows *w);
elmo_status elmo_h5_rows_commit(elmo_h5_rows *w); /* close + rename; frees w */
void elmo_h5_rows_abort(elmo_h5_rows *w);         /* close + unlink; frees w */

#endif
