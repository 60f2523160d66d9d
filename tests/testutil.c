/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5io.h"
#include "options.h"
#include "params.h"
#include "util.h"

const char *fixture(const char *rel) {
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 1024, "%s/%s", ELMO_FIXTURES, rel);
    return b;
}

int fixtures_available(void) { return access(fixture("bilm-tf/model/options.json"), R_OK) == 0; }

static char g_tmp[256];

static void rm_tmp(void) {
    if (g_tmp[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        if (system(cmd)) {
        }
    }
}

const char *tmpdir(void) {
    if (!g_tmp[0]) {
        snprintf(g_tmp, sizeof g_tmp, "/tmp/elmo-test-XXXXXX");
        if (!mkdtemp(g_tmp)) {
            perror("mkdtemp");
            abort();
        }
        atexit(rm_tmp);
    }
    return g_tmp;
}

const char *tmpfile_path(const char *name) {
    static char bufs[256][512]; /* rotating: callers may hold many paths at once */
    static int k;
    char *b = bufs[k++ & 255];
    snprintf(b, 512, "%s/%s", tmpdir(), name);
    return b;
}

void write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

char *read_text(const char *path, size_t *len) {
    char *t;
    size_t n;
    if (elmo_read_file(path, (size_t)1 << 30, &t, &n)) return NULL;
    if (len) *len = n;
    return t;
}

int run_elmo(const char *args, const char *in_path, char **err) {
    const char *errp = tmpfile_path("stderr.txt");
    char *cmd;
    if (asprintf(&cmd, "'%s' %s < '%s' > '%s' 2> '%s'", ELMO_CLI, args, in_path ? in_path : "/dev/null",
                 tmpfile_path("stdout.txt"), errp) < 0)
        abort();
    int st = system(cmd);
    free(cmd);
    if (err) *err = read_text(errp, NULL);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

cmp_result allclose(const float *a, const float *e, size_t n, double atol, double rtol) {
    cmp_result r = {0, 0, 1};
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)e[i]);
        if (!(d <= r.max_abs) || isnan(d)) {
            r.max_abs = isnan(d) ? INFINITY : d;
            r.worst = i;
        }
        if (!(d <= atol + rtol * fabs((double)e[i]))) r.ok = 0;
    }
    return r;
}

/* ---- random weights, scaled as the peer's make_weights.py: activations like a trained
 * model's, contracting LSTMs (float rounding stays flat along long sentences) */
static float unif(elmo_rng *r, double lim) { return (float)((2 * elmo_rng_uniform(r) - 1) * lim); }

void make_random_model(const char *dir, const char *options_json, uint64_t seed) {
    mkdir(dir, 0755);
    char *op = elmo_path_join(dir, "options.json"), *wp = elmo_path_join(dir, "weights.hdf5");
    write_file(op, options_json, strlen(options_json));
    elmo_config c;
    assert_int_equal(elmo_config_load(op, &c), ELMO_OK);
    elmo_params p;
    assert_int_equal(elmo_params_alloc(&c, &p), ELMO_OK);
    elmo_rng r;
    elmo_rng_seed(&r, seed);
    int E = c.char_embed_dim, F = c.n_filters, P = c.projection_dim, H = c.lstm_dim;
    for (size_t k = E; k < (size_t)ELMO_NC * E; k++) p.char_embed[k] = unif(&r, 1.0);
    for (int i = 0; i < c.n_banks; i++) {
        int K = c.filter_width[i], n = c.filter_count[i];
        double sd = 1.0 / sqrt(K * E / 3.0);
        for (size_t k = 0; k < (size_t)K * E * n; k++) p.conv_w[i][k] = (float)(sd * elmo_rng_normal(&r));
        for (int k = 0; k < n; k++) p.conv_b[i][k] = unif(&r, 0.1);
    }
    for (int i = 0; i < c.n_highway; i++) {
        for (size_t k = 0; k < (size_t)F * F; k++) {
            p.hw_wc[i][k] = (float)(sqrt(1.0 / F) * elmo_rng_normal(&r));
            p.hw_wt[i][k] = (float)(sqrt(1.0 / F) * elmo_rng_normal(&r));
        }
        for (int k = 0; k < F; k++) {
            p.hw_bc[i][k] = -2.0f + unif(&r, 0.1);
            p.hw_bt[i][k] = unif(&r, 0.1);
        }
    }
    if (c.has_cnn_proj) {
        for (size_t k = 0; k < (size_t)F * P; k++) p.proj_w[k] = (float)(sqrt(1.0 / F) * elmo_rng_normal(&r));
        for (int k = 0; k < P; k++) p.proj_b[k] = unif(&r, 0.1);
    }
    for (int l = 0; l < c.n_layers; l++)
        for (int d = 0; d < 2; d++) {
            double lim = sqrt(3.0 / (P + P));
            for (size_t row = 0; row < (size_t)2 * P; row++)
                for (size_t k = 0; k < (size_t)4 * H; k++)
                    p.lstm_w[d][l][row * 4 * H + k] = unif(&r, lim) * (row < (size_t)P ? 2.5f : 0.5f);
            for (int k = 0; k < 4 * H; k++) p.lstm_b[d][l][k] = unif(&r, 0.5);
            if (c.has_lstm_proj)
                for (size_t k = 0; k < (size_t)H * P; k++) p.lstm_p[d][l][k] = unif(&r, 3.0 * sqrt(3.0 / H));
        }
    assert_int_equal(elmo_weights_write(wp, &c, &p), ELMO_OK);
    elmo_params_free(&p);
    free(op);
    free(wp);
}
