/*
 * featurize.h: text to ELMo features for the downstream tasks (internal).
 *
 * Many token sequences are embedded in batches of sequences of similar length (sorted, a
 * batch holds up to 64 sequences or 8192 tokens): with stateless sessions the result is the
 * same as one sequence at a time. Each sequence's layers (K, n, D) go to a callback.
 */
#ifndef ELMO_FEATURIZE_H
#define ELMO_FEATURIZE_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

typedef enum { ELMO_TOK_WHITESPACE = 0, ELMO_TOK_SIMPLE = 1 } elmo_tokenizer;

/* Token spans of text with the chosen tokenizer (see elmo_split_whitespace). */
size_t elmo_tokenize_text(elmo_tokenizer t, const char *text, size_t len, size_t *st, size_t *ln,
                          size_t max);

/* A token sequence: n spans of text, or (tok != NULL) n NUL-terminated tokens. */
typedef struct {
    const char *text;
    const size_t *st, *ln;
    int n;
    const char *const *tok;
} elmo_tok_seq;

typedef void (*elmo_emit_fn)(size_t i, const float *layers, int n, void *user);
typedef void (*elmo_progress_fn)(size_t done, size_t total, void *user);

/* Embed seqs[0..count) with the (stateless) session; emit(i, layers (K, n, D), n) for each. */
elmo_status elmo_embed_many(elmo_session *s, const elmo_model *m, size_t count,
                            const elmo_tok_seq *seqs, elmo_emit_fn emit, void *user,
                            elmo_progress_fn progress, void *puser);

/* Tokenized texts: spans of every text in one array. */
typedef struct {
    elmo_tok_seq *seq; /* (count) */
    size_t *st, *ln;   /* all spans */
    size_t count, n_tokens;
} elmo_tokenized;
/* Tokenize count texts (keeping at most max_tokens per text when max_tokens > 0). */
elmo_status elmo_tokenize_all(elmo_tokenizer t, size_t count, const char *const *text,
                              const size_t *len, int max_tokens, elmo_tokenized *out);
void elmo_tokenized_free(elmo_tokenized *t);

#endif
