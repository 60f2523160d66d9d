/*
 * test_robustness.c: numerical faults and resource limits (the cheap variants of
 * scripts/resource_limits.sh).
 *  - a NaN/Inf in training (--init-from a model whose weights are huge but finite) stops
 *    `elmo train` with a clear message, writes nothing, keeps the last good checkpoint, and
 *    --resume goes on from it;
 *  - an options.json whose dimensions claim terabytes is refused before anything is
 *    allocated (the child's peak memory is measured), and so is a dataset whose shape claims
 *    terabytes, and anything over elmo_set_memory_limit;
 *  - a line with no line break, longer than the limit, is refused with bounded memory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/checkpoint.h"
#include "io/h5io.h"
#include "core/options.h"
#include "io/params.h"
#include "testutil.h"
#include "io/util.h"

/* Run the CLI; returns its exit status, its peak resident memory (KiB) and stderr. */
static int run_measured(const char *args, long *maxrss_kb, char **err) {
    char *cmd;
    if (asprintf(&cmd, "exec '%s' %s > /dev/null 2> '%s'", ELMO_CLI, args,
                 tmpfile_path("m_stderr.txt")) < 0)
        abort();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    int st;
    struct rusage ru;
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    *maxrss_kb = ru.ru_maxrss;
    if (err) *err = read_text(tmpfile_path("m_stderr.txt"), NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *tiny_opts =
    "{\"lstm\": {\"dim\": 16, \"projection_dim\": 8, \"n_layers\": 2, \"cell_clip\": 3, "
    "\"proj_clip\": 3, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": "
    "4}, "
    "\"filters\": [[1, 8], [2, 8], [3, 16]], \"n_highway\": 1, "
    "\"n_characters\": 261, \"max_characters_per_token\": 10, \"activation\": \"tanh\"}, "
    "\"dropout\": 0.1, \"n_negative_samples_batch\": 16}";

static int train(const char *dir, const char *extra, char **err) {
    char args[4096];
    const char *op = tmpfile_path("num_options.json");
    write_file(op, tiny_opts, strlen(tiny_opts));
    snprintf(args, sizeof args,
             "train --options '%s' --vocab '%s' --train '%s' --save-dir '%s' --batch-size 2 "
             "--unroll-steps 5 --seed 5 --checkpoint-every 1 %s",
             op, fixture("bilm-tf/train/vocab.txt"), fixture("bilm-tf/train/data.txt"), dir, extra);
    return run_elmo(args, NULL, err);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    char *t = read_text(from, &n);
    assert_non_null(t);
    write_file(to, t, n);
    free(t);
}

static void test_nan_stops_training(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    char good[600], huge[600], p[800], q[800];
    snprintf(good, sizeof good, "%s/num_good", tmpdir());
    snprintf(huge, sizeof huge, "%s/num_huge", tmpdir());
    char *err = NULL;
    /* a good run: checkpoint at step 3 */
    if (train(good, "--max-steps 3", &err)) fail_msg("training: %s", err);
    free(err);
    snprintf(p, sizeof p, "%s/checkpoint.bin", good);
    size_t n0;
    char *before = read_text(p, &n0);
    assert_non_null(before);
    snprintf(p, sizeof p, "%s/weights.hdf5", good);
    size_t nw0;
    char *wbefore = read_text(p, &nw0);
    /* a model directory with every weight 1e30: finite, but the forward overflows */
    snprintf(p, sizeof p, "mkdir -p '%s'", huge);
    assert_int_equal(system(p), 0);
    snprintf(p, sizeof p, "%s/options.json", good);
    snprintf(q, sizeof q, "%s/options.json", huge);
    copy_file(p, q);
    snprintf(p, sizeof p, "%s/softmax.hdf5", good);
    snprintf(q, sizeof q, "%s/softmax.hdf5", huge);
    copy_file(p, q);
    elmo_config c;
    snprintf(p, sizeof p, "%s/options.json", huge);
    assert_int_equal(elmo_config_load(p, &c), ELMO_OK);
    elmo_params w;
    assert_int_equal(elmo_params_alloc(&c, &w), ELMO_OK);
    for (size_t k = 0; k < w.n; k++) w.mem[k] = 1e30f;
    snprintf(p, sizeof p, "%s/weights.hdf5", huge);
    assert_int_equal(elmo_weights_write(p, &c, &w), ELMO_OK);
    elmo_params_free(&w);
    /* training from it into the good run's directory stops at once, with the reason */
    char extra[1024];
    snprintf(extra, sizeof extra, "--max-steps 6 --force --init-from '%s'", huge);
    int rc = train(good, extra, &err);
    assert_int_not_equal(rc, 0);
    assert_non_null(err);
    print_message("elmo train on huge weights: exit %d: %s", rc, err);
    const char *e = strstr(err, "elmo train: step 1: ");
    assert_non_null(e);
    assert_non_null(strstr(e, "NaN or Inf"));
    assert_true(!strchr(e, '\n') || !strchr(e, '\n')[1]); /* one line, the last */
    free(err);
    /* the last good checkpoint and model are untouched and load */
    snprintf(p, sizeof p, "%s/checkpoint.bin", good);
    size_t n1;
    char *after = read_text(p, &n1);
    assert_non_null(after);
    assert_true(n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
    elmo_ckpt ck;
    assert_int_equal(elmo_ckpt_read(p, "ELMOCKPT", 1, &ck), ELMO_OK);
    elmo_ckpt_free(&ck);
    snprintf(p, sizeof p, "%s/weights.hdf5", good);
    size_t nw1;
    char *wafter = read_text(p, &nw1);
    assert_true(wbefore && wafter && nw0 == nw1 && memcmp(wbefore, wafter, nw0) == 0);
    free(wbefore);
    free(wafter);
    /* and training goes on from it */
    if (train(good, "--max-steps 5 --resume", &err)) fail_msg("--resume after the NaN: %s", err);
    free(err);
    assert_int_equal(elmo_ckpt_read(tmpfile_path("num_good/checkpoint.bin"), "ELMOCKPT", 1, &ck),
                     ELMO_OK);
    const char *d;
    assert_int_equal(elmo_ckpt_get(&ck, "meta", SIZE_MAX, &d, NULL), ELMO_OK);
    int64_t step;
    memcpy(&step, d, sizeof step);
    assert_int_equal(step, 5);
    elmo_ckpt_free(&ck);
}

/* Dimensions of 2^20: the LSTM alone would be terabytes. */
static const char *huge_opts =
    "{\"lstm\": {\"dim\": 1048576, \"projection_dim\": 1048576, \"n_layers\": 16}, "
    "\"char_cnn\": {\"embedding\": {\"dim\": 4096}, \"filters\": [[1, 1048576]], \"n_highway\": "
    "16, "
    "\"max_characters_per_token\": 50}}";

static void test_huge_options_refused(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *op = tmpfile_path("huge_options.json");
    write_file(op, huge_opts, strlen(huge_opts));
    elmo_config c;
    assert_int_equal(elmo_config_load(op, &c), ELMO_ERR_NOMEM);
    assert_non_null(strstr(elmo_last_error(), "huge_options.json"));
    assert_non_null(strstr(elmo_last_error(), "more than the memory available"));
    char args[2048];
    snprintf(args, sizeof args, "embed --options '%s' --weights '%s' --input '%s' --output '%s'",
             op, fixture("bilm-tf/model/lm_weights.hdf5"), fixture("bilm-tf/train/data.txt"),
             tmpfile_path("huge_out.hdf5"));
    long rss;
    char *err = NULL;
    assert_int_not_equal(run_measured(args, &rss, &err), 0);
    print_message("terabyte options: refused with peak RSS %ld KiB: %s", rss, err);
    assert_non_null(strstr(err, "huge_options.json"));
    assert_true(rss < 256 * 1024); /* nothing of the claimed size was allocated */
    free(err);
    /* the same from training */
    snprintf(args, sizeof args,
             "train --options '%s' --vocab '%s' --train '%s' --save-dir '%s' --max-steps 1", op,
             fixture("bilm-tf/train/vocab.txt"), fixture("bilm-tf/train/data.txt"),
             tmpfile_path("huge_train"));
    assert_int_not_equal(run_measured(args, &rss, &err), 0);
    assert_non_null(strstr(err, "more than the memory available"));
    assert_true(rss < 256 * 1024);
    free(err);
}

static void test_huge_dataset_refused(void **state) {
    (void)state;
    /* a tiny HDF5 file whose dataset claims 4 TiB (storage allocated late: nothing written) */
    const char *path = tmpfile_path("huge_dataset.hdf5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t dims[2] = {(hsize_t)1 << 30, 1024};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {1024, 1024};
    H5Pset_chunk(dcpl, 2, chunk);
    H5Gclose(H5Gcreate2(f, "softmax", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hid_t ds = H5Dcreate2(f, "softmax/W", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(ds >= 0);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    float *data = NULL;
    int rank;
    uint64_t d[4];
    assert_int_equal(elmo_h5_read(path, "softmax/W", &data, &rank, d), ELMO_ERR_NOMEM);
    assert_null(data);
    assert_non_null(strstr(elmo_last_error(), "huge_dataset.hdf5"));
    getrusage(RUSAGE_SELF, &r1);
    assert_true(r1.ru_maxrss - r0.ru_maxrss < 64 * 1024);
    print_message("4 TiB dataset: %s\n", elmo_last_error());
}

static void test_memory_limit(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    elmo_model *m;
    elmo_set_memory_limit(64 << 10); /* the fixture model has 450 KB of weights */
    assert_int_equal(elmo_model_load(fixture("bilm-tf/model/options.json"),
                                     fixture("bilm-tf/model/lm_weights.hdf5"), &m),
                     ELMO_ERR_NOMEM);
    assert_non_null(strstr(elmo_last_error(), "options.json"));
    assert_true(elmo_memory_available() == 64 << 10);
    elmo_set_memory_limit(0);
    assert_int_equal(elmo_model_load(fixture("bilm-tf/model/options.json"),
                                     fixture("bilm-tf/model/lm_weights.hdf5"), &m),
                     ELMO_OK);
    elmo_model_free(m);
    assert_true(elmo_memory_available() > (size_t)(64 << 20));
}

/* 80 MB without a line break: over elmo embed's 64 MiB line limit. */
static void test_long_line_refused(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *in = tmpfile_path("long_line.txt");
    FILE *f = fopen(in, "wb");
    assert_non_null(f);
    char block[65536];
    for (size_t i = 0; i < sizeof block; i++) block[i] = i % 7 == 6 ? ' ' : 'a' + (char)(i % 26);
    for (int k = 0; k < 80 * 16; k++)
        assert_int_equal(fwrite(block, 1, sizeof block, f), sizeof block);
    fclose(f);
    char args[2048];
    snprintf(args, sizeof args, "embed --options '%s' --weights '%s' --input '%s' --output '%s'",
             fixture("bilm-tf/model/options.json"), fixture("bilm-tf/model/lm_weights.hdf5"), in,
             tmpfile_path("long_out.hdf5"));
    long rss;
    char *err = NULL;
    assert_int_not_equal(run_measured(args, &rss, &err), 0);
    print_message("80 MB line: refused with peak RSS %ld KiB: %s", rss, err);
    assert_non_null(strstr(err, "long_line.txt:1: line longer than"));
    assert_true(rss < 400 * 1024);
    assert_int_not_equal(access(tmpfile_path("long_out.hdf5"), F_OK), 0);
    free(err);
    unlink(in);
}

/* Under an address-space limit (ulimit -v 200000: 195 MiB) the CLI ends: --help at once,
 * and embed with output or a clean error; no library thread keeps the process from exiting
 * (OpenBLAS's pool once retried a failed allocation forever while exit waited for it). */
static void test_address_space_limit(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ELMO_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(ELMO_TEST_ASAN)
    print_message("skipped: AddressSanitizer reserves terabytes of address space\n");
    skip();
#endif
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ulimit -v 200000; timeout 30 '%s' --help >/dev/null 2>&1", ELMO_CLI);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 0);
    const char *in = tmpfile_path("ulimit_in.txt"), *out = tmpfile_path("ulimit_out.hdf5");
    write_file(in, "The bank raised rates .\nA second line\n", 39);
    snprintf(cmd, sizeof cmd,
             "ulimit -v 200000; timeout 60 '%s' embed --model '%s' --input '%s' --output '%s' "
             "2>/dev/null",
             ELMO_CLI, fixture_model_dir(), in, out);
    rc = system(cmd);
    assert_true(WIFEXITED(rc));
    int code = WEXITSTATUS(rc);
    print_message("elmo embed under ulimit -v 200000: exit %d\n", code);
    assert_true(code == 0 || code == 1); /* 124 would be the timeout: a hang */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_options_refused), cmocka_unit_test(test_huge_dataset_refused),
        cmocka_unit_test(test_memory_limit),         cmocka_unit_test(test_long_line_refused),
        cmocka_unit_test(test_nan_stops_training),   cmocka_unit_test(test_address_space_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
