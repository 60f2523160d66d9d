/*
 * bench_serve_latency.c: one client, one sentence at a time: the latency of `elmo serve`
 * (POST /v1/embed over one keep-alive connection to 127.0.0.1) against the same sentence
 * embedded in-process (elmo_embed, one sentence, same model and threads), side by side.
 *
 *   bench_serve_latency --model DIR --port PORT --input sentences.txt [--threads 2]
 *                       [--rounds 3] [--layers all]
 *
 * Every sentence is embedded in-process, over HTTP with a JSON answer and with an npy answer,
 * one after the other, in a first round that is not measured (the token caches of both
 * sessions then hold the sentences' words alike), then in --rounds measured rounds. Prints
 * the medians and p99 of each in ms and the medians' differences; a JSON line on stdout.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "elmo.h"
#include "io/util.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = (int)(p * (n - 1) + 0.5);
    return v[k];
}

/* one request over the open connection fd; 0 when a 200 answer was read in full */
static int post(int fd, const char *body, const char *accept, char **buf, size_t *cap) {
    char head[512];
    int h = snprintf(
        head, sizeof head,
        "POST /v1/embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "%s%s%sContent-Length: %zu\r\n\r\n",
        accept ? "Accept: " : "", accept ? accept : "", accept ? "\r\n" : "", strlen(body));
    if (send(fd, head, (size_t)h, MSG_NOSIGNAL) != h) return -1;
    if (send(fd, body, strlen(body), MSG_NOSIGNAL) != (ssize_t)strlen(body)) return -1;
    size_t n = 0, need = 0;
    char *end = NULL;
    for (;;) {
        if (n + 65536 > *cap) {
            *cap = (n + 65536) * 2;
            *buf = realloc(*buf, *cap);
            if (!*buf) return -1;
        }
        ssize_t r = recv(fd, *buf + n, *cap - n - 1, 0);
        if (r <= 0) return -1;
        n += (size_t)r;
        (*buf)[n] = 0;
        if (!end && (end = strstr(*buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(*buf, "\r\nContent-Length: ");
            if (!cl || cl > end || strncmp(*buf, "HTTP/1.1 200", 12) != 0) return -1;
            need = (size_t)(end + 4 - *buf) + (size_t)atoll(cl + 18);
        }
        if (end && n >= need) return 0;
    }
}

static char *json_body(const char *line, const char *layers) {
    elmo_strbuf b = {0};
    elmo_strbuf_add(&b, "{\"sentences\": [\"", 16);
    for (const char *p = line; *p; p++) {
        if (*p == '"' || *p == '\\') elmo_strbuf_add(&b, "\\", 1);
        if ((unsigned char)*p < 0x20)
            elmo_strbuf_printf(&b, "\\u%04x", *p);
        else
            elmo_strbuf_add(&b, p, 1);
    }
    elmo_strbuf_printf(&b, "\"], \"layers\": \"%s\"}", layers);
    return b.p;
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *input = NULL, *layers = "all";
    int port = 0, threads = 2, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model"))
            model_dir = argv[i + 1];
        else if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--input"))
            input = argv[i + 1];
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--layers"))
            layers = argv[i + 1];
        else
            return fprintf(stderr, "bench_serve_latency: unknown option %s\n", argv[i]), 2;
    }
    if (!model_dir || !input || port <= 0 || rounds < 1)
        return fprintf(stderr, "usage: bench_serve_latency --model DIR --port PORT --input FILE "
                               "[--threads 2] [--rounds 3] [--layers all]\n"),
               2;
    /* sentences: lines of the input, split as the server splits them */
    FILE *f = fopen(input, "r");
    if (!f) return fprintf(stderr, "bench_serve_latency: cannot open %s\n", input), 1;
    char line[65536];
    int ns = 0, cap = 0;
    char **lines = NULL;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (ns == cap) lines = realloc(lines, sizeof(char *) * (size_t)(cap = cap ? cap * 2 : 256));
        lines[ns++] = strdup(line);
    }
    fclose(f);
    elmo_model *m;
    elmo_session *s;
    if (elmo_model_load_dir(model_dir, &m) || elmo_session_new(m, 1, threads, &s))
        return fprintf(stderr, "bench_serve_latency: %s\n", elmo_last_error()), 1;
    int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return fprintf(stderr, "bench_serve_latency: cannot connect to port %d\n", port), 1;
    int total = ns * rounds;
    double *tin = malloc(sizeof(double) * (size_t)total),
           *tjs = malloc(sizeof(double) * (size_t)total),
           *tnp = malloc(sizeof(double) * (size_t)total);
    size_t st[4096], ln[4096];
    char *buf = NULL;
    size_t bcap = 0;
    float *out = malloc(sizeof(float) * (size_t)K * 4096 * D);
    const char *toks[4096];
    for (int r = -1; r < rounds; r++) /* round -1: warm-up */
        for (int i = 0; i < ns; i++) {
            char *copy = strdup(lines[i]); /* tokens NUL-terminated in place */
            int n = (int)elmo_split_whitespace(copy, strlen(copy), st, ln, 4096);
            if (n > 4096) n = 4096;
            for (int t = 0; t < n; t++) copy[st[t] + ln[t]] = 0, toks[t] = copy + st[t];
            const char *const *tk = toks;
            double t0 = elmo_now();
            if (elmo_embed(s, 1, &tk, &n, &out))
                return fprintf(stderr, "%s\n", elmo_last_error()), 1;
            double t1 = elmo_now();
            char *body = json_body(lines[i], layers);
            if (post(fd, body, NULL, &buf, &bcap))
                return fprintf(stderr, "bench_serve_latency: request failed\n"), 1;
            double t2 = elmo_now();
            if (post(fd, body, "application/x-npy", &buf, &bcap))
                return fprintf(stderr, "bench_serve_latency: npy request failed\n"), 1;
            double t3 = elmo_now();
            free(body);
            free(copy);
            int k = r * ns + i;
            if (r < 0) continue;
            tin[k] = (t1 - t0) * 1e3, tjs[k] = (t2 - t1) * 1e3, tnp[k] = (t3 - t2) * 1e3;
        }
    close(fd);
    double min = pct(tin, total, 0.5), mjs = pct(tjs, total, 0.5), mnp = pct(tnp, total, 0.5);
    double pin = pct(tin, total, 0.99), pjs = pct(tjs, total, 0.99), pnp = pct(tnp, total, 0.99);
    fprintf(stderr, "one sentence at a time, %d sentences x %d rounds, layers %s, %d threads:\n",
            ns, rounds, layers, threads);
    fprintf(stderr, "  in-process elmo_embed       median %7.2f ms   p99 %7.2f ms\n", min, pin);
    fprintf(stderr, "  HTTP, JSON answer           median %7.2f ms   p99 %7.2f ms   (%+.2f ms)\n",
            mjs, pjs, mjs - min);
    fprintf(stderr, "  HTTP, npy answer            median %7.2f ms   p99 %7.2f ms   (%+.2f ms)\n",
            mnp, pnp, mnp - min);
    printf("{\"sentences\": %d, \"rounds\": %d, \"layers\": \"%s\", \"inproc_median_ms\": %.3f, "
           "\"http_json_median_ms\": %.3f, \"http_npy_median_ms\": %.3f, \"inproc_p99_ms\": %.3f, "
           "\"http_json_p99_ms\": %.3f, \"http_npy_p99_ms\": %.3f}\n",
           ns, rounds, layers, min, mjs, mnp, pin, pjs, pnp);
    for (int i = 0; i < ns; i++) free(lines[i]);
    free(lines);
    free(tin), free(tjs), free(tnp), free(out), free(buf);
    elmo_session_free(s);
    elmo_model_free(m);
    return 0;
}
