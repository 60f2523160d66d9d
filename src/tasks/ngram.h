/*
 * ngram.h: interpolated modified Kneser-Ney n-gram language models (internal), the count-based
 * baseline that the biLM's perplexities are compared against (`elmo ngram`).
 *
 * Vocabulary (bilm-tf format, see train/vocab.h): one token per line, stripped; a line
 * `!!!MAXTERMID` is skipped and takes no id; id = 0-based index among the kept lines; a repeated
 * token maps to its last line (Python dict assignment). <S>, </S> and <UNK> must be present.
 * Text: one sentence per line, tokens split on whitespace (elmo_split_whitespace). A token not
 * in the vocabulary maps to <UNK>; so does a literal "<S>" or "</S>" inside a line, because the
 * model reserves them for the boundaries. A blank line is an empty sentence (it still predicts
 * its end token), as in bilm-tf's data pipeline.
 *
 * Directions (as the biLM's, train/train_data.h): the forward model reads <S> w1 .. wn </S> and
 * predicts w1 .. wn, </S>; the backward model reads </S> wn .. w1 <S> and predicts wn .. w1,
 * <S>. Either way a sentence gives n + 1 predictions and the start token is never predicted,
 * exactly as the biLM's targets. The history of the first word is the start token alone (no
 * padding), so the first prediction of a sentence uses at most a bigram.
 *
 * Model (Chen & Goodman 1998, interpolated, modified discounts; the KenLM/SRILM conventions):
 *   p_k(w | h) = max(a(h w) - D_k(a(h w)), 0) / a(h .)  +  g_k(h) p_{k-1}(w | h'),
 *   g_k(h)     = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / a(h .),
 *   p_0(w)     = 1 / (V - 1)  for every id but the start token,
 * where h' drops the oldest word of h, a(.) are the "adjusted" counts (the raw count at the
 * highest order and for n-grams that begin with the start token, which have no left
 * extension; otherwise the continuation count N1+(. h w), the number of distinct words seen
 * before h w), a(h .) is their sum over w and Nc(h .) the number of words w with a(h w) = c
 * (c >= 3 for N3+). A context that was never seen at order k passes p_{k-1} through
 * (g = 1). The discounts come from each order's count-of-counts n1..n4 of adjusted counts:
 *   Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3;
 * a value outside (0, c) (tiny corpora, when some n_c is 0) falls back to Y, or to 0.5 when Y
 * is undefined or 1. With every discount in (0, c], p(. | h) sums to exactly 1 over the V - 1
 * predictable ids for every history h, seen or not; the start token has probability 0.
 *
 * Storage: one open-addressing hash table per order of packed uint32 id tuples with the
 * count inline (no allocation per n-gram), and one per order for the context statistics.
 */
#ifndef ELMO_NGRAM_H
#define ELMO_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"
#include "train/vocab.h"

#define ELMO_NGRAM_MAX_ORDER 5

/* ---- model (one direction) ---------------------------------------------------------------- */

typedef struct elmo_ngram elmo_ngram;

/* Train an order-`order` (1..ELMO_NGRAM_MAX_ORDER) model on the sentences of n_files files,
 * forward (reverse = 0) or backward (reverse = 1). The vocabulary must outlive the model. */
elmo_status elmo_ngram_train(const elmo_vocab *v, const char *const *files, int n_files, int order,
                             int reverse, elmo_ngram **out);
void elmo_ngram_free(elmo_ngram *m);

/* Natural log of p(w | hist). hist holds n_hist ids in the model's reading order, oldest
 * first (for the backward model: </S> wn wn-1 ...); only the last order - 1 are used. A
 * start token is meaningful only as the oldest word of a history that starts the sentence.
 * Returns -INFINITY for the start token and for ids outside the vocabulary. */
double elmo_ngram_logprob(const elmo_ngram *m, const uint32_t *hist, int n_hist, uint32_t w);

/* The start / end token ids of this model's direction. */
uint32_t elmo_ngram_start_id(const elmo_ngram *m);
uint32_t elmo_ngram_end_id(const elmo_ngram *m);

typedef struct {
    int order, reverse;
    uint32_t vocab_size;
    uint64_t n_sentences, n_words, n_oov;     /* training text (words exclude the boundaries) */
    uint64_t n_ngrams[ELMO_NGRAM_MAX_ORDER];  /* distinct n-grams of order k + 1 */
    double discount[ELMO_NGRAM_MAX_ORDER][3]; /* D1, D2, D3+ of order k + 1 */
    size_t bytes;                             /* memory held by the hash tables */
} elmo_ngram_info;
void elmo_ngram_get_info(const elmo_ngram *m, elmo_ngram_info *out);

/* ---- evaluation --------------------------------------------------------------------------- */

typedef struct {
    uint64_t n_sentences;   /* lines, blank ones included */
    uint64_t n_words;       /* tokens of the text, boundaries excluded */
    uint64_t n_oov;         /* of those, how many map to <UNK> */
    uint64_t n_predictions; /* n_words + n_sentences */
    double nll;             /* sum of -ln p over the predictions */
    uint64_t n_unk_targets; /* predictions of <UNK> (== n_oov) */
    double nll_unk;         /* their share of nll */
} elmo_ngram_eval;

/* Score every sentence of a file: perplexity = exp(nll / n_predictions). */
elmo_status elmo_ngram_evaluate(const elmo_ngram *m, const char *path, elmo_ngram_eval *out);

#endif
