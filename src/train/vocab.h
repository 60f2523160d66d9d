/*
 * vocab.h: the bilm-tf vocabulary (Vocabulary in bilm/data.py of
 * https://github.com/allenai/bilm-tf): one token per line, stripped; a line
 * !!!MAXTERMID is skipped and takes no id; id = 0-based index among the kept lines; it must
 * contain <S>, </S> and <UNK>. Built from text: <S>, </S>, <UNK> first, then words by
 * descending count (ties in byte order), which the log-uniform sampler relies on.
 */
#ifndef ELMO_VOCAB_H
#define ELMO_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

typedef struct elmo_vocab elmo_vocab;

elmo_status elmo_vocab_load(const char *path, elmo_vocab **out);
void elmo_vocab_free(elmo_vocab *v);
uint32_t elmo_vocab_size(const elmo_vocab *v);
uint32_t elmo_vocab_bos(const elmo_vocab *v); /* id of <S> */
uint32_t elmo_vocab_eos(const elmo_vocab *v); /* id of </S> */
uint32_t elmo_vocab_unk(const elmo_vocab *v); /* id of <UNK> */
/* Id of a token of len bytes as it is read from text: <UNK> when unknown or a boundary token. */
uint32_t elmo_vocab_id(const elmo_vocab *v, const char *tok, size_t len);
/* Token of an id (NUL-terminated; NULL when out of range). */
const char *elmo_vocab_word(const elmo_vocab *v, uint32_t id);
/* A fingerprint of the word list (FNV-1a over the words in order), to check that a softmax,
 * a checkpoint or a classifier belongs to this vocabulary. */
uint64_t elmo_vocab_hash(const elmo_vocab *v);

/* Count the whitespace-separated tokens of the files and write a vocabulary to out_path
 * (atomically): <S>, </S>, <UNK>, then words with count >= min_count by descending count,
 * at most max_size lines in all (0 = no limit). Reports the number of distinct words, tokens
 * and the coverage of the kept words (fraction of tokens) when the pointers are not NULL. */
elmo_status elmo_vocab_build(const char *const *files, int n_files, uint64_t min_count,
                             uint64_t max_size, const char *out_path, uint64_t *n_distinct,
                             uint64_t *n_tokens, uint64_t *n_kept, double *coverage);

#endif
