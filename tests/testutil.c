/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/h5io.h"
#include "core/options.h"
#include "io/params.h"
#include "core/random_weights.h"
#include "io/util.h"

const char *fixture(const char *rel) {
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 1024, "%s/%s", ELMO_FIXTURES, rel);
    return b;
}

int fixtures_available(void) { return access(fixture("bilm-tf/model/options.json"), R_OK) == 0; }

static char g_tmp[256];

const char *fixture_model_dir(void) {
    static char dir[600];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/fixture_model", tmpdir());
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "mkdir -p '%s' && ln -sf '%s' '%s/options.json' && ln -sf '%s' '%s/weights.hdf5'",
                 dir, fixture("allennlp-elmo/options.json"), dir,
                 fixture("allennlp-elmo/lm_weights.hdf5"), dir);
        if (system(cmd) != 0) fail_msg("cannot make %s", dir);
    }
    return dir;
}

static void rm_tmp(void) {
    if (g_tmp[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        if (system(cmd)) {}
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
    if (asprintf(&cmd, "'%s' %s < '%s' > '%s' 2> '%s'", ELMO_CLI, args,
                 in_path ? in_path : "/dev/null", tmpfile_path("stdout.txt"), errp) < 0)
        abort();
    int st = system(cmd);
    free(cmd);
    /* a sanitizer build (ELMO_SANITIZE): any report of the child fails the test, also on the
     * error paths whose non-zero exit status the caller expects */
    char *e = read_text(errp, NULL);
    if (e && (strstr(e, "ERROR: AddressSanitizer") || strstr(e, "ERROR: LeakSanitizer") ||
              strstr(e, "runtime error:")))
        fail_msg("sanitizer report from `elmo %.200s`:\n%s", args, e);
    if (err)
        *err = e;
    else
        free(e);
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

/* ---- random weights: the library's generator (src/core/random_weights.c) */
void make_random_model(const char *dir, const char *options_json, uint64_t seed) {
    elmo_status s = elmo_random_model_write(dir, options_json, seed);
    if (s) fail_msg("make_random_model(%s): %s", dir, elmo_last_error());
}

void assert_same_checkpoint(const char *a, const char *b, const char *what) {
    elmo_ckpt x, y;
    assert_int_equal(elmo_ckpt_read(a, "ELMOCKPT", 1, &x), ELMO_OK);
    assert_int_equal(elmo_ckpt_read(b, "ELMOCKPT", 1, &y), ELMO_OK);
    const char *names[] = {"params",
                           "adagrad",
                           "softmax_W",
                           "softmax_b",
                           "adagrad_softmax_W",
                           "adagrad_softmax_b",
                           "lstm_states",
                           "rng",
                           "rng_sampler",
                           "data_forward",
                           "data_backward"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *da, *db;
        size_t na, nb;
        assert_int_equal(elmo_ckpt_get(&x, names[i], SIZE_MAX, &da, &na), ELMO_OK);
        assert_int_equal(elmo_ckpt_get(&y, names[i], SIZE_MAX, &db, &nb), ELMO_OK);
        if (na != nb || memcmp(da, db, na) != 0) fail_msg("section %s differs %s", names[i], what);
    }
    elmo_ckpt_free(&x);
    elmo_ckpt_free(&y);
}
