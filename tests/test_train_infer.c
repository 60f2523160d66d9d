/*
 * test_train_infer.c: the training graph and the inference graph compute the same biLM.
 *
 * `elmo train` and `elmo perplexity` run the training code (src/train: bilm_direction_step_f
 * over charcnn_grad.c and lstm_grad.c, float build), `elmo embed` runs the inference code
 * (src/core: elmo_embed, oneDNN products on prepared weights, fast exp/sigmoid/tanh). Two
 * implementations of one model: this test runs both on the same random weights and the same
 * sentences and compares, for every layer, every token and both directions:
 *
 *   inference: elmo_embed, stateless, its output (L+1, n, 2P) per sentence: layer 0 is
 *     [tok ; tok], layer l is [h_fwd_l ; h_bwd_l] (residual included), at the n words (the
 *     <S> and </S> it adds are dropped);
 *   training: the sentences as the training data path makes them (elmo_sentence_ids: forward
 *     <S> w1..wn, backward </S> wn..w1, the inputs of a step whose targets are w1..wn </S>
 *     and wn..w1 <S>), one sentence per row of a batch of B rows (shorter rows padded at
 *     the end: the LSTM is causal, so padding after a sentence changes nothing before it),
 *     cut into windows of TW steps run one after the other with the LSTM state carried
 *     (truncated BPTT's unrolled windows), from zero state, without dropout, forward only;
 *     its layers (bilm_trainer_layer_f: the token encoder's output and each LSTM layer's
 *     output) at input position t = 1..n, which the forward LSTM reaches after reading word
 *     t (compared with inference token t-1, columns 0..P-1) and the backward LSTM after
 *     reading word n+1-t (inference token n-t, columns P..2P-1).
 *
 * The two agree up to float rounding (other summation orders in the products; libm's
 * expf/tanhf in training, the fast approximations of kernels/fastmath.h in inference): the
 * test prints the largest difference per model and requires it below TOL; inference's plain
 * reference path (elmo_session_set_reference: libm, double accumulation) is compared too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5io.h"
#include "io/params.h"
#include "testutil.h"
#include "train/grad.h"
#include "train/train_data.h"
#include "train/vocab.h"

/* the largest |training - inference| allowed, relative to max(1, |inference|); measured: about
 * 2e-6 on these models (float rounding), 50x margin */
#define TOL 1e-4
#define TW 3 /* steps per training window: every sentence but the shortest spans several */

static const char *variants[] = {
    /* projections and both clips, residual, highway, relu */
    "{\"lstm\": {\"dim\": 48, \"projection_dim\": 12, \"n_layers\": 2, \"cell_clip\": 3, "
    "\"proj_clip\": 3, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": "
    "5}, "
    "\"filters\": [[1, 4], [2, 6], [3, 8], [5, 10]], \"n_highway\": 2, \"n_characters\": 262, "
    "\"max_characters_per_token\": 20, \"activation\": \"relu\"}}",
    /* tanh, no highway, three layers, no clips, no residual */
    "{\"lstm\": {\"dim\": 20, \"projection_dim\": 8, \"n_layers\": 3, "
    "\"use_skip_connections\": false}, \"char_cnn\": {\"embedding\": {\"dim\": 3}, "
    "\"filters\": [[1, 5], [4, 7]], \"n_highway\": 0, \"n_characters\": 261, "
    "\"max_characters_per_token\": 20, \"activation\": \"tanh\"}}",
    /* no CNN projection (F == P) and no LSTM projection (P == H) */
    "{\"lstm\": {\"dim\": 16, \"projection_dim\": 16, \"n_layers\": 2, \"cell_clip\": 2, "
    "\"proj_clip\": 0, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": "
    "4}, "
    "\"filters\": [[2, 6], [3, 10]], \"n_highway\": 1, \"n_characters\": 262, "
    "\"max_characters_per_token\": 20, \"activation\": \"relu\"}}",
};

/* words in and out of the vocabulary, one word, UTF-8, a word longer than W - 2 bytes */
static const char *sentences[] = {
    "the cat sat on the mat .",
    "a",
    "Zürich's river bank flooded again after the storm of the century .",
    "colourless green ideas sleep furiously",
    "the supercalifragilisticexpialidocious cat .",
};
#define NS ((int)(sizeof sentences / sizeof *sentences))
static const char vocab_text[] = "<S>\n</S>\n<UNK>\nthe\ncat\n.\nbank\n";

typedef struct {
    size_t n; /* tokens */
    size_t st[32], ln[32];
    char *tok[32];
} sentence;

static void split(const char *text, sentence *s) {
    s->n = elmo_split_whitespace(text, strlen(text), s->st, s->ln, 32);
    for (size_t k = 0; k < s->n; k++) s->tok[k] = strndup(text + s->st[k], s->ln[k]);
}

/* Inference: out[b] (L+1, n_b, 2P) for every sentence, in one stateless batch. */
static void embed_all(const elmo_model *m, sentence *ss, int reference, float **out) {
    elmo_session *s;
    assert_int_equal(elmo_session_new(m, NS, 1, &s), ELMO_OK);
    elmo_session_set_reference(s, reference);
    const char *const *tk[NS];
    int n[NS];
    for (int b = 0; b < NS; b++) {
        tk[b] = (const char *const *)ss[b].tok;
        n[b] = (int)ss[b].n;
    }
    assert_int_equal(elmo_embed(s, NS, tk, n, out), ELMO_OK);
    elmo_session_free(s);
}

/* Training batch of direction d: ids (T, B, W) time-major, targets (T, B); row b holds
 * sentence b's inputs (n_b + 1 steps), then the inputs of its last step repeated. */
static void make_batch(const elmo_vocab *v, const elmo_config *c, sentence *ss, int d, int T,
                       int16_t *ids, int32_t *tg) {
    int W = c->max_chars;
    int32_t words[40];
    int16_t chars[40 * 64];
    assert_true(W <= 64);
    for (int b = 0; b < NS; b++) {
        size_t n = ss[b].n;
        elmo_sentence_ids(v, d, W, sentences[b], ss[b].st, ss[b].ln, n, words, chars);
        for (int t = 0; t < T; t++) {
            size_t q = (size_t)t <= n ? (size_t)t : n; /* the pad repeats step n */
            memcpy(ids + ((size_t)t * NS + b) * W, chars + q * W, sizeof(int16_t) * W);
            tg[(size_t)t * NS + b] = words[q + 1];
        }
    }
}

/* Largest |a - e| / max(1, |e|) over n values. */
static double worst(const float *a, const float *e, int n) {
    double w = 0;
    for (int k = 0; k < n; k++) {
        double d = fabs((double)a[k] - e[k]) / fmax(1.0, fabs((double)e[k]));
        w = d > w || isnan(d) ? d : w;
    }
    return w;
}

/* Run direction d of the training graph window by window and compare every layer at every
 * word with the inference outputs out[b]; returns the largest difference. */
static double compare_direction(const elmo_config *c, const elmo_vocab *v, float *params,
                                float *smW, float *smb, sentence *ss, int d, float **out,
                                size_t *compared) {
    int W = c->max_chars, P = c->projection_dim, L = c->n_layers, V = (int)elmo_vocab_size(v);
    int T = 0;
    for (int b = 0; b < NS; b++) T = (int)ss[b].n + 1 > T ? (int)ss[b].n + 1 : T;
    int16_t *ids = malloc(sizeof(int16_t) * (size_t)T * NS * W);
    int32_t *tg = malloc(sizeof(int32_t) * (size_t)T * NS);
    assert_non_null(ids);
    assert_non_null(tg);
    make_batch(v, c, ss, d, T, ids, tg);
    bilm_trainer_f tr;
    assert_int_equal(bilm_trainer_init_f(&tr, c, V, NS, TW, 0, 0.0, params, smW, smb), ELMO_OK);
    bilm_trainer_reset_state_f(&tr); /* zero state, as stateless inference */
    double w = 0;
    for (int t0 = 0; t0 < T; t0 += TW) {
        int tw = T - t0 < TW ? T - t0 : TW;
        elmo_train_batch bt = {NS, tw, {NULL, NULL}, {NULL, NULL}, {NULL, NULL}};
        bt.ids[d] = ids + (size_t)t0 * NS * W;
        bt.targets[d] = tg + (size_t)t0 * NS;
        double loss = bilm_direction_step_f(&tr, d, &bt, NULL, NULL, 0, NULL, 1.0f, NULL, NULL, 0);
        assert_true(isfinite(loss));
        for (int layer = 0; layer <= L; layer++) {
            const float *y = bilm_trainer_layer_f(&tr, d, layer); /* (tw*B, P) */
            for (int t = t0; t < t0 + tw; t++)
                for (int b = 0; b < NS; b++) {
                    int n = (int)ss[b].n;
                    if (t < 1 || t > n) continue; /* <S> (</S>) or padding */
                    int tok = d == 0 ? t - 1 : n - t;
                    const float *e = out[b] + ((size_t)layer * n + tok) * 2 * P + (size_t)d * P;
                    double x = worst(y + ((size_t)(t - t0) * NS + b) * P, e, P);
                    w = x > w || isnan(x) ? x : w;
                    *compared += (size_t)P;
                }
        }
    }
    bilm_trainer_free_f(&tr);
    free(ids);
    free(tg);
    return w;
}

static void test_training_forward_is_inference(void **state) {
    (void)state;
    const char *vp = tmpfile_path("ti_vocab.txt");
    write_file(vp, vocab_text, strlen(vocab_text));
    elmo_vocab *v;
    assert_int_equal(elmo_vocab_load(vp, &v), ELMO_OK);
    sentence ss[NS];
    for (int b = 0; b < NS; b++) split(sentences[b], &ss[b]);
    for (size_t k = 0; k < sizeof variants / sizeof *variants; k++) {
        char dir[64], path[700];
        snprintf(dir, sizeof dir, "ti_model%zu", k);
        const char *mdir = tmpfile_path(dir);
        make_random_model(mdir, variants[k], 11 + k);
        elmo_model *m;
        assert_int_equal(elmo_model_load_dir(mdir, &m), ELMO_OK);
        assert_int_equal(elmo_model_set_precision(m, ELMO_PRECISION_FP32), ELMO_OK);
        const elmo_config *c = elmo_model_config(m);
        int L1 = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
        /* the training code's parameter block, from the same weight file */
        elmo_params w;
        assert_int_equal(elmo_params_alloc(c, &w), ELMO_OK);
        snprintf(path, sizeof path, "%s/weights.hdf5", mdir);
        assert_int_equal(elmo_weights_read(path, c, &w), ELMO_OK);
        /* a softmax is part of the training graph; its values do not reach the layers */
        int V = (int)elmo_vocab_size(v), P = c->projection_dim;
        float *smW = calloc((size_t)V * P, sizeof(float)), *smb = calloc(V, sizeof(float));
        assert_non_null(smW);
        assert_non_null(smb);
        for (int reference = 0; reference <= 1; reference++) {
            float *out[NS];
            for (int b = 0; b < NS; b++) {
                out[b] = malloc(sizeof(float) * (size_t)L1 * (ss[b].n ? ss[b].n : 1) * D);
                assert_non_null(out[b]);
            }
            embed_all(m, ss, reference, out);
            size_t compared = 0, want = 0;
            double fw = compare_direction(c, v, w.mem, smW, smb, ss, 0, out, &compared);
            double bw = compare_direction(c, v, w.mem, smW, smb, ss, 1, out, &compared);
            for (int b = 0; b < NS; b++) want += ss[b].n * (size_t)L1 * D; /* every value */
            assert_int_equal(compared, want);
            print_message("model %zu vs %s inference, %zu values: largest difference, relative to "
                          "max(1, |x|): forward %.2e, backward %.2e (tolerance %.0e)\n",
                          k, reference ? "reference" : "fast-path", compared, fw, bw, TOL);
            assert_true(fw < TOL && bw < TOL);
            for (int b = 0; b < NS; b++) free(out[b]);
        }
        free(smW);
        free(smb);
        elmo_params_free(&w);
        elmo_model_free(m);
    }
    for (int b = 0; b < NS; b++)
        for (size_t t = 0; t < ss[b].n; t++) free(ss[b].tok[t]);
    elmo_vocab_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_forward_is_inference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
