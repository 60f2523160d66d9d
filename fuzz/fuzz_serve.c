/* fuzz_serve.c: the request parser of `elmo serve` (tools/serve_proto.c: JSON via cJSON,
 * UTF-8, whitespace splitting, limits), then the answer written from zeros and read back. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "serve_proto.h"

/* the answer of a parsed request (K = 2 layers of width D = 3, zeros) is JSON holding one
 * entry per sentence, and npy when the shapes stack */
static void check_answer(const serve_request *r) {
    enum { K = 2, D = 3 };
    float *zero = calloc((size_t)(K * D) * (size_t)(r->total + 1), sizeof(float));
    const float **sel = malloc(sizeof(float *) * (size_t)r->n);
    if (!zero || !sel) abort();
    for (int s = 0; s < r->n; s++) sel[s] = zero;
    elmo_strbuf b = {0};
    if (serve_write_json(&b, "0123456789abcdef", r->layers, K, D, r->n, r->n_tokens, sel)) abort();
    cJSON *j = cJSON_Parse(b.p);
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "embeddings")) != r->n) abort();
    cJSON_Delete(j);
    if (serve_npy_possible(r->layers, r->n, r->n_tokens)) {
        b.n = 0;
        if (serve_write_npy(&b, r->layers, K, D, r->n, r->n_tokens, sel) || b.n < 64) abort();
        size_t hl = (unsigned char)b.p[8] | (size_t)(unsigned char)b.p[9] << 8;
        if ((10 + hl) % 64 || b.p[10 + hl - 1] != '\n') abort();
    }
    elmo_strbuf_free(&b);
    free(sel);
    free(zero);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    serve_request r;
    char err[256] = "";
    long max_tokens = 1000;
    int code = serve_request_parse((const char *)data, size, max_tokens, &r, err, sizeof err);
    if (code) { /* a refusal: 400 or 413 with a one-line message, nothing kept */
        if ((code != 400 && code != 413) || !err[0] || strchr(err, '\n') || r.n || r.text) abort();
        return 0;
    }
    /* what the parser promises: counts add up, tokens are UTF-8 in the request's text */
    long total = 0;
    if (r.n < 1 || r.n > max_tokens || r.total > max_tokens || (int)r.layers > SERVE_MEAN) abort();
    for (int s = 0; s < r.n; s++) {
        if (r.n_tokens[s] < 0 || r.tokens[s] != r.tok + total) abort();
        for (int t = 0; t < r.n_tokens[s]; t++)
            fuzz_check_utf8(r.tokens[s][t], strlen(r.tokens[s][t]));
        total += r.n_tokens[s];
    }
    if (total != r.total) abort();
    check_answer(&r);
    serve_request_free(&r);
    return 0;
}
