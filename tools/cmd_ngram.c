/*
 * cmd_ngram.c: `elmo ngram`: interpolated modified Kneser-Ney n-gram baseline (src/tasks/ngram.h).
 *
 * Trains a forward and a backward model on the --train files with the biLM's vocabulary and
 * scores --test the way the biLM is scored: the forward model predicts w1 .. wn </S>, the
 * backward model wn .. w1 <S>, n + 1 predictions per sentence each, out-of-vocabulary words
 * as <UNK>. Reported:
 *   forward_ppl, backward_ppl  exp(mean -ln p) of each direction
 *   mean_ppl                   (forward_ppl + backward_ppl) / 2, the arithmetic mean
 *   loss_mean_ppl              exp((forward loss + backward loss) / 2) = sqrt(fwd * bwd), the
 *                              perplexity of the mean log-loss (bilm-tf run_test's figure)
 *   oov_rate                   test words (boundaries excluded) that map to <UNK>
 *   forward.ppl_known_targets  (and backward.) perplexity over the predictions whose target
 *                              is not <UNK>: information only, not comparable across vocabularies
 * The directions are trained one after the other (only one model in memory at a time), so
 * the files are read twice and must be regular files, not "-".
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tasks/ngram.h"
#include "io/util.h"

#define CMD "ngram"

typedef struct {
    elmo_ngram_info info;
    elmo_ngram_eval ev;
    double train_s, eval_s;
} direction_result;

static int run_direction(const elmo_vocab *v, const cli_list *train, const char *test, int order,
                         int reverse, direction_result *r) {
    const char *name = reverse ? "backward" : "forward";
    double t0 = elmo_now();
    elmo_ngram *m = NULL;
    elmo_status s = elmo_ngram_train(v, train->items, train->n, order, reverse, &m);
    if (s) return cli_lib_error(CMD, s);
    double t1 = elmo_now();
    elmo_ngram_get_info(m, &r->info);
    s = elmo_ngram_evaluate(m, test, &r->ev);
    elmo_ngram_free(m);
    if (s) return cli_lib_error(CMD, s);
    r->train_s = t1 - t0;
    r->eval_s = elmo_now() - t1;
    uint64_t total = 0;
    for (int k = 0; k < order; k++) total += r->info.n_ngrams[k];
    fprintf(stderr, "%s %d-gram: %llu n-grams (%.1f MB) trained in %.2f s, test scored in %.2f s\n",
            name, order, (unsigned long long)total, r->info.bytes / 1e6, r->train_s, r->eval_s);
    return 0;
}

static double ppl(const elmo_ngram_eval *e) {
    return e->n_predictions ? exp(e->nll / (double)e->n_predictions) : NAN;
}

/* perplexity over the predictions whose target is not <UNK> */
static double ppl_known(const elmo_ngram_eval *e) {
    uint64_t n = e->n_predictions - e->n_unk_targets;
    return n ? exp((e->nll - e->nll_unk) / (double)n) : NAN;
}

static cJSON *direction_json(const direction_result *r, double ppl_value) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ppl", ppl_value);
    cJSON_AddNumberToObject(o, "loss",
                            r->ev.n_predictions ? r->ev.nll / (double)r->ev.n_predictions : NAN);
    cJSON_AddNumberToObject(o, "ppl_known_targets", ppl_known(&r->ev));
    cJSON *ng = cJSON_AddArrayToObject(o, "ngrams");
    cJSON *d = cJSON_AddArrayToObject(o, "discounts");
    for (int k = 0; k < r->info.order; k++) {
        cJSON_AddItemToArray(ng, cJSON_CreateNumber((double)r->info.n_ngrams[k]));
        cJSON_AddItemToArray(d, cJSON_CreateDoubleArray(r->info.discount[k], 3));
    }
    cJSON_AddNumberToObject(o, "memory_bytes", (double)r->info.bytes);
    cJSON_AddNumberToObject(o, "train_seconds", r->train_s);
    cJSON_AddNumberToObject(o, "eval_seconds", r->eval_s);
    return o;
}

int cmd_ngram(int argc, char **argv) {
    const char *vocab = NULL, *test = NULL;
    cli_list train = {0};
    int order = 3, json = 0;
    cli_opt opts[] = {
        {"--vocab", OPT_STR, &vocab, 0, 0, "vocabulary (bilm-tf format: <S>, </S>, <UNK>, words)"},
        {"--train", OPT_LIST, &train, 0, 0, "training text files, one sentence per line"},
        {"--test", OPT_STR, &test, 0, 0, "test text file, one sentence per line"},
        {"--order", OPT_INT, &order, 1, ELMO_NGRAM_MAX_ORDER, "n-gram order"},
        {"--json", OPT_BOOL, &json, 0, 0, "print one JSON object instead of a table"},
        {0}};
    int r = cli_parse(CMD, "--vocab VOCAB --train FILE... --test FILE [--order 3] [--json]", opts,
                      argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!vocab) return cli_error(CMD, "missing --vocab");
    if (!train.n) return cli_error(CMD, "missing --train");
    if (!test) return cli_error(CMD, "missing --test");
    for (int i = 0; i < train.n; i++)
        if (strcmp(train.items[i], "-") == 0)
            return cli_error(CMD, "--train cannot be '-' (each direction reads the files again)");
    if (strcmp(test, "-") == 0)
        return cli_error(CMD, "--test cannot be '-' (each direction reads the file again)");

    double t0 = elmo_now();
    elmo_vocab *v = NULL;
    elmo_status s = elmo_vocab_load(vocab, &v);
    if (s) return cli_lib_error(CMD, s);
    direction_result fw, bw;
    if (run_direction(v, &train, test, order, 0, &fw) ||
        run_direction(v, &train, test, order, 1, &bw)) {
        elmo_vocab_free(v);
        return 1;
    }
    double seconds = elmo_now() - t0;
    uint32_t V = elmo_vocab_size(v);
    elmo_vocab_free(v);

    const elmo_ngram_eval *e = &fw.ev;
    double fp = ppl(&fw.ev), bp = ppl(&bw.ev);
    double mean = 0.5 * (fp + bp);
    double loss_mean =
        e->n_predictions ? exp(0.5 * (fw.ev.nll + bw.ev.nll) / (double)e->n_predictions) : NAN;
    double oov = e->n_words ? (double)e->n_oov / (double)e->n_words : 0.0;
    double train_oov = fw.info.n_words ? (double)fw.info.n_oov / (double)fw.info.n_words : 0.0;

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "order", order);
        cJSON_AddNumberToObject(o, "vocab_size", V);
        cJSON_AddNumberToObject(o, "train_sentences", (double)fw.info.n_sentences);
        cJSON_AddNumberToObject(o, "train_words", (double)fw.info.n_words);
        cJSON_AddNumberToObject(o, "train_oov_rate", train_oov);
        cJSON_AddNumberToObject(o, "test_sentences", (double)e->n_sentences);
        cJSON_AddNumberToObject(o, "n_words", (double)e->n_words);
        cJSON_AddNumberToObject(o, "n_oov", (double)e->n_oov);
        cJSON_AddNumberToObject(o, "oov_rate", oov);
        cJSON_AddNumberToObject(o, "n_predictions", (double)e->n_predictions);
        cJSON_AddNumberToObject(o, "forward_ppl", fp);
        cJSON_AddNumberToObject(o, "backward_ppl", bp);
        cJSON_AddNumberToObject(o, "mean_ppl", mean);
        cJSON_AddNumberToObject(o, "loss_mean_ppl", loss_mean);
        cJSON_AddItemToObject(o, "forward", direction_json(&fw, fp));
        cJSON_AddItemToObject(o, "backward", direction_json(&bw, bp));
        cJSON_AddNumberToObject(o, "seconds", seconds);
        char *txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!txt) return cli_error(CMD, "out of memory");
        printf("%s\n", txt);
        cJSON_free(txt);
    } else {
        printf("%-30s %d (interpolated modified Kneser-Ney)\n", "order", order);
        printf("%-30s %u\n", "vocabulary", V);
        printf("%-30s %llu sentences, %llu words, OOV %.2f%%\n", "train",
               (unsigned long long)fw.info.n_sentences, (unsigned long long)fw.info.n_words,
               100 * train_oov);
        printf("%-30s %llu sentences, %llu words, OOV %.2f%% (%llu)\n", "test",
               (unsigned long long)e->n_sentences, (unsigned long long)e->n_words, 100 * oov,
               (unsigned long long)e->n_oov);
        printf("%-30s %llu per direction\n", "predictions", (unsigned long long)e->n_predictions);
        printf("%-30s %.3f\n", "forward perplexity", fp);
        printf("%-30s %.3f\n", "backward perplexity", bp);
        printf("%-30s %.3f\n", "mean perplexity (arithmetic)", mean);
        printf("%-30s %.3f\n", "exp(mean of the two losses)", loss_mean);
        printf("%-30s %.3f / %.3f (forward / backward)\n", "perplexity, <UNK> targets out",
               ppl_known(&fw.ev), ppl_known(&bw.ev));
        printf("%-30s %.2f s\n", "time", seconds);
    }
    return 0;
}
