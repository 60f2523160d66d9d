/*
 * bench_embed.c: forward-pass speed of elmo.c on a sentence file, against the machine's limit.
 *
 *   bench_embed (--model DIR | --options O.json --weights W.hdf5) --input sentences.txt
 *               [--limit N] [--batch-size 64] [--threads 2] [--single] [--bucket K]
 *               [--cache N] [--precision fp32|bf16|auto] [--reference] [--no-sgemm] [--wait-idle S]
 *               [--label NAME]
 *
 * Stateless, as the peer's bench_torch.py: sentences (non-empty lines, whitespace tokens) in
 * file order, --batch-size at a time (--single: one at a time), after one untimed warm-up
 * batch; the token cache is emptied after the warm-up so the timed run starts cold. The time
 * of each batch covers elmo_embed: character ids, char CNN, highway, projection, both LSTM
 * stacks and the per-sentence outputs with <S> </S> removed. Tokens are real words (the
 * boundaries are not counted). --bucket K sorts sentences by length within windows of K
 * batches (what `elmo embed` does by default).
 *
 * With --precision bf16 the error against float32 is measured after the run (and after its
 * peak RSS is read): the first (up to) 32 sentences one at a time, every layer, max and RMS
 * |difference|.
 *
 * After the run (peak RSS is read first) a short matmul benchmark on the matrix backend
 * (oneDNN, in the run's precision, --threads threads) measures the machine: a 2048^3
 * product, the model's LSTM products at this batch size, and one sentence's recurrent step
 * (cycling through 4 cells' weights, so they come from memory; one thread, times the two
 * directions' threads). The limits follow as in the peer's flops.py: words/s = sgemm rate / FLOPs per
 * word (all FLOPs, or LSTM FLOPs only when every word's token vector is cached); one
 * sentence of median length = its positions x (batched FLOPs / square rate + recurrent FLOPs
 * / step rate).
 *
 * Prints a readable table on stderr and one JSON line on stdout. other_cpu is the number of
 * cores other processes kept busy during the timed run (a clean run has ~0).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bilm.h"
#include "kernels/matmul.h"
#include "core/bucket.h"
#include "core/model.h"
#include "elmo.h"
#include "io/util.h"

/* ---- machine load (as bench_torch.py) */
static double machine_busy_s(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8) return 0;
    unsigned long long busy = 0;
    for (int i = 0; i < 8; i++) busy += v[i];
    busy -= v[3] + v[4];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static double own_cpu_s(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec + 1e-6 * (r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

static void wait_idle(double limit_s) {
    double end = elmo_now() + limit_s;
    while (elmo_now() < end) {
        double b = machine_busy_s();
        usleep(500000);
        if ((machine_busy_s() - b) / 0.5 < 0.1) return;
    }
}

/* ---- sgemm rates (best of repeated runs for about `seconds`) */
static double best_time(void (*fn)(void *), void *arg, double seconds) {
    double best = INFINITY, end = elmo_now() + seconds;
    while (elmo_now() < end || !isfinite(best)) {
        double t = elmo_now();
        fn(arg);
        t = elmo_now() - t;
        if (t < best) best = t;
    }
    return best;
}

static float *rand_mat(size_t n, elmo_rng *r);

typedef struct {
    int M, N, K, n; /* n weight matrices cycled through */
    float *A, *C;
    elmo_mat *B[4];
    int M2, N2, K2; /* optional second product per matrix (the projection) */
    float *A2, *C2;
    elmo_mat *B2[4];
} gemm_job;

static void run_gemm(void *p) {
    gemm_job *g = p;
    for (int i = 0; i < g->n; i++) {
        elmo_mat_mul(g->M, g->A, g->K, g->B[i], 0, g->C, g->N);
        if (g->M2) elmo_mat_mul(g->M2, g->A2, g->K2, g->B2[i], 0, g->C2, g->N2);
    }
}

static elmo_mat *rand_w(int K, int N, elmo_precision prec, elmo_rng *r) {
    float *w = rand_mat((size_t)K * N, r);
    elmo_mat *m = NULL;
    if (elmo_mat_new(K, N, w, N, prec, &m)) {
        fprintf(stderr, "bench_embed: %s\n", elmo_last_error());
        exit(1);
    }
    elmo_free(w);
    return m;
}

static float *rand_mat(size_t n, elmo_rng *r) {
    float *a = elmo_alloc(sizeof(float) * (n ? n : 1));
    if (!a) {
        fprintf(stderr, "bench_embed: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) a[i] = (float)elmo_rng_uniform(r);
    return a;
}

/* GFLOP/s of M x K times K x N (and optionally M2 x K2 times K2 x N2), cycling n weights */
static double gemm_rate(int n, int M, int N, int K, int M2, int N2, int K2, elmo_precision prec,
                        double seconds) {
    elmo_rng r;
    elmo_rng_seed(&r, 7);
    gemm_job g = {
        M,  N,    K,    n,  rand_mat((size_t)M * K, &r), rand_mat((size_t)M * N, &r), {0}, M2, N2,
        K2, NULL, NULL, {0}};
    /* the machine's rate is oneDNN's (its kernels use the threads; our AMX kernel, which the
     * model's own bfloat16 weights run on, is single-threaded) */
    const char *was = getenv("ELMO_MATMUL");
    char saved[32];
    snprintf(saved, sizeof saved, "%s", was ? was : "");
    setenv("ELMO_MATMUL", "dnnl", 1);
    for (int i = 0; i < n; i++) g.B[i] = rand_w(K, N, prec, &r);
    if (M2) {
        g.A2 = rand_mat((size_t)M2 * K2, &r);
        g.C2 = rand_mat((size_t)M2 * N2, &r);
        for (int i = 0; i < n; i++) g.B2[i] = rand_w(K2, N2, prec, &r);
    }
    if (was)
        setenv("ELMO_MATMUL", saved, 1);
    else
        unsetenv("ELMO_MATMUL");
    run_gemm(&g);
    double t = best_time(run_gemm, &g, seconds);
    double flops = 2.0 * n * ((double)M * N * K + (double)M2 * N2 * K2);
    elmo_free(g.A);
    elmo_free(g.C);
    elmo_free(g.A2);
    elmo_free(g.C2);
    for (int i = 0; i < n; i++) {
        elmo_mat_free(g.B[i]);
        elmo_mat_free(g.B2[i]);
    }
    return flops / t / 1e9;
}

/* ---- input */
typedef struct {
    char *text;        /* all lines, tokens NUL-separated */
    const char ***tok; /* per sentence */
    int *n;            /* tokens per sentence */
    int count;
} corpus;

static int load_corpus(const char *path, int limit, corpus *c) {
    char *data;
    size_t len;
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)sz + 2);
    len = fread(data, 1, (size_t)sz, f);
    fclose(f);
    data[len] = '\n';
    data[len + 1] = 0;
    int cap = 1024;
    c->tok = malloc(sizeof(*c->tok) * cap);
    c->n = malloc(sizeof(int) * cap);
    char *p = data;
    while (*p && (limit <= 0 || c->count < limit)) {
        char *e = strchr(p, '\n');
        *e = 0;
        size_t ll = (size_t)(e - p);
        size_t nt = elmo_split_whitespace(p, ll, NULL, NULL, 0);
        if (nt > 0) {
            size_t *st = malloc(sizeof(size_t) * nt), *ln = malloc(sizeof(size_t) * nt);
            elmo_split_whitespace(p, ll, st, ln, nt);
            const char **t = malloc(sizeof(char *) * nt);
            for (size_t k = 0; k < nt; k++) {
                p[st[k] + ln[k]] = 0; /* the separator after a token is whitespace */
                t[k] = p + st[k];
            }
            free(st);
            free(ln);
            if (c->count == cap) {
                cap *= 2;
                c->tok = realloc(c->tok, sizeof(*c->tok) * cap);
                c->n = realloc(c->n, sizeof(int) * cap);
            }
            c->tok[c->count] = t;
            c->n[c->count++] = (int)nt;
        }
        p = e + 1;
    }
    c->text = data;
    return 0;
}

/* current resident set (MB), for --verbose */
static double rss_now_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, int n, double q) {
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    double f = pos - i;
    return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

/* A reduced precision (bf16, int8) against fp32: the first (up to) 32 sentences one at a
 * time, every layer. m is in prec on return. Returns non-zero on a library error. */
static int precision_error(elmo_model *m, const corpus *cp, int threads, elmo_precision prec,
                           double *max_err, double *rms) {
    int ne = cp->count < 32 ? cp->count : 32, K = elmo_model_n_output_layers(m),
        D = elmo_model_output_dim(m);
    size_t total = 0;
    for (int i = 0; i < ne; i++) total += (size_t)K * cp->n[i] * D;
    float *a = malloc(sizeof(float) * (total + 1)), *b = malloc(sizeof(float) * (total + 1));
    int rc = !a || !b;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        elmo_session *e = NULL;
        rc = elmo_model_set_precision(m, pass == 0 ? ELMO_PRECISION_FP32 : prec) ||
             elmo_session_new(m, 1, threads, &e);
        float *o = pass == 0 ? a : b;
        for (int i = 0; i < ne && !rc; i++) {
            const char *const *tk1[1] = {(const char *const *)cp->tok[i]};
            rc = elmo_embed(e, 1, tk1, &cp->n[i], &o) != ELMO_OK;
            o += (size_t)K * cp->n[i] * D;
        }
        elmo_session_free(e);
    }
    double ss = 0;
    *max_err = 0;
    for (size_t k = 0; k < total && !rc; k++) {
        double d = fabs((double)a[k] - b[k]);
        if (d > *max_err) *max_err = d;
        ss += d * d;
    }
    *rms = total ? sqrt(ss / total) : 0;
    free(a);
    free(b);
    return rc;
}

static void usage(void) {
    fprintf(
        stderr,
        "usage: bench_embed (--model DIR | --options O.json --weights W.hdf5) --input FILE\n"
        "                   [--limit N] [--batch-size 64] [--threads 2] [--single] [--bucket K]\n"
        "                   [--cache N] [--precision fp32|bf16|auto] [--reference] [--no-sgemm]\n"
        "                   [--sgemm-seconds S] [--wait-idle S] [--label NAME] [--verbose] | "
        "--print-backend\n");
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *options = NULL, *weights = NULL, *input = NULL,
               *label = "elmo.c";
    int limit = 0, B = 64, threads = 2, single = 0, bucket = 0, no_sgemm = 0, verbose = 0;
    const char *precision = "fp32";
    int reference = 0;
    long cache = -1;
    double sgemm_s = 1.0, idle_s = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && ++i)
        if (ARG("--model"))
            model_dir = v;
        else if (ARG("--options"))
            options = v;
        else if (ARG("--weights"))
            weights = v;
        else if (ARG("--input"))
            input = v;
        else if (ARG("--limit"))
            limit = atoi(v);
        else if (ARG("--batch-size"))
            B = atoi(v);
        else if (ARG("--threads"))
            threads = atoi(v);
        else if (ARG("--bucket"))
            bucket = atoi(v);
        else if (ARG("--cache"))
            cache = atol(v);
        else if (ARG("--sgemm-seconds"))
            sgemm_s = atof(v);
        else if (ARG("--wait-idle"))
            idle_s = atof(v);
        else if (ARG("--label"))
            label = v;
        else if (strcmp(a, "--single") == 0)
            single = 1;
        else if (ARG("--precision"))
            precision = v;
        else if (strcmp(a, "--no-sgemm") == 0)
            no_sgemm = 1;
        else if (strcmp(a, "--reference") == 0)
            reference = 1;
        else if (strcmp(a, "--verbose") == 0)
            verbose = 1;
        else if (strcmp(a, "--print-backend") == 0) {
            printf("%s\n", elmo_mm_backend_info());
            return 0;
        } else {
            usage();
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
#undef ARG
    }
    if (!input || (!model_dir && !(options && weights)) || B < 1 || threads < 1) {
        usage();
        return 2;
    }
    if (single) B = 1;
    corpus cp;
    if (load_corpus(input, limit, &cp) || cp.count == 0) {
        fprintf(stderr, "bench_embed: cannot read sentences from %s\n", input);
        return 1;
    }
    char *wpath = model_dir ? elmo_path_join(model_dir, "weights.hdf5") : strdup(weights);
    elmo_model *m;
    elmo_status st =
        model_dir ? elmo_model_load_dir(model_dir, &m) : elmo_model_load(options, weights, &m);
    if (st) {
        fprintf(stderr, "bench_embed: %s\n", elmo_last_error());
        return 1;
    }
    elmo_precision prec;
    if (elmo_precision_parse(precision, &prec) || elmo_model_set_precision(m, prec)) {
        fprintf(stderr, "bench_embed: %s\n", elmo_last_error());
        return 1;
    }
    prec = elmo_model_precision(m);
    double bf16_err = 0, bf16_rms = 0;
    if (verbose) fprintf(stderr, "RSS after loading the model: %.0f MB\n", rss_now_mb());
    const elmo_config *c = elmo_model_config(m);
    int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
    int P = c->projection_dim, H = c->lstm_dim, L = c->n_layers;
    elmo_session *s;
    if (elmo_session_new(m, B, threads, &s)) {
        fprintf(stderr, "bench_embed: %s\n", elmo_last_error());
        return 1;
    }
    if (cache >= 0) elmo_session_set_token_cache(s, (size_t)cache);
    if (reference) elmo_session_set_reference(s, 1); /* the plain path: the ablation baseline */
    size_t cache_entries = elmo_session_token_cache_cap(s);

    /* batches: file order, or bucketed */
    int n = cp.count, nb = 0;
    int *order = malloc(sizeof(int) * n), *starts = malloc(sizeof(int) * (n + 1));
    if (bucket > 0) { /* as `elmo embed`: windows of `bucket` batches, longest first, budget */
        elmo_bucket_order(n, cp.n, bucket * B, order);
        for (int w0 = 0; w0 < n; w0 += bucket * B) {
            int wn = n - w0 < bucket * B ? n - w0 : bucket * B;
            int k = elmo_bucket_batches(wn, cp.n, order + w0, B,
                                        elmo_bucket_budget(wn, cp.n + w0, B), starts + nb);
            for (int q = 0; q < k; q++) starts[nb + q] += w0; /* positions in order */
            nb += k;
        }
    } else {
        for (int i = 0; i < n; i++) order[i] = i;
        for (int b = 0; b < n; b += B) starts[nb++] = b;
    }
    starts[nb] = n;
    long words = 0;
    int maxn = 0;
    for (int i = 0; i < n; i++) {
        words += cp.n[i];
        if (cp.n[i] > maxn) maxn = cp.n[i];
    }
    /* output buffers for one batch, reused (as a streaming caller would) */
    size_t outmax = 0;
    for (int bi = 0; bi < nb; bi++) {
        size_t need = 0;
        for (int k = starts[bi]; k < starts[bi + 1]; k++) need += (size_t)K * cp.n[order[k]] * D;
        if (need > outmax) outmax = need;
    }
    float *outmem = elmo_alloc(sizeof(float) * (outmax ? outmax : 1));
    const char *const **tk = malloc(sizeof(*tk) * B);
    int *nt = malloc(sizeof(int) * B);
    float **ob = malloc(sizeof(float *) * B);
    double *lat = malloc(sizeof(double) * nb);

#define FILL(bi)                                                                                   \
    int b0 = starts[bi], bn = starts[(bi) + 1] - b0;                                               \
    size_t off = 0;                                                                                \
    for (int k = 0; k < bn; k++) {                                                                 \
        int i = order[b0 + k];                                                                     \
        tk[k] = (const char *const *)cp.tok[i];                                                    \
        nt[k] = cp.n[i];                                                                           \
        ob[k] = outmem + off;                                                                      \
        off += (size_t)K * cp.n[i] * D;                                                            \
    }

    if (idle_s > 0) wait_idle(idle_s);
    { /* warm-up: the first batch, untimed; then a cold cache */
        FILL(0);
        if (elmo_embed(s, bn, tk, nt, ob)) {
            fprintf(stderr, "bench_embed: %s\n", elmo_last_error());
            return 1;
        }
        if (verbose) fprintf(stderr, "RSS after the warm-up batch: %.0f MB\n", rss_now_mb());
        elmo_session_set_token_cache(s, cache_entries);
        elmo_session_clear_stats(s);
    }
    double busy0 = machine_busy_s(), own0 = own_cpu_s();
    for (int bi = 0; bi < nb; bi++) {
        FILL(bi);
        double t = elmo_now();
        if (elmo_embed(s, bn, tk, nt, ob)) {
            fprintf(stderr, "bench_embed: %s\n", elmo_last_error());
            return 1;
        }
        lat[bi] = elmo_now() - t;
        if (verbose) fprintf(stderr, "batch %d: %.3f s, RSS %.0f MB\n", bi, lat[bi], rss_now_mb());
    }
    double seconds = 0;
    for (int bi = 0; bi < nb; bi++) seconds += lat[bi];
    double cpu_s = own_cpu_s() - own0;
    double other = (machine_busy_s() - busy0 - cpu_s) / seconds;
    elmo_session_stats ss;
    elmo_session_get_stats(s, &ss);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = ru.ru_maxrss / 1024.0;
    /* after the peak RSS is read: the comparison loads the float32 weights again */
    if (prec != ELMO_PRECISION_FP32 &&
        precision_error(m, &cp, threads, prec, &bf16_err, &bf16_rms)) {
        fprintf(stderr, "bench_embed: %s\n", elmo_last_error());
        return 1;
    }
    struct stat wst;
    double wmb = stat(wpath, &wst) == 0 ? wst.st_size / 1048576.0 : 0;
    double med_ms = 1000 * percentile(lat, nb, 0.5), p99_ms = 1000 * percentile(lat, nb, 0.99);
    /* median sentence length (words) */
    double *lens = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) lens[i] = cp.n[i];
    double med_words = percentile(lens, n, 0.5);
    free(lens);

    /* FLOPs (per token position, multiply-add = 2) and the limits */
    double fl = elmo_model_flops_per_token(m), fl_lstm = elmo_model_lstm_flops_per_token(m);
    double fl_rec = 0; /* recurrent part: h W_h and the projection, both directions */
    for (int l = 0; l < L; l++)
        fl_rec +=
            2.0 * (2.0 * (c->has_lstm_proj ? P : H) * 4 * H + (c->has_lstm_proj ? 2.0 * H * P : 0));
    double pos_per_word = (double)(words + 2 * n) / words;
    double tps = words / seconds;
    double gsq = 0, gb = 0, gstep = 0;
    char lstm_impl[64];
    /* what the model's prepared LSTM weights run on: input products / recurrent steps */
    snprintf(lstm_impl, sizeof lstm_impl, "%s / %s", elmo_mat_impl(m->mats->lx[0][0]),
             elmo_mat_impl(m->mats->lh[0][0]));
    if (!no_sgemm) {
        elmo_session_free(s); /* its BLAS setting no longer matters */
        s = NULL;
        elmo_mm_set_threads(threads);
        int Hin = c->has_lstm_proj ? P : H;
        gsq = gemm_rate(1, 2048, 2048, 2048, 0, 0, 0, prec, sgemm_s);
        gb = gemm_rate(1, 64 > B ? 64 : B, 4 * H, Hin, 0, 0, 0, prec, sgemm_s);
        /* one sentence's recurrent step runs single-threaded, the two directions on their own
         * threads: the one-row rate is one thread's, times the threads (up to 2) */
        elmo_mm_set_threads(1);
        gstep = gemm_rate(4, 1, 4 * H, Hin, c->has_lstm_proj ? 1 : 0, P, H, prec, sgemm_s) *
                (threads < 2 ? threads : 2);
    }
    double hit0 = ss.tokens_cached + ss.tokens_computed > 0
                      ? (double)ss.tokens_cached / (ss.tokens_cached + ss.tokens_computed)
                      : 0;
    double per_word = fl * pos_per_word;
    double lim = gsq * 1e9 / per_word, lim_cached = gsq * 1e9 / (fl_lstm * pos_per_word);
    /* the limit for this run's cache hit rate: LSTMs for every position, the whole char CNN
     * (all windows) for the misses */
    double lim_hits = gsq * 1e9 / ((fl_lstm + (1 - hit0) * (fl - fl_lstm)) * pos_per_word);
    double lim_b = gb * 1e9 / per_word;
    double pos_med = med_words + 2;
    double lim_ms =
        gsq > 0 ? 1000 * pos_med * ((fl - fl_rec) / (gsq * 1e9) + fl_rec / (gstep * 1e9)) : 0;
    double achieved = tps * per_word / 1e9;
    double hit = ss.tokens_cached + ss.tokens_computed > 0
                     ? (double)ss.tokens_cached / (ss.tokens_cached + ss.tokens_computed)
                     : 0;

    /* readable table (stderr) */
    fprintf(
        stderr,
        "\n%s: %s, %d sentences, %ld words (%.3f positions/word), batch %d%s, %d threads%s, %s\n",
        label, model_dir ? model_dir : weights, n, words, pos_per_word, B,
        single ? " (single)" : "", threads, bucket ? ", bucketed" : "", elmo_precision_name(prec));
    fprintf(stderr, "  %-34s %10.1f\n", "words/s", tps);
    fprintf(stderr, "  %-34s %10.2f\n", "sentences/s", n / seconds);
    fprintf(stderr, "  %-34s %10.2f / %.2f ms\n",
            single ? "latency median / p99" : "batch latency median / p99", med_ms, p99_ms);
    fprintf(stderr, "  %-34s %10.2f / %.2f s\n", "encoder / LSTM time", ss.encode_s, ss.lstm_s);
    if (prec != ELMO_PRECISION_FP32)
        fprintf(stderr, "  %-30s %3s %10.2g (RMS %.2g)\n", "vs fp32: max |diff|",
                elmo_precision_name(prec), bf16_err, bf16_rms);
    fprintf(stderr, "  %-34s %10.2f s (%.2f cores busy)\n", "CPU time", cpu_s, cpu_s / seconds);
    fprintf(stderr, "  %-34s %9.1f%%\n", "token cache hits", 100 * hit);
    fprintf(stderr, "  %-34s %10.0f MB (%.2fx the %.0f MB weights file)\n", "peak RSS", rss_mb,
            wmb > 0 ? rss_mb / wmb : 0, wmb);
    fprintf(stderr, "  %-34s %10.2f M (LSTMs %.2f M)\n", "FLOPs per position", fl / 1e6,
            fl_lstm / 1e6);
    fprintf(stderr, "  %-34s %10.1f GFLOP/s\n", "achieved (all FLOPs counted)", achieved);
    if (!no_sgemm) {
        fprintf(stderr, "  %-34s %10.1f / %.1f / %.1f GFLOP/s\n",
                "matmul 2048^3 / LSTM batch / 1-row", gsq, gb, gstep);
        fprintf(stderr,
                "  %-34s %10.0f words/s dense (%.0f at the LSTM-batch rate; %.0f all cached)\n",
                "limit", lim, lim_b, lim_cached);
        fprintf(stderr, "  %-34s %10.0f words/s\n", "limit at this run's cache hits", lim_hits);
        if (single)
            fprintf(stderr, "  %-34s %10.2f ms (%.0f words); achieved %.0f%%\n",
                    "limit, median sentence", lim_ms, med_words, 100 * lim_ms / med_ms);
        else
            fprintf(stderr, "  %-34s %9.1f%% (dense %.1f%%, all cached %.1f%%)\n",
                    "fraction of the limit at the hits", 100 * tps / lim_hits, 100 * tps / lim,
                    100 * tps / lim_cached);
    }
    fprintf(stderr, "  %-34s %s; LSTM product %s\n", "matrix backend", elmo_mm_backend_info(),
            lstm_impl);
    fprintf(stderr, "  %-34s %10.2f cores\n", "other processes' load", other);

    printf(
        "{\"impl\": \"%s\", \"model\": \"%s\", \"batch_size\": %d, \"single\": %s, \"bucket\": %d, "
        "\"threads\": %d, \"backend\": \"%s\", \"lstm_impl\": \"%s\", \"precision\": \"%s\", "
        "\"sentences\": %d, \"tokens\": %ld, \"seconds\": %.3f, "
        "\"tokens_per_s\": %.1f, \"sentences_per_s\": %.2f, \"median_ms\": %.2f, \"p99_ms\": %.2f, "
        "\"encode_s\": %.3f, \"lstm_s\": %.3f, \"cpu_s\": %.3f, \"cache_hit\": %.3f, "
        "\"max_rss_mb\": %.0f, "
        "\"weights_mb\": %.0f, \"rss_over_weights\": %.3f, \"mflops_per_position\": %.2f, "
        "\"lstm_mflops_per_position\": %.2f, \"positions_per_word\": %.4f, \"achieved_gflops\": "
        "%.1f, "
        "\"matmul_gflops_2048\": %.1f, \"matmul_gflops_lstm_batch\": %.1f, \"matmul_gflops_step\": "
        "%.1f, "
        "\"limit_words_per_s\": %.0f, \"limit_words_per_s_cached\": %.0f, "
        "\"limit_words_per_s_at_hits\": %.0f, "
        "\"fraction_of_limit\": %.3f, \"fraction_of_dense_limit\": %.3f, "
        "\"limit_ms_median_sentence\": %.2f, \"fraction_of_latency_limit\": %.3f, "
        "\"max_abs_diff_vs_fp32\": %.3g, "
        "\"rms_diff_vs_fp32\": %.3g, \"other_cpu\": %.2f}\n",
        label, model_dir ? model_dir : weights, B, single ? "true" : "false", bucket, threads,
        elmo_mm_backend_info(), lstm_impl, elmo_precision_name(prec), n, words, seconds, tps,
        n / seconds, med_ms, p99_ms, ss.encode_s, ss.lstm_s, cpu_s, hit, rss_mb, wmb,
        wmb > 0 ? rss_mb / wmb : 0, fl / 1e6, fl_lstm / 1e6, pos_per_word, achieved, gsq, gb, gstep,
        lim, lim_cached, lim_hits, lim_hits > 0 ? tps / lim_hits : 0, lim > 0 ? tps / lim : 0,
        lim_ms, med_ms > 0 && lim_ms > 0 ? lim_ms / med_ms : 0, bf16_err, bf16_rms, other);
    (void)maxn;
    elmo_session_free(s);
    elmo_free(outmem);
    elmo_model_free(m);
    return 0;
}
