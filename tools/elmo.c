/*
 * elmo.c: the command-line tool. Dispatches to one subcommand per lifecycle stage; data goes
 * to stdout or files, logs and progress to stderr.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "elmo.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"embed", cmd_embed, "embed sentences (one per line) into an HDF5 file"},
    {"vocab", cmd_vocab, "build a vocabulary (bilm-tf format) from tokenized text"},
    {"train", cmd_train, "train a biLM (bilm-tf's algorithm); --resume, --init-from"},
    {"perplexity", cmd_perplexity, "held-out perplexity of a trained biLM (full softmax)"},
    {"classify", cmd_classify, "text classification on ELMo: train, eval, predict"},
    {"tag", cmd_tag, "sequence tagging (part of speech) on ELMo: train, eval, predict, baseline"},
    {"similarity", cmd_similarity,
     "cosine similarity of one word's vectors across sentences, per layer"},
    {"info", cmd_info, "print a model's architecture, parameter count and FLOPs per token"},
    {"data", cmd_data, "convert the corpora (Brown, prose, SpamAssassin) to text files"},
    {"random-model", cmd_random_model, "write random weights (bilm-tf layout) for an options.json"},
    {"dump-token-embeddings", cmd_dump_token_embeddings,
     "token-layer vectors of a vocabulary (bilm-tf format)"},
    {"serve", cmd_serve, "HTTP embedding service with dynamic batching (POST /v1/embed)"},
    {"ngram", cmd_ngram, "Kneser-Ney n-gram baseline: forward/backward perplexity of a test file"},
    {NULL, NULL, NULL},
};

static void usage(void) {
    fprintf(stderr,
            "elmo %s: ELMo contextual word vectors in C\n\n"
            "usage: elmo COMMAND [options]   (elmo COMMAND --help for its options)\n\n",
            ELMO_VERSION);
    for (const command *c = commands; c->name; c++)
        fprintf(stderr, "  %-22s %s\n", c->name, c->help);
    fprintf(stderr, "\nexample:\n  echo 'I deposited cash at the bank .' | elmo embed --input - "
                    "--output out.hdf5\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("elmo %s\n", ELMO_VERSION);
        return cli_finish_stdout("--version", 0);
    }
    cli_cleanup_on_signals(); /* temporaries removed on SIGTERM/SIGINT (train has its own) */
    for (const command *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return cli_finish_stdout(c->name, c->fn(argc - 2, argv + 2));
    fprintf(stderr, "elmo: unknown command '%s' (see elmo --help)\n", argv[1]);
    return 2;
}
