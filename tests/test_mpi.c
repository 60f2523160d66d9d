/*
 * test_mpi.c: data parallelism under mpirun (built only with MPI; see src/io/dist.h).
 *  - `mpirun -np 2 elmo train` with a global batch of B rows (B/2 per rank) ends with the
 *    same parameters as one process with batch B: max abs difference <= 1e-5 over every
 *    parameter, accumulator and carried state of the checkpoint; the data position and the
 *    generators are identical (B = 4 sampled softmax, and B = 5 split 3 + 2, full softmax);
 *  - a 2-rank run stopped and resumed with 2 ranks is bit-identical to an uninterrupted one;
 *    resuming it with 1 or 3 processes is refused with a clear message;
 *  - `mpirun -np 2 elmo embed` writes one file whose datasets (every one, bitwise) and
 *    sentence_to_index equal the single-process output; --stateful is refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "io/checkpoint.h"
#include "io/h5io.h"
#include "testutil.h"
#include "io/util.h"

static const char *tiny_opts = TINY_TRAIN_OPTIONS;

static char g_launch[1024]; /* mpiexec and its flags */

/* `mpiexec -np N elmo ARGS`; returns the exit status, stderr in *err when err != NULL */
static int run_mpi(int np, const char *args, char **err) {
    const char *errp = tmpfile_path("mpi_stderr.txt");
    char *cmd;
    /* a sanitizer build: Open MPI's own allocations alive at exit are not ours to report */
    if (asprintf(&cmd,
                 "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" %s -np %d '%s' %s "
                 "< /dev/null > /dev/null 2> '%s'",
                 g_launch, np, ELMO_CLI, args, errp) < 0)
        abort();
    int st = system(cmd);
    free(cmd);
    char *e = read_text(errp, NULL);
    if (e && (strstr(e, "ERROR: AddressSanitizer") || strstr(e, "runtime error:")))
        fail_msg("sanitizer report from `mpiexec -np %d elmo %.200s`:\n%s", np, args, e);
    if (err)
        *err = e;
    else
        free(e);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(int np, const char *args, char **err) {
    return np == 1 ? run_elmo(args, NULL, err) : run_mpi(np, args, err);
}

static int train(int np, const char *dir, const char *extra, char **err) {
    const char *op = tmpfile_path("tiny_options.json");
    write_file(op, tiny_opts, strlen(tiny_opts));
    char args[2048];
    snprintf(args, sizeof args,
             "train --options '%s' --vocab '%s' --train '%s' --save-dir '%s' --unroll-steps 10 "
             "--seed 7 --log-every 5 %s",
             op, fixture("bilm-tf/train/vocab.txt"), fixture("bilm-tf/train/data.txt"), dir, extra);
    return run(np, args, err);
}

static const char *state_sections[] = {"params",     "adagrad",           "softmax_W",
                                       "softmax_b",  "adagrad_softmax_W", "adagrad_softmax_b",
                                       "lstm_states"};
static const char *exact_sections[] = {"rng", "rng_sampler", "data_forward", "data_backward"};

/* max abs difference over the float sections of two checkpoints (the exact ones must match) */
static double ckpt_max_diff(const char *a, const char *b, int print) {
    elmo_ckpt x, y;
    assert_int_equal(elmo_ckpt_read(a, "ELMOCKPT", 1, &x), ELMO_OK);
    assert_int_equal(elmo_ckpt_read(b, "ELMOCKPT", 1, &y), ELMO_OK);
    double worst = 0;
    for (size_t i = 0; i < sizeof state_sections / sizeof *state_sections; i++) {
        const char *da, *db;
        size_t na, nb;
        assert_int_equal(elmo_ckpt_get(&x, state_sections[i], SIZE_MAX, &da, &na), ELMO_OK);
        assert_int_equal(elmo_ckpt_get(&y, state_sections[i], SIZE_MAX, &db, &nb), ELMO_OK);
        assert_int_equal(na, nb);
        /* sections are not aligned: copy */
        float *fa = malloc(na + 1), *fb = malloc(nb + 1);
        memcpy(fa, da, na);
        memcpy(fb, db, nb);
        cmp_result r = allclose(fa, fb, na / sizeof(float), 0, 0);
        free(fa);
        free(fb);
        if (print)
            print_message("  %-18s %6zu values, max abs difference %.3g\n", state_sections[i],
                          na / sizeof(float), r.max_abs);
        worst = fmax(worst, r.max_abs);
    }
    for (size_t i = 0; i < sizeof exact_sections / sizeof *exact_sections; i++) {
        const char *da, *db;
        size_t na, nb;
        assert_int_equal(elmo_ckpt_get(&x, exact_sections[i], SIZE_MAX, &da, &na), ELMO_OK);
        assert_int_equal(elmo_ckpt_get(&y, exact_sections[i], SIZE_MAX, &db, &nb), ELMO_OK);
        assert_int_equal(na, nb);
        if (memcmp(da, db, na) != 0) fail_msg("section %s differs", exact_sections[i]);
    }
    elmo_ckpt_free(&x);
    elmo_ckpt_free(&y);
    return worst;
}

static void check_equivalence(const char *name, const char *extra, int K) {
    char one[512], two[512], ex[512], p1[600], p2[600];
    snprintf(one, sizeof one, "%s/%s_1", tmpdir(), name);
    snprintf(two, sizeof two, "%s/%s_2", tmpdir(), name);
    snprintf(ex, sizeof ex, "--max-steps %d %s", K, extra);
    char *err = NULL;
    if (train(1, one, ex, &err)) fail_msg("one process: %s", err);
    free(err);
    if (train(2, two, ex, &err)) fail_msg("mpirun -np 2: %s", err);
    free(err);
    snprintf(p1, sizeof p1, "%s/checkpoint.bin", one);
    snprintf(p2, sizeof p2, "%s/checkpoint.bin", two);
    print_message("%s, %d steps: 2 ranks vs 1 process\n", extra, K);
    double d = ckpt_max_diff(p1, p2, 1);
    assert_true(d <= 1e-5);
    /* the exported model too (written by rank 0) */
    snprintf(p1, sizeof p1, "%s/softmax.hdf5", one);
    snprintf(p2, sizeof p2, "%s/softmax.hdf5", two);
    float *a, *b;
    int ra, rb;
    uint64_t da[4], db[4];
    assert_int_equal(elmo_h5_read(p1, "softmax/W", &a, &ra, da), ELMO_OK);
    assert_int_equal(elmo_h5_read(p2, "softmax/W", &b, &rb, db), ELMO_OK);
    assert_int_equal(da[0] * da[1], db[0] * db[1]);
    assert_true(allclose(b, a, da[0] * da[1], 1e-5, 0).ok);
    free(a);
    free(b);
    /* rank 0 alone logs: one line per logged step, with the ranks */
    snprintf(p2, sizeof p2, "%s/metrics.jsonl", two);
    char *m = read_text(p2, NULL);
    assert_non_null(m);
    int lines = 0;
    for (char *q = m; (q = strchr(q, '\n')); q++) lines++;
    assert_int_equal(lines, K / 5);
    assert_non_null(strstr(m, "\"ranks\": 2"));
    free(m);
}

static void test_train_equivalence(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    /* B = 4: 2 + 2 rows, 16 sampled candidates of 32 words, dropout 0.1, 1 thread per rank */
    check_equivalence("even", "--batch-size 4 --threads 1", 40);
    /* B = 5: 3 + 2 rows, the full softmax (dense gradient rows), 2 threads per rank */
    check_equivalence("uneven", "--batch-size 5 --full-softmax --threads 2", 30);
}

static void test_resume(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    char ref[512], res[512], p1[600], p2[600];
    snprintf(ref, sizeof ref, "%s/resume_ref", tmpdir());
    snprintf(res, sizeof res, "%s/resume_2", tmpdir());
    char *err = NULL;
    if (train(2, ref, "--batch-size 4 --max-steps 40 --checkpoint-every 20", &err))
        fail_msg("%s", err);
    free(err);
    if (train(2, res, "--batch-size 4 --max-steps 20 --checkpoint-every 20", &err))
        fail_msg("%s", err);
    free(err);
    /* another number of processes: refused, the checkpoint untouched */
    assert_int_not_equal(train(1, res, "--batch-size 4 --max-steps 40 --resume", &err), 0);
    assert_non_null(strstr(err, "written by a run of 2 processes, this run has 1"));
    assert_non_null(strstr(err, "mpirun -np 2"));
    print_message("1 process resuming a 2-rank checkpoint: %s", err);
    free(err);
    assert_int_not_equal(train(3, res, "--batch-size 4 --max-steps 40 --resume", &err), 0);
    assert_non_null(strstr(err, "this run has 3"));
    free(err);
    if (train(2, res, "--batch-size 4 --max-steps 40 --checkpoint-every 20 --resume", &err))
        fail_msg("--resume with 2 ranks: %s", err);
    free(err);
    snprintf(p1, sizeof p1, "%s/checkpoint.bin", ref);
    snprintf(p2, sizeof p2, "%s/checkpoint.bin", res);
    assert_true(ckpt_max_diff(p1, p2, 0) == 0);
    print_message(
        "2 ranks, stopped at step 20 and resumed: bit-identical to the uninterrupted run\n");
}

/* ---- embedding */
static void write_sentences(const char *path) {
    static const char *words[] = {
        "neural",   "language",    "models",     "use",        "continuous", "the",
        "of",       ",",           ".",          "embeddings", "curse",      "dimensionality",
        "networks", "Caf\xc3\xa9", "vocabulary", "words",      "(",          ")"};
    elmo_strbuf b = {0};
    elmo_rng r;
    elmo_rng_seed(&r, 5);
    for (int i = 0; i < 90; i++) {
        int n = i == 17 ? 0 : 1 + (int)elmo_rng_below(&r, 30);
        if (i == 40) n = 120; /* one long line */
        for (int k = 0; k < n; k++) {
            const char *w = words[elmo_rng_below(&r, sizeof words / sizeof *words)];
            if (k) elmo_strbuf_add(&b, " ", 1);
            elmo_strbuf_add(&b, w, strlen(w));
        }
        if (i == 60) elmo_strbuf_add(&b, "\nthe same line\nthe same line", 28); /* duplicates */
        elmo_strbuf_add(&b, "\n", 1);
    }
    write_file(path, b.p, b.n);
    elmo_strbuf_free(&b);
}

static int embed(int np, const char *in, const char *out, const char *extra, char **err) {
    char args[2048];
    snprintf(args, sizeof args, "embed --options '%s' --weights '%s' --input '%s' --output '%s' %s",
             fixture("allennlp-elmo/options.json"), fixture("allennlp-elmo/lm_weights.hdf5"), in,
             out, extra);
    return run(np, args, err);
}

static void check_same_embeddings(const char *a, const char *b, int n_lines) {
    for (int i = 0; i < n_lines; i++) {
        char name[32];
        snprintf(name, sizeof name, "%d", i);
        float *x, *y;
        int rx, ry;
        uint64_t dx[4], dy[4];
        assert_int_equal(elmo_h5_read(a, name, &x, &rx, dx), ELMO_OK);
        assert_int_equal(elmo_h5_read(b, name, &y, &ry, dy), ELMO_OK);
        assert_int_equal(rx, ry);
        size_t n = 1;
        for (int k = 0; k < rx; k++) {
            assert_int_equal(dx[k], dy[k]);
            n *= dx[k];
        }
        if (n && memcmp(x, y, sizeof(float) * n) != 0) fail_msg("dataset %s differs", name);
        free(x);
        free(y);
    }
    char *sa, *sb;
    assert_int_equal(elmo_h5_read_string(a, "sentence_to_index", &sa), ELMO_OK);
    assert_int_equal(elmo_h5_read_string(b, "sentence_to_index", &sb), ELMO_OK);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
    /* no dataset beyond the lines */
    char name[32];
    float *x;
    int rx;
    uint64_t dx[4];
    snprintf(name, sizeof name, "%d", n_lines);
    assert_int_not_equal(elmo_h5_read(b, name, &x, &rx, dx), ELMO_OK);
}

static void test_embed(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *in = tmpfile_path("mpi_sentences.txt");
    write_sentences(in);
    int n_lines = 92;
    const char *settings[] = {"--batch-size 3 --threads 1", /* bucketed windows of 48 lines */
                              "--batch-size 4 --bucket 0 --layers top", /* file order */
                              "--batch-size 64 --layers average"};      /* 2 batches, one each */
    for (size_t k = 0; k < sizeof settings / sizeof *settings; k++) {
        const char *one = tmpfile_path("mpi_embed_1.hdf5"), *two = tmpfile_path("mpi_embed_2.hdf5");
        char *err = NULL;
        if (embed(1, in, one, settings[k], &err)) fail_msg("one process: %s", err);
        free(err);
        if (embed(2, in, two, settings[k], &err)) fail_msg("mpirun -np 2: %s", err);
        free(err);
        check_same_embeddings(one, two, n_lines);
        print_message("embed %s: mpirun -np 2 output identical to one process (%d datasets + "
                      "sentence_to_index)\n",
                      settings[k], n_lines);
    }
    /* --stateful needs the batches in sequence: refused */
    char *err = NULL;
    assert_int_not_equal(embed(2, in, tmpfile_path("mpi_stateful.hdf5"), "--stateful", &err), 0);
    assert_non_null(strstr(err, "--stateful"));
    free(err);
    assert_false(elmo_file_exists(tmpfile_path("mpi_stateful.hdf5")));
}

int main(void) {
    /* Open MPI refuses to run as root without these (containers, CI) */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    /* containers often forbid the cross-process memory copy of Open MPI's shared-memory
     * transport (process_vm_readv); the plain copy works everywhere */
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
    const char *mpiexec = getenv("ELMO_MPIEXEC") ? getenv("ELMO_MPIEXEC") : ELMO_MPIEXEC;
    /* Open MPI: more ranks than cores is fine here (--oversubscribe) */
    char probe[1200], line[256] = "";
    snprintf(probe, sizeof probe, "'%s' --version 2>&1", mpiexec);
    FILE *f = popen(probe, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        pclose(f);
    }
    snprintf(g_launch, sizeof g_launch, "'%s'%s", mpiexec,
             strstr(line, "Open MPI") || strstr(line, "OpenRTE") ? " --oversubscribe" : "");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_equivalence),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_embed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
