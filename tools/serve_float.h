/*
 * serve_float.h: float32 to JSON text for `elmo serve`, fast (a few ns per number) and exact:
 * every number written reads back to the same float32, by strtof and also by strtod followed
 * by a rounding to float (the way Python's json + numpy.float32 read it).
 *
 * The digits: the 9 significant digits of the value (always enough for a float32), trailing
 * zeros dropped. The layout: "-0.00123", "0.5", "12.25", "3.0" for decimal exponents -3 .. 7;
 * "1.5e-7", "1e8", "3e20" beyond. Every number holds '.' or 'e' (JSON readers make it a
 * float).
 *
 * Integer and double arithmetic only (tables of powers of ten built once), and for decimal
 * exponents -3 .. 7 no branches: fixed-size stores that may overlap, lengths computed.
 */
#ifndef ELMO_SERVE_FLOAT_H
#define ELMO_SERVE_FLOAT_H

#include <stddef.h>

/* Bytes that serve_float_format may write at buf (the text is at most 15 of them; the rest
 * is scratch that the next number overwrites) */
enum { SERVE_FLOAT_SPACE = 32 };

/* The text of f at buf (SERVE_FLOAT_SPACE bytes writable; no NUL). Returns its length, or 0
 * for NaN and infinities, which JSON cannot carry (nothing usable is written). */
int serve_float_format(float f, char *buf);

/* x[0..n-1] as "x0,x1,...": at most n * 16 bytes + SERVE_FLOAT_SPACE of space at buf.
 * Returns the length written, or -1 when some x is NaN or infinite. */
long serve_float_join(const float *x, size_t n, char *buf);

#endif
