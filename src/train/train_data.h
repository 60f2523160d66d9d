/*
 * train_data.h: the training data pipeline of bilm-tf (bilm/data.py,
 * https://github.com/allenai/bilm-tf), streaming with bounded memory.
 *
 * A stream (one per direction) visits the shards (files matching a glob) in a random order,
 * reshuffled on every pass; it reads a shard in chunks of at most `chunk_lines` sentences,
 * shuffles each chunk, and yields sentences as word ids and character ids: forward
 * [<S>] w1..wn [</S>], backward [</S>] wn..w1 [<S>]. The two directions are independent
 * streams (their own order and shuffles), as in bilm-tf.
 *
 * The packer fills B rows x T steps: each row keeps the remainder of its current sentence
 * across batches; inputs are rem[0:k], targets rem[1:k+1], so the last token of a sentence
 * is only ever a target. Batches are time-major (row t*B + b).
 *
 * Everything a stream holds (shard order, position, shuffle state, row remainders) can be
 * saved and restored, so a resumed run reads exactly the same batches.
 */
#ifndef ELMO_TRAIN_DATA_H
#define ELMO_TRAIN_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "elmo.h"
#include "io/util.h"
#include "train/vocab.h"

typedef struct elmo_stream elmo_stream;

/* shards: the files (sorted by the caller); reverse: backward LM; W chars per token;
 * shuffle = 0 keeps the file order (for tests). */
elmo_status elmo_stream_new(const char *const *shards, int n_shards, const elmo_vocab *v,
                            int reverse, int W, int B, uint64_t seed, size_t chunk_lines,
                            int shuffle, elmo_stream **out);
void elmo_stream_free(elmo_stream *s);

/* Fill ids (T, B, W) and targets (T, B) for the next batch. */
elmo_status elmo_stream_next_batch(elmo_stream *s, int T, int16_t *ids, int32_t *targets);
/* The same batch, keeping rows [b0, b0 + n) only: ids (T, n, W), targets (T, n), time-major
 * (row t*n + (b - b0)). The stream advances exactly as next_batch does (data parallelism:
 * every rank packs the whole batch and keeps its rows). */
elmo_status elmo_stream_next_rows(elmo_stream *s, int T, int b0, int n, int16_t *ids,
                                  int32_t *targets, uint8_t *reset);
/* Probability p that a row's LSTM state restarts from zero where it starts a new sentence
 * (reset (T, n) of next_rows marks those positions; 0 = bilm-tf: states always carried). A
 * model trained with p = 1 sees every sentence from zero state, as stateless inference does. */
void elmo_stream_set_restart(elmo_stream *s, double p);

/* Passes over the data completed (epochs of the shard list) and tokens consumed. */
uint64_t elmo_stream_passes(const elmo_stream *s);

/* Serialize / restore the whole state (appends to b / reads from p, advancing *p). */
elmo_status elmo_stream_save(const elmo_stream *s, elmo_strbuf *b);
elmo_status elmo_stream_load(elmo_stream *s, const char **p, const char *end);

/* Word ids (n + 2) and char ids (n + 2, W) of a sentence of n tokens (spans st/ln of line)
 * with its boundaries: forward <S> w1..wn </S>, reverse </S> wn..w1 <S>. A literal <S> or
 * </S> in the text is spelled out (it is an ordinary token, <UNK> as a target). */
void elmo_sentence_ids(const elmo_vocab *v, int reverse, int W, const char *line, const size_t *st,
                       const size_t *ln, size_t n, int32_t *words, int16_t *chars);

/* Count sentences and tokens (words + </S> per sentence) of the files. */
elmo_status elmo_count_tokens(const char *const *files, int n_files, uint64_t *sentences,
                              uint64_t *tokens);

#endif
