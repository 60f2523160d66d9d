/*
 * matmul.c: see matmul.h. oneDNN's C API (matmul primitive, reorder), one engine for the
 * process, one stream per calling thread, the primitives made for the layouts seen so far
 * kept for the process (prim_get; the first of a shape JITs its kernel, ~0.2 ms).
 */
#include "kernels/matmul.h"

#include <dnnl.h>
#include <math.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/bf16.h"
#include "kernels/gemm.h"
#include "io/util.h"

enum { MAT_DNNL, MAT_OWN_F32, MAT_OWN_BF16, MAT_Q8, MAT_AMX };

struct elmo_mat {
    int K, N, kind;
    dnnl_data_type_t dt;
    dnnl_memory_desc_t wmd; /* oneDNN's layout of the packed weights (MAT_DNNL) */
    void *data;             /* packed weights; row-major (K, N) float32 for MAT_OWN_*; int8
                               panels for MAT_Q8, bfloat16 tiles for MAT_AMX (gemm.h) */
    float *scale;           /* MAT_Q8: (N) per column */
    int borrowed;           /* data is the caller's (elmo_mat_new_inplace) */
    char impl[64];
};

/* ------------------------------------------------------------------------------------------ */
/* Engine, per-thread stream, per-thread scratch, threads                                     */

static dnnl_engine_t g_engine;
static dnnl_status_t g_engine_status = dnnl_runtime_error;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static atomic_long g_failures;
static atomic_long g_weights_gen; /* elmo_mm_weights_changed */

/* A weight matrix's bfloat16 copy (elmo_mm_weight): the stored (rows, cols) at p with
 * leading dimension ld, as it was in weights generation gen. */
typedef struct {
    const float *p;
    int rows, cols, ld;
    long gen;
    uint16_t *bf;
    size_t cap;
    unsigned long used;
} weight_copy;
#define WEIGHT_COPIES 8

/* A matmul primitive made for one set of layouts (memory descriptors of A, W, C, the sum
 * post-op, the thread count), kept for the process: making a primitive descriptor costs tens
 * of microseconds (oneDNN's own cache keys primitives by their descriptor), more than a
 * one-row product of the small model. Kept until the process ends (a full probe run: the
 * primitive is made for the call and destroyed after it); executing one primitive from
 * several threads at once is safe. */
typedef struct {
    uint64_t hash;
    dnnl_memory_desc_t md[3];
    int accumulate, threads;
    dnnl_primitive_t prim;      /* NULL: a free slot */
    dnnl_memory_desc_t scratch; /* its scratchpad (the caller's memory) */
} prim_entry;
#define PRIM_SLOTS 512 /* a power of two */
#define PRIM_PROBE 8
static prim_entry *g_prims; /* (PRIM_SLOTS), allocated on first use, under g_prims_lock */
static pthread_mutex_t g_prims_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    weight_copy wc[WEIGHT_COPIES];
    unsigned long tick;
    dnnl_stream_t stream;
    void *scratch[3]; /* 0, 1: operands; 2: oneDNN's scratchpad of a product */
    size_t cap[3];
    int threads;
    int bf16; /* elmo_mm_set_precision */
} thread_state;

static void thread_state_free(void *p) {
    thread_state *t = p;
    if (t->stream) dnnl_stream_destroy(t->stream);
    for (int i = 0; i < 3; i++) elmo_free(t->scratch[i]);
    for (int i = 0; i < WEIGHT_COPIES; i++) elmo_free(t->wc[i].bf);
    free(t);
}

/* oneDNN's thread count per calling thread: its OpenMP runtime's omp_set_num_threads (a
 * per-thread setting), found at run time in whichever runtime libdnnl was built with (Debian's:
 * libgomp), so that elmo needs no OpenMP of its own and a clang build does not bring a second
 * runtime. */
static void (*g_omp_set_num_threads)(int);

static void init_once(void) {
    pthread_key_create(&g_key, thread_state_free);
    g_engine_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    *(void **)&g_omp_set_num_threads = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
}

static void set_threads(const thread_state *t) {
    if (g_omp_set_num_threads) g_omp_set_num_threads(t->threads);
}

/* The calling thread's state, created on first use; NULL when out of memory. */
static thread_state *tstate(void) {
    pthread_once(&g_once, init_once);
    thread_state *t = pthread_getspecific(g_key);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->threads = 1;
    pthread_setspecific(g_key, t);
    return t;
}

static dnnl_stream_t tstream(thread_state *t) {
    if (!t->stream && g_engine_status == dnnl_success)
        if (dnnl_stream_create(&t->stream, g_engine, dnnl_stream_default_flags) != dnnl_success)
            t->stream = NULL;
    return t->stream;
}

/* Scratch buffer i of the calling thread, at least bytes long. */
static void *tscratch(thread_state *t, int i, size_t bytes) {
    if (bytes <= t->cap[i]) return t->scratch[i];
    void *p = elmo_alloc(bytes);
    if (!p) return NULL;
    elmo_free(t->scratch[i]);
    t->scratch[i] = p;
    t->cap[i] = bytes;
    return p;
}

void elmo_mm_set_threads(int n) {
    thread_state *t = tstate();
    if (t) t->threads = n < 1 ? 1 : n;
}

void elmo_mm_set_precision(elmo_precision p) {
    thread_state *t = tstate();
    if (t) t->bf16 = p == ELMO_PRECISION_BF16;
}

long elmo_mm_failures(void) { return atomic_load(&g_failures); }

static void fail_fill(int M, int N, float *C, int ldc) {
    atomic_fetch_add(&g_failures, 1);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = NAN;
}

/* ------------------------------------------------------------------------------------------ */
/* bfloat16                                                                                   */

/* (clones static: clang wants every declaration of a multiversioned function to carry the
 * attribute) */
ELMO_VECTOR_CLONES static void to_bf16_c(const float *restrict x, uint16_t *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = elmo_bf16_of(x[i]);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
/* The AVX512-BF16 instruction: 32 values per instruction, the same bits as elmo_bf16_of
 * (kernels/bf16.h); 6-8x the rate of the vectorized C loop on data in cache, ~1.5x from memory
 * (a throwaway timing on an AMX Xeon). A training step of options_default_small converts
 * ~72 M values (ONEDNN_VERBOSE shapes, 2026-12-03). */
__attribute__((target("avx512f,avx512bf16"))) static void to_bf16_native(const float *x,
                                                                         uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh r = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_storeu_si512((void *)(y + i), (__m512i)r);
    }
    for (; i < n; i++) y[i] = elmo_bf16_of(x[i]);
}

/* Whether the CPU has AVX512-BF16 (CPUID 7.1 EAX bit 5) with AVX-512 state enabled by the OS
 * (XCR0 bits 5-7), and ELMO_GEMM_ISA does not cap our kernels below AVX-512. */
static int native_bf16_probe(void) {
    unsigned a, b, c, d;
    const char *cap = getenv("ELMO_GEMM_ISA");
    if (cap && strcmp(cap, "avx512") != 0) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6u) != 0xe6u) return 0;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 5) & 1);
}
#endif

static void to_bf16(const float *restrict x, uint16_t *restrict y, size_t n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static atomic_int native = -1;
    int v = atomic_load_explicit(&native, memory_order_relaxed);
    if (v < 0) atomic_store(&native, v = native_bf16_probe());
    if (v) {
        to_bf16_native(x, y, n);
        return;
    }
#endif
    to_bf16_c(x, y, n);
}

void elmo_f32_to_bf16(const float *x, uint16_t *y, size_t n) { to_bf16(x, y, n); }

void elmo_bf16_to_f32(const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&y[i], &u, 4);
    }
}

ELMO_VECTOR_CLONES static void round_bf16(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)elmo_bf16_of(x[i]) << 16;
        memcpy(&y[i], &u, 4);
    }
}

void elmo_round_bf16(const float *x, float *y, size_t n) { round_bf16(x, y, n); }

/* rows x cols of x (leading dimension ld) into y (rows, cols) contiguous */
static void to_bf16_2d(int rows, int cols, const float *x, int ld, uint16_t *y) {
    for (int r = 0; r < rows; r++) elmo_f32_to_bf16(x + (size_t)r * ld, y + (size_t)r * cols, cols);
}

static void round_bf16_2d(int rows, int cols, const float *x, int ld, float *y) {
    for (int r = 0; r < rows; r++) elmo_round_bf16(x + (size_t)r * ld, y + (size_t)r * cols, cols);
}

/* ------------------------------------------------------------------------------------------ */
/* oneDNN matmul                                                                              */

/* A logical (rows, cols) matrix of type dt at p with row stride rs and column stride cs. */
static dnnl_status_t md2(dnnl_memory_desc_t *md, int rows, int cols, dnnl_data_type_t dt,
                         int64_t rs, int64_t cs) {
    dnnl_dims_t d = {rows, cols}, s = {rs, cs};
    return dnnl_memory_desc_init_by_strides(md, 2, d, dt, s);
}

/* Primitive descriptor of C = A · W (+ C); w may have format "any". */
static dnnl_status_t matmul_pd(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *w,
                               const dnnl_memory_desc_t *c, int accumulate,
                               dnnl_primitive_desc_t *pd) {
    dnnl_matmul_desc_t d;
    dnnl_status_t s = dnnl_matmul_desc_init(&d, a, w, NULL, c);
    if (s != dnnl_success) return s;
    /* the scratchpad is the caller's (execute: per calling thread), so that one primitive
     * may run on several threads at once (prim_get keeps one per layout for the process) */
    dnnl_primitive_attr_t attr = NULL;
    if ((s = dnnl_primitive_attr_create(&attr)) != dnnl_success) return s;
    if ((s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) !=
        dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        return s;
    }
    if (accumulate) {
        dnnl_post_ops_t po = NULL;
        if ((s = dnnl_post_ops_create(&po)) == dnnl_success) {
            s = dnnl_post_ops_append_sum(po, 1.0f);
            if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
            dnnl_post_ops_destroy(po);
        }
        if (s != dnnl_success) {
            dnnl_primitive_attr_destroy(attr);
            return s;
        }
    }
    s = dnnl_primitive_desc_create(pd, &d, attr, g_engine, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return s;
}

/* Run prim on the calling thread's stream (the caller has set its thread count, before the
 * primitive was made): argument n is kinds[n] with layout mds[n] over data[n]. */
static dnnl_status_t execute(thread_state *t, dnnl_primitive_t prim, int n, const int *kinds,
                             const dnnl_memory_desc_t *const *mds, void *const *data) {
    dnnl_stream_t st = tstream(t);
    if (!st) return dnnl_runtime_error;
    dnnl_memory_t mem[4] = {NULL, NULL, NULL, NULL};
    dnnl_exec_arg_t args[4];
    dnnl_status_t s = dnnl_success;
    for (int i = 0; i < n && s == dnnl_success; i++) {
        s = dnnl_memory_create(&mem[i], mds[i], g_engine, data[i]);
        args[i] = (dnnl_exec_arg_t){kinds[i], mem[i]};
    }
    if (s == dnnl_success) {
        s = dnnl_primitive_execute(prim, st, n, args);
        if (s == dnnl_success) s = dnnl_stream_wait(st);
    }
    for (int i = 0; i < n; i++) dnnl_memory_destroy(mem[i]);
    return s;
}

/* FNV-1a over the words of the three descriptors, the post-op and the thread count */
static uint64_t prim_hash(const dnnl_memory_desc_t *const *mds, int accumulate, int threads) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 3; i++) {
        const unsigned char *p = (const unsigned char *)mds[i];
        for (size_t k = 0; k + 8 <= sizeof **mds; k += 8) {
            uint64_t w;
            memcpy(&w, p + k, 8);
            h = (h ^ w) * 1099511628211ull;
        }
    }
    h = (h ^ (uint64_t)(accumulate * 2 + threads * 4)) * 1099511628211ull;
    /* final mix: FNV's low bits depend only on the words' low bits, and the slot is taken
     * from the low bits (without this, shapes crowded a few probe runs and were made anew
     * at every call) */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static int prim_match(const prim_entry *e, uint64_t h, const dnnl_memory_desc_t *const *mds,
                      int accumulate, int threads) {
    return e->prim && e->hash == h && e->accumulate == accumulate && e->threads == threads &&
           !memcmp(&e->md[0], mds[0], sizeof e->md[0]) &&
           !memcmp(&e->md[1], mds[1], sizeof e->md[1]) &&
           !memcmp(&e->md[2], mds[2], sizeof e->md[2]);
}

/* The primitive for these layouts and its scratchpad's layout: found, or made and kept.
 * *owned: the caller destroys it after use (not kept: every slot of its probe run taken). */
static dnnl_status_t prim_get(const dnnl_memory_desc_t *const *mds, int accumulate, int threads,
                              dnnl_primitive_t *out, dnnl_memory_desc_t *scratch, int *owned) {
    uint64_t h = prim_hash(mds, accumulate, threads);
    *owned = 0;
    pthread_mutex_lock(&g_prims_lock);
    if (!g_prims) g_prims = calloc(PRIM_SLOTS, sizeof *g_prims);
    for (int k = 0; g_prims && k < PRIM_PROBE; k++) {
        prim_entry *e = &g_prims[(h + (uint64_t)k) & (PRIM_SLOTS - 1)];
        if (prim_match(e, h, mds, accumulate, threads)) {
            *out = e->prim;
            *scratch = e->scratch;
            pthread_mutex_unlock(&g_prims_lock);
            return dnnl_success;
        }
    }
    pthread_mutex_unlock(&g_prims_lock);
    /* made outside the lock (the first of a shape JITs its kernel) */
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = matmul_pd(mds[0], mds[1], mds[2], accumulate, &pd);
    if (s != dnnl_success) return s;
    dnnl_primitive_t prim = NULL;
    *scratch = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    s = dnnl_primitive_create(&prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success) return s;
    *out = prim;
    *owned = 1;
    pthread_mutex_lock(&g_prims_lock);
    for (int k = 0; g_prims && k < PRIM_PROBE; k++) {
        prim_entry *e = &g_prims[(h + (uint64_t)k) & (PRIM_SLOTS - 1)];
        if (prim_match(e, h, mds, accumulate, threads)) { /* another thread kept one meanwhile */
            *out = e->prim;
            *scratch = e->scratch;
            break;
        }
        if (!e->prim) {
            *e = (prim_entry){.hash = h,
                              .accumulate = accumulate,
                              .threads = threads,
                              .prim = prim,
                              .scratch = *scratch};
            for (int i = 0; i < 3; i++) e->md[i] = *mds[i];
            *owned = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g_prims_lock);
    if (*owned && *out != prim) { /* ours is not needed */
        dnnl_primitive_destroy(prim);
        *owned = 0;
    }
    return dnnl_success;
}

/* C = A · W (+ C) */
static dnnl_status_t matmul_run(thread_state *t, const dnnl_memory_desc_t *a, const void *A,
                                const dnnl_memory_desc_t *w, const void *W,
                                const dnnl_memory_desc_t *c, float *C, int accumulate) {
    const dnnl_memory_desc_t *mds[3] = {a, w, c};
    dnnl_primitive_t prim;
    int owned;
    /* the thread count a primitive is made with decides how it splits the work (and so the
     * order of its sums): made and kept under the count it is keyed by */
    set_threads(t);
    dnnl_memory_desc_t smd;
    dnnl_status_t s = prim_get(mds, accumulate, t->threads, &prim, &smd, &owned);
    if (s != dnnl_success) return s;
    static const int kinds[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
    size_t sbytes = dnnl_memory_desc_get_size(&smd);
    void *sp = sbytes ? tscratch(t, 2, sbytes) : NULL;
    const dnnl_memory_desc_t *all[4] = {a, w, c, &smd};
    void *data[4] = {(void *)A, (void *)W, C, sp};
    s = sbytes && !sp ? dnnl_out_of_memory : execute(t, prim, sbytes ? 4 : 3, kinds, all, data);
    if (owned) dnnl_primitive_destroy(prim);
    return s;
}

static const char *pd_impl(const dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl)
        return "unknown";
    return impl;
}

/* ------------------------------------------------------------------------------------------ */
/* Prepared weight matrices                                                                   */

/* oneDNN's batch-reduce kernel for C (M, N) = A (M, K) · W (K, N) in type dt with W's layout
 * left to oneDNN: the weights' layout into *wmd and the implementation's name into impl when
 * it is one whose rows do not depend on M ("brg:", native bfloat16 for dt bf16). */
/* The primitive descriptor of C (M, N) = A (M, K) · W (K, N) in type dt, W's layout left to
 * oneDNN. */
static dnnl_status_t any_layout_pd(int M, int N, int K, dnnl_data_type_t dt,
                                   dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t a, w, c;
    dnnl_dims_t wd = {K, N};
    dnnl_status_t s = md2(&a, M, K, dt, K, 1);
    if (s == dnnl_success) s = md2(&c, M, N, dnnl_f32, N, 1);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&w, 2, wd, dt, dnnl_format_tag_any);
    if (s == dnnl_success) s = matmul_pd(&a, &w, &c, 0, pd);
    return s;
}

static int brg_layout(int M, int N, int K, dnnl_data_type_t dt, dnnl_memory_desc_t *wmd, char *impl,
                      size_t impl_size) {
    dnnl_primitive_desc_t pd;
    if (any_layout_pd(M, N, K, dt, &pd) != dnnl_success) return 0;
    const char *name = pd_impl(pd);
    int ok = strncmp(name, "brg:", 4) == 0 &&
             (dt == dnnl_f32 || strstr(name, "bf16") || strstr(name, "amx"));
    if (ok) {
        *wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        snprintf(impl, impl_size, "%s", name);
    }
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* oneDNN reorder: from (layout src, data S) to (layout dst, data D). */
static elmo_status reorder(const dnnl_memory_desc_t *src, const void *S,
                           const dnnl_memory_desc_t *dst, void *D) {
    thread_state *t = tstate();
    if (!t) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    set_threads(t); /* before the primitive is made: it splits the work by this count */
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, src, g_engine, dst, g_engine, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&prim, pd);
    if (s == dnnl_success) {
        static const int kinds[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
        const dnnl_memory_desc_t *mds[2] = {src, dst};
        void *data[2] = {(void *)S, D};
        s = execute(t, prim, 2, kinds, mds, data);
    }
    dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success)
        return elmo_fail(ELMO_ERR_NOMEM, "oneDNN: weight reorder failed (status %d)", (int)s);
    return ELMO_OK;
}

/* Reorder (src layout, S) into a new buffer m->data in layout m->wmd. */
static elmo_status pack_dnnl(elmo_mat *m, const dnnl_memory_desc_t *src, const void *S) {
    if (!(m->data = elmo_alloc(dnnl_memory_desc_get_size(&m->wmd)))) return ELMO_ERR_NOMEM;
    return reorder(src, S, &m->wmd, m->data);
}

/* Own kernel: a row-major float32 copy, rounded to bfloat16 values for BF16. */
static elmo_status pack_own(elmo_mat *m, const float *W, int ldw, int bf16) {
    if (!(m->data = elmo_alloc(sizeof(float) * (size_t)m->K * m->N))) return ELMO_ERR_NOMEM;
    float *d = m->data;
    for (int k = 0; k < m->K; k++) {
        if (bf16)
            elmo_round_bf16(W + (size_t)k * ldw, d + (size_t)k * m->N, m->N);
        else
            memcpy(d + (size_t)k * m->N, W + (size_t)k * ldw, sizeof(float) * m->N);
    }
    return ELMO_OK;
}

/* Our AMX kernel: W rounded to bfloat16 and arranged in tiles. */
static elmo_status pack_amx(elmo_mat *m, const float *W, int ldw) {
    if (!(m->data = elmo_alloc(elmo_amx_bytes(m->K, m->N)))) return ELMO_ERR_NOMEM;
    elmo_amx_pack(m->K, m->N, W, ldw, m->data);
    return ELMO_OK;
}

/* Whether oneDNN may use AMX (ONEDNN_MAX_CPU_ISA caps it). oneDNN's ISA values are sets of
 * feature bits: the AMX one includes every bit below it. */
static int dnnl_has_amx(void) {
    unsigned amx = (unsigned)dnnl_cpu_isa_avx512_core_amx;
    return tstate() && g_engine_status == dnnl_success &&
           ((unsigned)dnnl_get_effective_cpu_isa() & amx) == amx;
}

/* Whether bfloat16 products run on our AMX kernel: the CPU has AMX, oneDNN would use it too
 * (so ONEDNN_MAX_CPU_ISA caps both), and ELMO_MATMUL does not ask for oneDNN ("dnnl") or the
 * emulation ("own"). */
static int use_amx(void) {
    const char *force = getenv("ELMO_MATMUL");
    if (force && (strcmp(force, "dnnl") == 0 || strcmp(force, "own") == 0)) return 0;
    return dnnl_has_amx() && elmo_amx_usable();
}

/* A new matrix (K, N) of precision p with its kernel chosen: oneDNN's batch-reduce kernel
 * (m->kind MAT_DNNL, m->wmd its layout) when the same layout serves one row and a window of
 * rows, else our own. */
static elmo_mat *mat_choose(int K, int N, elmo_precision p) {
    elmo_mat *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->K = K;
    m->N = N;
    int bf16 = p == ELMO_PRECISION_BF16;
    m->dt = bf16 ? dnnl_bf16 : dnnl_f32;
    m->kind = bf16 ? MAT_OWN_BF16 : MAT_OWN_F32;
    snprintf(m->impl, sizeof m->impl, "%s", bf16 ? "own:bf16-emulated" : "own:f32");
    /* ELMO_MATMUL=own: our plain kernels only; =dnnl: oneDNN's, not our AMX kernel */
    const char *force = getenv("ELMO_MATMUL");
    if ((force && strcmp(force, "own") == 0) || !tstate() || g_engine_status != dnnl_success)
        return m;
    if (bf16 && use_amx()) {
        m->kind = MAT_AMX;
        snprintf(m->impl, sizeof m->impl, "own:amx-bf16");
        return m;
    }
    dnnl_memory_desc_t w1, w256;
    char i1[64], i256[64];
    if (brg_layout(1, N, K, m->dt, &w1, i1, sizeof i1) &&
        brg_layout(256, N, K, m->dt, &w256, i256, sizeof i256) &&
        dnnl_memory_desc_equal(&w1, &w256)) {
        m->kind = MAT_DNNL;
        m->wmd = w256;
        snprintf(m->impl, sizeof m->impl, "%s", i256);
    }
    return m;
}

static elmo_status mat_fail(elmo_mat *m, elmo_status s) {
    elmo_mat_free(m);
    return s;
}

/* m's weights from the row-major float32 W (m->K, m->N), leading dimension ldw, in the layout
 * of m's kernel. */
static elmo_status mat_pack(elmo_mat *m, const float *W, int ldw) {
    if (m->kind == MAT_AMX) return pack_amx(m, W, ldw);
    if (m->kind != MAT_DNNL) return pack_own(m, W, ldw, m->kind == MAT_OWN_BF16);
    dnnl_memory_desc_t src;
    return md2(&src, m->K, m->N, dnnl_f32, ldw, 1) == dnnl_success
               ? pack_dnnl(m, &src, W)
               : elmo_fail(ELMO_ERR_ARG, "oneDNN: bad shape");
}

elmo_status elmo_mat_new(int K, int N, const float *W, int ldw, elmo_precision p, elmo_mat **out) {
    *out = NULL;
    if (K < 1 || N < 1 || ldw < N)
        return elmo_fail(ELMO_ERR_ARG, "elmo_mat_new: bad shape (%d, %d)", K, N);
    elmo_mat *m = mat_choose(K, N, p);
    if (!m) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s = mat_pack(m, W, ldw);
    if (s) return mat_fail(m, s);
    *out = m;
    return ELMO_OK;
}

elmo_status elmo_mat_new_inplace(int K, int N, float *W, elmo_mat **out, int *in_place) {
    *out = NULL;
    *in_place = 0;
    if (K < 1 || N < 1)
        return elmo_fail(ELMO_ERR_ARG, "elmo_mat_new_inplace: bad shape (%d, %d)", K, N);
    elmo_mat *m = mat_choose(K, N, ELMO_PRECISION_FP32);
    if (!m) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    size_t plain = sizeof(float) * (size_t)K * N;
    if (m->kind == MAT_OWN_F32) { /* our kernel reads W as it is */
        m->data = W;
        m->borrowed = *in_place = 1;
    } else if (dnnl_memory_desc_get_size(&m->wmd) == plain) {
        dnnl_memory_desc_t src;
        elmo_status s = md2(&src, K, N, dnnl_f32, N, 1) == dnnl_success
                            ? pack_dnnl(m, &src, W)
                            : elmo_fail(ELMO_ERR_ARG, "oneDNN: bad shape");
        if (s) return mat_fail(m, s);
        memcpy(W, m->data, plain); /* the packed layout takes W's place */
        elmo_free(m->data);
        m->data = W;
        m->borrowed = *in_place = 1;
    } else {
        elmo_mat_free(m);
        return elmo_mat_new(K, N, W, N, ELMO_PRECISION_FP32, out);
    }
    *out = m;
    return ELMO_OK;
}

elmo_status elmo_mat_unpack(const elmo_mat *w, float *W, int ldw) {
    if (w->kind == MAT_Q8) {
        elmo_q8_unpack(w->K, w->N, w->data, w->scale, W, ldw);
        return ELMO_OK;
    }
    if (w->kind == MAT_AMX) {
        elmo_amx_unpack(w->K, w->N, w->data, W, ldw);
        return ELMO_OK;
    }
    if (w->kind != MAT_DNNL) {
        for (int k = 0; k < w->K; k++)
            memcpy(W + (size_t)k * ldw, (const float *)w->data + (size_t)k * w->N,
                   sizeof(float) * w->N);
        return ELMO_OK;
    }
    dnnl_memory_desc_t dst;
    if (md2(&dst, w->K, w->N, dnnl_f32, ldw, 1) != dnnl_success)
        return elmo_fail(ELMO_ERR_ARG, "oneDNN: bad shape");
    return reorder(&w->wmd, w->data, &dst, W);
}

/* Int8 weights with a scale per column (MAT_Q8) from the float32 values of src. */
static elmo_status mat_q8(const elmo_mat *src, elmo_mat **out) {
    elmo_mat *m = calloc(1, sizeof *m);
    float *plain = elmo_alloc(sizeof(float) * (size_t)src->K * src->N);
    elmo_status s = m && plain ? ELMO_OK : ELMO_ERR_NOMEM;
    if (!s) {
        *m = (elmo_mat){.K = src->K, .N = src->N, .kind = MAT_Q8, .dt = dnnl_s8};
        snprintf(m->impl, sizeof m->impl, "own:int8-weights");
        m->data = elmo_alloc(elmo_q8_bytes(m->K, m->N));
        m->scale = elmo_alloc(sizeof(float) * (size_t)m->N);
        s = m->data && m->scale ? elmo_mat_unpack(src, plain, src->N) : ELMO_ERR_NOMEM;
    }
    if (!s) elmo_q8_pack(m->K, m->N, plain, m->N, m->data, m->scale);
    elmo_free(plain);
    if (s) {
        elmo_mat_free(m);
        return s;
    }
    *out = m;
    return ELMO_OK;
}

elmo_status elmo_mat_convert(const elmo_mat *src, elmo_precision p, elmo_mat **out) {
    *out = NULL;
    if (p == ELMO_PRECISION_INT8) return mat_q8(src, out);
    if (src->kind == MAT_Q8)
        return elmo_fail(ELMO_ERR_ARG, "elmo_mat_convert: int8 weights are not converted back");
    if (src->kind == MAT_OWN_F32 || src->kind == MAT_OWN_BF16)
        return elmo_mat_new(src->K, src->N, src->data, src->N, p, out);
    elmo_mat *m = mat_choose(src->K, src->N, p);
    if (!m) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s;
    if (m->kind == MAT_DNNL && src->kind == MAT_DNNL) {
        s = pack_dnnl(m, &src->wmd, src->data);
    } else { /* through a plain copy */
        float *plain = elmo_alloc(sizeof(float) * (size_t)src->K * src->N);
        s = plain ? elmo_mat_unpack(src, plain, src->N) : ELMO_ERR_NOMEM;
        if (!s) s = mat_pack(m, plain, src->N);
        elmo_free(plain);
    }
    if (s) return mat_fail(m, s);
    *out = m;
    return ELMO_OK;
}

void elmo_mat_free(elmo_mat *w) {
    if (!w) return;
    if (!w->borrowed) elmo_free(w->data);
    elmo_free(w->scale);
    free(w);
}

const char *elmo_mat_impl(const elmo_mat *w) { return w->impl; }

/* C (M, N) = A · W [+ C] on our AMX kernel: A rounded to bfloat16 into a per-thread buffer,
 * padded with zeros to the kernel's blocks (columns to a multiple of 32, rows of 16). */
static void mul_amx(thread_state *t, int M, const float *A, int lda, const elmo_mat *W,
                    int accumulate, float *C, int ldc) {
    int K = W->K, Kp = (K + 31) / 32 * 32, Mp = (M + 15) / 16 * 16;
    uint16_t *Ab = tscratch(t, 0, sizeof(uint16_t) * (size_t)Mp * Kp);
    if (!Ab) {
        fail_fill(M, W->N, C, ldc);
        return;
    }
    for (int r = 0; r < M; r++) {
        to_bf16(A + (size_t)r * lda, Ab + (size_t)r * Kp, K);
        memset(Ab + (size_t)r * Kp + K, 0, sizeof(uint16_t) * (size_t)(Kp - K));
    }
    memset(Ab + (size_t)M * Kp, 0, sizeof(uint16_t) * (size_t)(Mp - M) * Kp);
    elmo_gemm_amx(M, W->N, K, Ab, Kp, W->data, accumulate, C, ldc);
}

void elmo_mat_mul(int M, const float *A, int lda, const elmo_mat *W, int accumulate, float *C,
                  int ldc) {
    if (M <= 0) return;
    int K = W->K, N = W->N;
    thread_state *t = tstate();
    if (!t) {
        fail_fill(M, N, C, ldc);
        return;
    }
    if (W->kind == MAT_OWN_F32) {
        elmo_gemm_rm(M, N, K, A, lda, W->data, N, accumulate, C, ldc);
        return;
    }
    if (W->kind == MAT_Q8) {
        elmo_gemm_q8(M, N, K, A, lda, W->data, W->scale, accumulate, C, ldc);
        return;
    }
    if (W->kind == MAT_AMX) {
        mul_amx(t, M, A, lda, W, accumulate, C, ldc);
        return;
    }
    if (W->kind == MAT_OWN_BF16) {
        float *Ar = tscratch(t, 0, sizeof(float) * (size_t)M * K);
        if (!Ar) {
            fail_fill(M, N, C, ldc);
            return;
        }
        round_bf16_2d(M, K, A, lda, Ar);
        elmo_gemm_rm(M, N, K, Ar, K, W->data, N, accumulate, C, ldc);
        return;
    }
    const void *src = A;
    int64_t ld = lda;
    float *dst = C;
    int rows = M, ldd = ldc;
    if (W->dt == dnnl_bf16) {
        /* oneDNN's AMX kernel treats a single row differently from the rows of larger
         * products (last-bit differences): one row is computed as two, the second zero, so
         * that a row's result does not depend on the batch */
        rows = M == 1 ? 2 : M;
        uint16_t *Ab = tscratch(t, 0, sizeof(uint16_t) * (size_t)rows * K);
        float *Cs = rows > M ? tscratch(t, 1, sizeof(float) * (size_t)rows * N) : NULL;
        if (!Ab || (rows > M && !Cs)) {
            fail_fill(M, N, C, ldc);
            return;
        }
        to_bf16_2d(M, K, A, lda, Ab);
        src = Ab;
        ld = K;
        if (Cs) {
            memset(Ab + (size_t)M * K, 0, sizeof(uint16_t) * (size_t)(rows - M) * K);
            if (accumulate) memcpy(Cs, C, sizeof(float) * N);
            dst = Cs;
            ldd = N;
        }
    }
    dnnl_memory_desc_t a, c;
    dnnl_status_t s = md2(&a, rows, K, W->dt, ld, 1);
    if (s == dnnl_success) s = md2(&c, rows, N, dnnl_f32, ldd, 1);
    if (s == dnnl_success) s = matmul_run(t, &a, src, &W->wmd, W->data, &c, dst, accumulate);
    if (s != dnnl_success)
        fail_fill(M, N, C, ldc);
    else if (dst != C)
        memcpy(C, dst, sizeof(float) * N);
}

/* ------------------------------------------------------------------------------------------ */
/* General products                                                                           */

/* Plain loops, the fallback when oneDNN refuses a product (never expected). */
static void mm_plain(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = 0;
            for (int k = 0; k < K; k++)
                acc += (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                       (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            C[(size_t)i * ldc + j] = beta != 0 ? C[(size_t)i * ldc + j] + acc : acc;
        }
}

/* op(X) of a stored matrix as a logical (rows, cols) descriptor. */
static dnnl_status_t md_op(dnnl_memory_desc_t *md, int trans, int rows, int cols,
                           dnnl_data_type_t dt, int ld) {
    return trans ? md2(md, rows, cols, dt, 1, ld) : md2(md, rows, cols, dt, ld, 1);
}

static dnnl_status_t mm_dnnl(thread_state *t, int ta, int tb, int M, int N, int K,
                             dnnl_data_type_t dt, const void *A, int lda, const void *B, int ldb,
                             float beta, float *C, int ldc) {
    dnnl_memory_desc_t a, b, c;
    dnnl_status_t s = md_op(&a, ta, M, K, dt, lda);
    if (s == dnnl_success) s = md_op(&b, tb, K, N, dt, ldb);
    if (s == dnnl_success) s = md2(&c, M, N, dnnl_f32, ldc, 1);
    if (s == dnnl_success) s = matmul_run(t, &a, A, &b, B, &c, C, beta != 0);
    return s;
}

void elmo_mm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (beta == 0)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, sizeof(float) * N);
        return;
    }
    thread_state *t = tstate();
    if (t && t->bf16) {
        elmo_mm_bf16(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (!t || mm_dnnl(t, ta, tb, M, N, K, dnnl_f32, A, lda, B, ldb, beta, C, ldc) != dnnl_success)
        mm_plain(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

void elmo_mm_bf16(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (beta == 0)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, sizeof(float) * N);
        return;
    }
    /* stored shapes: A (ta ? K : M, ta ? M : K), B (tb ? N : K, tb ? K : N) */
    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    thread_state *t = tstate();
    uint16_t *Ab = t ? tscratch(t, 0, sizeof(uint16_t) * (size_t)ar * ac) : NULL;
    uint16_t *Bb = t ? tscratch(t, 1, sizeof(uint16_t) * (size_t)br * bc) : NULL;
    if (Ab && Bb) {
        to_bf16_2d(ar, ac, A, lda, Ab);
        to_bf16_2d(br, bc, B, ldb, Bb);
        if (mm_dnnl(t, ta, tb, M, N, K, dnnl_bf16, Ab, ac, Bb, bc, beta, C, ldc) == dnnl_success)
            return;
    }
    /* no native bfloat16 product here: the same roundings, float32 products */
    float *Ar = t ? tscratch(t, 0, sizeof(float) * (size_t)ar * ac) : NULL;
    float *Br = t ? tscratch(t, 1, sizeof(float) * (size_t)br * bc) : NULL;
    if (!Ar || !Br) {
        fail_fill(M, N, C, ldc);
        return;
    }
    round_bf16_2d(ar, ac, A, lda, Ar);
    round_bf16_2d(br, bc, B, ldb, Br);
    if (mm_dnnl(t, ta, tb, M, N, K, dnnl_f32, Ar, ac, Br, bc, beta, C, ldc) != dnnl_success)
        mm_plain(ta, tb, M, N, K, Ar, ac, Br, bc, beta, C, ldc);
}

void elmo_mm_weights_changed(void) { atomic_fetch_add(&g_weights_gen, 1); }

/* The calling thread's bfloat16 copy of the stored (rows, cols) matrix B (leading dimension
 * ld) as of this weights generation: found, or made in the least recently used slot. */
static const uint16_t *weight_bf16(thread_state *t, const float *B, int rows, int cols, int ld) {
    long gen = atomic_load(&g_weights_gen);
    weight_copy *lru = &t->wc[0];
    for (int i = 0; i < WEIGHT_COPIES; i++) {
        weight_copy *w = &t->wc[i];
        if (w->p == B && w->rows == rows && w->cols == cols && w->ld == ld && w->gen == gen) {
            w->used = ++t->tick;
            return w->bf;
        }
        if (w->used < lru->used) lru = w;
    }
    size_t need = sizeof(uint16_t) * (size_t)rows * cols;
    if (need > lru->cap) {
        uint16_t *bf = elmo_alloc(need);
        if (!bf) return NULL;
        elmo_free(lru->bf);
        lru->bf = bf;
        lru->cap = need;
    }
    to_bf16_2d(rows, cols, B, ld, lru->bf);
    *lru = (weight_copy){B, rows, cols, ld, gen, lru->bf, lru->cap, ++t->tick};
    return lru->bf;
}

void elmo_mm_weight(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc) {
    thread_state *t = tstate();
    if (!t || !t->bf16 || M <= 0 || N <= 0 || K <= 0) {
        elmo_mm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    const uint16_t *Bb = weight_bf16(t, B, br, bc, ldb);
    uint16_t *Ab = tscratch(t, 0, sizeof(uint16_t) * (size_t)ar * ac);
    if (Bb && Ab) {
        to_bf16_2d(ar, ac, A, lda, Ab);
        if (mm_dnnl(t, ta, tb, M, N, K, dnnl_bf16, Ab, ac, Bb, bc, beta, C, ldc) == dnnl_success)
            return;
    }
    elmo_mm_bf16(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc); /* emulated, or out of memory */
}

void elmo_mm_f64(int ta, int tb, int M, int N, int K, const double *A, int lda, const double *B,
                 int ldb, double beta, double *C, int ldc) {
    for (int i = 0; i < M; i++) {
        double *c = C + (size_t)i * ldc;
        if (beta == 0) memset(c, 0, sizeof(double) * (N > 0 ? N : 0));
        for (int k = 0; k < K; k++) {
            double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
            if (a == 0) continue;
            if (tb)
                for (int j = 0; j < N; j++) c[j] += a * B[(size_t)j * ldb + k];
            else
                for (int j = 0; j < N; j++) c[j] += a * B[(size_t)k * ldb + j];
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Reports                                                                                    */

const char *elmo_mm_impl_name(int M, int N, int K, elmo_precision p) {
    static _Thread_local char name[64];
    snprintf(name, sizeof name, "none");
    dnnl_primitive_desc_t pd;
    if (!tstate() || g_engine_status != dnnl_success ||
        any_layout_pd(M, N, K, p == ELMO_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32, &pd) !=
            dnnl_success)
        return name;
    snprintf(name, sizeof name, "%s", pd_impl(pd));
    dnnl_primitive_desc_destroy(pd);
    return name;
}

int elmo_bf16_is_faster(void) { return dnnl_has_amx(); }

int elmo_cpu_has_native_bf16(void) {
    /* what oneDNN would run a bfloat16 product with (respects ONEDNN_MAX_CPU_ISA) */
    dnnl_memory_desc_t w;
    char impl[64];
    return tstate() && g_engine_status == dnnl_success &&
           brg_layout(64, 1024, 1024, dnnl_bf16, &w, impl, sizeof impl);
}

const char *elmo_mm_backend_info(void) {
    static char info[128];
    const dnnl_version_t *v = dnnl_version();
    const char *isa = "unknown";
    switch (dnnl_get_effective_cpu_isa()) {
        case dnnl_cpu_isa_sse41: isa = "sse41"; break;
        case dnnl_cpu_isa_avx: isa = "avx"; break;
        case dnnl_cpu_isa_avx2: isa = "avx2"; break;
        case dnnl_cpu_isa_avx512_core: isa = "avx512_core"; break;
        case dnnl_cpu_isa_avx512_core_vnni: isa = "avx512_core_vnni"; break;
        case dnnl_cpu_isa_avx512_core_bf16: isa = "avx512_core_bf16"; break;
        case dnnl_cpu_isa_avx512_core_amx: isa = "avx512_core_amx"; break;
        case dnnl_cpu_isa_avx2_vnni: isa = "avx2_vnni"; break;
        default: break;
    }
    snprintf(info, sizeof info, "oneDNN %d.%d.%d, ISA %s", v->major, v->minor, v->patch, isa);
    return info;
}

const char *elmo_backend_info(void) { return elmo_mm_backend_info(); }
