/*
 * sampler.c: the log-uniform (Zipf) candidate sampler of TF's sampled_softmax_loss with
 * unique = true, as bilm-tf trains with it (see train/grad.h); the sampled softmax itself is
 * in softmax.c.
 */
#include <math.h>

#include "train/grad.h"

double elmo_log_uniform_logq(int V, int k, int tries) {
    double p = (log(k + 2.0) - log(k + 1.0)) / log(V + 1.0);
    return log(-expm1(tries * log1p(-p)));
}

int elmo_sample_log_uniform(elmo_rng *r, int V, int S, int32_t *cand, float *logq, uint8_t *seen) {
    double lv = log(V + 1.0);
    int n = 0, tries = 0;
    while (n < S) {
        int64_t k = (int64_t)floor(exp(elmo_rng_uniform(r) * lv)) - 1;
        if (k < 0) k = 0;
        if (k >= V) k = V - 1;
        tries++;
        if (seen[k]) continue;
        seen[k] = 1;
        cand[n++] = (int32_t)k;
    }
    for (int s = 0; s < S; s++) {
        seen[cand[s]] = 0;
        logq[s] = (float)elmo_log_uniform_logq(V, cand[s], tries);
    }
    return tries;
}
