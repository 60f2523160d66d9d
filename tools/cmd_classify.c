/*
 * cmd_classify.c: `elmo classify train|eval|predict`: the ELMo text classifier.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/classify.h"
#include "cli.h"
#include "tasks/featurize.h"
#include "commands.h"
#include "text/textdata.h"
#include "io/textio.h"
#include "io/util.h"

#define CMD "classify"
/* chosen on validation data of three tasks (README, "Text classification": the best mean
 * validation accuracy over SMS-like, SpamAssassin and Brown genre, scripts/heads_eval.sh) */
#define CLASSIFIER_DEFAULT_FEATURES "elmo+bow"
#define CLASSIFIER_DEFAULT_POOLING "mean"
#define CLASSIFIER_DEFAULT_STANDARDIZE "yes"

/* --precision of the biLM (every subcommand that loads one) */
static const char *g_precision;

typedef struct {
    const char *format, *text_col, *label_col, *encoding;
    int header, no_header;
} fmt_flags;

#define FORMAT_OPTS(f)                                                                             \
    {                                                                                              \
        "--format", OPT_STR, &(f).format,                                                          \
        0,          0,       "csv | tsv | fasttext (default: from the file name)"},                \
        {"--text-column",                                                                          \
         OPT_STR,                                                                                  \
         &(f).text_col,                                                                            \
         0,                                                                                        \
         0,                                                                                        \
         "text column: header name or 0-based index"},                                             \
        {"--label-column", OPT_STR, &(f).label_col, 0, 0, "label column: header name or index"},   \
        {"--encoding", OPT_STR, &(f).encoding, 0, 0, "utf-8 | latin-1"},                           \
        {"--header", OPT_BOOL, &(f).header, 0, 0, "the first line names the columns"}, {           \
        "--no-header", OPT_BOOL, &(f).no_header, 0, 0, "the first line is data"                    \
    }

/* Whether a text is too long for the biLM: over ELMO_TD_MAX_TOKENS tokens when the
 * classifier keeps them all (max_tokens 0). Prints the error naming the text. */
static int too_long(elmo_tokenizer tok, int max_tokens, const char *text, size_t len,
                    const char *name, uint64_t line, const char *hint) {
    if (max_tokens > 0) return 0; /* the first max_tokens are used */
    size_t n = elmo_tokenize_text(tok, text, len, NULL, NULL, 0);
    if (n <= ELMO_TD_MAX_TOKENS) return 0;
    return cli_error(CMD,
                     "%s:%llu: a text of %zu tokens, more than %d (the biLM's memory grows "
                     "with a text's length): %s",
                     name, (unsigned long long)line, n, ELMO_TD_MAX_TOKENS, hint);
}
#define HINT_TRAIN "give --max-tokens N to use the first N tokens of every text"
#define HINT_CLF "the classifier keeps every token (trained without --max-tokens): shorten the text"

/* Read a labelled file with the format flags. */
static int read_data(const char *path, const fmt_flags *f, elmo_labeled_dataset *d) {
    elmo_labeled_options o;
    elmo_labeled_options_default(&o);
    const char *fmt = f->format;
    if (!fmt) { /* from the extension */
        const char *dot = strrchr(path, '.');
        fmt = dot && !strcmp(dot, ".csv") ? "csv"
              : dot && (!strcmp(dot, ".txt") || !strcmp(dot, ".ft")) && strstr(path, "fasttext")
                  ? "fasttext"
                  : "tsv";
        if (dot && !strcmp(dot, ".csv")) fmt = "csv";
    }
    if (elmo_labeled_format_parse(fmt, &o.format))
        return cli_error(CMD, "--format must be csv, tsv or fasttext, got '%s'", fmt);
    if (f->encoding && elmo_encoding_parse(f->encoding, &o.encoding))
        return cli_error(CMD, "--encoding must be utf-8 or latin-1, got '%s'", f->encoding);
    if (o.format == ELMO_LABELED_CSV && !f->text_col && !f->label_col) {
        o.label_column = NULL; /* defaults: label 0, text 1 (the Kaggle spam.csv: v1, v2) */
    }
    o.text_column = f->text_col;
    o.label_column = f->label_col;
    if (f->header) o.header = 1;
    if (f->no_header) o.header = 0;
    elmo_status s = elmo_labeled_read(path, &o, d);
    if (s) return cli_lib_error(CMD, s);
    return 0;
}

static void on_progress(const char *stage, size_t done, size_t total, double loss, void *user) {
    cli_progress *pg = user;
    char tail[128];
    if (!strcmp(stage, "embed")) {
        snprintf(tail, sizeof tail, "embedding %zu/%zu texts", done, total);
        pg->total = total;
        progress_update(pg, done, tail);
    } else {
        fprintf(stderr, "%sepoch %zu/%zu: mean loss %.4f%s", pg->tty ? "\r" : "", done, total, loss,
                pg->tty ? "\033[K\n" : "\n");
    }
}

static void print_metrics(const elmo_classifier *c, const elmo_classifier_metrics *m, int json,
                          double seconds) {
    int C = m->n_classes < 16 ? m->n_classes : 16;
    if (json) {
        printf("{\"accuracy\": %.6f, \"n\": %zu, \"correct\": %zu, \"classes\": {",
               (double)m->correct / m->n, m->n, m->correct);
        for (int k = 0; k < C; k++) {
            elmo_strbuf b = {0};
            elmo_json_escape(&b, elmo_classifier_label(c, k), strlen(elmo_classifier_label(c, k)));
            printf(
                "%s\"%s\": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"support\": %zu}",
                k ? ", " : "", b.p ? b.p : "", m->precision[k], m->recall[k], m->f1[k],
                m->support[k]);
            elmo_strbuf_free(&b);
        }
        printf("}, \"confusion\": [");
        for (int k = 0; k < C; k++) {
            printf("%s[", k ? ", " : "");
            for (int j = 0; j < C; j++) printf("%s%zu", j ? ", " : "", m->confusion[k][j]);
            printf("]");
        }
        printf("], \"seconds\": %.2f}\n", seconds);
        return;
    }
    printf("accuracy %.4f (%zu of %zu)\n\n", (double)m->correct / m->n, m->correct, m->n);
    printf("%-16s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < C; k++)
        printf("%-16s %9.4f %9.4f %9.4f %9zu\n", elmo_classifier_label(c, k), m->precision[k],
               m->recall[k], m->f1[k], m->support[k]);
    printf("\nconfusion matrix (rows: gold, columns: predicted)\n%-16s", "");
    for (int j = 0; j < C; j++) printf(" %9.9s", elmo_classifier_label(c, j));
    printf("\n");
    for (int k = 0; k < C; k++) {
        printf("%-16.16s", elmo_classifier_label(c, k));
        for (int j = 0; j < C; j++) printf(" %9zu", m->confusion[k][j]);
        printf("\n");
    }
}

/* Evaluate c on examples; returns 0 or prints an error. */
static int evaluate(elmo_classifier *c, const elmo_labeled_example *ex, size_t n, int json,
                    const char *path) {
    const char **texts = malloc(sizeof(char *) * n);
    size_t *lens = malloc(sizeof(size_t) * n);
    int *gold = malloc(sizeof(int) * n);
    float *probs = malloc(sizeof(float) * n * elmo_classifier_n_classes(c));
    int rc = 0;
    if (!texts || !lens || !gold || !probs) rc = cli_error(CMD, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        texts[i] = ex[i].text;
        lens[i] = ex[i].text_len;
        gold[i] = elmo_classifier_label_id(c, ex[i].label);
        if (gold[i] < 0)
            rc = cli_error(CMD, "%s:%llu: label '%s' was not seen in training", path,
                           (unsigned long long)ex[i].line, ex[i].label);
    }
    cli_progress pg;
    progress_start(&pg, "classify", n);
    double t0 = elmo_now();
    if (!rc) {
        elmo_status s = elmo_classifier_predict(c, texts, lens, n, probs, on_progress, &pg);
        progress_end(&pg, NULL);
        if (s) rc = cli_lib_error(CMD, s);
    }
    if (!rc) {
        elmo_classifier_metrics m;
        elmo_classifier_metrics_compute(elmo_classifier_n_classes(c), n, gold, probs, &m);
        print_metrics(c, &m, json, elmo_now() - t0);
    }
    free(texts), free(lens), free(gold), free(probs);
    return rc;
}

/* The flags of `classify train`. */
typedef struct {
    fmt_flags f;
    const char *train, *test, *output, *model, *sv_path;
    const char *tokenize, *features, *pooling, *standardize, *char_ngrams;
    int word_ngrams, max_terms;
    double split, lr;
    int epochs, batch, hidden, seed, shuffle, max_tokens, bow_max_tokens, threads, json;
} train_flags;

/* Parse the flags of `classify train` into *t. 0, or the exit code (*done = 1 after --help). */
static int parse_train_flags(int argc, char **argv, train_flags *t, int *done) {
    *t = (train_flags){.tokenize = "whitespace",
                       .features = CLASSIFIER_DEFAULT_FEATURES,
                       .pooling = CLASSIFIER_DEFAULT_POOLING,
                       .standardize = CLASSIFIER_DEFAULT_STANDARDIZE,
                       .word_ngrams = 1,
                       .max_terms = 50000,
                       .lr = 1e-3,
                       .epochs = 10,
                       .batch = 60,
                       .hidden = 256,
                       .seed = 1,
                       .shuffle = -1,
                       .threads = 2};
    cli_opt opts[] = {
        {"--train", OPT_STR, &t->train, 0, 0, "labelled training data"},
        {"--test", OPT_STR, &t->test, 0, 0, "labelled test data (evaluated after training)"},
        {"--split", OPT_FLOAT, &t->split, 0.01, 0.99,
         "train on the first fraction of --train, test on the rest"},
        {"--shuffle", OPT_INT, &t->shuffle, 0, 2147483647,
         "shuffle --train with this seed before --split"},
        FORMAT_OPTS(t->f),
        {"--tokenize", OPT_STR, &t->tokenize, 0, 0, "whitespace | simple (splits punctuation off)"},
        {"--features", OPT_STR, &t->features, 0, 0,
         "elmo | bow (tf-idf baseline) | elmo+bow (both side by side)"},
        {"--pooling", OPT_STR, &t->pooling, 0, 0,
         "ELMo vectors over the tokens: mean | max | mean+max | attention | cnn (a convolution "
         "of width 3 over the mixed vectors, max over time)"},
        {"--standardize", OPT_STR, &t->standardize, 0, 0,
         "yes | no: ELMo features to zero mean and unit variance on the training texts"},
        {"--model", OPT_STR, &t->model, 0, 0, "biLM directory (default: the embedded model)"},
        {"--precision", OPT_STR, &g_precision, 0, 0, CLI_PRECISION_HELP},
        {"--ngrams", OPT_INT, &t->word_ngrams, 1, 3, "bag of words: word n-grams 1..N"},
        {"--char-ngrams", OPT_STR, &t->char_ngrams, 0, 0,
         "bag of words: also the character LO-HI-grams of every token (e.g. 2-5)"},
        {"--max-terms", OPT_INT, &t->max_terms, 1, 10000000,
         "bag of words: the terms of highest document frequency kept"},
        {"--static-vectors", OPT_STR, &t->sv_path, 0, 0,
         "GloVe / word2vec text vectors to concatenate"},
        {"--max-tokens", OPT_INT, &t->max_tokens, 0, 100000000,
         "the biLM reads the first N tokens of a text (0 = all)"},
        {"--bow-max-tokens", OPT_INT, &t->bow_max_tokens, 0, 100000000,
         "the bag of words reads the first N tokens of a text (0 = all)"},
        {"--epochs", OPT_INT, &t->epochs, 1, 100000, "epochs"},
        {"--batch-size", OPT_INT, &t->batch, 1, 4096, "examples per Adam step"},
        {"--hidden", OPT_INT, &t->hidden, 0, 65536, "hidden units (0 = linear)"},
        {"--lr", OPT_FLOAT, &t->lr, 1e-9, 10, "Adam learning rate"},
        {"--seed", OPT_INT, &t->seed, 0, 2147483647, "seed of the initialisation and batch order"},
        {"--threads", OPT_INT, &t->threads, 1, 2, "threads for the biLM"},
        {"--json", OPT_BOOL, &t->json, 0, 0, "print the test metrics as JSON"},
        {"--output", OPT_STR, &t->output, 0, 0, "classifier file to write"},
        {0}};
    int r =
        cli_parse(CMD " train", "--train FILE [--test FILE | --split 0.8] --output CLF [options]",
                  opts, argc, argv, NULL, 0, NULL);
    *done = r == 1;
    if (r) return r == 1 ? 0 : r;
    if (!t->train) return cli_error(CMD, "missing --train");
    if (!t->output) return cli_error(CMD, "missing --output");
    if (t->test && t->split > 0) return cli_error(CMD, "give --test or --split, not both");
    const char *ins[] = {t->train, t->test, t->sv_path};
    return cli_check_output(CMD, t->output, ins, 3) ? 1 : 0;
}

/* The classifier's options from the flags. 0, or 1 after an error message. */
static int train_options(const train_flags *t, elmo_classifier_options *o) {
    elmo_classifier_options_default(o);
    if (!strcmp(t->tokenize, "simple"))
        o->tokenizer = ELMO_TOK_SIMPLE;
    else if (strcmp(t->tokenize, "whitespace"))
        return cli_error(CMD, "--tokenize must be whitespace or simple");
    if (!strcmp(t->features, "bow"))
        o->features = ELMO_FEAT_BOW;
    else if (!strcmp(t->features, "elmo+bow"))
        o->features = ELMO_FEAT_ELMO_BOW;
    else if (strcmp(t->features, "elmo"))
        return cli_error(CMD, "--features must be elmo, bow or elmo+bow");
    if ((o->pooling = elmo_pool_parse(t->pooling)) < 0)
        return cli_error(CMD, "--pooling must be mean, max, mean+max, attention or cnn, got '%s'",
                         t->pooling);
    if (strcmp(t->standardize, "yes") && strcmp(t->standardize, "no"))
        return cli_error(CMD, "--standardize must be yes or no");
    o->standardize = !strcmp(t->standardize, "yes");
    o->word_ngrams = t->word_ngrams, o->bow_max_terms = t->max_terms;
    if (t->char_ngrams) {
        char tail;
        if (sscanf(t->char_ngrams, "%d-%d%c", &o->char_lo, &o->char_hi, &tail) != 2 ||
            o->char_lo < 1 || o->char_hi > 8 || o->char_lo > o->char_hi)
            return cli_error(CMD, "--char-ngrams must be LO-HI within 1-8 (e.g. 2-5), got '%s'",
                             t->char_ngrams);
    }
    if (o->features == ELMO_FEAT_ELMO && (t->word_ngrams > 1 || t->char_ngrams))
        return cli_error(CMD, "--ngrams and --char-ngrams go with --features bow or elmo+bow");
    if (o->features == ELMO_FEAT_BOW && t->sv_path)
        return cli_error(CMD, "--static-vectors goes with ELMo features");
    o->epochs = t->epochs, o->batch_size = t->batch, o->hidden = t->hidden, o->lr = t->lr,
    o->seed = (uint64_t)t->seed;
    o->max_tokens = t->max_tokens, o->bow_max_tokens = t->bow_max_tokens;
    o->threads = t->threads;
    return 0;
}

/* Before the work: the sorted label set of the training part (at least 2), every text short
 * enough for the biLM, every test label known. 0, or 1 after an error message. */
static int check_data(const train_flags *t, const elmo_classifier_options *o,
                      const elmo_labeled_slice *tr, const elmo_labeled_slice *te,
                      elmo_labelset *ls) {
    if (elmo_labelset_from_labeled(ls, tr->ex, tr->n, ELMO_LABELS_SORTED))
        return cli_lib_error(CMD, ELMO_ERR_NOMEM);
    if (ls->n < 2)
        return cli_error(CMD, "%s: the training data has %d label(s); need at least 2", t->train,
                         ls->n);
    for (size_t i = 0; o->features != ELMO_FEAT_BOW && i < tr->n + te->n; i++) {
        const elmo_labeled_example *e = i < tr->n ? &tr->ex[i] : &te->ex[i - tr->n];
        if (too_long(o->tokenizer, t->max_tokens, e->text, e->text_len,
                     i < tr->n || !t->test ? t->train : t->test, e->line, HINT_TRAIN))
            return 1;
    }
    for (size_t i = 0; i < te->n; i++)
        if (elmo_labelset_id(ls, te->ex[i].label) < 0)
            return cli_error(CMD, "%s:%llu: label '%s' does not occur in the training data",
                             t->test ? t->test : t->train, (unsigned long long)te->ex[i].line,
                             te->ex[i].label);
    return 0;
}

/* Train on the examples of tr (labels numbered by ls) into *c. 0, or 1 after an error message. */
static int fit(const train_flags *t, const elmo_classifier_options *o, const elmo_labeled_slice *tr,
               const elmo_labelset *ls, elmo_model *bilm, const char *bilm_dir,
               elmo_static_vectors *sv, int have_test, elmo_classifier **c) {
    const char **labels = malloc(sizeof(char *) * ls->n);
    elmo_classifier_item *items = malloc(sizeof *items * (tr->n ? tr->n : 1));
    int rc = 0;
    if (!labels || !items) rc = cli_error(CMD, "out of memory");
    for (int k = 0; !rc && k < ls->n; k++) labels[k] = elmo_labelset_name(ls, k);
    for (size_t i = 0; !rc && i < tr->n; i++)
        items[i] = (elmo_classifier_item){tr->ex[i].text, tr->ex[i].text_len,
                                          elmo_labelset_id(ls, tr->ex[i].label)};
    if (!rc) {
        fprintf(stderr, "classify: training on %zu texts (%d classes, %s features%s%s%s)%s\n",
                tr->n, ls->n,
                o->features == ELMO_FEAT_BOW        ? "bag-of-words"
                : o->features == ELMO_FEAT_ELMO_BOW ? "ELMo + bag-of-words"
                                                    : "ELMo",
                o->features == ELMO_FEAT_BOW ? "" : ", pooling ",
                o->features == ELMO_FEAT_BOW ? "" : elmo_pool_name(o->pooling),
                sv ? " + static vectors" : "", have_test ? "" : ", no test set");
        cli_progress pg;
        progress_start(&pg, "classify", tr->n);
        char sv_abs[PATH_MAX]; /* recorded absolute: predict may run elsewhere */
        const char *sv_rec = t->sv_path && realpath(t->sv_path, sv_abs) ? sv_abs : t->sv_path;
        elmo_status s = elmo_classifier_train(o, bilm, bilm_dir, sv, sv_rec, labels, ls->n, items,
                                              tr->n, on_progress, &pg, c);
        progress_end(&pg, NULL);
        if (s) rc = cli_lib_error(CMD, s);
    }
    free(items);
    free(labels);
    return rc;
}

/* Write the classifier file and say so, with the learnt layer weights. */
static int save_trained(elmo_classifier *c, const char *output, double t_train, int epochs) {
    elmo_status s = elmo_classifier_save(c, output);
    if (s) return cli_lib_error(CMD, s);
    float sw[64], g;
    int K = elmo_classifier_mix(c, sw, &g);
    fprintf(stderr, "classify: trained in %.1f s (features and %d epochs) -> %s", t_train, epochs,
            output);
    if (K) {
        fprintf(stderr, "; layer weights");
        for (int j = 0; j < K; j++) fprintf(stderr, " %.3f", sw[j]);
        fprintf(stderr, ", gamma %.3f", g);
    }
    fprintf(stderr, "\n");
    return 0;
}

static int classify_train(int argc, char **argv) {
    train_flags t;
    elmo_classifier_options o;
    int done, r = parse_train_flags(argc, argv, &t, &done);
    if (r || done) return r;
    if (train_options(&t, &o)) return 1;
    elmo_labeled_dataset dtrain = {0}, dtest = {0};
    if (read_data(t.train, &t.f, &dtrain)) return 1;
    if (t.test && read_data(t.test, &t.f, &dtest)) {
        elmo_labeled_free(&dtrain);
        return 1;
    }
    if (t.shuffle >= 0) elmo_labeled_shuffle(&dtrain, (uint64_t)t.shuffle);
    elmo_labeled_slice tr = {dtrain.ex, dtrain.n}, te = {dtest.ex, dtest.n};
    if (t.split > 0 && elmo_labeled_split(&dtrain, t.split, &tr, &te)) {
        elmo_labeled_free(&dtrain);
        return cli_lib_error(CMD, ELMO_ERR_ARG);
    }
    elmo_labelset ls;
    elmo_labelset_init(&ls);
    elmo_model *bilm = NULL;
    elmo_static_vectors *sv = NULL;
    elmo_classifier *c = NULL;
    const char *bilm_dir = NULL;
    int rc = check_data(&t, &o, &tr, &te, &ls);
    if (!rc && o.features != ELMO_FEAT_BOW &&
        !(bilm = cli_load_recorded_model(CMD, t.model, NULL, g_precision, &bilm_dir)))
        rc = 1;
    if (!rc && t.sv_path) {
        elmo_status s = elmo_static_load(t.sv_path, &sv);
        if (s) rc = cli_lib_error(CMD, s);
    }
    double t0 = elmo_now();
    if (!rc) rc = fit(&t, &o, &tr, &ls, bilm, bilm_dir, sv, te.n > 0, &c);
    double t_train = elmo_now() - t0;
    /* the classifier file is written last: only when everything else has succeeded */
    if (!rc && te.n) rc = evaluate(c, te.ex, te.n, t.json, t.test ? t.test : t.train);
    if (!rc) rc = save_trained(c, t.output, t_train, t.epochs);
    elmo_classifier_free(c);
    elmo_static_free(sv);
    elmo_model_free(bilm);
    elmo_labelset_free(&ls);
    elmo_labeled_free(&dtrain);
    elmo_labeled_free(&dtest);
    return rc;
}

/* Load a classifier with its biLM (and static vectors). */
static elmo_classifier *load_classifier(const char *path, const char *model, const char *sv_path,
                                        elmo_model **bilm, elmo_static_vectors **sv) {
    elmo_classifier *c;
    elmo_status s = elmo_classifier_load(path, &c);
    if (s) {
        cli_lib_error(CMD, s);
        return NULL;
    }
    *bilm = NULL;
    *sv = NULL;
    if (elmo_classifier_features(c) != ELMO_FEAT_BOW) {
        const char *used;
        if (!(*bilm = cli_load_recorded_model(
                  CMD, model, cli_resolve_recorded(elmo_classifier_bilm_dir(c), path), g_precision,
                  &used))) {
            elmo_classifier_free(c);
            return NULL;
        }
        const char *svp =
            sv_path ? sv_path : cli_resolve_recorded(elmo_classifier_static_path(c), path);
        if ((svp && (s = elmo_static_load(svp, sv))) ||
            (s = elmo_classifier_attach(c, *bilm, *sv))) {
            cli_lib_error(CMD, s);
            elmo_classifier_free(c);
            elmo_model_free(*bilm);
            elmo_static_free(*sv);
            *bilm = NULL;
            *sv = NULL;
            return NULL;
        }
    }
    return c;
}

static int classify_eval(int argc, char **argv) {
    fmt_flags f = {0};
    const char *clf = NULL, *test = NULL, *model = NULL, *sv_path = NULL;
    int json = 0;
    cli_opt opts[] = {
        {"--classifier", OPT_STR, &clf, 0, 0, "classifier file (elmo classify train)"},
        {"--test", OPT_STR, &test, 0, 0, "labelled test data"},
        FORMAT_OPTS(f),
        {"--model", OPT_STR, &model, 0, 0,
         "the biLM (default: the one recorded in the classifier)"},
        {"--precision", OPT_STR, &g_precision, 0, 0, CLI_PRECISION_HELP},
        {"--static-vectors", OPT_STR, &sv_path, 0, 0, "static vectors (default: as recorded)"},
        {"--json", OPT_BOOL, &json, 0, 0, "one JSON object"},
        {0}};
    int r = cli_parse(CMD " eval", "--classifier CLF --test FILE [--json]", opts, argc, argv, NULL,
                      0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!clf) return cli_error(CMD, "missing --classifier");
    if (!test) return cli_error(CMD, "missing --test");
    elmo_model *bilm;
    elmo_static_vectors *sv;
    elmo_classifier *c = load_classifier(clf, model, sv_path, &bilm, &sv);
    if (!c) return 1;
    elmo_labeled_dataset d = {0};
    int rc = read_data(test, &f, &d);
    for (size_t i = 0; !rc && elmo_classifier_features(c) != ELMO_FEAT_BOW && i < d.n; i++)
        rc = too_long(elmo_classifier_tokenizer(c), elmo_classifier_max_tokens(c), d.ex[i].text,
                      d.ex[i].text_len, test, d.ex[i].line, HINT_CLF);
    if (!rc) rc = evaluate(c, d.ex, d.n, json, test);
    elmo_labeled_free(&d);
    elmo_classifier_free(c);
    elmo_static_free(sv);
    elmo_model_free(bilm);
    return rc;
}

static int classify_predict(int argc, char **argv) {
    const char *clf = NULL, *model = NULL, *sv_path = NULL, *enc = NULL;
    const char *pos[1] = {"-"};
    int npos = 0;
    cli_opt opts[] = {
        {"--classifier", OPT_STR, &clf, 0, 0, "classifier file"},
        {"--model", OPT_STR, &model, 0, 0, "the biLM (default: the one recorded)"},
        {"--precision", OPT_STR, &g_precision, 0, 0, CLI_PRECISION_HELP},
        {"--static-vectors", OPT_STR, &sv_path, 0, 0, "static vectors (default: as recorded)"},
        {"--encoding", OPT_STR, &enc, 0, 0, "utf-8 | latin-1"},
        {0}};
    int r = cli_parse(CMD " predict", "--classifier CLF [FILE|-]  (one text per line)", opts, argc,
                      argv, pos, 1, &npos);
    if (r) return r == 1 ? 0 : r;
    if (!clf) return cli_error(CMD, "missing --classifier");
    int latin1 = 0;
    if (enc) {
        elmo_encoding e;
        if (elmo_encoding_parse(enc, &e))
            return cli_error(CMD, "--encoding must be utf-8 or latin-1");
        latin1 = e == ELMO_ENC_LATIN1;
    }
    elmo_model *bilm;
    elmo_static_vectors *sv;
    elmo_classifier *c = load_classifier(clf, model, sv_path, &bilm, &sv);
    if (!c) return 1;
    elmo_line_reader rd;
    elmo_status s = elmo_line_reader_open(&rd, pos[0], (size_t)64 << 20);
    if (!s) rd.raw_bytes = 1; /* decoded below (--encoding) */
    if (s) {
        elmo_classifier_free(c);
        elmo_model_free(bilm);
        elmo_static_free(sv);
        return cli_lib_error(CMD, s);
    }
    /* batches of lines: read, convert, classify, print in order */
    enum { BATCH = 512 };
    char *texts[BATCH];
    size_t lens[BATCH];
    int C = elmo_classifier_n_classes(c), rc = 0, eof = 0;
    float *probs = malloc(sizeof(float) * BATCH * C);
    while (!rc && !eof && probs) {
        int n = 0;
        while (n < BATCH) {
            int got;
            elmo_status s = elmo_line_reader_next(&rd, &got);
            if (s) {
                rc = cli_lib_error(CMD, s);
                break;
            }
            if (!got) {
                eof = 1;
                break;
            }
            elmo_strbuf b = {0};
            if (latin1) {
                for (size_t i = 0; i < rd.len; i++) {
                    unsigned char ch = (unsigned char)rd.line[i];
                    char u[2] = {(char)(0xc0 | (ch >> 6)), (char)(0x80 | (ch & 0x3f))};
                    if (ch < 0x80)
                        elmo_strbuf_add(&b, (char *)&ch, 1);
                    else
                        elmo_strbuf_add(&b, u, 2);
                }
            } else {
                size_t v = elmo_utf8_valid_prefix(rd.line, rd.len);
                if (v != rd.len) {
                    rc = cli_error(CMD, "%s:%llu: invalid UTF-8 (try --encoding latin-1)", rd.name,
                                   (unsigned long long)rd.lineno);
                    break;
                }
                elmo_strbuf_add(&b, rd.line, rd.len);
            }
            size_t sl;
            const char *st = elmo_strip(b.p ? b.p : "", b.n, &sl);
            if (sl == 0) {
                elmo_strbuf_free(&b);
                rc = cli_error(CMD, "%s:%llu: empty text", rd.name, (unsigned long long)rd.lineno);
                break;
            }
            if (elmo_classifier_features(c) != ELMO_FEAT_BOW &&
                (rc = too_long(elmo_classifier_tokenizer(c), elmo_classifier_max_tokens(c), st, sl,
                               rd.name, rd.lineno, HINT_CLF))) {
                elmo_strbuf_free(&b);
                break;
            }
            texts[n] = malloc(sl + 1);
            memcpy(texts[n], st, sl);
            texts[n][sl] = 0;
            lens[n++] = sl;
            elmo_strbuf_free(&b);
        }
        if (!rc && n) {
            s = elmo_classifier_predict(c, (const char *const *)texts, lens, (size_t)n, probs, NULL,
                                        NULL);
            if (s) rc = cli_lib_error(CMD, s);
            for (int i = 0; !rc && i < n; i++) {
                int best = 0;
                for (int k = 1; k < C; k++)
                    if (probs[i * C + k] > probs[i * C + best]) best = k;
                printf("%s\t%.4f\n", elmo_classifier_label(c, best), probs[i * C + best]);
            }
        }
        for (int i = 0; i < n; i++) free(texts[i]);
    }
    free(probs);
    elmo_line_reader_close(&rd);
    elmo_classifier_free(c);
    elmo_model_free(bilm);
    elmo_static_free(sv);
    return rc;
}

int cmd_classify(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fprintf(
            stderr,
            "usage: elmo classify train|eval|predict [options]   (elmo classify train --help)\n");
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "train")) return classify_train(argc - 1, argv + 1);
    if (!strcmp(argv[0], "eval")) return classify_eval(argc - 1, argv + 1);
    if (!strcmp(argv[0], "predict")) return classify_predict(argc - 1, argv + 1);
    return cli_error(CMD, "unknown subcommand '%s' (train, eval or predict)", argv[0]);
}
