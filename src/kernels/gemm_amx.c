/*
 * gemm_amx.c: see gemm.h, elmo_gemm_amx. bfloat16 products on the AMX tile unit (Intel Xeon
 * from Sapphire Rapids on) for the model's weight matrices, float32 accumulation:
 *
 *   C (M, N) = A (M, K) · W (K, N)  [+ C]       A and W bfloat16, C float32
 *
 * Why our own: the LSTM's products have few rows (a time step: the batch's active rows, 1 to
 * 64; a window of input products: up to 128) against a weight matrix of 16 MB in bfloat16
 * (original architecture). oneDNN's AMX kernel, given the same prepared weights, takes 1.50x
 * the time of this one over a whole batch-64 embedding run (bench_embed, alternating runs on
 * an Intel Xeon with AMX); per shape (bench/bench_gemm.c, "onednn-bf16" and "own-amx") the
 * difference is largest on steps of 17 to 63 rows and on deep products (the highway layers).
 *
 * Layout of W (elmo_amx_pack): panels of 64 columns; a panel is K/32 blocks of 32 rows of W;
 * a block is four tiles of 16 x 32 bfloat16 (columns 0-15, 16-31, 32-47, 48-63 of the panel),
 * each tile row holding the pairs (W[k][n], W[k+1][n]) of its 16 columns (the pairing
 * TDPBF16PS reads). Zero beyond K and N. A panel is read front to back. elmo_amx_bytes(K, N)
 * bytes.
 *
 * Blocking: 32 rows of A x half a panel in 4 accumulator tiles (2 x 2: each tile of A and of
 * W serves two products), then the other half, then the next 32 rows (the panel then comes
 * from L2); 16 rows x a whole panel (1 x 4) for the last rows when no more than 16 are left.
 * Every output is the tile unit's float32 sum over k in ascending blocks, started from zero,
 * then added to C: the same instruction sequence whatever M and whichever row of a tile it is
 * in, so each row of C depends only on its row of A and results do not depend on the batch
 * (test_gemm checks it bitwise).
 *
 * Linux gives a process the tile registers only on request (arch_prctl ARCH_REQ_XCOMP_PERM);
 * elmo_amx_usable asks once. On other machines and builds it answers 0 and nothing here runs.
 */
#include "kernels/gemm.h"

#include <pthread.h>
#include <string.h>

#include "kernels/bf16.h"

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define ELMO_AMX_BUILD 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define AMX_PANEL 64             /* columns of a panel: four tiles of 16 */
#define AMX_KB 32                /* rows of W per block (16 pairs) */
#define AMX_TILE_ELEMS (16 * 32) /* bfloat16 values in one tile */

static int up(int x, int m) { return (x + m - 1) / m * m; }

size_t elmo_amx_bytes(int K, int N) {
    return sizeof(uint16_t) * (size_t)up(K, AMX_KB) * (size_t)up(N, AMX_PANEL);
}

/* Where W's element (k, n) lives in the packed layout of a matrix with Kp = up(K, 32) rows. */
static size_t amx_index(int Kp, int k, int n) {
    size_t panel = (size_t)(n / AMX_PANEL), block = (size_t)(k / AMX_KB);
    int tile = (n % AMX_PANEL) / 16, col = n % 16, pair = (k % AMX_KB) / 2, half = k % 2;
    return ((panel * (size_t)(Kp / AMX_KB) + block) * 4 + (size_t)tile) * AMX_TILE_ELEMS +
           (size_t)pair * 32 + (size_t)col * 2 + (size_t)half;
}

/* Written in the packed order (amx_index's), front to back. */
void elmo_amx_pack(int K, int N, const float *W, int ldw, uint16_t *P) {
    int Kp = up(K, AMX_KB), Np = up(N, AMX_PANEL);
    for (int n0 = 0; n0 < Np; n0 += AMX_PANEL)
        for (int k0 = 0; k0 < Kp; k0 += AMX_KB)
            for (int n1 = n0; n1 < n0 + AMX_PANEL; n1 += 16) /* the block's four tiles */
                for (int k = k0; k < k0 + AMX_KB; k += 2)    /* a tile row: 16 pairs */
                    for (int n = n1; n < n1 + 16; n++) {
                        size_t at = (size_t)k * ldw + (size_t)n;
                        *P++ = n < N && k < K ? elmo_bf16_of(W[at]) : 0;
                        *P++ = n < N && k + 1 < K ? elmo_bf16_of(W[at + ldw]) : 0;
                    }
}

void elmo_amx_unpack(int K, int N, const uint16_t *P, float *W, int ldw) {
    int Kp = up(K, AMX_KB);
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) {
            uint32_t bits = (uint32_t)P[amx_index(Kp, k, n)] << 16;
            memcpy(W + (size_t)k * ldw + n, &bits, sizeof bits);
        }
}

#ifdef ELMO_AMX_BUILD

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int g_amx_ok;
static pthread_once_t g_amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    int tile = (d >> 24) & 1, bf16 = (d >> 22) & 1;
    if (!tile || !bf16) return;
    /* the OS saves the tile state (XCR0 bits 17 and 18) and lets this process use it */
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return;
    g_amx_ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

int elmo_amx_usable(void) {
    pthread_once(&g_amx_once, amx_probe);
    return g_amx_ok;
}

/* The tile configuration (palette 1): every tile 16 rows of 64 bytes. Tiles 0-3 accumulate
 * C (16 rows x columns 0-15, 16-31, 32-47, 48-63 of the panel), 4-5 hold A, 6-7 hold W. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) amx_config;

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f")))

/* C rows 0 .. mr-1, columns 0 .. nc-1 (= or +=) the staged sums S (mr, 64). */
AMX_TARGET static void amx_write(int mr, int nc, const float *S, int accumulate, float *C,
                                 int ldc) {
    __mmask16 mk[4];
    for (int v = 0; v < 4; v++) {
        int c = nc - 16 * v;
        mk[v] = (__mmask16)(c >= 16 ? 0xFFFF : c <= 0 ? 0 : (1u << c) - 1);
    }
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)r * ldc;
        for (int v = 0; v < 4; v++) {
            __m512 x = _mm512_load_ps(S + r * AMX_PANEL + 16 * v);
            if (accumulate) x = _mm512_add_ps(_mm512_maskz_loadu_ps(mk[v], c + 16 * v), x);
            _mm512_mask_storeu_ps(c + 16 * v, mk[v], x);
        }
    }
}

/* 16 rows of A (tile rows from A, stride sa bytes) times one panel W (KB blocks): the sums in
 * tiles 0-3 (columns 0-15, 16-31, 32-47, 48-63). A alternates between tiles 4 and 5, W between
 * 6 and 7, so that a load need not wait for the product before it. */
#define AMX_STEP(ta, kb)                                                                           \
    do {                                                                                           \
        const uint16_t *w_ = W + (size_t)(kb)*4 * AMX_TILE_ELEMS;                                  \
        _tile_loadd(ta, A0 + (kb)*AMX_KB, sa);                                                     \
        _tile_loadd(6, w_, 64);                                                                    \
        _tile_dpbf16ps(0, ta, 6);                                                                  \
        _tile_loadd(7, w_ + AMX_TILE_ELEMS, 64);                                                   \
        _tile_dpbf16ps(1, ta, 7);                                                                  \
        _tile_loadd(6, w_ + 2 * AMX_TILE_ELEMS, 64);                                               \
        _tile_dpbf16ps(2, ta, 6);                                                                  \
        _tile_loadd(7, w_ + 3 * AMX_TILE_ELEMS, 64);                                               \
        _tile_dpbf16ps(3, ta, 7);                                                                  \
    } while (0)

AMX_TARGET static void amx_rows16(int KB, const uint16_t *A0, int sa, const uint16_t *W) {
    int kb = 0;
    for (; kb + 1 < KB; kb += 2) {
        AMX_STEP(4, kb);
        AMX_STEP(5, kb + 1);
    }
    if (kb < KB) AMX_STEP(4, kb);
}

/* 32 rows of A times half h of a panel (columns 32h .. 32h+31): rows 0-15 in tiles 0-1, rows
 * 16-31 in tiles 2-3 (2 x 2: each tile of A and of W serves two products). */
AMX_TARGET static void amx_rows32(int KB, const uint16_t *A0, int sa, const uint16_t *W, int h) {
    const uint16_t *A1 = A0 + (size_t)(sa / (int)sizeof(uint16_t)) * 16;
    for (int kb = 0; kb < KB; kb++) {
        const uint16_t *w = W + ((size_t)kb * 4 + 2 * h) * AMX_TILE_ELEMS;
        _tile_loadd(4, A0 + kb * AMX_KB, sa);
        _tile_loadd(6, w, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(5, A1 + kb * AMX_KB, sa);
        _tile_dpbf16ps(2, 5, 6);
        _tile_loadd(7, w + AMX_TILE_ELEMS, 64);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(3, 5, 7);
    }
}

/* One block of mr <= 32 rows (m0 in A and C) times one panel (n0, nc columns). The sums start
 * from zero; a whole block without accumulation is stored by the tile unit itself, the others
 * go through S (then C + sums, in that order). */
AMX_TARGET static void amx_block(int mr, int nc, int KB, const uint16_t *A0, int sa,
                                 const uint16_t *W, int accumulate, float *C0, int ldc, float *S) {
    int direct = !accumulate && nc == AMX_PANEL && (mr == 16 || mr == 32);
    float *T = direct ? C0 : S;
    int st = (int)sizeof(float) * (direct ? ldc : AMX_PANEL), rs = st / (int)sizeof(float);
    if (mr <= 16) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        amx_rows16(KB, A0, sa, W);
        _tile_stored(0, T, st);
        _tile_stored(1, T + 16, st);
        _tile_stored(2, T + 32, st);
        _tile_stored(3, T + 48, st);
    } else {
        for (int h = 0; h < 2; h++) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            amx_rows32(KB, A0, sa, W, h);
            float *T0 = T + 32 * h, *T1 = T0 + (size_t)16 * rs;
            _tile_stored(0, T0, st);
            _tile_stored(1, T0 + 16, st);
            _tile_stored(2, T1, st);
            _tile_stored(3, T1 + 16, st);
        }
    }
    if (!direct) amx_write(mr, nc, S, accumulate, C0, ldc);
}

AMX_TARGET void elmo_gemm_amx(int M, int N, int K, const uint16_t *A, int lda, const uint16_t *P,
                              int accumulate, float *C, int ldc) {
    amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) {
        cfg.rows[i] = 16;
        cfg.colsb[i] = 64;
    }
    _tile_loadconfig(&cfg);
    float S[32 * AMX_PANEL] __attribute__((aligned(64)));
    const int KB = up(K, AMX_KB) / AMX_KB, sa = (int)sizeof(uint16_t) * lda;
    for (int n0 = 0; n0 < N; n0 += AMX_PANEL) {
        const uint16_t *W = P + (size_t)(n0 / AMX_PANEL) * KB * 4 * AMX_TILE_ELEMS;
        int nc = N - n0 < AMX_PANEL ? N - n0 : AMX_PANEL;
        /* blocks of 32 rows, and one of 16 where no more are left */
        for (int m0 = 0; m0 < M;) {
            int mr = M - m0 > 16 ? (M - m0 < 32 ? M - m0 : 32) : M - m0;
            amx_block(mr, nc, KB, A + (size_t)m0 * lda, sa, W, accumulate,
                      C + (size_t)m0 * ldc + n0, ldc, S);
            m0 += mr;
        }
    }
    _tile_release();
}

#else

int elmo_amx_usable(void) { return 0; }

void elmo_gemm_amx(int M, int N, int K, const uint16_t *A, int lda, const uint16_t *P,
                   int accumulate, float *C, int ldc) {
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)P, (void)accumulate, (void)C, (void)ldc;
}

#endif
