/*
 * perplexity.c: held-out perplexity of a trained biLM with the full softmax (see elmo.h).
 *
 * Sentences are read in chunks, grouped by length (a batch holds sentences of one length, so
 * no padding and no masking are needed) and run through the training graph in evaluation
 * mode (no dropout, forward only), from zero state, the two directions on two threads.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/matmul.h"
#include "train/grad.h"
#include "io/h5io.h"
#include "core/options.h"
#include "io/params.h"
#include "text/textdata.h"
#include "io/textio.h"
#include "train/train_data.h"
#include "train/vocab.h"

#define CHUNK_SENTENCES 20000
#define MAX_ROWS 64

typedef struct {
    char *text; /* the line */
    size_t n;   /* tokens */
    size_t *st, *ln;
} sent;

typedef struct {
    bilm_trainer_f *tr;
    int d;
    elmo_train_batch *bt;
    double loss;
    elmo_precision precision;
} eval_job;

static void *eval_main(void *p) {
    eval_job *j = p;
    elmo_mm_set_precision(j->precision); /* this thread's products */
    j->loss = bilm_direction_step_f(j->tr, j->d, j->bt, NULL, NULL, 0, NULL, 1.0f, NULL, NULL, 0);
    return NULL;
}

static int by_len(const void *a, const void *b) {
    const sent *x = a, *y = b;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Score sentences ss[0..m) (all of length n) in batches of up to MAX_ROWS. */
static elmo_status score_group(const elmo_config *c, int V, float *params, float *smW, float *smb,
                               const elmo_vocab *v, sent *ss, size_t m, int threads,
                               elmo_precision precision, double loss[2]) {
    size_t n = ss[0].n;
    int T = (int)n + 1, W = c->max_chars;
    int B = m < MAX_ROWS ? (int)m : MAX_ROWS;
    bilm_trainer_f tr;
    elmo_status s = bilm_trainer_init_f(&tr, c, V, B, T, 0, 0.0, params, smW, smb);
    if (s) return s;
    int16_t *ids[2];
    int32_t *tg[2], *words = malloc(sizeof(int32_t) * (n + 2));
    int16_t *chars = malloc(sizeof(int16_t) * (n + 2) * W);
    for (int d = 0; d < 2; d++) {
        ids[d] = malloc(sizeof(int16_t) * (size_t)B * T * W);
        tg[d] = malloc(sizeof(int32_t) * (size_t)B * T);
    }
    if (!words || !chars || !ids[0] || !ids[1] || !tg[0] || !tg[1])
        s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (size_t b0 = 0; b0 < m && !s; b0 += B) {
        int rows = m - b0 < (size_t)B ? (int)(m - b0) : B;
        for (int d = 0; d < 2; d++)
            for (int b = 0; b < rows; b++) {
                sent *x = &ss[b0 + b];
                elmo_sentence_ids(v, d, W, x->text, x->st, x->ln, n, words, chars);
                for (int t = 0; t < T; t++) {
                    memcpy(ids[d] + ((size_t)t * rows + b) * W, chars + (size_t)t * W,
                           sizeof(int16_t) * W);
                    tg[d][(size_t)t * rows + b] = words[t + 1];
                }
            }
        elmo_train_batch bt = {rows, T, {ids[0], ids[1]}, {tg[0], tg[1]}, {NULL, NULL}};
        bilm_trainer_reset_state_f(&tr);
        eval_job jobs[2] = {{&tr, 0, &bt, 0, precision}, {&tr, 1, &bt, 0, precision}};
        pthread_t th;
        if (threads > 1 && pthread_create(&th, NULL, eval_main, &jobs[1]) == 0) {
            eval_main(&jobs[0]);
            pthread_join(th, NULL);
        } else {
            eval_main(&jobs[0]);
            eval_main(&jobs[1]);
        }
        loss[0] += jobs[0].loss;
        loss[1] += jobs[1].loss;
    }
    for (int d = 0; d < 2; d++) {
        free(ids[d]);
        free(tg[d]);
    }
    free(words);
    free(chars);
    bilm_trainer_free_f(&tr);
    return s;
}

elmo_status elmo_perplexity(const char *dir, const char *input, int threads,
                            elmo_precision precision, elmo_ppl_result *out) {
    elmo_clear_error();
    memset(out, 0, sizeof *out);
    if (precision == ELMO_PRECISION_INT8)
        return elmo_fail(ELMO_ERR_ARG,
                         "perplexity takes precision fp32, bf16 or auto (int8 is for inference)");
    char *op = elmo_path_join(dir, "options.json"), *vp = elmo_path_join(dir, "vocab.txt");
    char *wp = elmo_path_join(dir, "weights.hdf5"), *sp = elmo_path_join(dir, "softmax.hdf5");
    elmo_config c;
    elmo_vocab *v = NULL;
    elmo_params w = {0};
    float *smW = NULL, *smb = NULL;
    sent *ss = NULL;
    size_t m = 0;
    elmo_line_reader rd;
    int rd_open = 0;
    int rank;
    uint64_t dims[4];
    elmo_status s = elmo_config_load(op, &c);
    if (!s && access(sp, F_OK) != 0)
        s = elmo_fail(ELMO_ERR_IO,
                      "%s: no softmax.hdf5 (perplexity needs the biLM's output layer; a model "
                      "published without it gets one from elmo train --init-from)",
                      dir);
    if (!s) s = elmo_vocab_load(vp, &v);
    if (!s) s = elmo_params_alloc(&c, &w);
    if (!s) s = elmo_weights_read(wp, &c, &w);
    if (!s) s = elmo_h5_read(sp, "softmax/W", &smW, &rank, dims);
    int V = v ? (int)elmo_vocab_size(v) : 0;
    if (!s && (rank != 2 || dims[0] != (uint64_t)V || dims[1] != (uint64_t)c.projection_dim))
        s = elmo_fail(ELMO_ERR_SHAPE, "%s: softmax/W does not match the vocabulary of %d words", sp,
                      V);
    if (!s) s = elmo_h5_read(sp, "softmax/b", &smb, &rank, dims);
    if (!s && (rank != 1 || dims[0] != (uint64_t)V))
        s = elmo_fail(ELMO_ERR_SHAPE, "%s: softmax/b does not match the vocabulary of %d words", sp,
                      V);
    if (!s && !(s = elmo_line_reader_open(&rd, input, (size_t)16 << 20))) rd_open = 1;
    if (!s && !(ss = calloc(CHUNK_SENTENCES, sizeof *ss)))
        s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_mm_set_threads(1);
    elmo_mm_weights_changed(); /* new weights (a previous model may have had the same addresses) */
    if (precision == ELMO_PRECISION_AUTO)
        precision = elmo_bf16_is_faster() ? ELMO_PRECISION_BF16 : ELMO_PRECISION_FP32;
    double loss[2] = {0, 0};
    int eof = 0;
    while (!s && !eof) {
        /* a chunk of sentences */
        m = 0;
        while (m < CHUNK_SENTENCES) {
            int got;
            if ((s = elmo_line_reader_next(&rd, &got))) break;
            if (!got) {
                eof = 1;
                break;
            }
            sent *x = &ss[m];
            x->n = elmo_split_whitespace(rd.line, rd.len, NULL, NULL, 0);
            if (x->n > ELMO_TD_MAX_TOKENS) { /* memory grows with a sentence's length */
                s = elmo_fail(ELMO_ERR_FORMAT, "%s:%llu: a sentence of %zu tokens, more than %d",
                              rd.name, (unsigned long long)rd.lineno, x->n, ELMO_TD_MAX_TOKENS);
                x->text = NULL, x->st = x->ln = NULL;
                break;
            }
            x->text = malloc(rd.len + 1);
            x->st = malloc(sizeof(size_t) * (x->n + 1));
            x->ln = malloc(sizeof(size_t) * (x->n + 1));
            if (!x->text || !x->st || !x->ln) {
                s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
                m++;
                break;
            }
            memcpy(x->text, rd.line, rd.len + 1);
            elmo_split_whitespace(x->text, rd.len, x->st, x->ln, x->n);
            for (size_t i = 0; i < x->n; i++) {
                out->n_words++;
                uint32_t id = elmo_vocab_id(v, x->text + x->st[i], x->ln[i]);
                out->n_oov += id == elmo_vocab_unk(v) &&
                              !(x->ln[i] == 5 && memcmp(x->text + x->st[i], "<UNK>", 5) == 0);
            }
            out->n_sentences++;
            out->n_predictions += x->n + 1;
            m++;
        }
        qsort(ss, m, sizeof *ss, by_len);
        for (size_t a = 0; a < m && !s;) {
            size_t b = a;
            while (b < m && ss[b].n == ss[a].n) b++;
            s = score_group(&c, V, w.mem, smW, smb, v, ss + a, b - a, threads, precision, loss);
            a = b;
        }
        for (size_t i = 0; i < m; i++) {
            free(ss[i].text);
            free(ss[i].st);
            free(ss[i].ln);
        }
    }
    if (!s && out->n_predictions == 0) s = elmo_fail(ELMO_ERR_FORMAT, "%s: no sentences", input);
    if (!s) {
        double lf = loss[0] / (double)out->n_predictions, lb = loss[1] / (double)out->n_predictions;
        out->fw_ppl = exp(lf);
        out->bw_ppl = exp(lb);
        out->mean_ppl = exp(0.5 * (lf + lb));
    }
    if (rd_open) elmo_line_reader_close(&rd);
    free(ss);
    free(smW);
    free(smb);
    elmo_params_free(&w);
    elmo_vocab_free(v);
    free(op);
    free(vp);
    free(wp);
    free(sp);
    return s;
}
