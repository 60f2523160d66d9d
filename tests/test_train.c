/*
 * test_train.c: biLM training end to end.
 *  - the packer reproduces a worked example of bilm-tf's batching (bilm/data.py);
 *  - a tiny model trains on the bilm-tf fixture corpus: its perplexity falls far below the
 *    vocabulary size, and the exported model loads in `elmo embed` with finite outputs;
 *  - SIGKILL (1 thread) or SIGTERM (2 threads: exit 143 after its checkpoint) during
 *    training, then --resume: the final parameters are bit-identical to an uninterrupted run
 *    with the same seed;
 *  - a published biLM (the AllenNLP fixture's options.json + weights.hdf5, no softmax) is
 *    continued with --init-from: a new softmax learns while the biLM stays frozen (its weights
 *    unchanged bit for bit), then everything; stopping at the boundary and resuming gives the
 *    same parameters as one run;
 *  - bad settings and a checkpoint from another vocabulary are refused clearly.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/h5io.h"
#include "testutil.h"
#include "train/train_data.h"
#include "train/vocab.h"

static const char *tiny_opts = TINY_TRAIN_OPTIONS;

static const char *opts_path(void) {
    const char *p = tmpfile_path("tiny_options.json");
    write_file(p, tiny_opts, strlen(tiny_opts));
    return p;
}

/* Worked example of bilm-tf's batching: vocab <S> </S> <UNK> the . Āt; sentences
 * "the unknown .", "th .", "the"; 2 rows x 3 steps, W = 5, no shuffling. */
static void test_packing(void **state) {
    (void)state;
    const char *vp = tmpfile_path("pack_vocab.txt"), *dp = tmpfile_path("pack_data.txt");
    const char *voc = "<S>\n</S>\n<UNK>\nthe\n.\n\xc4\x80t\n";
    const char *data = "the unknown .\nth .\nthe\n";
    write_file(vp, voc, strlen(voc));
    write_file(dp, data, strlen(data));
    elmo_vocab *v;
    assert_int_equal(elmo_vocab_load(vp, &v), ELMO_OK);
    const char *files[] = {dp};
    int32_t want_fw_in[2][2][3] = {{{0, 3, 2}, {0, 2, 4}}, {{4, 0, 3}, {0, 3, 2}}};
    int32_t want_fw_tg[2][2][3] = {{{3, 2, 4}, {2, 4, 1}}, {{1, 3, 1}, {3, 2, 4}}};
    int32_t want_bw_in[2][3] = {{1, 4, 2}, {1, 4, 2}};
    int32_t want_bw_tg[2][3] = {{4, 2, 3}, {4, 2, 0}};
    for (int d = 0; d < 2; d++) {
        elmo_stream *s;
        assert_int_equal(elmo_stream_new(files, 1, v, d, 5, 2, 1, 100, 0, &s), ELMO_OK);
        int16_t ids[3 * 2 * 5];
        int32_t tg[3 * 2];
        for (int batch = 0; batch < (d ? 1 : 2); batch++) {
            assert_int_equal(elmo_stream_next_batch(s, 3, ids, tg), ELMO_OK);
            for (int b = 0; b < 2; b++)
                for (int t = 0; t < 3; t++) {
                    int32_t win = d ? want_bw_in[b][t] : want_fw_in[batch][b][t];
                    int32_t wtg = d ? want_bw_tg[b][t] : want_fw_tg[batch][b][t];
                    assert_int_equal(tg[t * 2 + b], wtg);
                    /* the input's char ids spell the input word (or its boundary) */
                    const char *word = elmo_vocab_word(v, (uint32_t)win);
                    int16_t exp[5];
                    elmo_char_ids(word, strlen(word), 5, exp);
                    if (win == 2) { /* <UNK> inputs keep their own spelling: "unknown", "th" */
                        int c1 = ids[(t * 2 + b) * 5 + 1];
                        assert_true(c1 == 'u' + 1 || c1 == 't' + 1);
                        continue;
                    }
                    assert_memory_equal(ids + (t * 2 + b) * 5, exp, sizeof exp);
                }
        }
        elmo_stream_free(s);
    }
    elmo_vocab_free(v);
}

static int train(const char *dir, const char *extra, char **err) {
    char args[2048];
    snprintf(args, sizeof args,
             "train --options '%s' --vocab '%s' --train '%s' --save-dir '%s' --batch-size 2 "
             "--unroll-steps 10 --seed 7 %s",
             opts_path(), fixture("bilm-tf/train/vocab.txt"), fixture("bilm-tf/train/data.txt"),
             dir, extra);
    return run_elmo(args, NULL, err);
}

static void test_trains_and_exports(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *dir = tmpfile_path("tiny_model");
    char *err = NULL;
    int rc = train(dir, "--max-steps 600 --full-softmax --checkpoint-every 300", &err);
    if (rc) fail_msg("elmo train failed: %s", err);
    free(err);
    elmo_ppl_result p;
    assert_int_equal(
        elmo_perplexity(dir, fixture("bilm-tf/train/data.txt"), 1, ELMO_PRECISION_FP32, &p),
        ELMO_OK);
    print_message(
        "tiny model after 600 steps: perplexity fw %.2f bw %.2f mean %.2f (vocabulary 32)\n",
        p.fw_ppl, p.bw_ppl, p.mean_ppl);
    assert_true(p.mean_ppl < 12); /* far below the 32 words of the vocabulary */
    assert_int_equal(p.n_predictions, 139);
    /* the training log and the curve */
    size_t n;
    char *m = read_text(tmpfile_path("tiny_model/metrics.jsonl"), &n);
    assert_non_null(m);
    assert_non_null(strstr(m, "\"step\": 600"));
    assert_non_null(strstr(m, "\"tokens_per_s\""));
    assert_non_null(strstr(m, "\"elapsed_s\""));
    free(m);
    assert_true(access(tmpfile_path("tiny_model/curve.svg"), R_OK) == 0);
    /* the exported model embeds text */
    char args[2048];
    snprintf(args, sizeof args, "embed --model '%s' --input '%s' --output '%s'", dir,
             fixture("bilm-tf/train/data.txt"), tmpfile_path("tiny_embed.hdf5"));
    assert_int_equal(run_elmo(args, NULL, NULL), 0);
    float *e;
    int rank;
    uint64_t dims[4];
    assert_int_equal(elmo_h5_read(tmpfile_path("tiny_embed.hdf5"), "2", &e, &rank, dims), ELMO_OK);
    assert_int_equal(dims[0], 3);
    assert_int_equal(dims[2], 16);
    for (size_t k = 0; k < dims[0] * dims[1] * dims[2]; k++) assert_true(isfinite(e[k]));
    free(e);
    /* continue training the trained model on the same text (--init-from) */
    const char *dir2 = tmpfile_path("tiny_model_ft");
    char extra[1024];
    snprintf(extra, sizeof extra, "--max-steps 50 --full-softmax --init-from '%s'", dir);
    rc = train(dir2, extra, &err);
    if (rc) fail_msg("--init-from failed: %s", err);
    free(err);
    elmo_ppl_result p2;
    assert_int_equal(
        elmo_perplexity(dir2, fixture("bilm-tf/train/data.txt"), 1, ELMO_PRECISION_FP32, &p2),
        ELMO_OK);
    print_message("after 50 more steps from it: mean perplexity %.2f\n", p2.mean_ppl);
    assert_true(p2.mean_ppl < 12);
}

/* bfloat16 mixed precision (bfloat16 products, float32 master weights and Adagrad) trains the
 * tiny model as far as float32 does: perplexity after the same 300 steps within 10 %. */
static void test_bf16_training(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    double ppl[2];
    for (int k = 0; k < 2; k++) {
        const char *dir = tmpfile_path(k ? "tiny_bf16" : "tiny_fp32");
        char *err = NULL, extra[256];
        snprintf(extra, sizeof extra,
                 "--max-steps 300 --full-softmax --checkpoint-every 300 --precision %s",
                 k ? "bf16" : "fp32");
        int rc = train(dir, extra, &err);
        if (rc) fail_msg("elmo train --precision %s failed: %s", k ? "bf16" : "fp32", err);
        free(err);
        elmo_ppl_result p;
        assert_int_equal(
            elmo_perplexity(dir, fixture("bilm-tf/train/data.txt"), 1, ELMO_PRECISION_FP32, &p),
            ELMO_OK);
        ppl[k] = p.mean_ppl;
    }
    print_message(
        "tiny model after 300 steps: perplexity %.3f (fp32 training), %.3f (bf16 training): "
        "ratio %.4f\n",
        ppl[0], ppl[1], ppl[1] / ppl[0]);
    assert_true(ppl[1] < 1.10 * ppl[0] && ppl[1] > 0.90 * ppl[0]);
}

static void test_kill_and_resume(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    for (int threads = 1; threads <= 2; threads++) {
        char ref[512], killed[512], extra[256], args[2048];
        snprintf(ref, sizeof ref, "%s/ref%d", tmpdir(), threads);
        snprintf(killed, sizeof killed, "%s/killed%d", tmpdir(), threads);
        snprintf(extra, sizeof extra, "--max-steps 1500 --checkpoint-every 100 --threads %d",
                 threads);
        assert_int_equal(train(ref, extra, NULL), 0);
        /* the same run, killed once a few checkpoints exist: with SIGKILL (1 thread: it resumes
         * from the last checkpoint), with SIGTERM (2 threads: it checkpoints where it stops
         * and exits with 128 + 15, stopped rather than finished) */
        int sig = threads == 1 ? SIGKILL : SIGTERM;
        snprintf(args, sizeof args,
                 "exec '%s' train --options '%s' --vocab '%s' --train '%s' --save-dir '%s' "
                 "--batch-size 2 --unroll-steps 10 --seed 7 %s 2>/dev/null",
                 ELMO_CLI, opts_path(), fixture("bilm-tf/train/vocab.txt"),
                 fixture("bilm-tf/train/data.txt"), killed, extra);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", args, (char *)NULL);
            _exit(127);
        }
        char metrics[600];
        snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", killed);
        int waited = 0, st;
        for (;;) { /* until step 340 is logged (between checkpoints), then kill */
            usleep(2000);
            char *m = read_text(metrics, NULL);
            int far = m && strstr(m, "\"step\": 340,");
            free(m);
            if (far || ++waited > 30000) break;
        }
        kill(pid, sig);
        waitpid(pid, &st, 0);
        int was_killed = sig == SIGKILL ? WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL
                                        : WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM;
        print_message("threads %d: run stopped by %s: %s; resuming\n", threads,
                      sig == SIGKILL ? "SIGKILL" : "SIGTERM (exit 143)",
                      was_killed ? "yes" : "no (it had finished)");
        assert_true(was_killed);
        strcat(extra, " --resume");
        char *err = NULL;
        int rc = train(killed, extra, &err);
        if (rc) fail_msg("--resume failed: %s", err);
        free(err);
        char a[700], b[700];
        snprintf(a, sizeof a, "%s/checkpoint.bin", ref);
        snprintf(b, sizeof b, "%s/checkpoint.bin", killed);
        assert_same_checkpoint(a, b, "after resume");
        print_message("threads %d: resumed run bit-identical to the uninterrupted one\n", threads);
    }
}

/* The file at src copied to dst (test data into the temporary directory). */
static void copy_to(const char *src, const char *dst) {
    size_t n;
    char *d = read_text(src, &n);
    assert_non_null(d);
    write_file(dst, d, n);
    free(d);
}

static int train_published(const char *pub, const char *dir, const char *extra, char **err) {
    char args[2048];
    snprintf(args, sizeof args,
             "train --init-from '%s' --vocab '%s' --train '%s' --save-dir '%s' --batch-size 2 "
             "--unroll-steps 10 --seed 7 --freeze-steps 20 --full-softmax %s",
             pub, fixture("bilm-tf/train/vocab.txt"), fixture("bilm-tf/train/data.txt"), dir,
             extra);
    return run_elmo(args, NULL, err);
}

static void test_init_from_published(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *pub = tmpfile_path("published");
    char path[600];
    mkdir(pub, 0755);
    snprintf(path, sizeof path, "%s/options.json", pub);
    copy_to(fixture("allennlp-elmo/options.json"), path);
    snprintf(path, sizeof path, "%s/weights.hdf5", pub);
    copy_to(fixture("allennlp-elmo/lm_weights.hdf5"), path);
    /* no output layer: perplexity says so (and what gives one) */
    elmo_ppl_result none;
    assert_int_not_equal(
        elmo_perplexity(pub, fixture("bilm-tf/train/data.txt"), 1, ELMO_PRECISION_FP32, &none),
        ELMO_OK);
    assert_non_null(strstr(elmo_last_error(), "no softmax.hdf5"));
    assert_non_null(strstr(elmo_last_error(), "--init-from"));
    /* 20 steps, all frozen: the biLM is the published one, bit for bit */
    const char *frozen = tmpfile_path("pub_frozen"), *full = tmpfile_path("pub_full");
    char *err = NULL;
    if (train_published(pub, frozen, "--max-steps 20", &err))
        fail_msg("--init-from a published model failed: %s", err);
    free(err);
    elmo_model *a, *b;
    char w[600];
    snprintf(w, sizeof w, "%s/weights.hdf5", frozen);
    assert_int_equal(elmo_model_load(fixture("allennlp-elmo/options.json"),
                                     fixture("allennlp-elmo/lm_weights.hdf5"), &a),
                     ELMO_OK);
    assert_int_equal(elmo_model_load(fixture("allennlp-elmo/options.json"), w, &b), ELMO_OK);
    assert_true(elmo_model_fingerprint(a) == elmo_model_fingerprint(b));
    elmo_model_free(b);
    elmo_ppl_result p0, p1;
    assert_int_equal(
        elmo_perplexity(frozen, fixture("bilm-tf/train/data.txt"), 1, ELMO_PRECISION_FP32, &p0),
        ELMO_OK);
    /* then everything: resumed across the boundary, and in one run */
    err = NULL;
    if (train_published(pub, frozen, "--max-steps 60 --resume", &err))
        fail_msg("--resume failed: %s", err);
    free(err);
    err = NULL;
    if (train_published(pub, full, "--max-steps 60", &err)) fail_msg("one run failed: %s", err);
    free(err);
    char ca[700], cb[700];
    snprintf(ca, sizeof ca, "%s/checkpoint.bin", frozen);
    snprintf(cb, sizeof cb, "%s/checkpoint.bin", full);
    assert_same_checkpoint(ca, cb, "frozen, then resumed");
    snprintf(w, sizeof w, "%s/weights.hdf5", full);
    assert_int_equal(elmo_model_load(fixture("allennlp-elmo/options.json"), w, &b), ELMO_OK);
    assert_true(elmo_model_fingerprint(a) != elmo_model_fingerprint(b)); /* the biLM trained */
    elmo_model_free(a);
    elmo_model_free(b);
    assert_int_equal(
        elmo_perplexity(full, fixture("bilm-tf/train/data.txt"), 1, ELMO_PRECISION_FP32, &p1),
        ELMO_OK);
    print_message(
        "published biLM, new softmax: perplexity %.2f after 20 frozen steps, %.2f after 40 "
        "more of everything (vocabulary 32); resume across the boundary bit-identical\n",
        p0.mean_ppl, p1.mean_ppl);
    assert_true(p1.mean_ppl < p0.mean_ppl);
}

static void test_bad_settings(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    char *err = NULL;
    const char *dir = tmpfile_path("bad_model");
    /* a vocabulary without <UNK> */
    const char *vp = tmpfile_path("bad_vocab.txt");
    write_file(vp, "<S>\n</S>\nthe\n", 13);
    char args[2048];
    snprintf(args, sizeof args,
             "train --options '%s' --vocab '%s' --train '%s' --save-dir '%s' --max-steps 5",
             opts_path(), vp, fixture("bilm-tf/train/data.txt"), dir);
    assert_int_not_equal(run_elmo(args, NULL, &err), 0);
    assert_non_null(strstr(err, "no <UNK> line"));
    free(err);
    /* no training file matches */
    assert_int_not_equal(train(dir, "--max-steps 5 --train '/nonexistent/*.txt'", &err), 0);
    free(err);
    /* resume with another batch size */
    const char *d2 = tmpfile_path("resume_mismatch");
    assert_int_equal(train(d2, "--max-steps 20 --checkpoint-every 10", NULL), 0);
    snprintf(args, sizeof args,
             "train --options '%s' --vocab '%s' --train '%s' --save-dir '%s' --max-steps 40 "
             "--batch-size 3 --unroll-steps 10 --resume",
             opts_path(), fixture("bilm-tf/train/vocab.txt"), fixture("bilm-tf/train/data.txt"),
             d2);
    assert_int_not_equal(run_elmo(args, NULL, &err), 0);
    assert_non_null(strstr(err, "resume with the same settings"));
    free(err);
}

/* elmo vocab: <S> </S> <UNK> first, then by descending count (ties in byte order),
 * --min-count and --max-size honoured, the counts reported. */
static void test_vocab(void **state) {
    (void)state;
    const char *in = tmpfile_path("vocab_in.txt"), *out = tmpfile_path("vocab_out.txt");
    const char *text = "b a a c\nc a b\xc2\xa0"
                       "d a\n<S> e\n";
    write_file(in, text, strlen(text));
    char args[1024];
    snprintf(args, sizeof args, "vocab --input '%s' --output '%s'", in, out);
    char *err = NULL;
    assert_int_equal(run_elmo(args, NULL, &err), 0);
    assert_non_null(strstr(err, "11 tokens, 5 distinct words"));
    free(err);
    char *v = read_text(out, NULL);
    assert_string_equal(v, "<S>\n</S>\n<UNK>\na\nb\nc\nd\ne\n");
    free(v);
    snprintf(args, sizeof args, "vocab --input '%s' --output '%s' --min-count 2", in, out);
    assert_int_equal(run_elmo(args, NULL, NULL), 0);
    v = read_text(out, NULL);
    assert_string_equal(v, "<S>\n</S>\n<UNK>\na\nb\nc\n");
    free(v);
    snprintf(args, sizeof args, "vocab --input '%s' --output '%s' --max-size 4", in, out);
    assert_int_equal(run_elmo(args, NULL, NULL), 0);
    v = read_text(out, NULL);
    assert_string_equal(v, "<S>\n</S>\n<UNK>\na\n");
    free(v);
    elmo_vocab *voc;
    assert_int_equal(elmo_vocab_load(out, &voc), ELMO_OK);
    assert_int_equal(elmo_vocab_size(voc), 4);
    assert_int_equal(elmo_vocab_id(voc, "a", 1), 3);
    assert_int_equal(elmo_vocab_id(voc, "zzz", 3), elmo_vocab_unk(voc));
    elmo_vocab_free(voc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_packing),
        cmocka_unit_test(test_trains_and_exports),
        cmocka_unit_test(test_bf16_training),
        cmocka_unit_test(test_kill_and_resume),
        cmocka_unit_test(test_init_from_published),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
