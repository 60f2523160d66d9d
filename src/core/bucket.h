/*
 * bucket.h: length bucketing (internal). Sentences are taken in windows of consecutive
 * sentences; inside a window they are run longest first, so each batch holds sentences of
 * similar length and the packed LSTM steps keep most rows busy. Only the processing order
 * changes: callers put each result back under its own index (stateless mode only: in
 * stateful mode a batch's rows must be consecutive lines).
 */
#ifndef ELMO_BUCKET_H
#define ELMO_BUCKET_H

/* order (n): a permutation of 0..n-1; each window of `window` consecutive indices (the last
 * may be shorter) is sorted by decreasing len, ties in index order (stable). */
void elmo_bucket_order(int n, const int *len, int window, int *order);

/* Cut n sentences, taken in `order`, into batches of at most max_rows sentences and at most
 * max_positions positions (tokens + 2 per sentence; a sentence longer than that forms a batch
 * of its own). Writes the first index into order of each batch to starts (room for n + 1
 * entries, starts[count] = n) and returns the number of batches. */
int elmo_bucket_batches(int n, const int *len, const int *order, int max_rows, long max_positions,
                        int *starts);

/* The position budget for bucketed batches: the average positions of a file-order batch of
 * max_rows sentences over the n sentences, plus a quarter. Sorted batches of long sentences
 * then hold fewer sentences instead of more memory than a typical batch. */
long elmo_bucket_budget(int n, const int *len, int max_rows);

#endif
