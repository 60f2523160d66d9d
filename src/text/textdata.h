/*
 * textdata.h: readers for the labelled text datasets of the downstream tasks (internal).
 *
 *   classification  label + text per record: CSV (RFC 4180), TSV, fastText
 *   tagging         sentences of (word, tag): "word/TAG ..." lines or CoNLL columns
 *   prediction      untagged sentences, one tokenized sentence per line
 *
 * The accepted formats are described in full in docs/formats.md. In short:
 *   - Input is UTF-8 (a UTF-8 byte-order mark at the start of the file is skipped) or
 *     Latin-1 (ISO-8859-1: every byte >= 0x80 becomes U+0080..U+00FF; 0x80-0x9F are the C1
 *     controls, not Windows-1252). Invalid UTF-8 and NUL bytes are errors naming the line.
 *   - Lines end at LF, CR LF or a lone CR. Line numbers in messages and in the records are
 *     1-based physical lines of the file.
 *   - Every string handed out is NUL-terminated UTF-8 living in the dataset's arena (a few
 *     large blocks; no allocation per example) and stays valid until the dataset is freed,
 *     whatever shuffling is done.
 *   - Errors name the file and line and are returned as ELMO_ERR_FORMAT (content),
 *     ELMO_ERR_ARG (options: unknown column, ...), ELMO_ERR_IO or ELMO_ERR_NOMEM.
 *   - "-" reads standard input.
 */
#ifndef ELMO_TEXTDATA_H
#define ELMO_TEXTDATA_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"
#include "io/strmap.h"

/* A record (CSV) or line longer than this is an error. */
#define ELMO_TD_MAX_RECORD ((size_t)64 << 20)
/* Tokens per sentence or text run through the biLM at most (its memory grows with the
 * length: a 10 MB text would need gigabytes); longer ones are refused, named (the classifier
 * keeps the first --max-tokens instead when that is given). The default of elmo embed too. */
#define ELMO_TD_MAX_TOKENS 100000

/* The first control character of a label or tag (TAB, line break, ...: it would break the
 * line- and TAB-separated outputs that print it), or 0 when it has none. Labels holding one
 * are refused by every reader and by the classifier/tagger loaders. */
int elmo_label_control_char(const char *label);

/* ------------------------------------------------------------------------------------------ */
/* Shared                                                                                     */

typedef enum { ELMO_ENC_UTF8 = 0, ELMO_ENC_LATIN1 = 1 } elmo_encoding;

/* "utf-8" / "utf8", "latin-1" / "latin1" / "iso-8859-1" (case-insensitive). */
elmo_status elmo_encoding_parse(const char *name, elmo_encoding *out);

/* String storage: a chain of large blocks (internal to the datasets). */
typedef struct elmo_td_block elmo_td_block;
typedef struct {
    elmo_td_block *head;
    size_t bytes; /* total bytes handed out */
} elmo_td_arena;

/* Deterministic in-place Fisher-Yates shuffle of n elements of size bytes:
 * elmo_rng_seed(seed), then for i = n-1 down to 1 swap element i with element
 * elmo_rng_below(i + 1). The same seed and n give the same permutation on every platform. */
void elmo_td_shuffle(void *base, size_t n, size_t size, uint64_t seed);

/* Number of elements in the first part of a split of n by fraction in [0, 1]:
 * floor(fraction * n + 1e-9), i.e. rounded down, with a tolerance so that decimal fractions
 * split as written (0.29 of 100 is 29, where Python's int(0.29 * 100) gives 28). */
size_t elmo_td_split_point(size_t n, double fraction);

/* ------------------------------------------------------------------------------------------ */
/* Classification datasets                                                                    */

typedef enum {
    ELMO_LABELED_CSV = 0,
    ELMO_LABELED_TSV = 1,
    ELMO_LABELED_FASTTEXT = 2
} elmo_labeled_format;

/* "csv", "tsv", "fasttext" (case-insensitive). */
elmo_status elmo_labeled_format_parse(const char *name, elmo_labeled_format *out);

typedef struct {
    elmo_labeled_format format;
    /* CSV/TSV columns: a header name, or a 0-based index written in decimal ("1"). A header
     * name equal to the string wins over the index reading. NULL = default: label "0",
     * text "1". Ignored for fastText. */
    const char *label_column;
    const char *text_column;
    elmo_encoding encoding;
    /* First non-blank record is a header: -1 = format default (CSV yes, TSV no), 0, 1.
     * Ignored for fastText. */
    int header;
} elmo_labeled_options;

/* CSV, default columns, UTF-8, default header. */
void elmo_labeled_options_default(elmo_labeled_options *o);

typedef struct {
    const char *label; /* stripped, non-empty */
    const char *text;  /* stripped, non-empty; inner line breaks of CSV fields are kept */
    size_t text_len;   /* bytes */
    uint64_t line;     /* 1-based line where the record starts */
} elmo_labeled_example;

typedef struct {
    elmo_labeled_example *ex;
    size_t n;
    size_t cap_;          /* internal */
    elmo_td_arena arena_; /* internal */
} elmo_labeled_dataset;

/* Read a whole file. opt NULL = elmo_labeled_options_default. On failure *out is empty (and
 * needs no free). Blank lines (whitespace only) between records are skipped. */
elmo_status elmo_labeled_read(const char *path, const elmo_labeled_options *opt,
                              elmo_labeled_dataset *out);
void elmo_labeled_free(elmo_labeled_dataset *d);

/* Shuffle the examples in place (elmo_td_shuffle). */
void elmo_labeled_shuffle(elmo_labeled_dataset *d, uint64_t seed);

/* A view of consecutive examples (no ownership). */
typedef struct {
    const elmo_labeled_example *ex;
    size_t n;
} elmo_labeled_slice;

/* First elmo_td_split_point(n, fraction) examples in file (or current) order, and the rest.
 * ELMO_ERR_ARG unless 0 <= fraction <= 1. */
elmo_status elmo_labeled_split(const elmo_labeled_dataset *d, double fraction,
                               elmo_labeled_slice *first, elmo_labeled_slice *rest);

/* ------------------------------------------------------------------------------------------ */
/* Label sets: strings <-> dense ids 0..n-1                                                   */

typedef enum {
    /* Default. Integers (optional sign, decimal digits) first in numeric order, then every
     * other label in byte order (= code point order). Independent of file order and of
     * shuffling; for the binary sets met in practice the positive class gets id 1:
     * ham/spam, neg/pos, negative/positive, false/true, 0/1. */
    ELMO_LABELS_SORTED = 0,
    ELMO_LABELS_FIRST_SEEN = 1 /* order of first appearance */
} elmo_label_order;

typedef struct {
    elmo_strmap names_; /* id -> name (ids in insertion order, or sorted) */
    int n;              /* number of labels */
} elmo_labelset;

void elmo_labelset_init(elmo_labelset *ls);
void elmo_labelset_free(elmo_labelset *ls);
/* Id of name, adding it (with id n) when new. *id may be NULL. */
elmo_status elmo_labelset_add(elmo_labelset *ls, const char *name, int *id);
/* Id of name, or -1 when unknown. */
int elmo_labelset_id(const elmo_labelset *ls, const char *name);
/* Name of an id (NULL when out of range); valid until the set is changed or freed. */
const char *elmo_labelset_name(const elmo_labelset *ls, int id);
/* Renumber the labels in ELMO_LABELS_SORTED order. */
elmo_status elmo_labelset_sort(elmo_labelset *ls);
/* A fresh set (ls is initialised here) of the labels of n examples / of all tags. */
elmo_status elmo_labelset_from_labeled(elmo_labelset *ls, const elmo_labeled_example *ex, size_t n,
                                       elmo_label_order order);

/* ------------------------------------------------------------------------------------------ */
/* Tagged and untagged sentences                                                              */

typedef enum {
    /* Decided on the first non-blank line: it contains a TAB -> CoNLL, else word/TAG. */
    ELMO_TAGFMT_AUTO = 0,
    ELMO_TAGFMT_SLASH = 1, /* one sentence per line: word/TAG word/TAG ... */
    ELMO_TAGFMT_CONLL = 2  /* token TAB ... TAB tag per line, blank line between sentences */
} elmo_tag_format;

/* "auto", "slash" (or "wordtag"), "conll" (case-insensitive). */
elmo_status elmo_tag_format_parse(const char *name, elmo_tag_format *out);

typedef struct {
    elmo_tag_format format;
    elmo_encoding encoding;
} elmo_tagged_options;

/* One sentence: words[i] and tags[i] (tags NULL for untagged input). The arrays are
 * slices of the dataset's words/tags arrays, directly usable as elmo_embed's tokens[b]. */
typedef struct {
    const char *const *words;
    const char *const *tags;
    size_t n;
    size_t first;  /* index of words[0] in the dataset's words array */
    uint64_t line; /* 1-based line of the first token (slash / untagged: the sentence's line) */
} elmo_sentence;

typedef struct {
    elmo_sentence *sent;
    size_t n;
    const char **words; /* all tokens, sentence after sentence in file order */
    const char **tags;  /* NULL for untagged */
    size_t n_tokens;
    size_t cap_sent_, cap_tok_; /* internal */
    elmo_td_arena arena_;       /* internal */
} elmo_tagged_dataset;

/* Tagged sentences. opt NULL = auto format, UTF-8. Sentences have at least one token. */
elmo_status elmo_tagged_read(const char *path, const elmo_tagged_options *opt,
                             elmo_tagged_dataset *out);
/* Untagged: one sentence per line, tokens split on whitespace (elmo_split_whitespace). Every
 * line is a sentence, a blank line one of 0 tokens, so outputs align with input lines. */
elmo_status elmo_untagged_read(const char *path, elmo_encoding enc, elmo_tagged_dataset *out);
void elmo_tagged_free(elmo_tagged_dataset *d);

/* Shuffle the sentences in place (elmo_td_shuffle; tokens stay where they are). */
void elmo_tagged_shuffle(elmo_tagged_dataset *d, uint64_t seed);

typedef struct {
    const elmo_sentence *sent;
    size_t n;
} elmo_sentence_slice;

/* First elmo_td_split_point(n, fraction) sentences and the rest. */
elmo_status elmo_tagged_split(const elmo_tagged_dataset *d, double fraction,
                              elmo_sentence_slice *first, elmo_sentence_slice *rest);

/* A fresh set of every tag of d (ELMO_ERR_ARG for untagged d). */
elmo_status elmo_labelset_from_tags(elmo_labelset *ls, const elmo_tagged_dataset *d,
                                    elmo_label_order order);

#endif
