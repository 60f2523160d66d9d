/*
 * bench_gemm.c: the LSTM's matrix products on each kernel the matrix backend can use: our own
 * float32 kernel (elmo_gemm_rm, row-major weights), oneDNN float32 and oneDNN bfloat16 with
 * prepared weights (elmo_mat), our own AMX bfloat16 kernel (elmo_gemm_amx, what bfloat16
 * runs on where the CPU has AMX; the oneDNN row is then made with ELMO_MATMUL=dnnl), our own int8-weight kernel (elmo_gemm_q8, INT8's per-step
 * products; single-threaded like ours), cycling through `cells` weight matrices as the LSTM does (so
 * they come from L3 or memory, not L2).
 *
 *   bench_gemm [--cells 4] [--seconds 0.5] [--threads 1] [M K N ...]
 *       default shapes: those of the original and small architectures
 * Prints GFLOP/s and GB/s of weights per shape and kernel, what ran (oneDNN's implementation
 * name, our kernel's ISA), and the max |difference| from our float32 kernel.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "io/util.h"

enum { OWN, DNNL_F32, DNNL_BF16, OWN_AMX, OWN_INT8, N_KINDS };
static const char *const kind_name[N_KINDS] = {"own-f32", "onednn-f32", "onednn-bf16", "own-amx",
                                               "own-int8w"};

typedef struct {
    int M, N, K, cells, kind;
    float *A, *C, *W[8];
    elmo_mat *mat[N_KINDS][8];
} job;

static void run(job *j) {
    for (int c = 0; c < j->cells; c++) {
        if (j->kind == OWN)
            elmo_gemm_rm(j->M, j->N, j->K, j->A, j->K, j->W[c], j->N, 0, j->C, j->N);
        else
            elmo_mat_mul(j->M, j->A, j->K, j->mat[j->kind][c], 0, j->C, j->N);
    }
}

static double best_of(job *j, double seconds) {
    run(j);
    double best = INFINITY, end = elmo_now() + seconds;
    while (elmo_now() < end) {
        double t = elmo_now();
        run(j);
        t = elmo_now() - t;
        if (t < best) best = t;
    }
    return best;
}

static void bench_shape(int M, int K, int N, int cells, double seconds, elmo_rng *r) {
    job j = {M, N, K, cells, OWN, NULL, NULL, {0}, {{0}}};
    size_t wn = (size_t)K * N, cn = (size_t)M * N;
    j.A = elmo_alloc(sizeof(float) * (size_t)M * K);
    j.C = elmo_alloc(sizeof(float) * cn);
    float *ref = elmo_alloc(sizeof(float) * cn);
    for (size_t i = 0; i < (size_t)M * K; i++) j.A[i] = (float)(2 * elmo_rng_uniform(r) - 1);
    for (int c = 0; c < cells; c++) {
        j.W[c] = elmo_alloc(sizeof(float) * wn);
        for (size_t i = 0; i < wn; i++) j.W[c][i] = (float)(0.1 * (2 * elmo_rng_uniform(r) - 1));
        for (int k = DNNL_F32; k < N_KINDS; k++) {
            /* the backend picks its kernel when a matrix is made: oneDNN for DNNL_BF16 */
            if (k == DNNL_BF16) setenv("ELMO_MATMUL", "dnnl", 1);
            if (k == OWN_AMX) unsetenv("ELMO_MATMUL");
            if (k == OWN_AMX && !elmo_amx_usable()) continue;
            if (k == OWN_INT8
                    ? elmo_mat_convert(j.mat[DNNL_F32][c], ELMO_PRECISION_INT8, &j.mat[k][c])
                    : elmo_mat_new(K, N, j.W[c], N,
                                   k == DNNL_BF16 || k == OWN_AMX ? ELMO_PRECISION_BF16
                                                                  : ELMO_PRECISION_FP32,
                                   &j.mat[k][c])) {
                fprintf(stderr, "bench_gemm: %s\n", elmo_last_error());
                exit(1);
            }
        }
    }
    for (int kind = 0; kind < N_KINDS; kind++) {
        if (kind != OWN && !j.mat[kind][0]) continue;
        j.kind = kind;
        double best = best_of(&j, seconds), md = 0;
        if (kind == OWN) memcpy(ref, j.C, sizeof(float) * cn);
        for (size_t i = 0; i < cn && kind != OWN; i++) md = fmax(md, fabs((double)j.C[i] - ref[i]));
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%d", M, K, N);
        double bytes = (kind == DNNL_BF16 || kind == OWN_AMX ? 2.0
                        : kind == OWN_INT8                   ? 1.0
                                                             : 4.0) *
                       wn * cells;
        printf("%-16s %-12s %9.1f %9.1f %10.2g  %s\n", shape, kind_name[kind],
               2.0 * M * N * K * cells / best / 1e9, bytes / best / 1e9, md,
               kind == OWN ? elmo_gemm_isa() : elmo_mat_impl(j.mat[kind][0]));
    }
    for (int c = 0; c < cells; c++) {
        elmo_free(j.W[c]);
        for (int k = DNNL_F32; k < N_KINDS; k++) elmo_mat_free(j.mat[k][c]);
    }
    elmo_free(j.A);
    elmo_free(j.C);
    elmo_free(ref);
}

int main(int argc, char **argv) {
    int cells = 4, threads = 1, shapes[64][3], ns = 0;
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cells") == 0 && i + 1 < argc)
            cells = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (i + 2 < argc && ns < 64) {
            for (int k = 0; k < 3; k++) shapes[ns][k] = atoi(argv[i + k]);
            ns++;
            i += 2;
        }
    }
    if (cells < 1 || cells > 8) cells = 4;
    if (ns == 0) {
        static const int def[][3] = {{1, 512, 16384},  {4, 512, 16384},   {16, 512, 16384},
                                     {64, 512, 16384}, {256, 512, 16384}, {1, 4096, 512},
                                     {16, 4096, 512},  {64, 4096, 512},   {1, 128, 4096},
                                     {16, 128, 4096},  {64, 128, 4096},   {256, 128, 4096},
                                     {1, 1024, 128},   {64, 1024, 128}};
        ns = (int)(sizeof def / sizeof *def);
        memcpy(shapes, def, sizeof def);
    }
    elmo_mm_set_threads(threads);
    elmo_rng r;
    elmo_rng_seed(&r, 1);
    printf("# %s; own kernel single-threaded, oneDNN %d thread(s)\n", elmo_mm_backend_info(),
           threads);
    printf("%-16s %-12s %9s %9s %10s  %s\n", "M x K x N", "kernel", "GFLOP/s", "GB/s W",
           "max|diff|", "implementation");
    for (int s = 0; s < ns; s++)
        bench_shape(shapes[s][0], shapes[s][1], shapes[s][2], cells, seconds, &r);
    return 0;
}
