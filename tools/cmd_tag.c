/*
 * cmd_tag.c: `elmo tag train|eval|predict|baseline`: sequence tagging (part of speech) on ELMo.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "tasks/tagger.h"
#include "text/textdata.h"
#include "io/util.h"

#define CMD "tag"

/* --precision of the biLM (every subcommand that loads one) */
static const char *g_precision;

static int read_tagged(const char *path, const char *format, elmo_tagged_dataset *d) {
    elmo_tagged_options o = {ELMO_TAGFMT_AUTO, ELMO_ENC_UTF8};
    if (format && elmo_tag_format_parse(format, &o.format))
        return cli_error(CMD, "--format must be auto, slash (word/TAG) or conll, got '%s'", format);
    elmo_status s = elmo_tagged_read(path, &o, d);
    return s ? cli_lib_error(CMD, s) : 0;
}

static void on_progress(const char *stage, size_t done, size_t total, double loss, double dev,
                        void *user) {
    cli_progress *pg = user;
    if (!strcmp(stage, "embed")) {
        char tail[96];
        snprintf(tail, sizeof tail, "embedding %zu/%zu sentences", done, total);
        pg->total = total;
        progress_update(pg, done, tail);
        return;
    }
    if (pg->tty) fprintf(stderr, "\r\033[K");
    if (dev >= 0)
        fprintf(stderr, "epoch %zu/%zu: mean loss %.4f, dev accuracy %.4f\n", done, total, loss,
                dev);
    else
        fprintf(stderr, "epoch %zu/%zu: mean loss %.4f\n", done, total, loss);
}

static void print_metrics(const elmo_tag_metrics *m, int json, double seconds) {
    double acc = m->n_tokens ? (double)m->correct / m->n_tokens : 0;
    double oov = m->n_oov ? (double)m->correct_oov / m->n_oov : 0;
    if (json)
        printf("{\"accuracy\": %.6f, \"n_tokens\": %zu, \"correct\": %zu, \"oov_accuracy\": %.6f, "
               "\"n_oov\": %zu, \"unknown_gold_tags\": %zu, \"seconds\": %.2f}\n",
               acc, m->n_tokens, m->correct, oov, m->n_oov, m->n_unknown_tag, seconds);
    else
        printf("accuracy %.4f (%zu of %zu tokens)\nOOV accuracy %.4f (%zu tokens unseen in "
               "training)\n",
               acc, m->correct, m->n_tokens, oov, m->n_oov);
}

static int tag_train(int argc, char **argv) {
    const char *train = NULL, *dev = NULL, *model = NULL, *sv_path = NULL, *layers = "mix",
               *output = NULL, *format = NULL;
    int epochs = 5, hidden = 256, seed = 1, batch = 512, threads = 2;
    double lr = 1e-3;
    cli_opt opts[] = {
        {"--train", OPT_STR, &train, 0, 0, "tagged sentences (word/TAG per token, or CoNLL)"},
        {"--dev", OPT_STR, &dev, 0, 0, "tagged sentences evaluated after each epoch"},
        {"--format", OPT_STR, &format, 0, 0, "auto | slash | conll"},
        {"--model", OPT_STR, &model, 0, 0, "biLM directory (default: the embedded model)"},
        {"--precision", OPT_STR, &g_precision, 0, 0, CLI_PRECISION_HELP},
        {"--layers", OPT_STR, &layers, 0, 0,
         "mix (scalar mix of all layers) | token (context-free layer only)"},
        {"--static-vectors", OPT_STR, &sv_path, 0, 0,
         "GloVe / word2vec text vectors to concatenate"},
        {"--epochs", OPT_INT, &epochs, 1, 100000, "epochs"},
        {"--hidden", OPT_INT, &hidden, 0, 65536, "hidden units (0 = linear)"},
        {"--batch-tokens", OPT_INT, &batch, 1, 1000000, "tokens per Adam step"},
        {"--lr", OPT_FLOAT, &lr, 1e-9, 10, "Adam learning rate"},
        {"--seed", OPT_INT, &seed, 0, 2147483647, "seed"},
        {"--threads", OPT_INT, &threads, 1, 2, "threads for the biLM"},
        {"--output", OPT_STR, &output, 0, 0, "tagger file to write"},
        {0}};
    int r = cli_parse(CMD " train", "--train FILE [--dev FILE] --output TAGGER [options]", opts,
                      argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!train) return cli_error(CMD, "missing --train");
    if (!output) return cli_error(CMD, "missing --output");
    const char *ins[] = {train, dev, sv_path};
    if (cli_check_output(CMD, output, ins, 3)) return 1;
    elmo_tagger_options o;
    elmo_tagger_options_default(&o);
    if (!strcmp(layers, "token"))
        o.layers = ELMO_TAG_LAYERS_TOKEN;
    else if (strcmp(layers, "mix"))
        return cli_error(CMD, "--layers must be mix or token");
    o.epochs = epochs, o.hidden = hidden, o.seed = (uint64_t)seed, o.batch_tokens = batch,
    o.lr = lr, o.threads = threads;
    elmo_tagged_dataset dtr = {0}, ddev = {0};
    if (read_tagged(train, format, &dtr)) return 1;
    if (dev && read_tagged(dev, format, &ddev)) {
        elmo_tagged_free(&dtr);
        return 1;
    }
    int rc = 0;
    const char *used = NULL;
    elmo_static_vectors *sv = NULL;
    elmo_tagger *t = NULL;
    elmo_model *bilm = NULL;
    elmo_labelset ls; /* before the work: something to learn */
    elmo_labelset_init(&ls);
    if (elmo_labelset_from_tags(&ls, &dtr, ELMO_LABELS_SORTED))
        rc = cli_lib_error(CMD, ELMO_ERR_NOMEM);
    else if (ls.n < 2)
        rc = cli_error(CMD, "%s: %d distinct tag%s in the training data; a tagger needs at least 2",
                       train, ls.n, ls.n == 1 ? "" : "s");
    elmo_labelset_free(&ls);
    if (!rc && !(bilm = cli_load_recorded_model(CMD, model, NULL, g_precision, &used))) rc = 1;
    if (!rc && sv_path) {
        elmo_status s = elmo_static_load(sv_path, &sv);
        if (s) rc = cli_lib_error(CMD, s);
    }
    double t0 = elmo_now();
    if (!rc) {
        fprintf(stderr, "tag: training on %zu sentences, %zu tokens (%s layers%s)\n", dtr.n,
                dtr.n_tokens, layers, sv ? " + static vectors" : "");
        cli_progress pg;
        progress_start(&pg, "tag", dtr.n);
        char sv_abs[PATH_MAX]; /* recorded absolute: predict may run elsewhere */
        const char *sv_rec = sv_path && realpath(sv_path, sv_abs) ? sv_abs : sv_path;
        elmo_status s = elmo_tagger_train(&o, bilm, used, sv, sv_rec, &dtr, dev ? &ddev : NULL,
                                          on_progress, &pg, &t);
        progress_end(&pg, NULL);
        if (s) rc = cli_lib_error(CMD, s);
    }
    if (!rc) {
        elmo_status s = elmo_tagger_save(t, output);
        if (s)
            rc = cli_lib_error(CMD, s);
        else {
            float sw[64], g;
            int K = elmo_tagger_mix(t, sw, &g);
            fprintf(stderr, "tag: trained in %.1f s -> %s; %d tags; layer weights", elmo_now() - t0,
                    output, elmo_tagger_n_tags(t));
            for (int j = 0; j < K; j++) fprintf(stderr, " %.3f", sw[j]);
            fprintf(stderr, ", gamma %.3f\n", g);
        }
    }
    elmo_tagger_free(t);
    elmo_static_free(sv);
    elmo_model_free(bilm);
    elmo_tagged_free(&dtr);
    elmo_tagged_free(&ddev);
    return rc;
}

static elmo_tagger *load_tagger(const char *path, const char *model, const char *sv_path,
                                elmo_model **bilm, elmo_static_vectors **sv) {
    elmo_tagger *t;
    elmo_status s = elmo_tagger_load(path, &t);
    if (s) {
        cli_lib_error(CMD, s);
        return NULL;
    }
    const char *used;
    *sv = NULL;
    if (!(*bilm = cli_load_recorded_model(CMD, model,
                                          cli_resolve_recorded(elmo_tagger_bilm_dir(t), path),
                                          g_precision, &used))) {
        elmo_tagger_free(t);
        return NULL;
    }
    const char *svp = sv_path ? sv_path : cli_resolve_recorded(elmo_tagger_static_path(t), path);
    if ((svp && (s = elmo_static_load(svp, sv))) || (s = elmo_tagger_attach(t, *bilm, *sv))) {
        cli_lib_error(CMD, s);
        elmo_tagger_free(t);
        elmo_model_free(*bilm);
        elmo_static_free(*sv);
        return NULL;
    }
    return t;
}

static int tag_eval(int argc, char **argv) {
    const char *tagger = NULL, *test = NULL, *model = NULL, *sv_path = NULL, *format = NULL;
    int json = 0;
    cli_opt opts[] = {
        {"--tagger", OPT_STR, &tagger, 0, 0, "tagger file (elmo tag train)"},
        {"--test", OPT_STR, &test, 0, 0, "tagged sentences"},
        {"--format", OPT_STR, &format, 0, 0, "auto | slash | conll"},
        {"--model", OPT_STR, &model, 0, 0, "the biLM (default: the one recorded)"},
        {"--precision", OPT_STR, &g_precision, 0, 0, CLI_PRECISION_HELP},
        {"--static-vectors", OPT_STR, &sv_path, 0, 0, "static vectors (default: as recorded)"},
        {"--json", OPT_BOOL, &json, 0, 0, "one JSON object"},
        {0}};
    int r = cli_parse(CMD " eval", "--tagger TAGGER --test FILE [--json]", opts, argc, argv, NULL,
                      0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!tagger) return cli_error(CMD, "missing --tagger");
    if (!test) return cli_error(CMD, "missing --test");
    elmo_model *bilm;
    elmo_static_vectors *sv;
    elmo_tagger *t = load_tagger(tagger, model, sv_path, &bilm, &sv);
    if (!t) return 1;
    elmo_tagged_dataset d = {0};
    int rc = read_tagged(test, format, &d);
    if (!rc) {
        cli_progress pg;
        progress_start(&pg, "tag", d.n);
        double t0 = elmo_now();
        elmo_tag_metrics m;
        elmo_status s = elmo_tagger_evaluate(t, &d, &m, on_progress, &pg);
        progress_end(&pg, NULL);
        if (s)
            rc = cli_lib_error(CMD, s);
        else
            print_metrics(&m, json, elmo_now() - t0);
    }
    elmo_tagged_free(&d);
    elmo_tagger_free(t);
    elmo_model_free(bilm);
    elmo_static_free(sv);
    return rc;
}

static int tag_predict(int argc, char **argv) {
    const char *tagger = NULL, *model = NULL, *sv_path = NULL;
    const char *pos[1] = {"-"};
    int npos = 0;
    cli_opt opts[] = {
        {"--tagger", OPT_STR, &tagger, 0, 0, "tagger file"},
        {"--model", OPT_STR, &model, 0, 0, "the biLM (default: the one recorded)"},
        {"--precision", OPT_STR, &g_precision, 0, 0, CLI_PRECISION_HELP},
        {"--static-vectors", OPT_STR, &sv_path, 0, 0, "static vectors (default: as recorded)"},
        {0}};
    int r = cli_parse(CMD " predict", "--tagger TAGGER [FILE|-]  (one tokenized sentence per line)",
                      opts, argc, argv, pos, 1, &npos);
    if (r) return r == 1 ? 0 : r;
    if (!tagger) return cli_error(CMD, "missing --tagger");
    elmo_model *bilm;
    elmo_static_vectors *sv;
    elmo_tagger *t = load_tagger(tagger, model, sv_path, &bilm, &sv);
    if (!t) return 1;
    elmo_tagged_dataset d = {0};
    elmo_status s = elmo_untagged_read(pos[0], ELMO_ENC_UTF8, &d);
    int rc = 0;
    int32_t *pred = NULL;
    if (s) rc = cli_lib_error(CMD, s);
    if (!rc && !(pred = malloc(sizeof(int32_t) * (d.n_tokens ? d.n_tokens : 1))))
        rc = cli_error(CMD, "out of memory");
    if (!rc && (s = elmo_tagger_predict(t, &d, pred, NULL, NULL))) rc = cli_lib_error(CMD, s);
    for (size_t i = 0; !rc && i < d.n; i++) {
        const elmo_sentence *q = &d.sent[i];
        for (size_t k = 0; k < q->n; k++)
            printf("%s%s/%s", k ? " " : "", q->words[k], elmo_tagger_tag(t, pred[q->first + k]));
        printf("\n");
    }
    free(pred);
    elmo_tagged_free(&d);
    elmo_tagger_free(t);
    elmo_model_free(bilm);
    elmo_static_free(sv);
    return rc;
}

static int tag_baseline(int argc, char **argv) {
    const char *train = NULL, *test = NULL, *format = NULL;
    int json = 0;
    cli_opt opts[] = {{"--train", OPT_STR, &train, 0, 0, "tagged training sentences"},
                      {"--test", OPT_STR, &test, 0, 0, "tagged test sentences"},
                      {"--format", OPT_STR, &format, 0, 0, "auto | slash | conll"},
                      {"--json", OPT_BOOL, &json, 0, 0, "one JSON object"},
                      {0}};
    int r = cli_parse(CMD " baseline",
                      "--train FILE --test FILE [--json]  (most frequent tag per word)", opts, argc,
                      argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!train || !test) return cli_error(CMD, "need --train and --test");
    elmo_tagged_dataset a = {0}, b = {0};
    int rc = read_tagged(train, format, &a);
    if (!rc) rc = read_tagged(test, format, &b);
    double t0 = elmo_now();
    elmo_tag_metrics m;
    if (!rc) {
        elmo_status s = elmo_tag_baseline(&a, &b, &m);
        if (s)
            rc = cli_lib_error(CMD, s);
        else
            print_metrics(&m, json, elmo_now() - t0);
    }
    elmo_tagged_free(&a);
    elmo_tagged_free(&b);
    return rc;
}

int cmd_tag(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fprintf(
            stderr,
            "usage: elmo tag train|eval|predict|baseline [options]   (elmo tag train --help)\n");
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "train")) return tag_train(argc - 1, argv + 1);
    if (!strcmp(argv[0], "eval")) return tag_eval(argc - 1, argv + 1);
    if (!strcmp(argv[0], "predict")) return tag_predict(argc - 1, argv + 1);
    if (!strcmp(argv[0], "baseline")) return tag_baseline(argc - 1, argv + 1);
    return cli_error(CMD, "unknown subcommand '%s' (train, eval, predict or baseline)", argv[0]);
}
