/*
 * test_serve.c: `elmo serve` on the AllenNLP fixture model, spoken to over plain sockets:
 * answers equal, bit for bit, the library's elmo_embed and `elmo embed`'s HDF5 datasets;
 * concurrent requests are batched together and still equal; bad requests get 400/401/404/
 * 405/406/413 with a one-line JSON error and the server keeps serving; a slow client is cut
 * off; SIGTERM under load answers every request received and exits 0 within 10 s.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/h5io.h"
#include "serve_proto.h"
#include "testutil.h"
#include "io/util.h"

/* ---- the server process */

typedef struct {
    pid_t pid;
    int port;
    int err_fd; /* its stderr */
} server;

static int g_K, g_D;
static pid_t g_pids[8]; /* servers started: killed at exit if a failed test left one */

static void kill_servers(void) {
    for (int i = 0; i < 8; i++)
        if (g_pids[i] > 0 && waitpid(g_pids[i], NULL, WNOHANG) == 0) kill(g_pids[i], SIGKILL);
}

static void track(pid_t pid) {
    static int registered;
    if (!registered) registered = 1, atexit(kill_servers);
    for (int i = 0; i < 8; i++)
        if (g_pids[i] <= 0 || waitpid(g_pids[i], NULL, WNOHANG) != 0) { /* free, or exited */
            g_pids[i] = pid;
            return;
        }
}

static void start_server(server *s, const char *extra) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    char cmd[4096];
    /* as a user runs it, with oneDNN's OpenMP threads free to start (ctest sets
     * OMP_NUM_THREADS): SIGTERM may then be delivered to any thread */
    snprintf(cmd, sizeof cmd,
             "unset OMP_NUM_THREADS; exec '%s' serve --model '%s' --port 0 --threads 2 %s",
             ELMO_CLI, fixture_model_dir(), extra ? extra : "");
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) { /* stderr to the pipe, stdout away (a test's pipe must not stay open) */
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    s->err_fd = p[0];
    track(s->pid);
    /* the start-up line: "elmo serve: listening on http://127.0.0.1:PORT" */
    char buf[4096];
    size_t n = 0;
    double t0 = elmo_now();
    s->port = 0;
    while (!s->port && elmo_now() - t0 < 60 && n < sizeof buf - 1) {
        struct pollfd pf = {.fd = s->err_fd, .events = POLLIN};
        if (poll(&pf, 1, 200) <= 0) continue;
        ssize_t r = read(s->err_fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = 0;
        const char *at = strstr(buf, "listening on http://127.0.0.1:");
        if (at && strchr(at, '\n')) s->port = atoi(at + strlen("listening on http://127.0.0.1:"));
    }
    if (!s->port) fail_msg("elmo serve did not start: %s", buf);
}

/* wait for exit (SIGKILL after `seconds`); its exit status; fails on a sanitizer report */
static int stop_server(server *s, int sig, double seconds, double *took) {
    if (sig) kill(s->pid, sig);
    double t0 = elmo_now();
    int st = 0;
    pid_t w;
    while ((w = waitpid(s->pid, &st, WNOHANG)) == 0 && elmo_now() - t0 < seconds) usleep(10000);
    if (took) *took = elmo_now() - t0;
    if (w == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
        fail_msg("elmo serve did not exit within %.0f s", seconds);
    }
    elmo_strbuf e = {0};
    char buf[4096];
    ssize_t r;
    while ((r = read(s->err_fd, buf, sizeof buf)) > 0) elmo_strbuf_add(&e, buf, (size_t)r);
    close(s->err_fd);
    if (e.p && (strstr(e.p, "ERROR: AddressSanitizer") || strstr(e.p, "ERROR: LeakSanitizer") ||
                strstr(e.p, "runtime error:")))
        fail_msg("sanitizer report from elmo serve:\n%s", e.p);
    elmo_strbuf_free(&e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- a minimal HTTP/1.1 client (one request per connection) */

typedef struct {
    int status;   /* 0: no answer (connection refused, reset or closed first) */
    int complete; /* the whole body announced by Content-Length arrived */
    char *head;   /* status line and headers */
    char *body;
    size_t body_len;
} reply;

static void reply_free(reply *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* read an answer until the server closes the connection */
static reply read_reply(int fd) {
    reply r = {0};
    elmo_strbuf in = {0};
    char buf[65536];
    ssize_t got;
    while ((got = recv(fd, buf, sizeof buf, 0)) > 0) elmo_strbuf_add(&in, buf, (size_t)got);
    char *sep = in.p ? strstr(in.p, "\r\n\r\n") : NULL;
    if (!sep || strncmp(in.p, "HTTP/1.1 ", 9) != 0) {
        elmo_strbuf_free(&in);
        return r;
    }
    r.status = atoi(in.p + 9);
    r.head = strndup(in.p, (size_t)(sep - in.p) + 2);
    r.body_len = in.n - (size_t)(sep + 4 - in.p);
    r.body = malloc(r.body_len + 1);
    memcpy(r.body, sep + 4, r.body_len);
    r.body[r.body_len] = 0;
    const char *cl = strcasestr(r.head, "\r\nContent-Length: ");
    r.complete = cl && (size_t)atoll(cl + 18) == r.body_len;
    elmo_strbuf_free(&in);
    return r;
}

static char *request_head(const char *method, const char *path, const char *headers, size_t len) {
    char *req;
    if (asprintf(&req,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: "
                 "%zu\r\n\r\n",
                 method, path, headers ? headers : "", len) < 0)
        abort();
    return req;
}

static reply http(int port, const char *method, const char *path, const char *headers,
                  const char *body, size_t len) {
    reply r = {0};
    int fd = connect_to(port);
    if (fd < 0) return r;
    char *req = request_head(method, path, headers, body ? len : 0);
    int bad = send_all(fd, req, strlen(req)) || (body && send_all(fd, body, len));
    free(req);
    if (!bad) r = read_reply(fd);
    close(fd);
    return r;
}

static reply post(int port, const char *body, const char *headers) {
    return http(port, "POST", "/v1/embed", headers, body, strlen(body));
}

/* ---- what the answers must equal */

static const char *SENTS[] = {
    "The bank raised its interest rates .",
    "  We  had a picnic\ton the river bank .  ",
    "",
    "Fish\xe2\x80\x83swam near the muddy bank of the stream in the late afternoon sun , quietly .",
    "a",
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word .",
};
enum { NS = sizeof SENTS / sizeof *SENTS };
static float *g_ref[NS]; /* (K, n, D): each sentence embedded alone by the library */
static int g_n[NS];
static char **g_tok[NS];

static void reference(void) {
    if (g_ref[0]) return;
    elmo_model *m;
    elmo_session *s;
    assert_int_equal(elmo_model_load_dir(fixture_model_dir(), &m), ELMO_OK);
    assert_int_equal(elmo_session_new(m, 8, 1, &s), ELMO_OK);
    g_K = elmo_model_n_output_layers(m);
    g_D = elmo_model_output_dim(m);
    for (int i = 0; i < NS; i++) {
        size_t st[64], ln[64], len = strlen(SENTS[i]);
        g_n[i] = (int)elmo_split_whitespace(SENTS[i], len, st, ln, 64);
        g_tok[i] = malloc(sizeof(char *) * (size_t)(g_n[i] + 1));
        for (int t = 0; t < g_n[i]; t++) g_tok[i][t] = strndup(SENTS[i] + st[t], ln[t]);
        g_ref[i] = malloc(sizeof(float) * (size_t)(g_K * g_n[i] * g_D + 1));
        const char *const *tk = (const char *const *)g_tok[i];
        assert_int_equal(elmo_embed(s, 1, &tk, &g_n[i], &g_ref[i]), ELMO_OK);
    }
    elmo_session_free(s);
    elmo_model_free(m);
}

/* sentence i's expected output for a layers mode, into out (returns the float count) */
static size_t expected(int i, const char *layers, float *out) {
    int n = g_n[i], K = g_K, D = g_D;
    size_t nd = (size_t)n * D;
    const float *raw = g_ref[i];
    if (strcmp(layers, "all") == 0) return memcpy(out, raw, sizeof(float) * K * nd), K * nd;
    if (strcmp(layers, "top") == 0) return memcpy(out, raw + (K - 1) * nd, sizeof(float) * nd), nd;
    float *avg = malloc(sizeof(float) * (nd + 1));
    for (size_t q = 0; q < nd; q++) { /* as elmo embed --layers average */
        float acc = 0;
        for (int k = 0; k < K; k++) acc += raw[k * nd + q];
        avg[q] = acc / (float)K;
    }
    size_t cnt = nd;
    if (strcmp(layers, "average") == 0) {
        memcpy(out, avg, sizeof(float) * nd);
    } else { /* mean over tokens; zeros for none */
        for (int d = 0; d < D; d++) {
            float acc = 0;
            for (int t = 0; t < n; t++) acc += avg[(size_t)t * D + d];
            out[d] = n ? acc / (float)n : 0.0f;
        }
        cnt = (size_t)D;
    }
    free(avg);
    return cnt;
}

/* flatten a nested JSON array of numbers; -1 if something else is in it */
static long flatten(const cJSON *a, float *out, long at) {
    if (cJSON_IsNumber(a)) return out[at] = (float)a->valuedouble, at + 1;
    if (!cJSON_IsArray(a)) return -1;
    for (const cJSON *c = a->child; c && at >= 0; c = c->next) at = flatten(c, out, at);
    return at;
}

/* depth of the first path down a nested array */
static int depth(const cJSON *a) {
    return cJSON_IsArray(a) ? 1 + (a->child ? depth(a->child) : 0) : 0;
}

/* a 200 answer holds, for sentences idx[0..n), exactly the expected floats; "" or why not */
static const char *check_answer(const reply *r, const char *layers, const int *idx, int n,
                                char *why, size_t whysz) {
    if (r->status != 200 || !r->complete)
        return snprintf(why, whysz, "status %d complete %d: %.200s", r->status, r->complete,
                        r->body ? r->body : ""),
               why;
    cJSON *j = cJSON_Parse(r->body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "embeddings");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "layers");
    why[0] = 0;
    if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != n || !cJSON_IsString(l) ||
        strcmp(l->valuestring, layers))
        snprintf(why, whysz, "bad answer: %.200s", r->body);
    int want_depth = strcmp(layers, "all") == 0 ? 3 : strcmp(layers, "mean") == 0 ? 1 : 2;
    float *got = malloc(sizeof(float) * (size_t)(g_K * 64 * g_D)),
          *exp = malloc(sizeof(float) * (size_t)(g_K * 64 * g_D));
    for (int k = 0; k < n && !why[0]; k++) {
        const cJSON *s = cJSON_GetArrayItem(e, k);
        size_t cnt = expected(idx[k], layers, exp);
        long m = flatten(s, got, 0);
        if (m != (long)cnt || (cnt && depth(s) != want_depth) ||
            memcmp(got, exp, sizeof(float) * cnt) != 0)
            snprintf(why, whysz,
                     "sentence %d (%s, layers %s): %ld floats, expected %zu, or values differ", k,
                     SENTS[idx[k]], layers, m, cnt);
    }
    free(got);
    free(exp);
    cJSON_Delete(j);
    return why[0] ? why : "";
}

/* the request body for sentences idx[0..n) */
static char *body_for(const int *idx, int n, const char *layers) {
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "sentences");
    for (int k = 0; k < n; k++) cJSON_AddItemToArray(a, cJSON_CreateString(SENTS[idx[k]]));
    cJSON_AddStringToObject(o, "layers", layers);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static server g_srv; /* the main server, shared by the tests below */
static const char *LAYERS[] = {"all", "top", "average", "mean"};

static void test_equal_to_library_and_cli(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    reference();
    int idx[NS];
    for (int i = 0; i < NS; i++) idx[i] = i;
    char why[512];
    for (int l = 0; l < 4; l++) { /* all sentences in one request: one batch */
        char *b = body_for(idx, NS, LAYERS[l]);
        reply r = post(g_srv.port, b, NULL);
        const char *w = check_answer(&r, LAYERS[l], idx, NS, why, sizeof why);
        if (*w) fail_msg("%s", w);
        reply_free(&r);
        free(b);
    }
    /* a token list: the tokens as given */
    reply r = post(g_srv.port,
                   "{\"sentences\": [[\"The\", \"bank\", \"raised\", \"its\", \"interest\", "
                   "\"rates\", \".\"]], \"layers\": \"all\"}",
                   NULL);
    int zero = 0;
    const char *w = check_answer(&r, "all", &zero, 1, why, sizeof why);
    if (*w) fail_msg("token list: %s", w);
    reply_free(&r);
    /* `elmo embed` on the same lines: its datasets equal the answers */
    elmo_strbuf in = {0};
    for (int i = 0; i < NS; i++) elmo_strbuf_printf(&in, "%s\n", SENTS[i]);
    write_file(tmpfile_path("serve_in.txt"), in.p, in.n);
    elmo_strbuf_free(&in);
    const char *modes[] = {"all", "top", "average"};
    for (int m = 0; m < 3; m++) {
        char args[2048];
        snprintf(args, sizeof args,
                 "embed --model '%s' --input '%s' --output '%s' --layers %s --batch-size 4",
                 fixture_model_dir(), tmpfile_path("serve_in.txt"), tmpfile_path("serve_out.hdf5"),
                 modes[m]);
        assert_int_equal(run_elmo(args, NULL, NULL), 0);
        float *exp = malloc(sizeof(float) * (size_t)(g_K * 64 * g_D));
        for (int i = 0; i < NS; i++) {
            char name[16];
            float *data;
            int rank;
            uint64_t dims[4];
            snprintf(name, sizeof name, "%d", i);
            assert_int_equal(elmo_h5_read(tmpfile_path("serve_out.hdf5"), name, &data, &rank, dims),
                             ELMO_OK);
            size_t cnt = expected(i, modes[m], exp), nd = 1;
            for (int k = 0; k < rank; k++) nd *= dims[k];
            assert_int_equal(nd, cnt);
            if (cnt && memcmp(data, exp, sizeof(float) * cnt) != 0)
                fail_msg("elmo embed --layers %s differs from the server's answer, line %d",
                         modes[m], i);
            free(data);
        }
        free(exp);
    }
}

/* ---- concurrent clients: batched together, every answer still exact */

typedef struct {
    int id, n_req;
    pthread_barrier_t *go;
    char why[512]; /* first failure ("" none) */
} client;

static void *client_main(void *arg) {
    client *c = arg;
    pthread_barrier_wait(c->go);
    for (int q = 0; q < c->n_req && !c->why[0]; q++) {
        int idx[3] = {(c->id + q) % NS, (c->id + 2 * q + 1) % NS, (c->id * 3 + q) % NS};
        int n = 1 + (c->id + q) % 3;
        const char *layers = LAYERS[(c->id + q) % 4];
        char *b = body_for(idx, n, layers);
        reply r = post(g_srv.port, b, NULL);
        check_answer(&r, layers, idx, n, c->why, sizeof c->why);
        reply_free(&r);
        free(b);
    }
    return NULL;
}

/* the value of a sample line "NAME VALUE" (name ends with its space) */
static long metric(const char *text, const char *name) {
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, strlen(name)) == 0) return atol(p + strlen(name));
    return -1;
}

static void test_concurrent_batched(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    reference();
    reply m0 = http(g_srv.port, "GET", "/metrics", NULL, NULL, 0);
    long b0 = metric(m0.body, "elmo_batch_rows_count "),
         s0 = metric(m0.body, "elmo_batch_rows_sum ");
    enum { NC = 8 };
    client cl[NC];
    pthread_t th[NC];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, NC);
    for (int i = 0; i < NC; i++) {
        cl[i] = (client){.id = i, .n_req = 4, .go = &go};
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    }
    for (int i = 0; i < NC; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < NC; i++)
        if (cl[i].why[0]) fail_msg("client %d: %s", i, cl[i].why);
    reply m1 = http(g_srv.port, "GET", "/metrics", NULL, NULL, 0);
    long b1 = metric(m1.body, "elmo_batch_rows_count "),
         s1 = metric(m1.body, "elmo_batch_rows_sum ");
    /* some batch held the sentences of several requests */
    if (!(b1 - b0 < s1 - s0))
        fail_msg("no batching: %ld batches for %ld sentences", b1 - b0, s1 - s0);
    assert_non_null(strstr(m1.body, "elmo_request_seconds_bucket{le=\"+Inf\"}"));
    reply_free(&m0);
    reply_free(&m1);
}

/* ---- bad requests: the status, a one-line JSON error, and the server keeps serving */

static void expect_status(int port, const char *method, const char *path, const char *headers,
                          const char *body, size_t len, int want) {
    reply r = http(port, method, path, headers, body, len);
    if (r.status != want)
        fail_msg("%s %s %.80s: status %d, expected %d: %s", method, path, body ? body : "",
                 r.status, want, r.body ? r.body : "");
    if (want >= 400) {
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (!cJSON_IsString(e) || strchr(r.body, '\n') != r.body + r.body_len - 1)
            fail_msg("not a one-line JSON error: %s", r.body);
        cJSON_Delete(j);
    }
    reply_free(&r);
}

static void test_bad_requests(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *bad400[] = {"{",
                            "[]",
                            "null",
                            "{\"sentences\": \"abc\"}",
                            "{\"sentences\": []}",
                            "{\"sentences\": [[\"a\", 1]]}",
                            "{\"sentences\": [{}]}",
                            "{\"sentences\": [\"a\"], \"layers\": \"bottom\"}",
                            "{\"sentences\": [\"a\"], \"layers\": 3}",
                            "{\"sentences\": [\"a\"], \"extra\": 1}",
                            "{\"sentences\": [\"a\"], \"sentences\": [\"b\"]}",
                            "{\"sentences\": [\"a\\u0000b\"]}",
                            "{\"sentences\": [\"a\"]} trailing",
                            "{\"sentences\": [\"\xff\"]}",
                            "{}",
                            ""};
    for (size_t i = 0; i < sizeof bad400 / sizeof *bad400; i++)
        expect_status(g_srv.port, "POST", "/v1/embed", NULL, bad400[i], strlen(bad400[i]), 400);
    /* --max-request-tokens 100: 101 tokens, 101 sentences */
    elmo_strbuf b = {0};
    elmo_strbuf_add(&b, "{\"sentences\": [\"", 16);
    for (int i = 0; i < 101; i++) elmo_strbuf_add(&b, "w ", 2);
    elmo_strbuf_add(&b, "\"]}", 3);
    expect_status(g_srv.port, "POST", "/v1/embed", NULL, b.p, b.n, 413);
    b.n = 0;
    elmo_strbuf_add(&b, "{\"sentences\": [\"\"", 17);
    for (int i = 0; i < 100; i++) elmo_strbuf_add(&b, ", \"\"", 4);
    elmo_strbuf_add(&b, "]}", 2);
    expect_status(g_srv.port, "POST", "/v1/embed", NULL, b.p, b.n, 413);
    /* a body over the size limit (256 bytes per token + 64 KiB) */
    b.n = 0;
    elmo_strbuf_add(&b, "{\"sentences\": [\"", 16);
    for (int i = 0; i < 100000; i++) elmo_strbuf_add(&b, "x", 1);
    elmo_strbuf_add(&b, "\"]}", 3);
    expect_status(g_srv.port, "POST", "/v1/embed", NULL, b.p, b.n, 413);
    elmo_strbuf_free(&b);
    expect_status(g_srv.port, "GET", "/v1/embed", NULL, NULL, 0, 405);
    expect_status(g_srv.port, "POST", "/v1/model", NULL, "{}", 2, 405);
    expect_status(g_srv.port, "GET", "/nowhere", NULL, NULL, 0, 404);
    const char *uneven = "{\"sentences\": [\"a b\", \"c\"], \"layers\": \"top\"}";
    expect_status(g_srv.port, "POST", "/v1/embed", "Accept: application/x-npy\r\n", uneven,
                  strlen(uneven), 406);
    /* still serving */
    expect_status(g_srv.port, "GET", "/healthz", NULL, NULL, 0, 200);
    expect_status(g_srv.port, "POST", "/v1/embed", NULL, "{\"sentences\": [\"ok\"]}", 21, 200);
}

static void test_npy_and_model(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    reference();
    int idx[3] = {0, 2, 4};
    char *b = body_for(idx, 3, "mean");
    reply r = post(g_srv.port, b, "Accept: application/x-npy\r\n");
    free(b);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "application/x-npy"));
    assert_memory_equal(r.body, "\x93NUMPY\x01\x00", 8);
    size_t hl = (unsigned char)r.body[8] | (size_t)(unsigned char)r.body[9] << 8;
    char shape[64];
    snprintf(shape, sizeof shape, "'shape': (3, %d)", g_D);
    assert_non_null(strstr(r.body + 10, shape));
    assert_int_equal((10 + hl) % 64, 0);
    assert_int_equal(r.body_len, 10 + hl + sizeof(float) * 3 * g_D);
    float *exp = malloc(sizeof(float) * (size_t)g_D);
    for (int k = 0; k < 3; k++) {
        expected(idx[k], "mean", exp);
        assert_memory_equal(r.body + 10 + hl + sizeof(float) * k * g_D, exp, sizeof(float) * g_D);
    }
    free(exp);
    reply_free(&r);
    r = http(g_srv.port, "GET", "/v1/model", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
    elmo_model *m;
    assert_int_equal(elmo_model_load_dir(fixture_model_dir(), &m), ELMO_OK);
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)elmo_model_fingerprint(m));
    elmo_model_free(m);
    assert_true(cJSON_IsString(fp) && strcmp(fp->valuestring, want) == 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "precision")->valuestring, "fp32");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "output_dim")->valueint, g_D);
    cJSON_Delete(j);
    reply_free(&r);
}

/* a client that sends half a request and waits is cut off after --timeout (1 s here) */
static void test_slow_client(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    int fd = connect_to(g_srv.port);
    assert_true(fd >= 0);
    const char *half = "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"sent";
    assert_int_equal(send_all(fd, half, strlen(half)), 0);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    double t0 = elmo_now();
    char buf[512];
    ssize_t got = 1;
    while (got > 0 && elmo_now() - t0 < 5) /* EOF (or an error answer, then EOF) */
        if (poll(&pf, 1, 100) > 0) got = recv(fd, buf, sizeof buf, 0);
    close(fd);
    if (got > 0) fail_msg("the slow connection was still open after 5 s");
    expect_status(g_srv.port, "GET", "/healthz", NULL, NULL, 0, 200);
}

static void test_api_key(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    write_file(tmpfile_path("key.txt"), "s3cret-key\n", 11);
    char extra[1024];
    snprintf(extra, sizeof extra, "--api-key-file '%s'", tmpfile_path("key.txt"));
    server s;
    start_server(&s, extra);
    const char *ok = "{\"sentences\": [\"a b\"]}";
    expect_status(s.port, "POST", "/v1/embed", NULL, ok, strlen(ok), 401);
    expect_status(s.port, "POST", "/v1/embed", "Authorization: Bearer s3cret-kez\r\n", ok,
                  strlen(ok), 401);
    expect_status(s.port, "POST", "/v1/embed", "Authorization: Bearer s3cret-key2\r\n", ok,
                  strlen(ok), 401);
    expect_status(s.port, "GET", "/metrics", "Authorization: Basic s3cret-key\r\n", NULL, 0, 401);
    expect_status(s.port, "POST", "/v1/embed", "Authorization: Bearer s3cret-key\r\n", ok,
                  strlen(ok), 200);
    expect_status(s.port, "GET", "/healthz", NULL, NULL, 0, 200);
    assert_int_equal(stop_server(&s, SIGINT, 10, NULL), 0);
}

/* ---- a full queue: 503 with Retry-After; a batch waits for a request being received */

static long get_metric(int port, const char *name) {
    reply m = http(port, "GET", "/metrics", NULL, NULL, 0);
    long v = m.body ? metric(m.body, name) : -1;
    reply_free(&m);
    return v;
}

static void wait_metric(int port, const char *name, long want) {
    double t0 = elmo_now();
    while (get_metric(port, name) != want)
        if (elmo_now() - t0 > 20)
            fail_msg("%s never reached %ld", name, want);
        else
            usleep(5000);
}

typedef struct {
    int port;
    reply r;
    double took;
} poster;

static void *poster_main(void *arg) {
    poster *p = arg;
    double t0 = elmo_now();
    p->r = post(p->port, "{\"sentences\": [\"one two three four five six seven eight nine ten\"]}",
                NULL);
    p->took = elmo_now() - t0;
    return NULL;
}

static void test_queue_full(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    server s;
    start_server(&s, "--max-queue-tokens 20 --max-delay-ms 5000");
    /* B: the headers of a request, its body later (while it is being received, a batch that
     * is not full waits for it, up to --max-delay-ms) */
    const char *bbody = "{\"sentences\": [\"b\"]}";
    int fb = connect_to(s.port);
    assert_true(fb >= 0);
    char *head = request_head("POST", "/v1/embed", NULL, strlen(bbody));
    assert_int_equal(send_all(fb, head, strlen(head)), 0);
    free(head);
    wait_metric(s.port, "elmo_requests_in_flight ", 1);
    /* A: 10 tokens (12 positions of 20) admitted, queued, waiting for B */
    poster a = {.port = s.port};
    pthread_t th;
    pthread_create(&th, NULL, poster_main, &a);
    wait_metric(s.port, "elmo_queue_sentences ", 1);
    /* C: 15 tokens more do not fit */
    reply c = post(s.port, "{\"sentences\": [\"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\"]}", NULL);
    if (c.status != 503 || !strstr(c.head, "Retry-After: 1"))
        fail_msg("expected 503 with Retry-After: %s", c.head);
    reply_free(&c);
    /* B's body: 1 token fits; A and B run together at once */
    assert_int_equal(send_all(fb, bbody, strlen(bbody)), 0);
    reply b = read_reply(fb);
    close(fb);
    pthread_join(th, NULL);
    assert_int_equal(b.status, 200);
    assert_int_equal(a.r.status, 200);
    if (a.took > 4)
        fail_msg("request A waited %.1f s: the batch did not start when B arrived", a.took);
    assert_int_equal(get_metric(s.port, "elmo_batch_rows_count "), 1);
    assert_int_equal(get_metric(s.port, "elmo_batch_rows_sum "), 2);
    reply_free(&b);
    reply_free(&a.r);
    assert_int_equal(stop_server(&s, SIGTERM, 10, NULL), 0);
}

/* ---- SIGTERM under load */

typedef struct {
    int port, id;
    volatile int *stop;
    long ok, refused, unavailable;
    char why[512];
} loader;

static void *loader_main(void *arg) {
    loader *c = arg;
    int k = 0;
    while (!*c->stop && !c->why[0]) {
        int idx[2] = {(c->id + k) % NS, (c->id + k + 3) % NS};
        k++;
        char *b = body_for(idx, 2, "top");
        reply r = post(c->port, b, NULL);
        free(b);
        if (r.status == 0) { /* not accepted: the listening socket is closed */
            c->refused++;
            if (c->refused > 3) break;
        } else if (r.status == 503 && r.complete) {
            c->unavailable++;
        } else {
            check_answer(&r, "top", idx, 2, c->why, sizeof c->why);
            c->ok++;
        }
        reply_free(&r);
    }
    return NULL;
}

static void test_sigterm_under_load(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    reference();
    server s;
    start_server(&s, "--max-delay-ms 2");
    enum { NL = 8 };
    loader cl[NL];
    pthread_t th[NL];
    volatile int stop = 0;
    for (int i = 0; i < NL; i++) {
        cl[i] = (loader){.port = s.port, .id = i, .stop = &stop};
        pthread_create(&th[i], NULL, loader_main, &cl[i]);
    }
    long done = 0;
    for (double t0 = elmo_now(); done < 40 && elmo_now() - t0 < 30;) {
        usleep(20000);
        done = 0;
        for (int i = 0; i < NL; i++) done += cl[i].ok;
    }
    double took;
    int rc = stop_server(&s, SIGTERM, 10, &took);
    stop = 1;
    for (int i = 0; i < NL; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < NL; i++)
        if (cl[i].why[0])
            fail_msg("client %d: a request answered wrongly or cut off: %s", i, cl[i].why);
    long ok = 0, refused = 0, unavailable = 0;
    for (int i = 0; i < NL; i++)
        ok += cl[i].ok, refused += cl[i].refused, unavailable += cl[i].unavailable;
    print_message("SIGTERM after %ld answers: %ld answered in all, %ld 503, %ld not accepted; exit "
                  "%d in %.2f s\n",
                  done, ok, unavailable, refused, rc, took);
    assert_int_equal(rc, 0);
    assert_true(took < 10);
    assert_true(done >= 40);
}

static int setup(void **state) {
    (void)state;
    if (!fixtures_available()) return 0;
    start_server(&g_srv, "--max-delay-ms 20 --max-request-tokens 100 --timeout 1");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (g_srv.pid > 0) {
        int rc = stop_server(&g_srv, SIGTERM, 10, NULL);
        if (rc != 0) {
            fprintf(stderr, "elmo serve exited with %d\n", rc);
            return -1;
        }
    }
    return 0;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_to_library_and_cli),
        cmocka_unit_test(test_concurrent_batched),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_npy_and_model),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_sigterm_under_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
