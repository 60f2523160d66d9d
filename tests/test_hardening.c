/*
 * test_hardening.c: one test per class of hostile or careless use (issue 15), each through
 * the elmo CLI as a user runs it:
 *  - full disk while an HDF5 file is written (RLIMIT_FSIZE with SIGXFSZ ignored: EFBIG, no
 *    root needed; plus a 2 MB tmpfs when root): a clean error, exit 1, the previous output
 *    kept, no temporary left, no crash in libhdf5's shutdown;
 *  - outputs that are FIFOs or devices (a FIFO, /dev/null, /dev/stdout, /dev/full): written
 *    in place, the node never replaced; write errors reported;
 *  - output paths validated before any work (empty, a directory, a missing directory);
 *  - an output that is also an input (same path, a hard link, a symlink) refused;
 *  - `train --resume` with changed model options refused, the key named, options.json kept;
 *    `train` into a non-empty save directory refused without --resume or --force;
 *  - stdout on a full device: a message and exit 1 (info, ngram --json, classify predict);
 *  - outputs only after everything that can fail (classify train --test with an unseen
 *    label keeps the previous classifier);
 *  - labels that would break the output format (tab, line break) refused, named;
 *  - UTF-8: a BOM skipped by every reader (embed gives the same vectors), invalid UTF-8
 *    refused alike by every command, naming file and line; duplicate JSON keys refused;
 *  - the biLM recorded in a classifier is an absolute path (predict from elsewhere works);
 *  - SIGTERM removes the temporaries of the command it stops;
 *  - memory per text bounded: a text or sentence over the token limit refused, named;
 *  - directory walkers and glob patterns skip FIFOs (no hang);
 *  - errors name the file (empty training file, a single tag).
 * (An address-space limit, `ulimit -v 200000`: test_robustness.)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/h5io.h"
#include "core/options.h"
#include "testutil.h"
#include "io/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- helpers */

/* Run `sh -c script` (ELMO in it is the CLI) with an optional file size limit (bytes, 0 =
 * none) and SIGXFSZ ignored; returns the exit status (128 + signal when killed) and stderr. */
static int run_sh(const char *script, rlim_t fsize, char **err) {
    const char *errp = tmpfile_path("sh_stderr.txt");
    char *cmd;
    if (asprintf(&cmd, "ELMO='%s'; cd '%s' && { %s ; } 2> '%s'", ELMO_CLI, tmpdir(), script, errp) <
        0)
        abort();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG instead */
        if (fsize) {
            struct rlimit rl = {fsize, fsize};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    char *e = read_text(errp, NULL);
    if (e && (strstr(e, "ERROR: AddressSanitizer") || strstr(e, "ERROR: LeakSanitizer") ||
              strstr(e, "runtime error:"))) {
        char msg[8192];
        snprintf(msg, sizeof msg, "%s", e);
        free(e);
        fail_msg("sanitizer report from `%.200s`:\n%s", script, msg);
    }
    if (err)
        *err = e;
    else
        free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void put(const char *name, const char *text) {
    write_file(tmpfile_path(name), text, strlen(text));
}

/* n lines of m words each, into name */
static void put_lines(const char *name, int n, int m) {
    FILE *f = fopen(tmpfile_path(name), "wb");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < m; k++) fprintf(f, "%sword%d", k ? " " : "", (i * 7 + k) % 50);
        fputc('\n', f);
    }
    fclose(f);
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = read_text(a, &na), *y = read_text(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Files of the test directory whose name contains ".tmp." */
static int temporaries_left(const char *dir) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '\\.tmp\\.'", dir);
    return system(cmd) == 0;
}

static void expect_error(int rc, const char *err, const char *needle) {
    if (rc != 1 || !err || !strstr(err, needle))
        fail_msg("expected exit 1 and a message with \"%s\", got exit %d: %s", needle, rc,
                 err ? err : "(no stderr)");
}

static const char *model(void) { return fixture_model_dir(); }

static const char *tiny_opts(const char *lstm_extra, const char *activation) {
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"lstm\": {\"dim\": 16, \"projection_dim\": 8, \"n_layers\": 1, %s}, "
             "\"char_cnn\": {\"embedding\": {\"dim\": 4}, \"filters\": [[1, 8], [2, 8]], "
             "\"n_highway\": 1, \"n_characters\": 261, \"max_characters_per_token\": 10, "
             "\"activation\": \"%s\"}, \"n_negative_samples_batch\": 8}",
             lstm_extra, activation);
    return buf;
}

/* ---- full disk */

static void full_disk_case(const char *dir, rlim_t fsize, const char *how) {
    char script[2048], *err = NULL;
    put_lines("disk_in.txt", 1500, 12); /* ~6 MB of float32 vectors with the fixture model */
    snprintf(script, sizeof script, "printf old > '%s/out.hdf5'", dir);
    assert_int_equal(run_sh(script, 0, NULL), 0);
    snprintf(script, sizeof script,
             "exec \"$ELMO\" embed --model '%s' --input disk_in.txt --output '%s/out.hdf5'",
             model(), dir);
    int rc = run_sh(script, fsize, &err);
    print_message("full disk (%s): exit %d: %s", how, rc, err ? err : "");
    expect_error(rc, err, "out.hdf5");
    free(err);
    char p[1024];
    snprintf(p, sizeof p, "%s/out.hdf5", dir);
    size_t n;
    char *old = read_text(p, &n);
    assert_true(old && n == 3 && memcmp(old, "old", 3) == 0); /* the previous output kept */
    free(old);
    assert_false(temporaries_left(dir));
    /* random-model writes its weights through the same writer */
    put("disk_opts.json", tiny_opts("\"cell_clip\": 3", "relu"));
    snprintf(script, sizeof script,
             "exec \"$ELMO\" random-model --options disk_opts.json --output '%s/rm'", dir);
    rc = run_sh(script, fsize ? 4096 : 0, &err);
    if (fsize) expect_error(rc, err, "weights.hdf5");
    free(err);
}

static void test_full_disk(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    full_disk_case(tmpdir(), 200000, "RLIMIT_FSIZE 200 KB");
}

/* A real full file system: a 2 MB tmpfs, when allowed to mount one (root). */
static char g_mnt[600];
static int umount_tmpfs(void **state) {
    (void)state;
    if (g_mnt[0]) umount(g_mnt);
    g_mnt[0] = 0;
    return 0;
}

static void test_full_disk_tmpfs(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    char mnt[600];
    snprintf(mnt, sizeof mnt, "%s/tmpfs", tmpdir());
    mkdir(mnt, 0755);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0) {
        print_message("full disk on a 2 MB tmpfs: skipped (needs root and CAP_SYS_ADMIN: %s)\n",
                      geteuid() ? "not root" : strerror(errno));
        skip();
    }
    snprintf(g_mnt, sizeof g_mnt, "%s", mnt);
    full_disk_case(mnt, 0, "2 MB tmpfs");
}

/* ---- FIFOs and devices as outputs */

static void test_special_outputs(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    put_lines("sp_in.txt", 5, 4);
    char *err = NULL, script[2048];
    /* a FIFO: its reader gets the complete file; the FIFO stays a FIFO */
    snprintf(script, sizeof script,
             "rm -f sp.fifo && mkfifo sp.fifo && { cat sp.fifo > sp_copy.hdf5 & } && "
             "{ \"$ELMO\" embed --model '%s' --input sp_in.txt --output sp.fifo || "
             "{ : > sp.fifo; false; }; } && wait", /* on failure, release the reader */
             model());
    int rc = run_sh(script, 0, &err);
    if (rc) fail_msg("embed into a FIFO: exit %d: %s", rc, err);
    free(err);
    struct stat st;
    assert_int_equal(lstat(tmpfile_path("sp.fifo"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    float *data;
    int rank;
    uint64_t dims[4];
    assert_int_equal(elmo_h5_read(tmpfile_path("sp_copy.hdf5"), "4", &data, &rank, dims), ELMO_OK);
    assert_int_equal(rank, 3);
    assert_int_equal(dims[1], 4);
    free(data);
    /* /dev/null stays a device; /dev/stdout gets the file; text writers too */
    snprintf(
        script, sizeof script,
        "\"$ELMO\" embed --model '%s' --input sp_in.txt --output /dev/null && "
        "\"$ELMO\" embed --model '%s' --input sp_in.txt --output /dev/stdout > sp_stdout.hdf5 && "
        "\"$ELMO\" vocab --input sp_in.txt --output /dev/stdout > sp_vocab.txt",
        model(), model());
    rc = run_sh(script, 0, &err);
    if (rc) fail_msg("embed into /dev/null, /dev/stdout: exit %d: %s", rc, err);
    free(err);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(elmo_h5_read(tmpfile_path("sp_stdout.hdf5"), "0", &data, &rank, dims),
                     ELMO_OK);
    free(data);
    char *voc = read_text(tmpfile_path("sp_vocab.txt"), NULL);
    assert_non_null(strstr(voc, "<S>\n</S>\n<UNK>\n"));
    free(voc);
    /* a device that fails the write: reported */
    if (access("/dev/full", W_OK) == 0) {
        snprintf(script, sizeof script,
                 "exec \"$ELMO\" embed --model '%s' --input sp_in.txt --output /dev/full", model());
        rc = run_sh(script, 0, &err);
        expect_error(rc, err, "/dev/full: write error");
        free(err);
        assert_int_equal(stat("/dev/full", &st), 0);
        assert_true(S_ISCHR(st.st_mode));
    }
}

/* ---- output paths checked before the work */

static void test_output_path_validation(void **state) {
    (void)state;
    put("pv_in.txt", "a b c\n");
    /* a model that does not exist: the output's error comes first, before any work */
    static const struct {
        const char *out, *msg;
    } cases[] = {
        {"''", "the output path is empty"},
        {"'.'", "is a directory"},
        {"no/such/dir/out.hdf5", "directory no/such/dir does not exist"},
        {"pv_in.txt/x", "Not a directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char script[1024], *err = NULL;
        snprintf(script, sizeof script,
                 "exec \"$ELMO\" embed --model /nonexistent --input pv_in.txt --output %s",
                 cases[i].out);
        int rc = run_sh(script, 0, &err);
        expect_error(rc, err, cases[i].msg);
        free(err);
        /* the same check for every writer (vocab, data text, classify, tag, dump) */
        snprintf(script, sizeof script, "exec \"$ELMO\" vocab --input pv_in.txt --output %s",
                 cases[i].out);
        rc = run_sh(script, 0, &err);
        expect_error(rc, err, cases[i].msg);
        free(err);
    }
    if (geteuid() != 0) { /* permissions do not stop root */
        char *err = NULL;
        int rc = run_sh("mkdir -p ro && chmod 555 ro && exec \"$ELMO\" vocab --input pv_in.txt "
                        "--output ro/v.txt",
                        0, &err);
        expect_error(rc, err, "cannot create files in ro");
        free(err);
    } else {
        print_message("unwritable directory: skipped (root writes anywhere)\n");
    }
}

/* ---- input == output */

static void test_input_is_output(void **state) {
    (void)state;
    put("io.txt", "one two three\n");
    char *err = NULL;
    const char *scripts[] = {
        "exec \"$ELMO\" embed --model /nonexistent --input io.txt --output io.txt",
        "ln -f io.txt io_hard.txt && exec \"$ELMO\" vocab --input io.txt --output io_hard.txt",
        "ln -sf io.txt io_sym.txt && exec \"$ELMO\" data text --input io.txt --output io_sym.txt",
        "exec \"$ELMO\" embed --model /nonexistent --input - --output io.txt < io.txt",
    };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        int rc = run_sh(scripts[i], 0, &err);
        expect_error(rc, err, "the output is also an input");
        free(err);
        size_t n;
        char *t = read_text(tmpfile_path("io.txt"), &n);
        assert_true(t && n == 14 && memcmp(t, "one two three\n", 14) == 0);
        free(t);
    }
}

/* ---- train: resume with changed options, non-empty save directory */

static void test_resume_changed_options(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    char script[4096], *err = NULL;
    put("rs_opts.json", tiny_opts("\"cell_clip\": 3, \"use_skip_connections\": false", "tanh"));
    const char *base = "\"$ELMO\" train --vocab '%s' --train '%s' --save-dir rs --batch-size 2 "
                       "--unroll-steps 5 --threads 1 --max-steps %d --options %s %s";
    snprintf(script, sizeof script, base, fixture("bilm-tf/train/vocab.txt"),
             fixture("bilm-tf/train/data.txt"), 2, "rs_opts.json", "");
    int rc = run_sh(script, 0, &err);
    if (rc) fail_msg("train: exit %d: %s", rc, err);
    free(err);
    char *saved = read_text(tmpfile_path("rs/options.json"), NULL);
    assert_non_null(saved);
    static const struct {
        const char *lstm, *act, *key;
    } changes[] = {
        {"\"cell_clip\": 3, \"use_skip_connections\": true", "tanh", "lstm.use_skip_connections"},
        {"\"cell_clip\": 5, \"use_skip_connections\": false", "tanh", "lstm.cell_clip"},
        {"\"use_skip_connections\": false", "tanh", "lstm.cell_clip"},
        {"\"cell_clip\": 3, \"proj_clip\": 2, \"use_skip_connections\": false", "tanh",
         "lstm.proj_clip"},
        {"\"cell_clip\": 3, \"use_skip_connections\": false", "relu", "char_cnn.activation"},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        put("rs_new.json", tiny_opts(changes[i].lstm, changes[i].act));
        snprintf(script, sizeof script, base, fixture("bilm-tf/train/vocab.txt"),
                 fixture("bilm-tf/train/data.txt"), 4, "rs_new.json", "--resume");
        rc = run_sh(script, 0, &err);
        expect_error(rc, err, changes[i].key);
        free(err);
        char *now = read_text(tmpfile_path("rs/options.json"), NULL);
        assert_string_equal(now, saved); /* the saved options did not take the new values */
        free(now);
    }
    free(saved);
    /* the same options resume */
    snprintf(script, sizeof script, base, fixture("bilm-tf/train/vocab.txt"),
             fixture("bilm-tf/train/data.txt"), 4, "rs_opts.json", "--resume");
    rc = run_sh(script, 0, &err);
    if (rc) fail_msg("resume with the same options: exit %d: %s", rc, err);
    free(err);
}

static void test_nonempty_save_dir(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    char script[4096], *err = NULL;
    put("ne_opts.json", tiny_opts("\"cell_clip\": 3", "tanh"));
    const char *base = "\"$ELMO\" train --vocab '%s' --train '%s' --save-dir ne --batch-size 2 "
                       "--unroll-steps 5 --threads 1 --max-steps 2 --options ne_opts.json %s";
    snprintf(script, sizeof script, base, fixture("bilm-tf/train/vocab.txt"),
             fixture("bilm-tf/train/data.txt"), "");
    int rc = run_sh(script, 0, &err);
    if (rc) fail_msg("train: exit %d: %s", rc, err);
    free(err);
    assert_int_equal(run_sh("cp ne/checkpoint.bin ne_before.bin", 0, NULL), 0);
    rc = run_sh(script, 0, &err);
    expect_error(rc, err, "ne: the save directory is not empty");
    free(err);
    assert_true(same_file(tmpfile_path("ne/checkpoint.bin"), tmpfile_path("ne_before.bin")));
    snprintf(script, sizeof script, base, fixture("bilm-tf/train/vocab.txt"),
             fixture("bilm-tf/train/data.txt"), "--force");
    rc = run_sh(script, 0, &err);
    if (rc) fail_msg("train --force: exit %d: %s", rc, err);
    free(err);
}

/* ---- stdout errors */

static void test_stdout_errors(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    if (access("/dev/full", W_OK) != 0) skip();
    put("so_train.tsv",
        "ham\thello there friend\nspam\tbuy cheap pills now\nham\tsee you at lunch\n"
        "spam\tcheap pills buy\n");
    put("so_texts.txt", "buy pills\nlunch friend\n");
    put("so_vocab.txt", "<S>\n</S>\n<UNK>\nbuy\npills\n");
    char script[2048], *err = NULL;
    int rc = run_sh("exec \"$ELMO\" classify train --train so_train.tsv --features bow --epochs 2 "
                    "--output so.clf",
                    0, &err);
    if (rc) fail_msg("classify train: exit %d: %s", rc, err);
    free(err);
    const char *cmds[] = {
        "info --model '%s'",
        "classify predict --classifier so.clf so_texts.txt",
        "classify eval --classifier so.clf --test so_train.tsv --json",
        "ngram --vocab so_vocab.txt --train so_texts.txt --test so_texts.txt --json",
        "similarity --model '%s' --word a 'a b' 'b a'",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, cmds[i], model());
        snprintf(script, sizeof script, "exec \"$ELMO\" %s > /dev/full", args);
        rc = run_sh(script, 0, &err);
        expect_error(rc, err, "error writing standard output: No space left on device");
        free(err);
    }
}

/* ---- a failing run keeps the previous output; labels that break the output format */

static void test_output_only_when_complete(void **state) {
    (void)state;
    put("oc_train.tsv", "ham\thello there\nspam\tbuy pills\n");
    put("oc_test.tsv", "ham\thello\nunseen\tsomething\n");
    put("oc.clf", "previous classifier");
    char *err = NULL;
    int rc = run_sh(
        "exec \"$ELMO\" classify train --train oc_train.tsv --test oc_test.tsv --features bow "
        "--epochs 1 --output oc.clf",
        0, &err);
    expect_error(rc, err, "oc_test.tsv:2: label 'unseen' does not occur in the training data");
    free(err);
    char *t = read_text(tmpfile_path("oc.clf"), NULL);
    assert_string_equal(t, "previous classifier");
    free(t);
}

static void test_labels_refused(void **state) {
    (void)state;
    put("lb.csv", "label,text\n\"sp\nam\",buy now\nham,hello\n");
    put("lb.tsv", "ham\thello\n\"x\ty\"\tagain\n");
    char *err = NULL;
    int rc = run_sh("exec \"$ELMO\" classify train --train lb.csv --features bow --output lb.clf",
                    0, &err);
    expect_error(rc, err, "lb.csv:2:");
    assert_non_null(strstr(err, "control character"));
    free(err);
    rc = run_sh("exec \"$ELMO\" classify train --train lb.tsv --features bow --label-column 1 "
                "--text-column 0 "
                "--output lb.clf",
                0, &err);
    expect_error(rc, err, "control character");
    free(err);
    /* tags alike (tag predict prints word/TAG) */
    put("lb.tag", "the/DT cat/N\001N\n");
    rc = run_sh("exec \"$ELMO\" tag baseline --train lb.tag --test lb.tag", 0, &err);
    expect_error(rc, err, "lb.tag:1: the tag");
    free(err);
}

/* ---- text input: BOM, one UTF-8 policy, duplicate JSON keys */

static void test_bom_and_utf8(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    put("bom.txt", "\xef\xbb\xbfthe bank\nof the river\n");
    put("nobom.txt", "the bank\nof the river\n");
    char script[2048], *err = NULL;
    snprintf(script, sizeof script,
             "\"$ELMO\" embed --model '%s' --input bom.txt --output bom.hdf5 && "
             "\"$ELMO\" embed --model '%s' --input nobom.txt --output nobom.hdf5 && "
             "\"$ELMO\" vocab --input bom.txt --output bom_vocab.txt",
             model(), model());
    int rc = run_sh(script, 0, &err);
    if (rc) fail_msg("exit %d: %s", rc, err);
    free(err);
    float *a, *b;
    int ra, rb;
    uint64_t da[4], db[4];
    assert_int_equal(elmo_h5_read(tmpfile_path("bom.hdf5"), "0", &a, &ra, da), ELMO_OK);
    assert_int_equal(elmo_h5_read(tmpfile_path("nobom.hdf5"), "0", &b, &rb, db), ELMO_OK);
    assert_int_equal(ra, rb);
    size_t n = 1;
    for (int k = 0; k < ra; k++) {
        assert_int_equal(da[k], db[k]);
        n *= da[k];
    }
    assert_memory_equal(a, b, n * sizeof(float));
    free(a);
    free(b);
    char *v = read_text(tmpfile_path("bom_vocab.txt"), NULL);
    assert_null(strstr(v, "\xef\xbb\xbf"));
    free(v);
    /* invalid UTF-8: every command that reads text refuses it the same way */
    put("bad.txt", "fine line\nbad \xff byte\n");
    put("bad_vocab.txt", "<S>\n</S>\n<UNK>\nfine\n");
    const char *cmds[] = {
        "embed --model '%s' --input bad.txt --output bad.hdf5",
        "vocab --input bad.txt --output bad_v.txt",
        "ngram --vocab bad_vocab.txt --train bad.txt --test bad.txt",
        "dump-token-embeddings --model '%s' --vocab bad.txt --output bad_d.hdf5",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, cmds[i], model());
        snprintf(script, sizeof script, "exec \"$ELMO\" %s", args);
        rc = run_sh(script, 0, &err);
        expect_error(rc, err, "bad.txt:2: invalid UTF-8 at byte 5");
        free(err);
    }
    /* JSON: duplicate keys refused, named; a BOM accepted */
    put("dup.json", "{\"lstm\": {\"dim\": 16, \"dim\": 32}}");
    cJSON *root = NULL;
    assert_int_equal(elmo_json_load(tmpfile_path("dup.json"), &root), ELMO_ERR_FORMAT);
    assert_non_null(strstr(elmo_last_error(), "duplicate key \"lstm.dim\""));
    rc = run_sh("exec \"$ELMO\" random-model --options dup.json --output dup_model", 0, &err);
    expect_error(rc, err, "dup.json: duplicate key \"lstm.dim\"");
    free(err);
    put("bom.json", "\xef\xbb\xbf{\"a\": [1, {\"b\": 2}]}");
    assert_int_equal(elmo_json_load(tmpfile_path("bom.json"), &root), ELMO_OK);
    cJSON_Delete(root);
    /* the corpus converter's JSON inputs alike */
    rc = run_sh("exec \"$ELMO\" data text --input bom.json --output bom_json.txt", 0, &err);
    expect_error(rc, err, "bom.json: no text in the JSON"); /* parsed (not "invalid JSON") */
    free(err);
    put("dup_text.json", "{\"text\": \"a\", \"text\": \"b\"}");
    rc = run_sh("exec \"$ELMO\" data text --input dup_text.json --output dup_text.txt", 0, &err);
    expect_error(rc, err, "dup_text.json: duplicate key \"text\"");
    free(err);
}

/* ---- the biLM path recorded in a classifier */

static void test_recorded_model_path(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    put("mp_train.tsv", "ham\thello there\nspam\tbuy pills\n");
    put("mp_texts.txt", "buy pills\n");
    char script[2048], *err = NULL;
    /* --model given relative to the working directory; predict runs from another one */
    snprintf(script, sizeof script,
             "rm -rf mp && mkdir -p mp/sub && cp -L '%s/options.json' '%s/weights.hdf5' mp/ && cd "
             "mp/sub && "
             "\"$ELMO\" classify train --train ../../mp_train.tsv --model .. --epochs 1 --output "
             "../../mp.clf && "
             "cd / && \"$ELMO\" classify predict --classifier '%s' '%s' > '%s'",
             model(), model(), tmpfile_path("mp.clf"), tmpfile_path("mp_texts.txt"),
             tmpfile_path("mp_out.txt"));
    int rc = run_sh(script, 0, &err);
    if (rc) fail_msg("exit %d: %s", rc, err);
    free(err);
    char *out = read_text(tmpfile_path("mp_out.txt"), NULL);
    assert_true(out && (strncmp(out, "ham\t", 4) == 0 || strncmp(out, "spam\t", 5) == 0));
    free(out);
}

/* ---- SIGTERM removes temporaries */

static void test_sigterm_removes_temporaries(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    put_lines("st_in.txt", 60000, 12);
    char cmd[2048];
    snprintf(
        cmd, sizeof cmd,
        "exec '%s' embed --model '%s' --input '%s' --output '%s' --forget-sentences 2>/dev/null",
        ELMO_CLI, model(), tmpfile_path("st_in.txt"), tmpfile_path("st_out.hdf5"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", tmpfile_path("st_out.hdf5"), (long)pid);
    int seen = 0;
    for (int i = 0; i < 2000 && !seen; i++) { /* up to 20 s for the temporary to appear */
        seen = access(tmp, F_OK) == 0;
        if (!seen) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(seen);
    kill(pid, SIGTERM);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        print_message("SIGTERM: embed had finished already\n");
    else
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    assert_int_not_equal(access(tmp, F_OK), 0); /* the temporary is gone */
    assert_false(temporaries_left(tmpdir()));
}

/* ---- memory per text bounded */

static void test_token_limit(void **state) {
    (void)state;
    FILE *f = fopen(tmpfile_path("tl_train.tsv"), "wb");
    assert_non_null(f);
    fputs("ham\thello there\nspam\t", f);
    for (int k = 0; k < 100001; k++) fputs("w ", f);
    fputs("\n", f);
    fclose(f);
    f = fopen(tmpfile_path("tl_tagged.txt"), "wb");
    assert_non_null(f);
    fputs("the/DT cat/NN\n", f);
    for (int k = 0; k < 100001; k++) fputs("w/NN ", f);
    fputs("\n", f);
    fclose(f);
    char *err = NULL;
    /* refused before any model is loaded (/nonexistent is never reached) */
    int rc = run_sh(
        "exec \"$ELMO\" classify train --train tl_train.tsv --model /nonexistent --output tl.clf",
        0, &err);
    expect_error(rc, err, "tl_train.tsv:2: a text of 100001 tokens, more than 100000");
    free(err);
    rc = run_sh(
        "exec \"$ELMO\" tag train --train tl_tagged.txt --model /nonexistent --output tl.tagger", 0,
        &err);
    expect_error(rc, err, "tl_tagged.txt:2: a sentence of 100001 tokens, more than 100000");
    free(err);
    char script[1024];
    snprintf(script, sizeof script,
             "exec \"$ELMO\" perplexity --model '%s/models/elmo-en-small' --input tl_tagged.txt",
             ELMO_SOURCE_DIR);
    rc = run_sh(script, 0, &err);
    expect_error(rc, err, "tl_tagged.txt:2: a sentence of 100001 tokens, more than 100000");
    free(err);
}

/* ---- walkers skip FIFOs */

static void test_walkers_skip_fifos(void **state) {
    (void)state;
    char *err = NULL;
    int rc =
        run_sh("rm -rf wk && mkdir -p wk/sa/spam wk/sa/easy_ham wk/txt && "
               "printf 'Subject: hi\\n\\nbuy now\\n' > wk/sa/spam/1 && "
               "printf 'Subject: yo\\n\\nlunch\\n' > wk/sa/easy_ham/1 && mkfifo wk/sa/spam/2 && "
               "printf 'a b\\n' > wk/txt/a.txt && mkfifo wk/txt/b.txt && "
               "timeout 60 \"$ELMO\" data spamassassin --input wk/sa --output wk/sa.tsv && "
               "timeout 60 \"$ELMO\" vocab --input 'wk/txt/*.txt' --output wk/v.txt",
               0, &err);
    if (rc) fail_msg("exit %d: %s", rc, err);
    assert_non_null(strstr(err, "wk/sa/spam/2: not a regular file (a FIFO): skipped"));
    assert_non_null(strstr(err, "wk/txt/b.txt: not a regular file (a FIFO): skipped"));
    free(err);
    char *t = read_text(tmpfile_path("wk/sa.tsv"), NULL);
    assert_string_equal(t, "ham\tyo lunch\nspam\thi buy now\n");
    free(t);
}

/* ---- errors name the file */

static void test_errors_name_files(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    put("en_empty.txt", "");
    put("en_one.tag", "the/DT a/DT\n");
    put("en_opts.json", tiny_opts("\"cell_clip\": 3", "tanh"));
    char script[2048], *err = NULL;
    snprintf(script, sizeof script,
             "exec \"$ELMO\" train --options en_opts.json --vocab '%s' --train en_empty.txt "
             "--save-dir en "
             "--batch-size 2 --max-steps 1",
             fixture("bilm-tf/train/vocab.txt"));
    int rc = run_sh(script, 0, &err);
    expect_error(rc, err, "en_empty.txt: no sentences");
    free(err);
    snprintf(script, sizeof script,
             "exec \"$ELMO\" ngram --vocab '%s' --train en_empty.txt --test en_one.tag",
             fixture("bilm-tf/train/vocab.txt"));
    rc = run_sh(script, 0, &err);
    expect_error(rc, err, "en_empty.txt: no sentences");
    free(err);
    rc = run_sh(
        "exec \"$ELMO\" tag train --train en_one.tag --model /nonexistent --output en.tagger", 0,
        &err);
    expect_error(rc, err, "en_one.tag: 1 distinct tag");
    free(err);
}

/* ---- no hang at exit under a virtual memory limit */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test_teardown(test_full_disk_tmpfs, umount_tmpfs),
        cmocka_unit_test(test_special_outputs),
        cmocka_unit_test(test_output_path_validation),
        cmocka_unit_test(test_input_is_output),
        cmocka_unit_test(test_resume_changed_options),
        cmocka_unit_test(test_nonempty_save_dir),
        cmocka_unit_test(test_stdout_errors),
        cmocka_unit_test(test_output_only_when_complete),
        cmocka_unit_test(test_labels_refused),
        cmocka_unit_test(test_bom_and_utf8),
        cmocka_unit_test(test_recorded_model_path),
        cmocka_unit_test(test_sigterm_removes_temporaries),
        cmocka_unit_test(test_token_limit),
        cmocka_unit_test(test_walkers_skip_fifos),
        cmocka_unit_test(test_errors_name_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
