/* test_ngram.c: the interpolated modified Kneser-Ney baseline (src/tasks/ngram.h, elmo ngram). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/ngram.h"
#include "testutil.h"
#include "io/util.h"

#define VOCAB6 "<S>\n</S>\n<UNK>\na\nb\nc\n" /* ids: <S> 0, </S> 1, <UNK> 2, a 3, b 4, c 5 */

static const char *put(const char *name, const char *text) {
    const char *p = tmpfile_path(name);
    write_file(p, text, strlen(text));
    return p;
}

static elmo_vocab *load_vocab(const char *name, const char *text) {
    elmo_vocab *v = NULL;
    assert_int_equal(elmo_vocab_load(put(name, text), &v), ELMO_OK);
    return v;
}

static elmo_ngram *train1(const elmo_vocab *v, const char *path, int order, int reverse) {
    elmo_ngram *m = NULL;
    elmo_status s = elmo_ngram_train(v, &path, 1, order, reverse, &m);
    if (s) fail_msg("train: %s", elmo_last_error());
    return m;
}

static double P(const elmo_ngram *m, const uint32_t *h, int nh, uint32_t w) {
    return exp(elmo_ngram_logprob(m, h, nh, w));
}

/* sum of p(w | h) over the predictable ids; the start token must get 0 */
static void check_sums_to_one(const elmo_ngram *m, uint32_t V, const uint32_t *h, int nh) {
    double sum = 0;
    for (uint32_t w = 0; w < V; w++) {
        double lp = elmo_ngram_logprob(m, h, nh, w);
        if (w == elmo_ngram_start_id(m)) {
            assert_true(isinf(lp) && lp < 0);
            continue;
        }
        assert_true(isfinite(lp));
        sum += exp(lp);
    }
    if (fabs(sum - 1.0) > 1e-9) {
        char buf[256] = "";
        int n = 0;
        for (int i = 0; i < nh; i++) n += snprintf(buf + n, sizeof buf - (size_t)n, " %u", h[i]);
        elmo_ngram_info info;
        elmo_ngram_get_info(m, &info);
        fail_msg("order %d reverse %d history [%s ] sums to %.15f", info.order, info.reverse,
                 nh ? buf : "", sum);
    }
}

/* ---- hand-computed bigram model ----------------------------------------------------------
 * Training "a b", "a c", "b" (forward): bigrams <S>a:2 <S>b:1 ab:1 ac:1 b</S>:2 c</S>:1.
 * Unigram continuation counts a:1 b:2 c:1 </S>:2 (total 6): n1 = 2, n2 = 2, Y = 1/3,
 * D1 = 1 - 2Y n2/n1 = 1/3, D2 and D3+ fall back to Y (n3 = 0). Uniform 1/5.
 * gamma = (2 D1 + 2 D2) / 6 = 2/9: p1(a) = p1(c) = 14/90, p1(b) = p1(</S>) = 29/90,
 * p1(<UNK>) = 4/90. Bigrams: n1 = 4, n2 = 2, Y = 1/2, D1 = 1/2, D2 = D3+ = 1/2 (fallback). */
static void test_hand_bigram(void **state) {
    (void)state;
    elmo_vocab *v = load_vocab("v6.txt", VOCAB6);
    const char *train = put("hand.txt", "a b\na c\nb\n");
    elmo_ngram *m = train1(v, train, 2, 0);
    elmo_ngram_info info;
    elmo_ngram_get_info(m, &info);
    assert_int_equal(info.n_ngrams[0], 4);
    assert_int_equal(info.n_ngrams[1], 6);
    assert_int_equal(info.n_sentences, 3);
    assert_int_equal(info.n_words, 5);
    for (int c = 0; c < 3; c++) {
        assert_true(fabs(info.discount[0][c] - 1.0 / 3) < 1e-12);
        assert_true(fabs(info.discount[1][c] - 0.5) < 1e-12);
    }
    const double tol = 1e-12;
    const uint32_t S = 0, E = 1, U = 2, a = 3, b = 4, c = 5;
    /* unigram level (empty history and unseen contexts) */
    assert_true(fabs(P(m, NULL, 0, a) - 14.0 / 90) < tol);
    assert_true(fabs(P(m, NULL, 0, b) - 29.0 / 90) < tol);
    assert_true(fabs(P(m, NULL, 0, c) - 14.0 / 90) < tol);
    assert_true(fabs(P(m, NULL, 0, E) - 29.0 / 90) < tol);
    assert_true(fabs(P(m, NULL, 0, U) - 4.0 / 90) < tol);
    assert_true(P(m, NULL, 0, S) == 0);
    uint32_t hu = U;
    assert_true(fabs(P(m, &hu, 1, b) - 29.0 / 90) < tol); /* context <UNK> never seen */
    /* context <S>: a(<S>.) = 3, N1 = N2 = 1, gamma numerator 1/2 + 1/2 */
    uint32_t hs = S;
    assert_true(fabs(P(m, &hs, 1, a) - 149.0 / 270) < tol);
    assert_true(fabs(P(m, &hs, 1, b) - 74.0 / 270) < tol);
    assert_true(fabs(P(m, &hs, 1, c) - 14.0 / 270) < tol);
    assert_true(fabs(P(m, &hs, 1, E) - 29.0 / 270) < tol);
    assert_true(fabs(P(m, &hs, 1, U) - 4.0 / 270) < tol);
    /* context a: ab 1, ac 1: p(b|a) = 1/2 / 2 + (1/2 * 2)/2 * 29/90 */
    uint32_t ha = a;
    assert_true(fabs(P(m, &ha, 1, b) - 37.0 / 90) < tol);
    assert_true(fabs(P(m, &ha, 1, c) - 59.0 / 180) < tol);
    assert_true(fabs(P(m, &ha, 1, a) - 14.0 / 180) < tol);
    assert_true(fabs(P(m, &ha, 1, E) - 29.0 / 180) < tol);
    /* context b: b</S> 2: (2 - 1/2 + 1/2 * 29/90) / 2 */
    uint32_t hb = b;
    assert_true(fabs(P(m, &hb, 1, E) - 299.0 / 360) < tol);
    /* a longer history than the order uses only its last word */
    uint32_t h3[] = {c, c, a};
    assert_true(fabs(P(m, h3, 3, b) - 37.0 / 90) < tol);
    /* evaluation = the sum of these log-probabilities */
    const char *test = put("hand-test.txt", "a b\n");
    elmo_ngram_eval ev;
    assert_int_equal(elmo_ngram_evaluate(m, test, &ev), ELMO_OK);
    assert_int_equal(ev.n_sentences, 1);
    assert_int_equal(ev.n_words, 2);
    assert_int_equal(ev.n_oov, 0);
    assert_int_equal(ev.n_predictions, 3);
    double want = -log(149.0 / 270) - log(37.0 / 90) - log(299.0 / 360);
    assert_true(fabs(ev.nll - want) < 1e-12);
    elmo_ngram_free(m);

    /* backward: </S> b a <S>, </S> c a <S>, </S> b <S>: same shape with the roles swapped */
    m = train1(v, train, 2, 1);
    assert_int_equal(elmo_ngram_start_id(m), E);
    assert_int_equal(elmo_ngram_end_id(m), S);
    assert_true(fabs(P(m, NULL, 0, a) - 29.0 / 90) < tol);
    assert_true(fabs(P(m, NULL, 0, S) - 29.0 / 90) < tol);
    assert_true(fabs(P(m, NULL, 0, b) - 14.0 / 90) < tol);
    assert_true(P(m, NULL, 0, E) == 0);
    assert_true(fabs(P(m, &ha, 1, S) - 299.0 / 360) < tol);
    uint32_t he = E;
    assert_true(fabs(P(m, &he, 1, b) - 149.0 / 270) < tol);
    assert_int_equal(elmo_ngram_evaluate(m, test, &ev), ELMO_OK);
    assert_int_equal(ev.n_predictions, 3);
    /* backward "a b": p(b | </S>) p(a | b) p(<S> | a) */
    uint32_t hb_ctx = b;
    want = -log(P(m, &he, 1, b)) - log(P(m, &hb_ctx, 1, a)) - log(299.0 / 360);
    assert_true(fabs(ev.nll - want) < 1e-12);
    elmo_ngram_free(m);
    elmo_vocab_free(v);
}

/* unigram model (order 1): raw counts, a single context */
static void test_hand_unigram(void **state) {
    (void)state;
    elmo_vocab *v = load_vocab("v6u.txt", VOCAB6);
    /* tokens predicted: a b </S> a </S>: a 2, b 1, </S> 2; n1 = 1, n2 = 2, Y = 1/5,
     * D1 = 1 - 2/5 * 2 = 1/5, D2, D3+ fall back to 1/5; gamma = (1/5 + 2 * 1/5) / 5 */
    elmo_ngram *m = train1(v, put("uni.txt", "a b\na\n"), 1, 0);
    double g = 0.6 / 5;
    assert_true(fabs(P(m, NULL, 0, 3) - (1.8 / 5 + g / 5)) < 1e-12);
    assert_true(fabs(P(m, NULL, 0, 4) - (0.8 / 5 + g / 5)) < 1e-12);
    assert_true(fabs(P(m, NULL, 0, 5) - g / 5) < 1e-12);
    uint32_t h[] = {0, 3};
    assert_true(fabs(P(m, h, 2, 4) - P(m, NULL, 0, 4)) < 1e-15);
    check_sums_to_one(m, 6, NULL, 0);
    elmo_ngram_free(m);
    elmo_vocab_free(v);
}

/* ---- a generated corpus: every history (seen, unseen, empty) sums to 1 ------------------- */
static const char *WORDS[] = {"the", "cat", "dog", "sat", "on", "mat", "a", "ran", ".", "and"};
#define NW 10

static char *gen_corpus(uint64_t seed, int n_sent, int with_oov) {
    elmo_rng r;
    elmo_rng_seed(&r, seed);
    elmo_strbuf b = {0};
    for (int s = 0; s < n_sent; s++) {
        int n = (int)elmo_rng_below(&r, 9); /* 0 .. 8 words: blank lines too */
        for (int i = 0; i < n; i++) {
            /* a skewed distribution so that counts of 1, 2, 3, 4+ all occur */
            uint64_t k = elmo_rng_below(&r, NW);
            k = elmo_rng_below(&r, k + 1);
            if (with_oov && elmo_rng_below(&r, 20) == 0)
                elmo_strbuf_printf(&b, "%soov%d", i ? " " : "", (int)elmo_rng_below(&r, 5));
            else
                elmo_strbuf_printf(&b, "%s%s", i ? " " : "", WORDS[k]);
        }
        elmo_strbuf_add(&b, "\n", 1);
    }
    return b.p;
}

static const char *vocab_text(void) {
    static char buf[512];
    int n = snprintf(buf, sizeof buf, "<S>\n</S>\n<UNK>\n");
    for (int i = 0; i < NW; i++) n += snprintf(buf + n, sizeof buf - (size_t)n, "%s\n", WORDS[i]);
    return buf;
}

static void test_sums_to_one(void **state) {
    (void)state;
    elmo_vocab *v = load_vocab("vg.txt", vocab_text());
    uint32_t V = elmo_vocab_size(v);
    assert_int_equal(V, NW + 3);
    char *text = gen_corpus(7, 300, 1);
    const char *train = put("gen.txt", text);
    free(text);
    elmo_rng r;
    elmo_rng_seed(&r, 99);
    for (int order = 1; order <= ELMO_NGRAM_MAX_ORDER; order++)
        for (int rev = 0; rev <= 1; rev++) {
            elmo_ngram *m = train1(v, train, order, rev);
            uint32_t st = elmo_ngram_start_id(m);
            elmo_ngram_info info;
            elmo_ngram_get_info(m, &info);
            for (int k = 0; k < order; k++) {
                assert_true(info.n_ngrams[k] > 0);
                for (int c = 0; c < 3; c++)
                    assert_true(info.discount[k][c] > 0 && info.discount[k][c] < c + 1);
            }
            /* empty history, every 1- and 2-word history (the start token anywhere) */
            check_sums_to_one(m, V, NULL, 0);
            for (uint32_t x = 0; x < V; x++) {
                check_sums_to_one(m, V, &x, 1);
                for (uint32_t y = 0; y < V; y++) {
                    uint32_t h[2] = {x, y};
                    check_sums_to_one(m, V, h, 2);
                }
            }
            /* longer random histories, half of them starting with the start token */
            for (int t = 0; t < 200; t++) {
                uint32_t h[4];
                int nh = 1 + (int)elmo_rng_below(&r, 4);
                for (int i = 0; i < nh; i++) h[i] = (uint32_t)elmo_rng_below(&r, V);
                if (t % 2) h[0] = st;
                check_sums_to_one(m, V, h, nh);
            }
            /* seen histories: prefixes of training sentences ("the cat" is frequent) */
            uint32_t seen[] = {st, 3, 3, 3, 3};
            for (int nh = 1; nh <= 5; nh++) check_sums_to_one(m, V, seen, nh);
            /* a seen context has a higher-order n-gram: p(. | <S>) differs from p(.) */
            if (order >= 2) {
                uint32_t w = 3; /* "the" */
                assert_true(fabs(P(m, &st, 1, w) - P(m, NULL, 0, w)) > 1e-6);
            }
            elmo_ngram_free(m);
        }
    elmo_vocab_free(v);
}

/* the backward model on a file = the forward model on the file with every line reversed */
static void test_backward_is_reversed_forward(void **state) {
    (void)state;
    elmo_vocab *v = load_vocab("vr.txt", vocab_text());
    char *tr = gen_corpus(11, 200, 1), *te = gen_corpus(12, 50, 1);
    const char *ptr = put("r-train.txt", tr), *pte = put("r-test.txt", te);
    free(tr);
    free(te);
    /* reverse every line with awk */
    char cmd[2048];
    snprintf(
        cmd, sizeof cmd,
        "awk '{for(i=NF;i>0;i--) printf \"%%s%%s\", $i, (i>1?\" \":\"\"); print \"\"}' '%s' > '%s' "
        "&& "
        "awk '{for(i=NF;i>0;i--) printf \"%%s%%s\", $i, (i>1?\" \":\"\"); print \"\"}' '%s' > '%s'",
        ptr, tmpfile_path("r-train-rev.txt"), pte, tmpfile_path("r-test-rev.txt"));
    assert_int_equal(system(cmd), 0);
    const char *ptr_rev = tmpfile_path("r-train-rev.txt"),
               *pte_rev = tmpfile_path("r-test-rev.txt");
    for (int order = 1; order <= 4; order++) {
        elmo_ngram *bw = train1(v, ptr, order, 1), *fw = train1(v, ptr_rev, order, 0);
        elmo_ngram_eval eb, ef;
        assert_int_equal(elmo_ngram_evaluate(bw, pte, &eb), ELMO_OK);
        assert_int_equal(elmo_ngram_evaluate(fw, pte_rev, &ef), ELMO_OK);
        assert_int_equal(eb.n_predictions, ef.n_predictions);
        assert_int_equal(eb.n_predictions, eb.n_words + eb.n_sentences);
        assert_int_equal(eb.n_sentences, 50);
        assert_true(fabs(eb.nll - ef.nll) < 1e-9 * fabs(ef.nll));
        elmo_ngram_free(bw);
        elmo_ngram_free(fw);
    }
    elmo_vocab_free(v);
}

/* ---- out-of-vocabulary words are <UNK>, in training and in test ---------------------------- */
static void test_unknown_words(void **state) {
    (void)state;
    elmo_vocab *v = load_vocab("vu.txt", VOCAB6);
    assert_int_equal(elmo_vocab_id(v, "a", 1), 3);
    assert_int_equal(elmo_vocab_id(v, "zzz", 3), 2);
    assert_int_equal(elmo_vocab_id(v, "A", 1), 2);
    assert_int_equal(elmo_vocab_id(v, "<UNK>", 5), 2);
    /* boundary tokens inside a sentence are not boundaries */
    assert_int_equal(elmo_vocab_id(v, "<S>", 3), 2);
    assert_int_equal(elmo_vocab_id(v, "</S>", 4), 2);
    assert_string_equal(elmo_vocab_word(v, 4), "b");
    assert_null(elmo_vocab_word(v, 6));

    elmo_ngram *m1 = train1(v, put("oov1.txt", "a xyz b\nqq qq\nb <S> c\n"), 3, 0);
    elmo_ngram *m2 = train1(v, put("oov2.txt", "a <UNK> b\n<UNK> <UNK>\nb <UNK> c\n"), 3, 0);
    elmo_ngram_info i1;
    elmo_ngram_get_info(m1, &i1);
    assert_int_equal(i1.n_words, 8);
    assert_int_equal(i1.n_oov, 4);
    for (uint32_t x = 0; x < 6; x++)
        for (uint32_t y = 0; y < 6; y++)
            for (uint32_t w = 0; w < 6; w++) {
                uint32_t h[2] = {x, y};
                double l1 = elmo_ngram_logprob(m1, h, 2, w), l2 = elmo_ngram_logprob(m2, h, 2, w);
                assert_true(l1 == l2);
            }
    /* <UNK> is predicted with its trained probability, not 0 */
    uint32_t ha = 3;
    assert_true(P(m1, &ha, 1, 2) > P(m1, &ha, 1, 5));
    elmo_ngram_eval e1, e2;
    assert_int_equal(elmo_ngram_evaluate(m1, put("oovt1.txt", "a never-seen b\nc\n\n"), &e1),
                     ELMO_OK);
    assert_int_equal(elmo_ngram_evaluate(m1, put("oovt2.txt", "a <UNK> b\nc\n\n"), &e2), ELMO_OK);
    assert_int_equal(e1.n_sentences, 3); /* the blank line is an empty sentence */
    assert_int_equal(e1.n_words, 4);
    assert_int_equal(e1.n_oov, 1);
    assert_int_equal(e1.n_predictions, 7);
    assert_true(e1.nll == e2.nll);
    assert_int_equal(e1.n_unk_targets, 1);
    uint32_t hctx = 3; /* the <UNK> after "a" at the start: history <S> a */
    uint32_t h2[2] = {0, hctx};
    assert_true(fabs(e1.nll_unk + elmo_ngram_logprob(m1, h2, 2, 2)) < 1e-12);
    assert_true(isfinite(e1.nll) && e1.nll > 0);
    elmo_ngram_free(m1);
    elmo_ngram_free(m2);
    elmo_vocab_free(v);
}

/* ---- vocabulary format -------------------------------------------------------------------- */
static void test_vocab_format(void **state) {
    (void)state;
    /* !!!MAXTERMID takes no id; lines are stripped; a repeated word maps to its last line */
    elmo_vocab *v = load_vocab("vf.txt", "<S>\n!!!MAXTERMID\n  </S> \r\n<UNK>\nx\ty\nb\nb\n");
    assert_int_equal(elmo_vocab_size(v), 6);
    assert_int_equal(elmo_vocab_bos(v), 0);
    assert_int_equal(elmo_vocab_eos(v), 1);
    assert_int_equal(elmo_vocab_unk(v), 2);
    assert_string_equal(elmo_vocab_word(v, 3), "x\ty");
    assert_int_equal(elmo_vocab_id(v, "b", 1), 5);
    elmo_vocab_free(v);
}

/* ---- errors ------------------------------------------------------------------------------- */
static void test_errors(void **state) {
    (void)state;
    elmo_vocab *v = NULL;
    const char *p = put("nounk.txt", "<S>\n</S>\nthe\n");
    assert_int_equal(elmo_vocab_load(p, &v), ELMO_ERR_FORMAT);
    assert_null(v);
    assert_non_null(strstr(elmo_last_error(), "<UNK>"));
    assert_non_null(strstr(elmo_last_error(), p));
    assert_int_equal(elmo_vocab_load(put("nobos.txt", "</S>\n<UNK>\n"), &v), ELMO_ERR_FORMAT);
    assert_non_null(strstr(elmo_last_error(), "<S>"));
    assert_int_equal(elmo_vocab_load(put("empty.txt", ""), &v), ELMO_ERR_FORMAT);
    assert_int_equal(elmo_vocab_load(tmpfile_path("does-not-exist.txt"), &v), ELMO_ERR_IO);
    assert_non_null(strstr(elmo_last_error(), "does-not-exist.txt"));

    v = load_vocab("ve.txt", VOCAB6);
    elmo_ngram *m = NULL;
    const char *files[] = {put("ok.txt", "a b\n"), tmpfile_path("missing-train.txt")};
    assert_int_equal(elmo_ngram_train(v, files, 2, 3, 0, &m), ELMO_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(elmo_last_error(), "missing-train.txt"));
    assert_non_null(strstr(elmo_last_error(), "cannot open"));
    assert_int_equal(elmo_ngram_train(v, files, 1, 0, 0, &m), ELMO_ERR_ARG);
    assert_non_null(strstr(elmo_last_error(), "order"));
    assert_int_equal(elmo_ngram_train(v, files, 1, ELMO_NGRAM_MAX_ORDER + 1, 0, &m), ELMO_ERR_ARG);
    assert_int_equal(elmo_ngram_train(v, files, 0, 3, 0, &m), ELMO_ERR_ARG);
    const char *empty = put("empty-train.txt", "");
    assert_int_equal(elmo_ngram_train(v, &empty, 1, 3, 0, &m), ELMO_ERR_FORMAT);
    assert_non_null(strstr(elmo_last_error(), "no sentences"));
    m = train1(v, files[0], 3, 0);
    elmo_ngram_eval ev;
    assert_int_equal(elmo_ngram_evaluate(m, tmpfile_path("missing-test.txt"), &ev), ELMO_ERR_IO);
    assert_non_null(strstr(elmo_last_error(), "missing-test.txt"));
    /* ids outside the vocabulary have probability 0 */
    assert_true(isinf(elmo_ngram_logprob(m, NULL, 0, 6)));
    elmo_ngram_free(m);
    elmo_vocab_free(v);
}

/* ---- the CLI ------------------------------------------------------------------------------ */
static void test_cli(void **state) {
    (void)state;
    const char *vp = put("cli-vocab.txt", vocab_text());
    char *tr = gen_corpus(21, 300, 1), *te = gen_corpus(22, 40, 1);
    const char *ptr = put("cli-train.txt", tr), *pte = put("cli-test.txt", te);
    free(tr);
    free(te);
    char args[2048], *err = NULL;
    snprintf(args, sizeof args, "ngram --vocab '%s' --train '%s' '%s' --test '%s' --json", vp, ptr,
             ptr, pte);
    int rc = run_elmo(args, NULL, &err);
    if (rc) fail_msg("elmo ngram failed (%d): %s", rc, err ? err : "");
    free(err);
    char *out = read_text(tmpfile_path("stdout.txt"), NULL);
    assert_non_null(out);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    free(out);
    double fp = cJSON_GetObjectItem(j, "forward_ppl")->valuedouble;
    double bp = cJSON_GetObjectItem(j, "backward_ppl")->valuedouble;
    double mp = cJSON_GetObjectItem(j, "mean_ppl")->valuedouble;
    double lp = cJSON_GetObjectItem(j, "loss_mean_ppl")->valuedouble;
    double np = cJSON_GetObjectItem(j, "n_predictions")->valuedouble;
    double oov = cJSON_GetObjectItem(j, "oov_rate")->valuedouble;
    assert_true(fabs(mp - 0.5 * (fp + bp)) < 1e-9 * mp);
    assert_true(fabs(lp - sqrt(fp * bp)) < 1e-9 * lp);
    assert_true(oov > 0 && oov < 0.2);
    /* the same numbers as the library (the training file given twice = counts doubled) */
    elmo_vocab *v = NULL;
    assert_int_equal(elmo_vocab_load(vp, &v), ELMO_OK);
    const char *files[] = {ptr, ptr};
    elmo_ngram *m = NULL;
    assert_int_equal(elmo_ngram_train(v, files, 2, 3, 0, &m), ELMO_OK);
    elmo_ngram_eval ev;
    assert_int_equal(elmo_ngram_evaluate(m, pte, &ev), ELMO_OK);
    assert_true(fabs(exp(ev.nll / (double)ev.n_predictions) - fp) < 1e-9 * fp);
    assert_true(np == (double)ev.n_predictions);
    assert_true(fabs(oov - (double)ev.n_oov / (double)ev.n_words) < 1e-12);
    elmo_ngram_free(m);
    elmo_vocab_free(v);
    cJSON_Delete(j);

    /* the table */
    snprintf(args, sizeof args, "ngram --vocab '%s' --train '%s' --test '%s' --order 2", vp, ptr,
             pte);
    assert_int_equal(run_elmo(args, NULL, NULL), 0);
    out = read_text(tmpfile_path("stdout.txt"), NULL);
    assert_non_null(strstr(out, "forward perplexity"));
    free(out);

    /* bad input: one line on stderr, non-zero exit */
    struct {
        const char *args, *want;
    } bad[] = {
        {"ngram --train '%2$s' --test '%3$s'", "missing --vocab"},
        {"ngram --vocab '%1$s' --test '%3$s'", "missing --train"},
        {"ngram --vocab '%1$s' --train '%2$s'", "missing --test"},
        {"ngram --vocab '%1$s' --train '%2$s' --test '%3$s' --order 6", "--order"},
        {"ngram --vocab '%4$s' --train '%2$s' --test '%3$s'", "<UNK>"},
        {"ngram --vocab '%1$s' --train '%2$s' nope.txt --test '%3$s'", "nope.txt"},
        {"ngram --vocab '%1$s' --train '%2$s' --test nope-test.txt", "nope-test.txt"},
    };
    const char *nounk = put("cli-nounk.txt", "<S>\n</S>\nthe\n");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, bad[i].args, vp, ptr, pte, nounk);
        rc = run_elmo(args, NULL, &err);
        assert_int_not_equal(rc, 0);
        assert_non_null(err);
        if (!strstr(err, bad[i].want))
            fail_msg("'%s': stderr '%s' lacks '%s'", args, err, bad[i].want);
        assert_non_null(strstr(err, "elmo ngram: "));
        free(err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_bigram),   cmocka_unit_test(test_hand_unigram),
        cmocka_unit_test(test_sums_to_one),   cmocka_unit_test(test_backward_is_reversed_forward),
        cmocka_unit_test(test_unknown_words), cmocka_unit_test(test_vocab_format),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
