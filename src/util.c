/*
 * util.c: error messages (thread-local), aligned allocation, timers, RNG, atomic files.
 */
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char g_error[1024];

elmo_status elmo_fail(elmo_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    /* one line: replace any line break a caller's text may have carried in */
    for (char *p = g_error; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return s;
}

void elmo_clear_error(void) { g_error[0] = 0; }

const char *elmo_last_error(void) { return g_error; }

const char *elmo_status_name(elmo_status s) {
    switch (s) {
    case ELMO_OK: return "ok";
    case ELMO_ERR_ARG: return "invalid argument";
    case ELMO_ERR_IO: return "i/o error";
    case ELMO_ERR_FORMAT: return "format error";
    case ELMO_ERR_SHAPE: return "shape mismatch";
    case ELMO_ERR_NOMEM: return "out of memory";
    case ELMO_ERR_NUMERIC: return "numerical error";
    case ELMO_ERR_STATE: return "state error";
    }
    return "unknown";
}

void elmo_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "elmo: internal error: assertion `%s` failed at %s:%d\n", expr, file, line);
    abort();
}

size_t elmo_mul_size(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) return SIZE_MAX;
    return n * size;
}

/* ---- memory bounds: the caller's limit, the library's, the system's */
static _Atomic size_t g_mem_limit;

void elmo_set_memory_limit(size_t bytes) { g_mem_limit = bytes; }

/* MemAvailable of /proc/meminfo (physical memory when unreadable), lowered by RLIMIT_AS and
 * RLIMIT_DATA when they are set. */
static size_t system_available(void) {
    size_t avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[128];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
                avail = kb > SIZE_MAX / 1024 ? SIZE_MAX : (size_t)kb * 1024;
                break;
            }
        fclose(f);
    }
    if (!avail) {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        avail = pages > 0 && psize > 0 ? elmo_mul_size((size_t)pages, (size_t)psize) : SIZE_MAX;
    }
    const int res[2] = {RLIMIT_AS, RLIMIT_DATA};
    for (int i = 0; i < 2; i++) {
        struct rlimit rl;
        if (getrlimit(res[i], &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < avail)
            avail = (size_t)rl.rlim_cur;
    }
    return avail;
}

size_t elmo_memory_available(void) {
    size_t lim = ELMO_MAX_ALLOC, user = g_mem_limit, sys = system_available();
    if (user && user < lim) lim = user;
    return sys < lim ? sys : lim;
}

/* Whether an allocation of bytes is within every bound (sets the error when not). The
 * system's available memory is only consulted for big allocations (it costs a file read). */
int elmo_alloc_ok(size_t bytes) {
    size_t user = g_mem_limit;
    size_t lim = user && user < ELMO_MAX_ALLOC ? user : ELMO_MAX_ALLOC;
    if (bytes <= lim && bytes < ((size_t)256 << 20)) return 1;
    if (bytes > lim) {
        elmo_fail(ELMO_ERR_NOMEM, "allocation of %zu bytes exceeds the %s of %zu bytes", bytes,
                  lim == user ? "memory limit set" : "library's limit", lim);
        return 0;
    }
    size_t sys = system_available();
    if (bytes > sys) {
        elmo_fail(ELMO_ERR_NOMEM,
                  "allocation of %zu bytes (%.1f GiB) exceeds the memory available (%.1f GiB)",
                  bytes, bytes / 1073741824.0, sys / 1073741824.0);
        return 0;
    }
    return 1;
}

void *elmo_alloc(size_t bytes) {
    if (!elmo_alloc_ok(bytes)) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        elmo_fail(ELMO_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    return p;
}

void *elmo_calloc(size_t n, size_t size) {
    size_t bytes = elmo_mul_size(n, size);
    void *p = elmo_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void elmo_free(void *p) { free(p); }

double elmo_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- RNG: splitmix64 seeding, xoshiro256** generation */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void elmo_rng_seed(elmo_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t elmo_rng_next(elmo_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double elmo_rng_uniform(elmo_rng *r) { return (double)(elmo_rng_next(r) >> 11) * 0x1.0p-53; }

float elmo_rng_normal(elmo_rng *r) {
    /* Box-Muller; one value per call keeps the state simple to checkpoint */
    double u1 = elmo_rng_uniform(r), u2 = elmo_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t elmo_rng_below(elmo_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = elmo_rng_next(r);
    while (x >= limit);
    return x % n;
}

/* ---- atomic files */

/* Remove the "<path>.tmp.<pid>" files of processes that no longer exist: a process killed
 * while writing leaves one behind, never complete, that nothing else would remove (a
 * checkpoint's can be gigabytes). A live pid's file is left alone. */
static void remove_stale_temporaries(const char *path) {
    char *d = strdup(path), *b = strdup(path);
    DIR *dp = NULL;
    if (!d || !b) goto out;
    const char *dir = dirname(d), *base = basename(b);
    size_t bl = strlen(base);
    if (!(dp = opendir(dir))) goto out;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (strncmp(e->d_name, base, bl) != 0 || strncmp(e->d_name + bl, ".tmp.", 5) != 0)
            continue;
        const char *num = e->d_name + bl + 5;
        if (!isdigit((unsigned char)num[0])) continue;
        char *end;
        long pid = strtol(num, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to tell */
        char *full = elmo_path_join(dir, e->d_name);
        if (full) unlink(full);
        free(full);
    }
out:
    if (dp) closedir(dp);
    free(d);
    free(b);
}

elmo_status elmo_atomic_begin(elmo_atomic_file *a, const char *path) {
    remove_stale_temporaries(path);
    a->path = strdup(path);
    size_t n = strlen(path) + 32;
    a->tmp = malloc(n);
    if (!a->path || !a->tmp) {
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    return ELMO_OK;
}

static void fsync_path(const char *path, int dir) {
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

elmo_status elmo_atomic_commit(elmo_atomic_file *a) {
    fsync_path(a->tmp, 0);
    if (rename(a->tmp, a->path) != 0) {
        elmo_status s = elmo_fail(ELMO_ERR_IO, "%s: cannot rename temporary file into place: %s",
                                  a->path, strerror(errno));
        unlink(a->tmp);
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return s;
    }
    char *d = strdup(a->path);
    if (d) {
        fsync_path(dirname(d), 1);
        free(d);
    }
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
    return ELMO_OK;
}

void elmo_atomic_abort(elmo_atomic_file *a) {
    if (a->tmp) unlink(a->tmp);
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
}

char *elmo_path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) return NULL;
    if (dir[0] && dir[strlen(dir) - 1] == '/')
        snprintf(p, n, "%s%s", dir, name);
    else
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int elmo_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int elmo_strbuf_add(elmo_strbuf *b, const char *s, size_t len) {
    if (b->n + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + len + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
    return 0;
}

int elmo_strbuf_printf(elmo_strbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0) return -1;
    if ((size_t)w < sizeof tmp) return elmo_strbuf_add(b, tmp, (size_t)w);
    char *big = malloc((size_t)w + 1);
    if (!big) return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)w + 1, fmt, ap);
    va_end(ap);
    int r = elmo_strbuf_add(b, big, (size_t)w);
    free(big);
    return r;
}

void elmo_strbuf_free(elmo_strbuf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int elmo_cpu_has_native_bf16(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}
