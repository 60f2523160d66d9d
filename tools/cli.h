/*
 * cli.h: what the elmo subcommands share: a declarative flag parser, model resolution,
 * error exit, and the progress line.
 */
#ifndef ELMO_CLI_H
#define ELMO_CLI_H

#include <glob.h>
#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

typedef enum { OPT_STR, OPT_INT, OPT_FLOAT, OPT_BOOL, OPT_LIST } opt_type;

/* One flag: --name VALUE (or --name for OPT_BOOL). OPT_LIST collects every following
 * non-flag argument (e.g. --input a.txt b.txt). */
typedef struct {
    const char *name;
    opt_type type;
    void *ptr;     /* const char **, int *, double *, int *, or cli_list * */
    double lo, hi; /* accepted range for OPT_INT / OPT_FLOAT */
    const char *help;
} cli_opt;

typedef struct {
    const char **items;
    int n;
} cli_list;

/* Parse argv (after the subcommand name). Returns 0, or prints one line and returns 2 on a
 * bad flag; with --help prints usage and returns 1. Positional arguments (not starting
 * with --, or "-") go to *pos (up to max_pos). */
int cli_parse(const char *cmd, const char *usage, cli_opt *opts, int argc, char **argv,
              const char **pos, int max_pos, int *n_pos);
void cli_usage(const char *cmd, const char *usage, const cli_opt *opts);

/* Print "elmo CMD: message" (the library's last error when msg is NULL) and return 1. */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_lib_error(const char *cmd, elmo_status s);
/* 0 when the line (len bytes of file name, line lineno) is valid UTF-8; otherwise prints
 * "cmd: NAME:LINE: invalid UTF-8 at byte N" and returns 1. */
int cli_check_utf8(const char *cmd, const char *name, uint64_t lineno, const char *line,
                   size_t len);

/* Check an output path before the work starts (elmo_output_check: not empty, not a
 * directory, its directory writable, not one of the n inputs); prints the error, returns 1. */
int cli_check_output(const char *cmd, const char *path, const char *const *inputs, int n_inputs);
/* Directory walkers and glob patterns take regular files only: for a FIFO, device or
 * socket (reading one may block forever) prints "elmo CMD: PATH: not a regular file (...):
 * skipped" and returns 1; 0 for a regular file, a directory or a path that does not exist. */
int cli_skip_special(const char *cmd, const char *path);
/* Expand the patterns of `in` with glob(3) into *g (sorted; the caller globfree()s it); the
 * first *n paths are the regular files to read (a wildcard's other matches are skipped with a
 * message). 0, or 1 after an error message (a pattern matching nothing, no file left). */
int cli_expand_globs(const char *cmd, const cli_list *in, glob_t *g, int *n);
/* SIGINT, SIGTERM, SIGHUP, SIGPIPE: remove the temporaries being written, then die by the
 * signal (the default action). Installed by main for every command. */
void cli_cleanup_on_signals(void);
/* At the end of a command: flush and close stdout; a write error (full disk, /dev/full,
 * closed pipe) prints "elmo CMD: error writing standard output: ..." and turns rc into 1. */
int cli_finish_stdout(const char *cmd, int rc);

/* The model to use: --model DIR, or --options + --weights, or the default model. */
typedef struct {
    const char *model_dir, *options, *weights;
    const char *precision; /* fp32 | bf16 | auto | int8; NULL = fp32 */
} cli_model;
#define CLI_PRECISION_HELP                                                                         \
    "fp32 (default, conformant) | bf16 (bfloat16 products: faster on CPUs with AMX or "            \
    "AVX-512-BF16) | auto (bf16 where the CPU has native bf16, else fp32) | int8 (bf16 with "      \
    "int8 recurrent weights: lowest latency for one sentence at a time)"
#define CLI_MODEL_OPTS(m)                                                                          \
    {"--model", OPT_STR, &(m).model_dir, 0, 0, "model directory (options.json, weights.hdf5)"},    \
        {"--options", OPT_STR, &(m).options, 0, 0, "options.json (with --weights)"},               \
        {"--weights", OPT_STR, &(m).weights, 0, 0, "weights.hdf5 (with --options)"}, {             \
        "--precision", OPT_STR, &(m).precision, 0, 0, CLI_PRECISION_HELP                           \
    }
/* Load the model; on failure print the error and return NULL. */
elmo_model *cli_load_model(const char *cmd, const cli_model *m);
/* The biLM of a downstream model (classifier, tagger): --model DIR when given, else the
 * directory recorded in the model file when it still exists, else the default model. *used
 * gets the directory loaded. Prints the error and returns NULL on failure. */
elmo_model *cli_load_recorded_model(const char *cmd, const char *model_dir, const char *recorded,
                                    const char *precision, const char **used);
/* Parse a --precision value (NULL = fp32); on a bad one print the error and return 1. A bf16
 * request on a CPU without native bf16 instructions gets a note on stderr. */
int cli_precision(const char *cmd, const char *name, elmo_precision *out);
/* The biLM directory recorded in a classifier/tagger file: as recorded (absolute since this
 * version), or, when relative and not found from the working directory, relative to the
 * directory of that file. Static buffer. */
const char *cli_resolve_recorded(const char *recorded, const char *model_file);
/* Default model directory (ELMO_MODEL env, installed share dir, source tree); NULL if none. */
const char *cli_default_model_dir(void);

/* Progress on stderr: a line rewritten in place when stderr is a terminal, otherwise a
 * plain log line at most every `log_every` seconds. */
typedef struct {
    const char *what;
    double t0, last, log_every;
    int tty;
    uint64_t total; /* 0 = unknown */
} cli_progress;
void progress_start(cli_progress *p, const char *what, uint64_t total);
/* done out of total (bytes, lines...), plus a free-form tail ("1234 tokens/s") */
void progress_update(cli_progress *p, uint64_t done, const char *tail);
void progress_end(cli_progress *p, const char *summary);

#endif
