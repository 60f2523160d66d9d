/*
 * tokenize.h: a simple PTB-like word tokenizer and a rule-based sentence splitter for running
 * text (internal). Both work on UTF-8 and only ever cut at character boundaries; tokens and
 * sentences are substrings of the input (nothing is rewritten). The rules are in docs/data.md.
 *
 * Tokenizer: split on whitespace (elmo_split_whitespace's set), then
 *   - dashes and ellipses are always their own token, even inside a word: U+2013, U+2014,
 *     U+2015, U+2026, and runs of two or more '-' or three or more '.';
 *   - leading and trailing punctuation  ! " ' ( ) , . : ; ? [ ] { } `  and the Unicode quotes,
 *     guillemets and inverted marks (U+2018-201F, U+00AB, U+00BB, U+2039, U+203A, U+00A1,
 *     U+00BF) is split off, one character per token;
 *   - a leading '-' before a letter is split off (list dashes: -almost); -5 and pre- stay;
 *   - word-internal apostrophes, hyphens, periods, commas, colons, slashes stay: U.S. e-mail
 *     3.14 3,000 10:30 and/or don't John's (clitics stay attached, as in the Brown corpus);
 *   - a final period stays on abbreviations (elmo_is_abbreviation: Mr. Dr. St. etc. J. U.S.);
 *   - a final apostrophe stays after s unless a single quote split off an earlier word start
 *     is still open (plural possessive: boys'); a final ) or ] stays when the word contains
 *     the opening one: friend(s);
 *   - a leading apostrophe stays before a digit or a contraction ('90s 'em 'tis 's 'll).
 */
#ifndef ELMO_TOKENIZE_H
#define ELMO_TOKENIZE_H

#include <stddef.h>

#include "io/util.h"

/* Token spans of text (len bytes): writes up to max (start, length) pairs and returns the
 * token count (which may exceed max: call again with more room). */
size_t elmo_tokenize_spans(const char *text, size_t len, size_t *starts, size_t *lens, size_t max);

/* Append the tokens of text to out, separated by single spaces (one space goes before the
 * first token when out is neither empty nor ends in a space). Returns the number of tokens,
 * or SIZE_MAX on allocation failure. */
size_t elmo_tokenize_simple(const char *text, size_t len, elmo_strbuf *out);

/* Sentence spans of running text: a sentence ends
 *   - at . ! ? U+2026 or "..." (optionally followed by closing quotes/brackets) when the next
 *     word starts with an uppercase letter or an opening quote/bracket, unless the word ending
 *     in '.' is an abbreviation (elmo_is_abbreviation);
 *   - at a blank line (a paragraph break: two or more line breaks with only spaces between);
 *   - at the end of the text.
 * Spans are trimmed of surrounding whitespace; writes up to max pairs, returns the count. */
size_t elmo_split_sentences(const char *text, size_t len, size_t *starts, size_t *lens, size_t max);

/* Whether word (len bytes, ending in '.') is an abbreviation whose period does not end a
 * sentence: a listed title/abbreviation (Mr. Mrs. Dr. St. Jr. Gen. etc. vs. Jan. No. ...),
 * a single uppercase letter (an initial: J.), or letter groups of one or two letters joined by
 * periods (U.S. e.g. i.e. a.m. Ph.D.). */
int elmo_is_abbreviation(const char *word, size_t len);

/* Decode one UTF-8 character at p (avail > 0 bytes): returns its length and sets *cp; an
 * invalid or truncated sequence is one byte long with *cp = 0xFFFD. */
size_t elmo_utf8_decode(const unsigned char *p, size_t avail, unsigned *cp);

#endif
