/*
 * util.c: error messages (thread-local), aligned allocation, timers, RNG, atomic files.
 */
#include "io/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
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

void elmo_release_free_memory(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

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

/* Registry of the temporaries being written, for signal handlers: a slot's path is written
 * before the slot is marked used, and unmarked before it is reused. */
#define TEMP_SLOTS 16
static char g_temp_path[TEMP_SLOTS][4096];
static volatile sig_atomic_t g_temp_used[TEMP_SLOTS];
static pthread_mutex_t g_temp_lock = PTHREAD_MUTEX_INITIALIZER;

static void temp_register(const char *path) {
    if (strlen(path) >= sizeof g_temp_path[0]) return;
    pthread_mutex_lock(&g_temp_lock);
    for (int i = 0; i < TEMP_SLOTS; i++)
        if (!g_temp_used[i]) {
            strcpy(g_temp_path[i], path);
            g_temp_used[i] = 1;
            break;
        }
    pthread_mutex_unlock(&g_temp_lock);
}

static void temp_unregister(const char *path) {
    pthread_mutex_lock(&g_temp_lock);
    for (int i = 0; i < TEMP_SLOTS; i++)
        if (g_temp_used[i] && strcmp(g_temp_path[i], path) == 0) {
            g_temp_used[i] = 0;
            break;
        }
    pthread_mutex_unlock(&g_temp_lock);
}

void elmo_temp_remove_all(void) {
    for (int i = 0; i < TEMP_SLOTS; i++)
        if (g_temp_used[i]) unlink(g_temp_path[i]);
}

/* Remove the files of dir named "<base><mid><pid>[...]" whose process no longer exists: a
 * process killed while writing leaves one behind, never complete, that nothing else would
 * remove (a checkpoint's can be gigabytes). A live pid's file is left alone. */
static void remove_stale(const char *dir, const char *base, const char *mid, int suffix_ok) {
    DIR *dp = opendir(dir);
    if (!dp) return;
    size_t bl = strlen(base), ml = strlen(mid);
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (strncmp(e->d_name, base, bl) != 0 || strncmp(e->d_name + bl, mid, ml) != 0) continue;
        const char *num = e->d_name + bl + ml;
        if (!isdigit((unsigned char)num[0])) continue;
        char *end;
        long pid = strtol(num, &end, 10);
        if ((*end && !(suffix_ok && *end == '.')) || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to tell */
        char *full = elmo_path_join(dir, e->d_name);
        if (full) unlink(full);
        free(full);
    }
    closedir(dp);
}

static void remove_stale_temporaries(const char *path) {
    char *d = strdup(path), *b = strdup(path);
    if (d && b) remove_stale(dirname(d), basename(b), ".tmp.", 0);
    free(d);
    free(b);
}

static const char *temp_dir(void) {
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* The descriptor a path names (/dev/stdout, /dev/fd/N, /proc/self/fd/N), else -1: written
 * through a duplicate, so that the shell's redirection (offset, append) is kept. */
static int named_fd(const char *path) {
    if (strcmp(path, "/dev/stdout") == 0) return 1;
    if (strcmp(path, "/dev/stderr") == 0) return 2;
    const char *num = strncmp(path, "/dev/fd/", 8) == 0          ? path + 8
                      : strncmp(path, "/proc/self/fd/", 14) == 0 ? path + 14
                                                                 : NULL;
    if (!num || !isdigit((unsigned char)*num)) return -1;
    char *end;
    long fd = strtol(num, &end, 10);
    return *end || fd > 1 << 20 ? -1 : (int)fd;
}

/* Outputs written into in place (copied at commit), never replaced: FIFOs, devices, the
 * descriptors /dev/stdout, /dev/fd/N (a terminal, a pipe or a file the shell opened), and
 * anything under /proc. A regular file elsewhere (/dev/shm too) is replaced atomically. */
static int output_is_special(const char *path, const struct stat *st, int exists) {
    if (named_fd(path) >= 0 || strncmp(path, "/proc/", 6) == 0) return 1;
    return exists && !S_ISREG(st->st_mode);
}

elmo_status elmo_output_check(const char *path, const char *const *inputs, int n_inputs) {
    if (!path || !*path) return elmo_fail(ELMO_ERR_ARG, "the output path is empty");
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (!exists && errno != ENOENT)
        return elmo_fail(ELMO_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    if (exists && S_ISDIR(st.st_mode))
        return elmo_fail(ELMO_ERR_IO, "%s: is a directory (the output must be a file)", path);
    if (exists && S_ISSOCK(st.st_mode))
        return elmo_fail(ELMO_ERR_IO, "%s: is a socket, not a file to write", path);
    if (output_is_special(path, &st, exists)) {
        if (exists && access(path, W_OK) != 0)
            return elmo_fail(ELMO_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        return ELMO_OK; /* written in place: never the same as an input file replaced */
    }
    char *d = strdup(path);
    if (!d) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    const char *dir = dirname(d);
    struct stat ds;
    elmo_status s = ELMO_OK;
    if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode))
        s = elmo_fail(ELMO_ERR_IO, "%s: directory %s does not exist", path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        s = elmo_fail(ELMO_ERR_IO, "%s: cannot create files in %s: %s", path, dir, strerror(errno));
    free(d);
    for (int i = 0; i < n_inputs && !s && exists; i++) {
        struct stat is;
        if (!inputs[i]) continue;
        int ok = strcmp(inputs[i], "-") == 0 ? fstat(0, &is) == 0 : stat(inputs[i], &is) == 0;
        if (ok && is.st_dev == st.st_dev && is.st_ino == st.st_ino)
            s = elmo_fail(ELMO_ERR_ARG,
                          "%s: the output is also an input (%s): refusing to "
                          "overwrite it",
                          path, strcmp(inputs[i], "-") ? inputs[i] : "stdin");
    }
    return s;
}

elmo_status elmo_atomic_begin(elmo_atomic_file *a, const char *path) {
    memset(a, 0, sizeof *a);
    elmo_status s = elmo_output_check(path, NULL, 0);
    if (s) return s;
    struct stat st;
    int exists = stat(path, &st) == 0;
    a->direct = output_is_special(path, &st, exists);
    a->path = strdup(path);
    size_t n = strlen(path) + strlen(temp_dir()) + 48;
    a->tmp = malloc(n);
    if (!a->path || !a->tmp) {
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    if (a->direct) {
        remove_stale(temp_dir(), "elmo-out", ".", 1);
        snprintf(a->tmp, n, "%s/elmo-out.%ld.XXXXXX", temp_dir(), (long)getpid());
        int fd = mkstemp(a->tmp);
        if (fd < 0) {
            s = elmo_fail(ELMO_ERR_IO, "%s: cannot create a temporary file in %s: %s", path,
                          temp_dir(), strerror(errno));
            free(a->path);
            free(a->tmp);
            a->path = a->tmp = NULL;
            return s;
        }
        close(fd);
    } else {
        remove_stale_temporaries(path);
        snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    }
    temp_register(a->tmp);
    return ELMO_OK;
}

static void fsync_path(const char *path, int dir) {
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static void atomic_release(elmo_atomic_file *a) {
    temp_unregister(a->tmp);
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
}

/* Copy the temporary into the special output (FIFO, device, /dev/stdout...). */
static elmo_status copy_into(const char *tmp, const char *path) {
    int in = open(tmp, O_RDONLY | O_CLOEXEC);
    if (in < 0) return elmo_fail(ELMO_ERR_IO, "%s: cannot read back: %s", tmp, strerror(errno));
    int nfd = named_fd(path);
    int out = nfd >= 0 ? dup(nfd) : open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (out < 0) {
        close(in);
        return elmo_fail(ELMO_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    }
    struct stat st;
    int regular = fstat(out, &st) == 0 && S_ISREG(st.st_mode); /* e.g. /dev/stdout > file */
    if (regular && nfd < 0 && ftruncate(out, 0) != 0) regular = 0;
    enum { BUF = 1 << 16 };
    char *buf = malloc(BUF);
    int err = buf ? 0 : ENOMEM;
    while (!err) {
        ssize_t r = read(in, buf, BUF);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            err = r < 0 ? errno : 0;
            break;
        }
        for (ssize_t o = 0; o < r && !err;) {
            ssize_t w = write(out, buf + o, (size_t)(r - o));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                err = w < 0 ? errno : EIO;
            else
                o += w;
        }
    }
    free(buf);
    if (!err && regular && fsync(out) != 0 && errno != EINVAL) err = errno;
    if (close(out) != 0 && !err && errno != EINTR) err = errno;
    close(in);
    if (err) return elmo_fail(ELMO_ERR_IO, "%s: write error: %s", path, strerror(err));
    return ELMO_OK;
}

elmo_status elmo_atomic_commit(elmo_atomic_file *a) {
    if (a->direct) {
        elmo_status s = copy_into(a->tmp, a->path);
        unlink(a->tmp);
        atomic_release(a);
        return s;
    }
    fsync_path(a->tmp, 0);
    if (rename(a->tmp, a->path) != 0) {
        elmo_status s = elmo_fail(ELMO_ERR_IO, "%s: cannot rename temporary file into place: %s",
                                  a->path, strerror(errno));
        unlink(a->tmp);
        atomic_release(a);
        return s;
    }
    char *d = strdup(a->path);
    if (d) {
        fsync_path(dirname(d), 1);
        free(d);
    }
    atomic_release(a);
    return ELMO_OK;
}

void elmo_atomic_abort(elmo_atomic_file *a) {
    if (!a->tmp) return;
    unlink(a->tmp);
    atomic_release(a);
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

int elmo_strbuf_reserve(elmo_strbuf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->n + extra + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) return -1;
    b->p = np;
    b->cap = nc;
    return 0;
}

int elmo_strbuf_add(elmo_strbuf *b, const char *s, size_t len) {
    if (elmo_strbuf_reserve(b, len)) return -1;
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
