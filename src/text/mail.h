/*
 * mail.h: e-mail (RFC 822 / MIME) to plain text, for the SpamAssassin corpus (internal).
 *
 * elmo_mail_text keeps the Subject (RFC 2047 encoded words decoded) and the text of the body:
 * quoted-printable and base64 are decoded; in multipart/alternative the text/plain part is
 * preferred unless another alternative has more than twice its text (a stub "this is an HTML
 * message"), in other multiparts every text/plain and text/html part is kept; message/rfc822 parts are followed; HTML tags, comments, scripts and
 * styles are removed and entities decoded (also in undeclared or text/plain bodies that look
 * like HTML: an <html>, <body> or doctype tag, or five common tags); the declared charset is
 * converted to UTF-8 (see elmo_to_utf8); runs of whitespace and control characters become one
 * space. The result is valid UTF-8 without tabs or line breaks.
 *
 * The decoders append to out and return 0, or -1 on allocation failure.
 */
#ifndef ELMO_MAIL_H
#define ELMO_MAIL_H

#include <stddef.h>

#include "elmo.h"
#include "io/util.h"

/* Quoted-printable (=XX escapes, soft line breaks). header_q: RFC 2047 "Q" ('_' = space). */
int elmo_qp_decode(const char *s, size_t len, int header_q, elmo_strbuf *out);
/* Base64; characters outside the alphabet are skipped, '=' ends a group. */
int elmo_base64_decode(const char *s, size_t len, elmo_strbuf *out);
/* Bytes in charset (NULL or "" = undeclared) to UTF-8:
 *   utf-8                        invalid bytes become U+FFFD
 *   iso-8859-1, windows-1252     windows-1252 (the superset mail and browsers use)
 *   iso-8859-15                  table
 *   undeclared, us-ascii         UTF-8 when valid, else windows-1252
 *   others (gb2312, big5, ...)   iconv; undeclared rules when iconv does not know them;
 *                                undecodable bytes become U+FFFD */
int elmo_to_utf8(const char *s, size_t len, const char *charset, elmo_strbuf *out);
/* Invalid UTF-8 bytes of s become U+FFFD. */
int elmo_utf8_repair(const char *s, size_t len, elmo_strbuf *out);
/* Append code point cp as UTF-8. */
int elmo_utf8_put(elmo_strbuf *out, unsigned cp);
/* HTML (UTF-8) to text: tags become a space (inline tags such as b, i, font, span, a become
 * nothing), comments, script and style are dropped, entities are decoded. */
int elmo_html_to_text(const char *s, size_t len, elmo_strbuf *out);
/* A header value with RFC 2047 encoded words (=?charset?Q|B?...?=) decoded, as UTF-8. */
int elmo_decode_header(const char *s, size_t len, elmo_strbuf *out);
/* UTF-8 with whitespace and control characters collapsed to single spaces, trimmed; BOM, soft
 * hyphens and zero-width characters removed; invalid bytes become U+FFFD. */
int elmo_collapse_space(const char *s, size_t len, elmo_strbuf *out);

/* Subject and body text of one raw message (see above), appended to out. */
elmo_status elmo_mail_text(const char *raw, size_t len, elmo_strbuf *out);

#endif
