/*
 * bench_gemm.c: the LSTM's matrix products, OpenBLAS sgemm against elmo_gemm_packed (and its
 * float16-weight variant), single-threaded, cycling through `cells` weight matrices as the
 * LSTM does (so they come from L3 or memory, not L2).
 *
 *   bench_gemm [--cells 4] [--seconds 0.5] [M K N ...]    default: the shapes of the
 *                                                          original and small architectures
 * Prints GFLOP/s and GB/s of weights per shape and kernel, and the max |difference| from
 * OpenBLAS.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blas.h"
#include "gemm.h"
#include "util.h"

typedef struct {
    int M, N, K, cells, kind; /* 0 OpenBLAS, 1 packed, 2 packed f16, 3 row-major */
    float *A, *C, *W[8], *Wp[8];
    uint16_t *W16[8];
} job;

/* 2 MB-aligned and, when THP is in "madvise" mode, backed by huge pages (as the model) */
static float *huge_alloc(size_t bytes) {
    void *p = NULL;
    size_t align = (size_t)2 << 20;
    if (posix_memalign(&p, align, (bytes + align - 1) / align * align)) return NULL;
    if (getenv("BENCH_HUGE")) madvise(p, (bytes + align - 1) / align * align, MADV_HUGEPAGE);
    return p;
}

static void run(job *j) {
    for (int c = 0; c < j->cells; c++) {
        if (j->kind == 0)
            elmo_sgemm(j->M, j->N, j->K, j->A, j->K, j->W[c], j->N, 0.0f, j->C, j->N);
        else if (j->kind == 3)
            elmo_gemm_rm(j->M, j->N, j->K, j->A, j->K, j->W[c], j->N, 0, j->C, j->N);
        else if (j->kind == 1)
            elmo_gemm_packed(j->M, j->N, j->K, j->A, j->K, j->Wp[c], 0, j->C, j->N);
        else
            elmo_gemm_packed_f16(j->M, j->N, j->K, j->A, j->K, j->W16[c], 0, j->C, j->N);
    }
}

int main(int argc, char **argv) {
    elmo_blas_fix_coretype(argv); /* OpenBLAS reads OPENBLAS_CORETYPE when it loads */
    int cells = 4;
    double seconds = 0.5;
    int shapes[64][3], ns = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cells") == 0 && i + 1 < argc) cells = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (i + 2 < argc && ns < 64) {
            shapes[ns][0] = atoi(argv[i]);
            shapes[ns][1] = atoi(argv[i + 1]);
            shapes[ns][2] = atoi(argv[i + 2]);
            ns++;
            i += 2;
        }
    }
    if (cells < 1 || cells > 8) cells = 4;
    if (ns == 0) {
        static const int def[][3] = {
            {1, 512, 16384}, {4, 512, 16384}, {16, 512, 16384}, {32, 512, 16384}, {64, 512, 16384},
            {512, 512, 16384}, {1, 4096, 512}, {16, 4096, 512}, {64, 4096, 512},
            {1, 128, 4096}, {16, 128, 4096}, {64, 128, 4096}, {512, 128, 4096}, {1, 1024, 128},
            {64, 1024, 128}};
        ns = (int)(sizeof def / sizeof *def);
        memcpy(shapes, def, sizeof def);
    }
    elmo_blas_set_threads(1);
    elmo_rng r;
    elmo_rng_seed(&r, 1);
    printf("%-18s %-12s %9s %9s %10s\n", "M x K x N", "kernel", "GFLOP/s", "GB/s W", "max|diff|");
    for (int s = 0; s < ns; s++) {
        job j = {shapes[s][0], shapes[s][2], shapes[s][1], cells, 0, NULL, NULL, {0}, {0}, {0}};
        size_t wn = (size_t)j.K * j.N;
        j.A = elmo_alloc(sizeof(float) * (size_t)j.M * j.K);
        j.C = elmo_alloc(sizeof(float) * (size_t)j.M * j.N);
        float *ref = elmo_alloc(sizeof(float) * (size_t)j.M * j.N);
        for (size_t i = 0; i < (size_t)j.M * j.K; i++) j.A[i] = (float)(2 * elmo_rng_uniform(&r) - 1);
        for (int c = 0; c < cells; c++) {
            j.W[c] = huge_alloc(sizeof(float) * wn);
            j.W16[c] = elmo_alloc(sizeof(uint16_t) * wn);
            for (size_t i = 0; i < wn; i++) j.W[c][i] = (float)(0.1 * (2 * elmo_rng_uniform(&r) - 1));
            j.Wp[c] = huge_alloc(sizeof(float) * wn);
            elmo_pack_panels(j.K, j.N, j.W[c], j.Wp[c]);
            elmo_pack_panels_f16(j.K, j.N, j.W[c], j.W16[c]);
        }
        for (int kind = 0; kind < 4; kind++) {
            j.kind = kind;
            run(&j);
            double best = INFINITY, end = elmo_now() + seconds;
            while (elmo_now() < end) {
                double t = elmo_now();
                run(&j);
                t = elmo_now() - t;
                if (t < best) best = t;
            }
            /* last cell's product vs OpenBLAS (float16: vs OpenBLAS on the rounded weights) */
            double md = 0;
            if (kind == 0) memcpy(ref, j.C, sizeof(float) * (size_t)j.M * j.N);
            else {
                if (kind == 3) elmo_sgemm(j.M, j.N, j.K, j.A, j.K, j.W[cells - 1], j.N, 0.0f, ref, j.N);
                if (kind == 2) {
                    float *w32 = elmo_alloc(sizeof(float) * wn);
                    for (size_t i = 0; i < wn; i++) { /* the rounded weights, row-major */
                        uint16_t h;
                        elmo_f32_to_f16(&j.W[cells - 1][i], &h, 1);
                        elmo_f16_to_f32(&h, &w32[i], 1);
                    }
                    elmo_sgemm(j.M, j.N, j.K, j.A, j.K, w32, j.N, 0.0f, ref, j.N);
                    elmo_free(w32);
                }
                for (size_t i = 0; i < (size_t)j.M * j.N; i++) {
                    double d = fabs((double)j.C[i] - ref[i]);
                    if (d > md) md = d;
                }
            }
            char shape[32];
            snprintf(shape, sizeof shape, "%dx%dx%d", j.M, j.K, j.N);
            double gb = (kind == 2 ? 2.0 : 4.0) * wn * cells / best / 1e9;
            printf("%-18s %-12s %9.1f %9.1f %10.2g\n", shape,
                   kind == 0 ? "openblas" : kind == 1 ? "packed" : kind == 2 ? "packed-f16" : "rowmajor",
                   2.0 * j.M * j.N * j.K * cells / best / 1e9, gb, md);
        }
        for (int c = 0; c < cells; c++) {
            free(j.W[c]);
            free(j.Wp[c]);
            elmo_free(j.W16[c]);
        }
        elmo_free(j.A);
        elmo_free(j.C);
        elmo_free(ref);
    }
    return 0;
}
