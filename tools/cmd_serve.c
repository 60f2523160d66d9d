/*
 * cmd_serve.c: `elmo serve`: an HTTP/1.1 embedding service (libmicrohttpd, one thread per
 * connection) over one loaded model, with dynamic batching (serve_batch.c).
 *
 *   POST /v1/embed   {"sentences": [...], "layers": "all|top|average|mean"} (serve_proto.h);
 *                    Accept: application/x-npy gives one npy array when the shapes stack
 *   GET  /healthz    200 once the model is loaded (no key needed)
 *   GET  /v1/model   architecture, fingerprint, precision, limits
 *   GET  /metrics    Prometheus text (serve_metrics.h)
 *
 * Limits: bodies over 256 bytes per allowed token (+64 KiB) get 413; the requests admitted
 * hold at most --max-queue-tokens tokens (their outputs and answers included: memory stays
 * bounded), beyond which 503 with Retry-After; a connection idle for --timeout seconds is
 * closed. SIGTERM / SIGINT: stop accepting, answer every request already received, exit 0.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

#ifndef ELMO_WITH_SERVE
int cmd_serve(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("serve", "this elmo was built without libmicrohttpd: install it "
                              "(Debian: apt-get install libmicrohttpd-dev) and rebuild");
}
#else

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve_batch.h"
#include "serve_metrics.h"
#include "serve_proto.h"

#define CMD "serve"

typedef struct {
    const elmo_model *model;
    serve_batcher *batcher;
    serve_metrics metrics;
    char fingerprint[17];
    char *key; /* --api-key-file contents, or NULL */
    size_t key_len;
    long max_request_tokens, max_queue_tokens;
    size_t max_body;
    int K, D;
    char *model_json; /* the body of GET /v1/model */
    pthread_mutex_t lock;
    pthread_cond_t idle; /* in_flight reached 0 */
    long in_flight;      /* POST requests received and not yet answered */
    long admitted;       /* positions of the admitted requests (until answered) */
    int stopping;
} server;

/* what one request carries between the handler's calls */
typedef struct {
    elmo_strbuf body;
    int embed;     /* a POST /v1/embed being received */
    int expected;  /* announced to the batcher, not yet queued */
    int counted;   /* in server.in_flight */
    long admitted; /* positions reserved */
    double t0;
} request;

/* ---- answers */

static enum MHD_Result send_buf(struct MHD_Connection *c, server *sv, request *r, int status,
                                const char *type, elmo_strbuf *b) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        b->n, b->p ? b->p : (char *)"", b->p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        elmo_strbuf_free(b);
        return MHD_NO;
    }
    b->p = NULL; /* the response owns it */
    b->n = b->cap = 0;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == 503) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r && r->embed ? "POST" : "GET");
    if (__atomic_load_n(&sv->stopping, __ATOMIC_RELAXED))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    serve_metrics_request(&sv->metrics, status,
                          r && r->embed && status == 200 ? elmo_now() - r->t0 : -1);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, server *sv, request *r, int status,
                                  const char *msg) {
    elmo_strbuf b = {0};
    if (serve_write_error(&b, msg)) {
        elmo_strbuf_free(&b);
        return MHD_NO;
    }
    return send_buf(c, sv, r, status, "application/json", &b);
}

/* ---- POST /v1/embed */

/* the client takes npy (1), JSON (0), or only npy although the shapes do not stack (-1) */
static int wants_npy(struct MHD_Connection *c, const serve_request *q) {
    const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    if (!acc || !strstr(acc, "application/x-npy")) return 0;
    if (serve_npy_possible(q->layers, q->n, q->n_tokens)) return 1;
    return strstr(acc, "application/json") || strstr(acc, "*/*") ? 0 : -1;
}

/* admission: reserve the request's positions within --max-queue-tokens (one request alone
 * is always admitted: --max-request-tokens bounds it) */
static int admit(server *sv, request *r, long positions) {
    pthread_mutex_lock(&sv->lock);
    int ok =
        !sv->stopping && (sv->admitted == 0 || sv->admitted + positions <= sv->max_queue_tokens);
    if (ok) sv->admitted += positions, r->admitted = positions;
    pthread_mutex_unlock(&sv->lock);
    return ok;
}

/* embed the parsed request q and format the answer into b; 0 or an HTTP status with err */
static int embed(struct MHD_Connection *c, server *sv, request *r, const serve_request *q,
                 elmo_strbuf *b, const char **type, char *err, size_t errsz) {
    int npy = wants_npy(c, q);
    if (npy < 0)
        return snprintf(err, errsz,
                        "sentences of different lengths do not stack into one npy "
                        "array: accept application/json"),
               406;
    size_t raw_n = (size_t)sv->K * sv->D * (size_t)q->total, sel_n = 0;
    for (int s = 0; s < q->n; s++)
        sel_n += serve_selected_size(q->layers, sv->K, q->n_tokens[s], sv->D);
    int all = q->layers == SERVE_ALL; /* the raw output is the answer: no selection, no copy */
    float *raw = malloc(sizeof(float) * (raw_n ? raw_n : 1));
    float *sel = all ? raw : malloc(sizeof(float) * (sel_n ? sel_n : 1));
    float **out = malloc(sizeof(float *) * (size_t)q->n * 2);
    int code = 0;
    if (!raw || !sel || !out) {
        code = 503;
        snprintf(err, errsz, "out of memory, retry later");
    } else {
        size_t o1 = 0, o2 = 0;
        for (int s = 0; s < q->n; s++) {
            out[s] = raw + o1;
            out[q->n + s] = sel + o2;
            o1 += (size_t)sv->K * sv->D * q->n_tokens[s];
            o2 += serve_selected_size(q->layers, sv->K, q->n_tokens[s], sv->D);
        }
        code = serve_batcher_run(sv->batcher, q->n, (const char *const *const *)q->tokens,
                                 q->n_tokens, out, r->expected, err, errsz);
        r->expected = 0;
    }
    if (!code) {
        for (int s = 0; s < q->n && !all; s++)
            serve_select(q->layers, sv->K, q->n_tokens[s], sv->D, out[s], out[q->n + s]);
        const float *const *sp = (const float *const *)(out + q->n);
        int bad = npy ? serve_write_npy(b, q->layers, sv->K, sv->D, q->n, q->n_tokens, sp)
                      : serve_write_json(b, sv->fingerprint, q->layers, sv->K, sv->D, q->n,
                                         q->n_tokens, sp);
        *type = npy ? "application/x-npy" : "application/json";
        if (bad == -2) /* the numbers cannot be written: refused rather than made up */
            code = 500, snprintf(err, errsz,
                                 "the embeddings hold NaN or infinity, which JSON "
                                 "has no number for");
        else if (bad)
            code = 503, snprintf(err, errsz, "out of memory, retry later");
        else
            serve_metrics_embedded(&sv->metrics, q->n, q->total);
    }
    free(raw);
    if (!all) free(sel);
    free(out);
    return code;
}

static enum MHD_Result finish_embed(struct MHD_Connection *c, server *sv, request *r) {
    serve_request q;
    char err[256];
    if (r->body.n > sv->max_body) {
        snprintf(err, sizeof err, "request body larger than %zu bytes", sv->max_body);
        return send_error(c, sv, r, 413, err);
    }
    int code = serve_request_parse(r->body.p ? r->body.p : "", r->body.n, sv->max_request_tokens,
                                   &q, err, sizeof err);
    elmo_strbuf_free(&r->body);
    if (code) return send_error(c, sv, r, code, err);
    elmo_strbuf b = {0};
    const char *type = "application/json";
    long positions = q.total + 2L * q.n;
    if (!admit(sv, r, positions)) {
        code = 503;
        snprintf(err, sizeof err, "%s",
                 __atomic_load_n(&sv->stopping, __ATOMIC_RELAXED)
                     ? "the server is shutting down"
                     : "too many tokens waiting (--max-queue-tokens), retry later");
    } else {
        code = embed(c, sv, r, &q, &b, &type, err, sizeof err);
    }
    serve_request_free(&q);
    if (code) {
        elmo_strbuf_free(&b);
        return send_error(c, sv, r, code, err);
    }
    return send_buf(c, sv, r, 200, type, &b);
}

/* ---- routing */

static int key_ok(const server *sv, struct MHD_Connection *c) {
    if (!sv->key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    size_t n = strlen(h);
    unsigned diff = n != sv->key_len; /* constant time in the key's bytes */
    for (size_t i = 0; i < sv->key_len; i++)
        diff |= (unsigned char)sv->key[i] ^ (unsigned char)(i < n ? h[i] : 0);
    return diff == 0;
}

static enum MHD_Result answer_get(struct MHD_Connection *c, server *sv, request *r,
                                  const char *url) {
    elmo_strbuf b = {0};
    int bad;
    const char *type = "application/json";
    if (strcmp(url, "/healthz") == 0) {
        bad = elmo_strbuf_printf(&b, "{\"status\":\"ok\",\"model\":\"%s\"}\n", sv->fingerprint);
    } else if (strcmp(url, "/v1/model") == 0) {
        bad = elmo_strbuf_add(&b, sv->model_json, strlen(sv->model_json));
    } else {
        long qs, qp, fl;
        serve_batcher_queue(sv->batcher, &qs, &qp);
        pthread_mutex_lock(&sv->lock);
        fl = sv->in_flight;
        pthread_mutex_unlock(&sv->lock);
        bad = serve_metrics_write(&sv->metrics, &b, qs, qp - 2 * qs, fl);
        type = "text/plain; version=0.0.4";
    }
    if (bad) {
        elmo_strbuf_free(&b);
        return MHD_NO;
    }
    return send_buf(c, sv, r, 200, type, &b);
}

/* the first call of a request (headers only): route, check, answer what needs no body */
static enum MHD_Result begin(struct MHD_Connection *c, server *sv, request *r, const char *url,
                             const char *method) {
    int embed = strcmp(url, "/v1/embed") == 0;
    int known = embed || strcmp(url, "/healthz") == 0 || strcmp(url, "/v1/model") == 0 ||
                strcmp(url, "/metrics") == 0;
    r->embed = embed;
    if (!known)
        return send_error(c, sv, r, 404,
                          "no such endpoint (POST /v1/embed, GET /healthz, "
                          "GET /v1/model, GET /metrics)");
    if (strcmp(method, embed ? "POST" : "GET") != 0)
        return send_error(c, sv, r, 405, embed ? "use POST" : "use GET");
    if (strcmp(url, "/healthz") != 0 && !key_ok(sv, c))
        return send_error(c, sv, r, 401, "missing or wrong API key (Authorization: Bearer KEY)");
    if (!embed) return answer_get(c, sv, r, url);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > sv->max_body) {
        char err[96];
        snprintf(err, sizeof err, "request body larger than %zu bytes", sv->max_body);
        return send_error(c, sv, r, 413, err);
    }
    pthread_mutex_lock(&sv->lock);
    int stopping = sv->stopping;
    if (!stopping) sv->in_flight++, r->counted = 1;
    pthread_mutex_unlock(&sv->lock);
    if (stopping) return send_error(c, sv, r, 503, "the server is shutting down");
    r->expected = 1;
    serve_batcher_expect(sv->batcher, +1);
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    (void)version;
    server *sv = cls;
    request *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        r->t0 = elmo_now();
        *con_cls = r;
        return begin(c, sv, r, url, method);
    }
    if (*upload_size) { /* a chunk of the body: kept while within the limit */
        if (r->body.n <= sv->max_body && elmo_strbuf_add(&r->body, upload, *upload_size))
            return MHD_NO;
        if (r->body.n > sv->max_body) elmo_strbuf_free(&r->body), r->body.n = sv->max_body + 1;
        *upload_size = 0;
        return MHD_YES;
    }
    return finish_embed(c, sv, r);
}

/* the request is over (answered, or its connection failed) */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    server *sv = cls;
    request *r = *con_cls;
    if (!r) return;
    if (r->expected) serve_batcher_expect(sv->batcher, -1);
    pthread_mutex_lock(&sv->lock);
    sv->admitted -= r->admitted;
    if (r->counted && --sv->in_flight == 0) pthread_cond_broadcast(&sv->idle);
    pthread_mutex_unlock(&sv->lock);
    elmo_strbuf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

/* ---- start-up and shutdown */

static int g_sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(g_sig_pipe[1], &b, 1); /* async-signal-safe */
    (void)w;
}

static char *model_json(const elmo_model *m, const char *fp, int max_batch, long max_tokens) {
    const elmo_config *c = elmo_model_config(m);
    elmo_strbuf b = {0};
    int bad = elmo_strbuf_printf(
        &b,
        "{\"fingerprint\":\"%s\",\"precision\":\"%s\",\"output_layers\":%d,\"output_dim\":%d,"
        "\"parameters\":%lld,\"architecture\":{\"lstm\":{\"dim\":%d,\"projection_dim\":%d,"
        "\"n_layers\":%d,\"cell_clip\":%g,\"proj_clip\":%g,\"use_skip_connections\":%s},"
        "\"char_cnn\":{\"embedding\":{\"dim\":%d},\"filters\":[",
        fp, elmo_precision_name(elmo_model_precision(m)), elmo_model_n_output_layers(m),
        elmo_model_output_dim(m), (long long)elmo_model_n_params(m), c->lstm_dim, c->projection_dim,
        c->n_layers, c->cell_clip, c->proj_clip, c->use_skip_connections ? "true" : "false",
        c->char_embed_dim);
    for (int i = 0; i < c->n_banks && !bad; i++)
        bad = elmo_strbuf_printf(&b, "%s[%d,%d]", i ? "," : "", c->filter_width[i],
                                 c->filter_count[i]);
    bad = bad || elmo_strbuf_printf(
                     &b,
                     "],\"n_highway\":%d,\"n_characters\":%d,\"max_characters_per_token\":%d,"
                     "\"activation\":\"%s\"}},\"max_batch\":%d,\"max_request_tokens\":%ld}\n",
                     c->n_highway, c->n_characters, c->max_chars,
                     c->activation == ELMO_ACT_TANH ? "tanh" : "relu", max_batch, max_tokens);
    if (bad) elmo_strbuf_free(&b);
    return b.p;
}

/* the key: the file's first line without trailing whitespace; NULL with a message */
static char *read_key(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_error(CMD, "%s: cannot open the API key file", path), NULL;
    char buf[4097];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    n = strcspn(buf, "\r\n");
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t')) n--;
    buf[n] = 0;
    if (n == 0) return cli_error(CMD, "%s: the API key file is empty", path), NULL;
    return strdup(buf);
}

/* --host and --port as a socket address; 0 or -1 with a message */
static int resolve(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len) {
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int e = getaddrinfo(host, NULL, &hints, &res);
    if (e || !res) return cli_error(CMD, "--host %s: %s", host, gai_strerror(e)), -1;
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (sa->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    return 0;
}

static struct MHD_Daemon *start_http(server *sv, const char *host, int port, int timeout,
                                     int max_conn) {
    struct sockaddr_storage sa;
    socklen_t salen;
    if (resolve(host, port, &sa, &salen)) return NULL;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG |
                     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, sv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)timeout, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)max_conn, MHD_OPTION_NOTIFY_COMPLETED, completed, sv,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 256u, MHD_OPTION_END);
    if (!d) {
        cli_error(CMD, "cannot listen on %s port %d (in use, or not an address of this machine?)",
                  host, port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? info->port : port;
    int v6 = sa.ss_family == AF_INET6;
    fprintf(stderr, "elmo serve: listening on http://%s%s%s:%d\n", v6 ? "[" : "", host,
            v6 ? "]" : "", bound);
    fflush(stderr);
    return d;
}

/* stop accepting, let the requests received finish (bounded by the connection timeout),
 * close the connections */
static void shutdown_http(struct MHD_Daemon *d, server *sv, int timeout) {
    double t0 = elmo_now();
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    pthread_mutex_lock(&sv->lock);
    __atomic_store_n(&sv->stopping, 1, __ATOMIC_RELAXED);
    long open0 = sv->in_flight;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout + 5;
    while (sv->in_flight > 0)
        if (pthread_cond_timedwait(&sv->idle, &sv->lock, &ts)) break;
    long left = sv->in_flight;
    pthread_mutex_unlock(&sv->lock);
    double t1 = elmo_now();
    MHD_stop_daemon(d);
    fprintf(stderr,
            "elmo serve: %ld requests in flight at the signal answered in %.2f s, %ld left open; "
            "connections closed in %.2f s\n",
            open0 - left, t1 - t0, left, elmo_now() - t1);
}

int cmd_serve(int argc, char **argv) {
    cli_model mo = {0};
    const char *host = "127.0.0.1", *key_file = NULL, *precision = "fp32";
    int port = 8080, threads = 2, max_batch = 64, max_delay_ms = 5, max_tokens = 20000;
    int max_queue = 50000, timeout = 30, max_conn = 256;
    cli_opt opts[] = {
        CLI_MODEL_OPTS(mo),
        {"--host", OPT_STR, &host, 0, 0, "address to listen on (127.0.0.1: this machine only)"},
        {"--port", OPT_INT, &port, 0, 65535, "port (0 = any free port, printed at start-up)"},
        {"--threads", OPT_INT, &threads, 1, 256, "threads of the biLM"},
        {"--max-batch", OPT_INT, &max_batch, 1, 4096, "sentences per biLM batch"},
        {"--max-delay-ms", OPT_INT, &max_delay_ms, 0, 10000, "longest wait for a batch to fill"},
        {"--max-request-tokens", OPT_INT, &max_tokens, 1, 10000000,
         "tokens (and sentences) per request"},
        {"--max-queue-tokens", OPT_INT, &max_queue, 1, 100000000,
         "tokens (+2 per sentence) of the requests admitted at once (beyond: 503)"},
        {"--timeout", OPT_INT, &timeout, 1, 3600,
         "seconds before an idle or slow connection is closed"},
        {"--max-connections", OPT_INT, &max_conn, 1, 100000, "open connections at most"},
        {"--api-key-file", OPT_STR, &key_file, 0, 0,
         "require Authorization: Bearer <the file's first line>"},
        {"--precision", OPT_STR, &precision, 0, 0,
         "fp32 | bf16 | auto | int8 (lowest latency for lone sentences)"},
        {0}};
    int r = cli_parse(CMD, "[--model DIR] [--host 127.0.0.1] [--port 8080] [options]", opts, argc,
                      argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    elmo_precision prec;
    if (elmo_precision_parse(precision, &prec))
        return cli_error(CMD, "--precision must be fp32, bf16, int8 or auto, got '%s'", precision);
    /* SIGINT / SIGTERM: a handler (whichever thread receives them, oneDNN's OpenMP workers included)
     * writes the signal's number to a pipe that the main thread waits on */
    if (pipe(g_sig_pipe) != 0) return cli_error(CMD, "pipe: cannot create");
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    server sv = {.max_request_tokens = max_tokens, .max_queue_tokens = max_queue};
    sv.max_body = (size_t)max_tokens * 256 + 65536;
    serve_metrics_init(&sv.metrics);
    pthread_mutex_init(&sv.lock, NULL);
    pthread_cond_init(&sv.idle, NULL);
    int rc = 1;
    elmo_model *model = NULL;
    struct MHD_Daemon *d = NULL;
    if (key_file && !(sv.key = read_key(key_file))) goto done;
    sv.key_len = sv.key ? strlen(sv.key) : 0;
    if (!(model = cli_load_model(CMD, &mo))) goto done;
    elmo_status s = elmo_model_set_precision(model, prec);
    if (s) {
        cli_lib_error(CMD, s);
        goto done;
    }
    sv.model = model;
    sv.K = elmo_model_n_output_layers(model);
    sv.D = elmo_model_output_dim(model);
    snprintf(sv.fingerprint, sizeof sv.fingerprint, "%016llx",
             (unsigned long long)elmo_model_fingerprint(model));
    if (!(sv.model_json = model_json(model, sv.fingerprint, max_batch, max_tokens))) {
        cli_error(CMD, "out of memory");
        goto done;
    }
    serve_batcher_opts bo = {.max_batch = max_batch,
                             .max_delay_s = max_delay_ms / 1000.0,
                             .threads = threads,
                             .metrics = &sv.metrics};
    if ((s = serve_batcher_start(model, &bo, &sv.batcher))) {
        cli_lib_error(CMD, s);
        goto done;
    }
    if (!(d = start_http(&sv, host, port, timeout, max_conn))) goto done;
    unsigned char sig = 0;
    while (read(g_sig_pipe[0], &sig, 1) != 1) {}
    fprintf(stderr, "elmo serve: %s: finishing the requests received, then exiting\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    shutdown_http(d, &sv, timeout);
    rc = 0;
done:
    serve_batcher_stop(sv.batcher);
    elmo_model_free(model);
    free(sv.key);
    free(sv.model_json);
    serve_metrics_destroy(&sv.metrics);
    pthread_mutex_destroy(&sv.lock);
    pthread_cond_destroy(&sv.idle);
    close(g_sig_pipe[0]);
    close(g_sig_pipe[1]);
    return rc;
}
#endif
