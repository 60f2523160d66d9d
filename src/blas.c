/* blas.c: BLAS thread control and core-type check. */
#include "blas.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);

void elmo_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int elmo_blas_get_threads(void) { return openblas_get_num_threads(); }

const char *elmo_blas_core(void) { return openblas_get_corename(); }

const char *elmo_blas_better_coretype(void) {
    if (getenv("OPENBLAS_CORETYPE")) return NULL;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const char *core = openblas_get_corename();
    if (!core) return NULL;
    static const char *avx512_cores[] = {"skylakex", "cooperlake", "sapphirerapids", NULL};
    static const char *avx2_cores[] = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", NULL};
    const char *want = NULL, **good = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
        want = "SkylakeX";
        good = avx512_cores;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        want = "Haswell";
        good = avx2_cores;
    }
    if (!want) return NULL;
    for (int i = 0; good[i]; i++)
        if (strcasecmp(core, good[i]) == 0) return NULL;
    return want;
#else
    return NULL;
#endif
}

void elmo_blas_fix_coretype(char **argv) {
    if (getenv("ELMO_NO_BLAS_FIX")) return;
    const char *core = elmo_blas_better_coretype();
    if (!core) return;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || n >= (ssize_t)sizeof self - 1 || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
    self[n] = 0;
    execv(self, argv); /* the real path, with the same argv: the process keeps its name */
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the slower kernels */
}
