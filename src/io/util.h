/*
 * util.h: internal helpers shared by every module: error reporting, checked and aligned
 * allocation, an always-on assert, timers, a deterministic RNG, and atomic file writes.
 */
#ifndef ELMO_UTIL_H
#define ELMO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "elmo.h"

/* Record a one-line error message for elmo_last_error() and return the status. */
elmo_status elmo_fail(elmo_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void elmo_clear_error(void);

/* Hot vectorizable loops: built for AVX-512, AVX2 and the baseline, the best picked at run
 * time (the default build has no -march=native and must still be fast on any x86-64). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ELMO_NO_CLONES)
#define ELMO_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ELMO_VECTOR_CLONES
#endif

/* Invariant violated (a bug, not bad input): report file:line and abort, in every build. */
#define ELMO_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) elmo_assert_fail(#cond, __FILE__, __LINE__);                                  \
    } while (0)
void elmo_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

/* 64-byte aligned allocation; NULL (with the error set) on failure or on a size over the
 * library's limit (ELMO_MAX_ALLOC bytes). Free with elmo_free. */
#define ELMO_MAX_ALLOC ((size_t)64 << 30)
void *elmo_alloc(size_t bytes);
/* Whether an allocation of bytes is within the limits (elmo_set_memory_limit, ELMO_MAX_ALLOC,
 * the system's available memory); sets the error when not. For sizes read from files, to be
 * checked before the allocation (with a message naming the file). */
int elmo_alloc_ok(size_t bytes);
void *elmo_calloc(size_t n, size_t size);
void elmo_free(void *p);
/* Return the allocator's free memory to the system (glibc keeps up to 64 MB of freed heap
 * once it has handed out a 32 MB block, as loading a model does); no-op elsewhere. */
void elmo_release_free_memory(void);
/* n * size with overflow check; returns SIZE_MAX on overflow. */
size_t elmo_mul_size(size_t n, size_t size);

double elmo_now(void); /* monotonic seconds */

/* xoshiro256** RNG: deterministic for a seed, state is plain data (checkpointable). */
typedef struct {
    uint64_t s[4];
} elmo_rng;
void elmo_rng_seed(elmo_rng *r, uint64_t seed);
uint64_t elmo_rng_next(elmo_rng *r);
double elmo_rng_uniform(elmo_rng *r);             /* [0, 1) */
float elmo_rng_normal(elmo_rng *r);               /* N(0, 1) */
uint64_t elmo_rng_below(elmo_rng *r, uint64_t n); /* [0, n) */

/* Output files. elmo_output_check validates an output path before any work starts: not
 * empty, not a directory or socket, its directory present and writable, and not the same
 * file as any of inputs (paths; "-" is standard input; NULL entries skipped).
 *
 * Atomic output: elmo_atomic_begin checks the path the same way, then gives a temporary
 * file to write, a->tmp; commit makes it the output. A regular (or absent) output: the
 * temporary is "<path>.tmp.<pid>", fsync'ed and renamed over path (begin also removes the
 * temporaries of path left by processes that no longer exist). A FIFO, a character device
 * or any path under /dev or /proc (a->direct): the temporary is in $TMPDIR (else /tmp) and
 * commit copies it into the output, which is never replaced: the node stays, the reader of
 * a FIFO gets the complete file, a write error (/dev/full) is an error. Every temporary is
 * registered until commit or abort, so that a signal handler can remove them all
 * (elmo_temp_remove_all). */
typedef struct {
    char *path;
    char *tmp;
    int direct;
} elmo_atomic_file;
elmo_status elmo_output_check(const char *path, const char *const *inputs, int n_inputs);
elmo_status elmo_atomic_begin(elmo_atomic_file *a, const char *path);
elmo_status elmo_atomic_commit(elmo_atomic_file *a); /* fsync + rename + fsync dir, or copy */
void elmo_atomic_abort(elmo_atomic_file *a);         /* unlink the temporary */
/* Unlink every registered temporary: async-signal-safe (for SIGTERM/SIGINT handlers). */
void elmo_temp_remove_all(void);

/* Growable byte string (always NUL-terminated when p != NULL). */
typedef struct {
    char *p;
    size_t n, cap;
} elmo_strbuf;
int elmo_strbuf_add(elmo_strbuf *b, const char *s, size_t len); /* -1 on allocation failure */
/* Room for extra more bytes (and the NUL) without growing again; -1 on allocation failure. */
int elmo_strbuf_reserve(elmo_strbuf *b, size_t extra);
int elmo_strbuf_printf(elmo_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void elmo_strbuf_free(elmo_strbuf *b);

/* Path helpers. */
char *elmo_path_join(const char *dir, const char *name); /* malloc'd */
int elmo_file_exists(const char *path);

#endif
