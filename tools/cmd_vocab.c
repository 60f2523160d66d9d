/* cmd_vocab.c: `elmo vocab --input FILE... --output vocab.txt`: the vocabulary file for
 * `elmo train`, counted from tokenized text (elmo_vocab_build, src/train/vocab.c). */
#include <glob.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "train/vocab.h"

int cmd_vocab(int argc, char **argv) {
    const char *cmd = "vocab";
    cli_list in = {0};
    const char *out = NULL;
    int min_count = 1, max_size = 0;
    cli_opt opts[] = {
        {"--input", OPT_LIST, &in, 0, 0, "tokenized text files or globs"},
        {"--output", OPT_STR, &out, 0, 0, "vocabulary file to write"},
        {"--min-count", OPT_INT, &min_count, 1, 2000000000, "keep words seen at least this often"},
        {"--max-size", OPT_INT, &max_size, 0, 2000000000, "at most this many lines (0 = no limit)"},
        {0}};
    int r = cli_parse(cmd, "--input FILE... --output vocab.txt [--min-count N] [--max-size N]",
                      opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!in.n) return cli_error(cmd, "missing --input");
    if (!out) return cli_error(cmd, "missing --output");
    if (max_size && max_size < 3)
        return cli_error(cmd, "--max-size must be at least 3 (<S>, </S>, <UNK>)");
    glob_t g;
    int nfiles;
    if (cli_expand_globs(cmd, &in, &g, &nfiles) ||
        cli_check_output(cmd, out, (const char *const *)g.gl_pathv, nfiles)) {
        globfree(&g);
        return 1;
    }
    uint64_t distinct, tokens, kept;
    double cov;
    elmo_status s = elmo_vocab_build((const char *const *)g.gl_pathv, nfiles, (uint64_t)min_count,
                                     (uint64_t)max_size, out, &distinct, &tokens, &kept, &cov);
    globfree(&g);
    if (s) return cli_lib_error(cmd, s);
    fprintf(stderr,
            "vocab: %llu tokens, %llu distinct words; wrote %llu entries to %s (coverage %.2f%%)\n",
            (unsigned long long)tokens, (unsigned long long)distinct, (unsigned long long)kept, out,
            100 * cov);
    return 0;
}
