/*
 * textio.h: streaming text input with bounded memory (internal).
 *
 * Lines end at LF, CR LF or a lone CR (Python's universal newlines, as the reference tools
 * read files). A line longer than max_bytes is an error naming the file and line, found
 * without holding more than max_bytes. "-" reads standard input.
 *
 * Every text reader of elmo reads through this one, with one policy: a UTF-8 byte order mark
 * at the start of the input is skipped, and a line that is not valid UTF-8 is an error
 * naming the file, the line and the byte ("FILE:LINE: invalid UTF-8 at byte N"). Readers
 * that decode the bytes themselves (--encoding latin-1, the corpus converters that repair
 * text) set raw_bytes after opening.
 */
#ifndef ELMO_TEXTIO_H
#define ELMO_TEXTIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "elmo.h"
#include "io/util.h"

typedef struct {
    FILE *f;
    int owns;
    const char *name; /* for messages */
    char *line;       /* current line, NUL-terminated, without its line break */
    size_t len, cap, max_bytes;
    uint64_t lineno; /* 1-based number of the current line */
    uint64_t bytes;  /* bytes consumed so far */
    uint64_t size;   /* file size if known, else 0 */
    int pending_cr;  /* previous line ended with CR: skip a following LF */
    int raw_bytes;   /* 1: no UTF-8 check (the caller decodes); the BOM is skipped anyway */
} elmo_line_reader;

elmo_status elmo_line_reader_open(elmo_line_reader *r, const char *path, size_t max_bytes);
/* The next line into r->line / r->len: *got = 1, or 0 at the end of input. */
elmo_status elmo_line_reader_next(elmo_line_reader *r, int *got);
void elmo_line_reader_close(elmo_line_reader *r);

/* Length of the valid UTF-8 prefix of s (== len when all valid). */
size_t elmo_utf8_valid_prefix(const char *s, size_t len);
/* Bytes of the whitespace character at p (0 if p does not start one). */
size_t elmo_space_len(const unsigned char *p, size_t avail);
/* Strip leading/trailing whitespace (the elmo_split_whitespace set): returns the new start
 * and sets *out_len. */
const char *elmo_strip(const char *s, size_t len, size_t *out_len);

/* Append a JSON string body escaped as Python's json.dumps does (ASCII only); -1 on
 * allocation failure. */
int elmo_json_escape(elmo_strbuf *b, const char *s, size_t len);

#endif
