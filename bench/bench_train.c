/*
 * bench_train.c: biLM training throughput, measured like ../shared/peer/train_bench_torch.py:
 * a synthetic corpus of Zipf-distributed words (vocabulary V, each word a fixed random
 * spelling of 3-12 letters), 3 untimed warm-up steps, then timed steps; tokens per step =
 * batch x unroll (counted once, although the backward LM reads as many). The whole elmo_train
 * step is timed: data packing, both directions forward and backward, clipping, Adagrad.
 *
 *   bench_train --options O.json [--vocab-size 50000] [--batch-size 32] [--unroll-steps 20]
 *               [--negatives 4096] [--steps 20] [--warmup 3] [--threads 2] [--seed 0]
 *               [--precision fp32|bf16]
 *
 * Prints one JSON line: tokens_per_s, seconds_per_step, peak_rss_mb and the settings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elmo.h"
#include "io/util.h"

typedef struct {
    int warmup, steps;
    double t_start, t_end;
} timing;

static void on_progress(const elmo_train_progress *p, void *user) {
    timing *t = user;
    if (p->step == t->warmup) t->t_start = elmo_now();
    if (p->step == t->warmup + t->steps) t->t_end = elmo_now();
}

int main(int argc, char **argv) {
    const char *options = NULL;
    int V = 50000, B = 32, T = 20, S = 4096, steps = 20, warmup = 3, threads = 2, seed = 0;
    const char *precision = "fp32";
    for (int i = 1; i + 1 < argc; i += 2) { /* --name value pairs */
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--options"))
            options = v;
        else if (!strcmp(a, "--vocab-size"))
            V = atoi(v);
        else if (!strcmp(a, "--batch-size"))
            B = atoi(v);
        else if (!strcmp(a, "--unroll-steps"))
            T = atoi(v);
        else if (!strcmp(a, "--negatives"))
            S = atoi(v);
        else if (!strcmp(a, "--steps"))
            steps = atoi(v);
        else if (!strcmp(a, "--warmup"))
            warmup = atoi(v);
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--precision"))
            precision = v;
        else if (!strcmp(a, "--seed"))
            seed = atoi(v);
        else {
            fprintf(stderr, "bench_train: unknown option %s\n", a);
            return 2;
        }
    }
    if (warmup < 1) warmup = 1; /* the clock starts at the end of a reported step */
    if (!options || V < 10 || B < 1 || T < 1 || S < 1 || steps < 1) {
        fprintf(stderr, "usage: bench_train --options O.json [--vocab-size V] [--batch-size B] "
                        "[--unroll-steps T] [--negatives S] [--steps N] [--threads 2]\n");
        return 2;
    }
    /* synthetic corpus: word k spelled with 3-12 random letters, Zipf frequencies */
    char dir[] = "/tmp/elmo-bench-train-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    elmo_rng r;
    elmo_rng_seed(&r, (uint64_t)seed + 1);
    int nw = V - 3;
    char(*spell)[13] = malloc(sizeof *spell * nw);
    double *cdf = malloc(sizeof(double) * nw), z = 0;
    for (int k = 0; k < nw; k++) {
        int len = 3 + (int)elmo_rng_below(&r, 10);
        for (int q = 0; q < len; q++) spell[k][q] = (char)('a' + elmo_rng_below(&r, 26));
        spell[k][len] = 0;
        z += 1.0 / (k + 1);
        cdf[k] = z;
    }
    /* distinct spellings: append the id to collisions (rare) by making every word unique */
    char vpath[300], cpath[300], save[300];
    snprintf(vpath, sizeof vpath, "%s/vocab.txt", dir);
    snprintf(cpath, sizeof cpath, "%s/corpus.txt", dir);
    snprintf(save, sizeof save, "%s/model", dir);
    FILE *f = fopen(vpath, "w");
    fprintf(f, "<S>\n</S>\n<UNK>\n");
    for (int k = 0; k < nw; k++) fprintf(f, "%s%d\n", spell[k], k); /* unique */
    fclose(f);
    long tokens_needed = (long)(warmup + steps + 2) * B * T * 2 + 100000;
    f = fopen(cpath, "w");
    long written = 0;
    while (written < tokens_needed) {
        int len = 10 + (int)elmo_rng_below(&r, 21);
        for (int q = 0; q < len; q++) {
            double u = elmo_rng_uniform(&r) * z;
            int lo = 0, hi = nw - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cdf[mid] < u)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            fprintf(f, "%s%s%d", q ? " " : "", spell[lo], lo);
        }
        fputc('\n', f);
        written += len;
    }
    fclose(f);
    free(spell);
    free(cdf);

    elmo_train_config c;
    elmo_train_config_init(&c);
    const char *files[] = {cpath};
    c.options_path = options;
    c.vocab_path = vpath;
    c.train_files = files;
    c.n_train_files = 1;
    c.save_dir = save;
    c.max_steps = warmup + steps + 1; /* the final step writes a checkpoint: not timed */
    c.batch_size = B;
    c.unroll_steps = T;
    c.negatives = S;
    c.threads = threads;
    if (elmo_precision_parse(precision, &c.precision)) {
        fprintf(stderr, "bench_train: %s\n", elmo_last_error());
        return 2;
    }
    c.seed = (uint64_t)seed;
    c.checkpoint_every = 1000000000;
    c.log_every = 1;
    timing tm = {warmup, steps, 0, 0};
    c.on_progress = on_progress;
    c.user = &tm;
    elmo_status s = elmo_train(&c);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
    if (s) {
        fprintf(stderr, "bench_train: %s\n", elmo_last_error());
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double el = tm.t_end - tm.t_start;
    printf("{\"impl\": \"elmo.c\", \"precision\": \"%s\", \"tokens_per_s\": %.1f, "
           "\"seconds_per_step\": %.4f, "
           "\"peak_rss_mb\": %.0f, \"steps\": %d, \"batch_size\": %d, \"unroll_steps\": %d, "
           "\"negatives\": %d, \"vocab_size\": %d, \"threads\": %d}\n",
           precision, (double)B * T * steps / el, el / steps, ru.ru_maxrss / 1024.0, steps, B, T, S,
           V, threads);
    return 0;
}
