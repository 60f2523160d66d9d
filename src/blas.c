/* blas.c: BLAS thread control. */
#include "blas.h"

void elmo_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int elmo_blas_get_threads(void) { return openblas_get_num_threads(); }
