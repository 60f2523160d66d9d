/*
 * test_scalar_mix.c: ELMo's scalar mix (core/scalar_mix.c): values against a direct
 * double-precision computation, and every gradient (w, gamma, layers; with and without layer
 * norm and mask) against central finite differences.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "io/util.h"

#define K 3
#define N 7
#define D 5

static double loss(const float *layers, const uint8_t *mask, const float *w, float gamma, int ln,
                   const float *g) {
    float out[N * D];
    assert_int_equal(elmo_scalar_mix(K, N, D, layers, mask, w, gamma, ln, out), ELMO_OK);
    double l = 0;
    for (int k = 0; k < N * D; k++) l += (double)out[k] * g[k];
    return l;
}

static void direct(const float *layers, const uint8_t *mask, const float *w, double gamma, int ln,
                   double *out) {
    double s[K], z = 0;
    for (int j = 0; j < K; j++) z += s[j] = exp(w[j]);
    memset(out, 0, sizeof(double) * N * D);
    for (int j = 0; j < K; j++) {
        const float *x = layers + j * N * D;
        double mu = 0, var = 0, cnt = 0;
        for (int n = 0; n < N; n++)
            if (!mask || mask[n])
                for (int d = 0; d < D; d++) mu += x[n * D + d], cnt++;
        mu /= cnt;
        for (int n = 0; n < N; n++)
            if (!mask || mask[n])
                for (int d = 0; d < D; d++) var += (x[n * D + d] - mu) * (x[n * D + d] - mu);
        var /= cnt;
        for (int k = 0; k < N * D; k++)
            out[k] += gamma * s[j] / z * (ln ? (x[k] - mu) / sqrt(var + 1e-12) : x[k]);
    }
}

static void test_values_and_gradients(void **state) {
    (void)state;
    elmo_rng r;
    elmo_rng_seed(&r, 7);
    float layers[K * N * D], w[K] = {0.1f, 0.3f, 0.5f}, gamma = 1.1f, g[N * D];
    for (int k = 0; k < K * N * D; k++) layers[k] = 2 * elmo_rng_normal(&r) + 0.5f;
    for (int k = 0; k < N * D; k++) g[k] = elmo_rng_normal(&r);
    uint8_t mask[N] = {1, 1, 1, 0, 1, 1, 0};
    for (int ln = 0; ln < 2; ln++)
        for (int use_mask = 0; use_mask < 2; use_mask++) {
            const uint8_t *m = use_mask ? mask : NULL;
            float out[N * D];
            double want[N * D];
            assert_int_equal(elmo_scalar_mix(K, N, D, layers, m, w, gamma, ln, out), ELMO_OK);
            direct(layers, m, w, gamma, ln, want);
            for (int k = 0; k < N * D; k++) assert_float_equal(out[k], want[k], 1e-5);
            float dw[K] = {0}, dg = 0, dl[K * N * D];
            memset(dl, 0, sizeof dl);
            assert_int_equal(
                elmo_scalar_mix_backward(K, N, D, layers, m, w, gamma, ln, g, dw, &dg, dl),
                ELMO_OK);
            const float h = 1e-2f;
            double worst = 0;
            for (int j = 0; j < K; j++) {
                float wp[K], wm[K];
                memcpy(wp, w, sizeof w);
                memcpy(wm, w, sizeof w);
                wp[j] += h;
                wm[j] -= h;
                double num =
                    (loss(layers, m, wp, gamma, ln, g) - loss(layers, m, wm, gamma, ln, g)) /
                    (2 * h);
                double rel = fabs(num - dw[j]) / fmax(1e-3, fabs(num) + fabs(dw[j]));
                worst = fmax(worst, rel);
            }
            double num =
                (loss(layers, m, w, gamma + h, ln, g) - loss(layers, m, w, gamma - h, ln, g)) /
                (2 * h);
            worst = fmax(worst, fabs(num - dg) / fmax(1e-3, fabs(num) + fabs(dg)));
            for (int k = 0; k < K * N * D; k++) {
                float save = layers[k];
                layers[k] = save + h;
                double lp = loss(layers, m, w, gamma, ln, g);
                layers[k] = save - h;
                double lm = loss(layers, m, w, gamma, ln, g);
                layers[k] = save;
                double nk = (lp - lm) / (2 * h);
                worst = fmax(worst, fabs(nk - dl[k]) / fmax(1e-2, fabs(nk) + fabs(dl[k])));
            }
            print_message("layer_norm %d, mask %d: worst relative gradient error %.2g\n", ln,
                          use_mask, worst);
            assert_true(worst < 2e-3);
        }
}

static void test_bad_args(void **state) {
    (void)state;
    float x[4] = {0}, w[1] = {0}, out[4];
    assert_int_equal(elmo_scalar_mix(0, 1, 4, x, NULL, w, 1, 0, out), ELMO_ERR_ARG);
    assert_non_null(strstr(elmo_last_error(), "invalid arguments"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_gradients),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
