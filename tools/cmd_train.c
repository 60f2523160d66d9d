/*
 * cmd_train.c: `elmo train` (bilm-tf's training algorithm).
 * Under mpirun, `elmo train` is data-parallel (see src/train/train.c): --batch-size is the global
 * batch, rank 0 prints the progress and writes the save directory.
 */
#include <dirent.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "io/dist.h"
#include "io/util.h"
#include "train/vocab.h"

static volatile int g_stop; /* the signal that asked the run to stop, or 0 */
static void on_signal(int sig) { g_stop = sig; }

/* Whether dir exists and holds anything. */
static int dir_has_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d))) any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return any;
}

static void fmt_time(char *b, size_t n, double s) {
    if (!(s >= 0) || s > 1e8)
        snprintf(b, n, "?");
    else if (s >= 3600)
        snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

static void on_progress(const elmo_train_progress *p, void *user) {
    int tty = *(int *)user;
    char eta[32], el[32];
    fmt_time(eta, sizeof eta, p->eta_s);
    fmt_time(el, sizeof el, p->elapsed_s);
    fprintf(stderr,
            "%sstep %lld/%lld (%.1f%%) | %.0f tokens/s | train ppl %.2f (fw %.2f, bw %.2f) | %s "
            "elapsed, ETA %s%s%s",
            tty ? "\r" : "", (long long)p->step, (long long)p->total_steps,
            100.0 * p->step / p->total_steps, p->tokens_per_s, p->train_ppl, p->fw_ppl, p->bw_ppl,
            el, eta, p->checkpoint ? " | checkpoint" : "", tty ? "\033[K" : "\n");
    fflush(stderr);
}

/* What the run is about to do (rank 0, on stderr). */
static void announce(const elmo_train_config *c, int size) {
    fprintf(stderr, "train: %d file(s), save dir %s%s\n", c->n_train_files, c->save_dir,
            c->resume ? " (resuming)" : "");
    if (size > 1)
        fprintf(stderr, "train: %d processes, data parallel (the batch's rows split across them)\n",
                size);
    char *sm = c->init_from ? elmo_path_join(c->init_from, "softmax.hdf5") : NULL;
    if (sm && !c->resume && !elmo_file_exists(sm))
        fprintf(stderr,
                "train: %s has no softmax.hdf5 (a published model): a new softmax is trained for "
                "%lld steps with the biLM frozen, then everything\n",
                c->init_from, (long long)c->freeze_steps);
    free(sm);
}

/* The exit status of a run that returned s; MPI shut down. */
static int finish(const char *cmd, elmo_status s, int rank, int size) {
    if (s) {
        int rc = 1;
        if (size == 1)
            rc = cli_lib_error(cmd, s);
        else if (!elmo_dist_peer_failed()) /* the failing rank reports it; the others are quiet */
            rc = cli_error(cmd, "rank %d of %d: %s", rank, size, elmo_last_error());
        /* a failure the other ranks do not know about: they may wait in a collective */
        if (!elmo_dist_failure_shared()) elmo_dist_abort(rc);
        elmo_dist_finalize();
        return rc;
    }
    if (g_stop && rank == 0)
        fprintf(stderr, "train: stopped by a signal; checkpoint written, continue with --resume\n");
    elmo_dist_finalize();
    /* stopped is not finished: 128 + the signal, as a shell reports a process it killed, so
     * that a script does not go on to use the model as if training had ended */
    return g_stop ? 128 + g_stop : 0;
}

int cmd_train(int argc, char **argv) {
    const char *cmd = "train";
    elmo_train_config c;
    elmo_train_config_init(&c);
    cli_list train = {0};
    const char *precision = NULL;
    int epochs = 0, max_steps = 0, batch = 0, unroll = 0, neg = 0, seed = 1, threads = 2;
    int resume = 0, force = 0, full = 0, ckpt = 1000, log_every = 20, chunk = 200000, freeze = 1000;
    double lr = -1, dropout = -1, clip = -1, restart = 0;
    cli_opt opts[] = {
        {"--options", OPT_STR, &c.options_path, 0, 0,
         "options.json (architecture; bilm-tf training keys as defaults)"},
        {"--vocab", OPT_STR, &c.vocab_path, 0, 0, "vocabulary (elmo vocab)"},
        {"--train", OPT_LIST, &train, 0, 0, "training files or glob patterns ('data/*.txt')"},
        {"--save-dir", OPT_STR, &c.save_dir, 0, 0, "output directory"},
        {"--epochs", OPT_INT, &epochs, 1, 1000000,
         "passes over the data (default: options' n_epochs or 10)"},
        {"--max-steps", OPT_INT, &max_steps, 1, 2000000000, "stop after this many steps instead"},
        {"--batch-size", OPT_INT, &batch, 1, 65536, "rows per batch (default: options' or 128)"},
        {"--unroll-steps", OPT_INT, &unroll, 1, 10000, "truncated BPTT length (default 20)"},
        {"--negatives", OPT_INT, &neg, 1, 100000000, "sampled softmax candidates (default 8192)"},
        {"--full-softmax", OPT_BOOL, &full, 0, 0, "full softmax instead of sampled"},
        {"--lr", OPT_FLOAT, &lr, 1e-9, 1e3, "Adagrad learning rate (default 0.2)"},
        {"--dropout", OPT_FLOAT, &dropout, 0, 0.99, "dropout (default 0.1)"},
        {"--clip-norm", OPT_FLOAT, &clip, 1e-9, 1e9, "global gradient-norm clip (default 10)"},
        {"--state-restart", OPT_FLOAT, &restart, 0, 1,
         "probability that a row's LSTM state restarts from zero at a sentence start (0 = bilm-tf; "
         "1 = "
         "trained as stateless inference runs)"},
        {"--seed", OPT_INT, &seed, 0, 2147483647, "random seed"},
        {"--threads", OPT_INT, &threads, 1, 2, "threads (the two directions run in parallel)"},
        {"--precision", OPT_STR, &precision, 0, 0,
         "fp32 (default) | bf16 (bfloat16 products; float32 master weights and Adagrad) | auto"},
        {"--resume", OPT_BOOL, &resume, 0, 0, "continue from SAVE_DIR/checkpoint.bin"},
        {"--force", OPT_BOOL, &force, 0, 0, "start over in a save directory that is not empty"},
        {"--init-from", OPT_STR, &c.init_from, 0, 0,
         "continue training a model DIR on new text: one of elmo train, or a published "
         "bilm-tf/AllenNLP options.json + weights.hdf5 (a new softmax is learned first)"},
        {"--freeze-steps", OPT_INT, &freeze, 0, 2000000000,
         "with a published model (no softmax.hdf5): steps that train only the new softmax, the "
         "biLM frozen"},
        {"--checkpoint-every", OPT_INT, &ckpt, 1, 2000000000, "steps between checkpoints"},
        {"--log-every", OPT_INT, &log_every, 1, 2000000000, "steps between log lines"},
        {"--shuffle-lines", OPT_INT, &chunk, 1, 100000000, "sentences shuffled together in memory"},
        {0}};
    int r =
        cli_parse(cmd, "--options O.json --vocab vocab.txt --train 'GLOB' --save-dir DIR [options]",
                  opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!c.vocab_path) return cli_error(cmd, "missing --vocab");
    if (!train.n) return cli_error(cmd, "missing --train");
    if (!c.save_dir) return cli_error(cmd, "missing --save-dir");
    if (!c.options_path && !c.init_from && !resume) return cli_error(cmd, "missing --options");
    if (!resume && !force && dir_has_entries(c.save_dir))
        return cli_error(cmd,
                         "%s: the save directory is not empty: continue its run with --resume, "
                         "or start over (its checkpoint replaced) with --force",
                         c.save_dir);
    glob_t g;
    int nfiles;
    if (cli_expand_globs(cmd, &train, &g, &nfiles)) {
        globfree(&g);
        return 1;
    }
    c.train_files = (const char *const *)g.gl_pathv;
    c.n_train_files = nfiles;
    c.epochs = epochs;
    c.max_steps = max_steps;
    c.batch_size = batch;
    c.unroll_steps = unroll;
    c.negatives = neg;
    c.full_softmax = full;
    c.lr = lr;
    c.dropout = dropout;
    c.clip_norm = clip;
    c.state_restart = restart;
    c.seed = (uint64_t)seed;
    c.threads = threads;
    if (cli_precision("train", precision, &c.precision)) return 1;
    c.resume = resume;
    c.checkpoint_every = ckpt;
    c.freeze_steps = freeze;
    c.log_every = log_every;
    c.chunk_lines = (size_t)chunk;
    elmo_status s = elmo_dist_init(); /* MPI only when started by mpirun */
    if (s) {
        globfree(&g);
        return cli_lib_error(cmd, s);
    }
    int rank = elmo_dist_rank(), size = elmo_dist_size();
    int tty = rank == 0 && isatty(2);
    c.on_progress = on_progress;
    c.user = &tty;
    c.stop = &g_stop;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_signal); /* mpirun forwards SIGUSR1 to every rank */
    if (rank == 0) announce(&c, size);
    s = elmo_train(&c);
    if (tty) fputc('\n', stderr);
    globfree(&g);
    return finish(cmd, s, rank, size);
}
