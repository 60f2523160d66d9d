/*
 * test_crash.c: crash safety. `elmo train` and `elmo embed` are killed with SIGKILL at random
 * moments, some deliberately while a checkpoint or the output is being written, and what is
 * on disk is checked after every kill:
 *  - train (--checkpoint-every 1, a model whose checkpoint takes a while to write):
 *    checkpoint.bin, when there, reads with every section's CRC valid and its step never goes
 *    back; weights.hdf5 + options.json load as a model, softmax.hdf5 and vocab.txt load; the
 *    next trial resumes from it (--resume) and must not fail; after the last kill a final
 *    --resume runs to the end, and its checkpoint is bit-identical to the one of a run that
 *    was never killed (nothing was lost or changed by the kills);
 *  - embed (over an existing complete output): the output is either the previous complete
 *    file or the new complete one (every line's dataset and sentence_to_index), never partial.
 * Stale temporary files of killed runs are removed by the next run (elmo_atomic_begin).
 *
 * Trial counts: ELMO_CRASH_TRAIN (default 6) and ELMO_CRASH_EMBED (default 4) kills, of an
 * embed of ELMO_CRASH_EMBED_LINES lines (default 1000); ELMO_CRASH_SEED seeds the kill times.
 * scripts/crash_trials.sh runs many more.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/checkpoint.h"
#include "io/h5io.h"
#include "testutil.h"
#include "io/util.h"
#include "train/vocab.h"

/* A model whose checkpoint (~6 MB) and export take a good part of each step. */
static const char *crash_opts =
    "{\"lstm\": {\"dim\": 256, \"projection_dim\": 64, \"n_layers\": 2, \"cell_clip\": 3, "
    "\"proj_clip\": 3, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": "
    "16}, "
    "\"filters\": [[1, 32], [2, 32], [3, 64], [4, 128]], \"n_highway\": 1, "
    "\"n_characters\": 261, \"max_characters_per_token\": 20, \"activation\": \"relu\"}, "
    "\"dropout\": 0.1, \"n_negative_samples_batch\": 16}";

static int env_int(const char *name, int dflt) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

static uint64_t g_rng = 88172645463325252ULL;
static double uniform(void) { /* xorshift64 */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * 0x1.0p-53;
}

static void sleep_ms(double ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - 1000 * (long)(ms / 1000)) * 1e6)};
    nanosleep(&ts, NULL);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static pid_t spawn(const char *args) {
    char *cmd;
    if (asprintf(&cmd, "exec '%s' %s >/dev/null 2>>'%s'", ELMO_CLI, args,
                 tmpfile_path("crash_stderr.txt")) < 0)
        abort();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    return pid;
}

/* Temporary files of process pid in dir whose names start with prefix (e.g. "checkpoint.bin"). */
static int tmp_exists(const char *dir, const char *prefix, pid_t pid) {
    char name[256];
    snprintf(name, sizeof name, "%s.tmp.%ld", prefix, (long)pid);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static int count_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* Kill pid after delay_ms, or as soon as `watch` (a temporary file of it in dir) appears plus
 * a random 0-15 ms when watch is not NULL. Returns 1 if it was killed, 0 if it had exited
 * (with *status). */
static int kill_at(pid_t pid, double delay_ms, const char *dir, const char *watch, int *status) {
    double t0 = now_ms();
    for (;;) {
        if (waitpid(pid, status, WNOHANG) == pid) return 0;
        if (watch ? tmp_exists(dir, watch, pid) : now_ms() - t0 >= delay_ms) break;
        if (now_ms() - t0 > 120000) break; /* never waits forever */
        sleep_ms(watch ? 0.2 : 1);
    }
    if (watch) sleep_ms(15 * uniform());
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
}

static const char *train_args(const char *dir, int max_steps, int resume) {
    static char args[4096];
    snprintf(args, sizeof args,
             "train --options '%s' --vocab '%s' --train '%s' --save-dir '%s' --batch-size 2 "
             "--unroll-steps 10 --seed 3 --threads 1 --checkpoint-every 1 --max-steps %d%s",
             tmpfile_path("crash_options.json"), fixture("bilm-tf/train/vocab.txt"),
             fixture("bilm-tf/train/data.txt"), dir, max_steps, resume ? " --resume" : "");
    return args;
}

static int64_t ckpt_step(const elmo_ckpt *ck) {
    const char *d;
    assert_int_equal(elmo_ckpt_get(ck, "meta", SIZE_MAX, &d, NULL), ELMO_OK);
    int64_t step;
    memcpy(&step, d, sizeof step); /* ckpt_meta starts with the step */
    return step;
}

/* What a killed training run left must be whole. Returns the checkpoint's step (-1: none). */
static int64_t check_train_dir(const char *dir, int64_t last_step) {
    char p[1024];
    int64_t step = -1;
    snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
    if (access(p, F_OK) == 0) {
        elmo_ckpt ck;
        if (elmo_ckpt_read(p, "ELMOCKPT", 1, &ck) != ELMO_OK)
            fail_msg("after a kill: %s", elmo_last_error());
        step = ckpt_step(&ck);
        elmo_ckpt_free(&ck);
        if (step < last_step)
            fail_msg("the checkpoint went back from step %lld to %lld", (long long)last_step,
                     (long long)step);
    } else if (last_step >= 0) {
        fail_msg("the checkpoint of step %lld disappeared", (long long)last_step);
    }
    snprintf(p, sizeof p, "%s/weights.hdf5", dir);
    if (access(p, F_OK) == 0) {
        elmo_model *m;
        if (elmo_model_load_dir(dir, &m) != ELMO_OK)
            fail_msg("after a kill, the model: %s", elmo_last_error());
        elmo_model_free(m);
    }
    snprintf(p, sizeof p, "%s/softmax.hdf5", dir);
    if (access(p, F_OK) == 0) {
        float *w;
        int rank;
        uint64_t dims[4];
        if (elmo_h5_read(p, "softmax/W", &w, &rank, dims) != ELMO_OK)
            fail_msg("after a kill: %s", elmo_last_error());
        free(w);
    }
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    if (access(p, F_OK) == 0) {
        elmo_vocab *v;
        if (elmo_vocab_load(p, &v) != ELMO_OK) fail_msg("after a kill: %s", elmo_last_error());
        assert_int_equal(elmo_vocab_size(v), 32);
        elmo_vocab_free(v);
    }
    return step;
}

static void test_kill_train(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    int trials = env_int("ELMO_CRASH_TRAIN", 6);
    write_file(tmpfile_path("crash_options.json"), crash_opts, strlen(crash_opts));
    char dir[600];
    snprintf(dir, sizeof dir, "%s/crash_train", tmpdir());
    const int BIG = 1000000; /* the killed chain never reaches it */
    int killed = 0, survived = 0, in_ckpt = 0, in_export = 0, before_first = 0, stale = 0;
    int64_t last = -1;
    double t_all = now_ms();
    for (int t = 0; t < trials; t++) {
        /* a third killed while checkpoint.bin is written, a third while the model is exported,
         * a third at a random moment (some before the first checkpoint) */
        const char *watch = t % 3 == 0 ? "checkpoint.bin" : t % 3 == 1 ? "weights.hdf5" : NULL;
        double delay = 30 + 1500 * uniform();
        stale += count_tmp(dir);
        pid_t pid = spawn(train_args(dir, BIG, t > 0));
        int st;
        if (!kill_at(pid, delay, dir, watch, &st)) {
            char *e = read_text(tmpfile_path("crash_stderr.txt"), NULL);
            fail_msg("trial %d: elmo train exited (status %d) before the kill: %s", t, st,
                     e ? e : "");
        }
        killed++;
        in_ckpt += tmp_exists(dir, "checkpoint.bin", pid);
        in_export += tmp_exists(dir, "weights.hdf5", pid) || tmp_exists(dir, "softmax.hdf5", pid) ||
                     tmp_exists(dir, "options.json", pid) || tmp_exists(dir, "vocab.txt", pid);
        int64_t step = check_train_dir(dir, last);
        before_first += step < 0;
        last = step;
        survived++;
    }
    /* the last resume runs to the end: the same state as a run never killed */
    int64_t end = (last > 0 ? last : 0) + 3;
    char *err = NULL;
    if (run_elmo(train_args(dir, (int)end, 1), NULL, &err)) fail_msg("final --resume: %s", err);
    free(err);
    assert_int_equal(count_tmp(dir), 0); /* the stale temporaries were removed */
    char ref[600];
    snprintf(ref, sizeof ref, "%s/crash_ref", tmpdir());
    if (run_elmo(train_args(ref, (int)end, 0), NULL, &err)) fail_msg("reference run: %s", err);
    free(err);
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/checkpoint.bin", dir);
    snprintf(b, sizeof b, "%s/checkpoint.bin", ref);
    assert_same_checkpoint(a, b, "from the run never killed");
    print_message(
        "crash trials, train: %d killed, %d survived (%d during a checkpoint write, %d during "
        "the model export, %d before the first checkpoint), %d stale temporaries removed; "
        "resumed to step %lld bit-identical to an uninterrupted run (%.1f s)\n",
        killed, survived, in_ckpt, in_export, before_first, stale, (long long)end,
        (now_ms() - t_all) / 1e3);
}

/* Datasets of an embed output: -1 when it does not open, else the number of sentence
 * datasets, with sentence_to_index required. */
static long embed_output_lines(const char *path) {
    elmo_h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    H5G_info_t gi;
    long n = -1;
    if (H5Gget_info(f, &gi) >= 0 && H5Lexists(f, "sentence_to_index", H5P_DEFAULT) > 0)
        n = (long)gi.nlinks - 1;
    H5Fclose(f);
    return n;
}

static void test_kill_embed(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    int trials = env_int("ELMO_CRASH_EMBED", 4);
    const long N = env_int("ELMO_CRASH_EMBED_LINES", 1000);
    const char *in = tmpfile_path("crash_lines.txt");
    FILE *f = fopen(in, "wb");
    assert_non_null(f);
    for (long i = 0; i < N; i++)
        fprintf(f, "line %ld : the quick brown fox jumps over the lazy dog %ld times .\n", i,
                i * 7);
    fclose(f);
    const char *out = tmpfile_path("crash_embed.hdf5");
    char args[2048];
    snprintf(args, sizeof args,
             "embed --options '%s' --weights '%s' --input '%s' --output '%s' --threads 1",
             fixture("bilm-tf/model/options.json"), fixture("bilm-tf/model/lm_weights.hdf5"), in,
             out);
    /* a complete output first, and how long a run takes */
    double t0 = now_ms();
    char *err = NULL;
    if (run_elmo(args, NULL, &err)) fail_msg("elmo embed: %s", err);
    free(err);
    double run_ms = now_ms() - t0;
    assert_int_equal(embed_output_lines(out), N);
    int killed = 0, survived = 0, finished = 0, absent = 0, over = 0;
    for (int t = 0; t < trials; t++) {
        /* trials 0, 1 of every 4 start over a complete output (it must still be there and
         * complete after the kill), trials 2, 3 without one (absent or complete after) */
        if ((t / 2) % 2) {
            unlink(out);
        } else if (access(out, F_OK) != 0) {
            if (run_elmo(args, NULL, &err)) fail_msg("elmo embed: %s", err);
            free(err);
            err = NULL;
        }
        int had = access(out, F_OK) == 0;
        over += had;
        pid_t pid = spawn(args);
        int st;
        /* odd trials near the end of a run (the last datasets, sentence_to_index, the rename) */
        double at = t % 2 ? run_ms * (0.85 + 0.2 * uniform()) : run_ms * (0.05 + 0.8 * uniform());
        if (kill_at(pid, at, NULL, NULL, &st))
            killed++;
        else
            finished++;
        long n = embed_output_lines(out);
        if (access(out, F_OK) != 0) {
            if (had) fail_msg("trial %d: the previous complete output disappeared", t);
            absent++;
        } else if (n != N) {
            fail_msg("trial %d: the output is not complete (%ld of %ld lines)", t, n, N);
        }
        survived++;
    }
    /* the next run removes the killed runs' temporary files */
    if (run_elmo(args, NULL, &err)) fail_msg("elmo embed: %s", err);
    free(err);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", tmpdir());
    int left = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "crash_embed.hdf5.tmp.", 21) == 0) left++;
    if (d) closedir(d);
    assert_int_equal(left, 0);
    print_message(
        "crash trials, embed: %d killed, %d survived (%d over a previous complete output, "
        "%d left no output, %d finished before the kill); one run %.0f ms\n",
        killed, survived, over, absent, finished, run_ms);
}

int main(void) {
    const char *seed = getenv("ELMO_CRASH_SEED");
    if (seed && *seed) g_rng = strtoull(seed, NULL, 10) | 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_train),
        cmocka_unit_test(test_kill_embed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
