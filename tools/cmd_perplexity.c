/* cmd_perplexity.c: `elmo perplexity`: held-out perplexity of a trained biLM. */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "io/util.h"

int cmd_perplexity(int argc, char **argv) {
    const char *cmd = "perplexity", *dir = NULL, *input = NULL, *precision = NULL;
    int json = 0, threads = 2;
    cli_opt opts[] = {
        {"--model", OPT_STR, &dir, 0, 0,
         "trained model directory (needs softmax.hdf5 and vocab.txt)"},
        {"--input", OPT_STR, &input, 0, 0, "tokenized sentences, one per line (- = stdin)"},
        {"--threads", OPT_INT, &threads, 1, 2, "threads"},
        {"--json", OPT_BOOL, &json, 0, 0, "print one JSON object"},
        {"--precision", OPT_STR, &precision, 0, 0, CLI_PRECISION_HELP},
        {0}};
    int r = cli_parse(cmd, "--model DIR --input FILE [--json]", opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!input) return cli_error(cmd, "missing --input");
    if (!dir) dir = cli_default_model_dir();
    if (!dir) return cli_error(cmd, "missing --model (and no default model found)");
    elmo_precision prec;
    if (cli_precision(cmd, precision, &prec)) return 1;
    elmo_ppl_result p;
    double t0 = elmo_now();
    elmo_status s = elmo_perplexity(dir, input, threads, prec, &p);
    if (s) return cli_lib_error(cmd, s);
    double el = elmo_now() - t0;
    double oov = p.n_words ? (double)p.n_oov / p.n_words : 0;
    if (json) {
        printf("{\"forward_ppl\": %.4f, \"backward_ppl\": %.4f, \"mean_ppl\": %.4f, "
               "\"n_sentences\": %llu, \"n_predictions\": %llu, \"n_words\": %llu, \"oov_rate\": "
               "%.6f, "
               "\"seconds\": %.2f}\n",
               p.fw_ppl, p.bw_ppl, p.mean_ppl, (unsigned long long)p.n_sentences,
               (unsigned long long)p.n_predictions, (unsigned long long)p.n_words, oov, el);
    } else {
        printf("%-22s %.3f\n%-22s %.3f\n%-22s %.3f\n%-22s %llu\n%-22s %llu\n%-22s %.2f%%\n",
               "forward perplexity", p.fw_ppl, "backward perplexity", p.bw_ppl,
               "mean (exp mean loss)", p.mean_ppl, "sentences", (unsigned long long)p.n_sentences,
               "predictions/direction", (unsigned long long)p.n_predictions, "OOV words",
               100 * oov);
    }
    return 0;
}
