/*
 * cmd_similarity.c: `elmo similarity`: how the vectors of one word change with its sentence.
 * For each sentence (tokens separated by spaces) the word's vector is taken from every layer;
 * the cosine similarities between the sentences are printed per layer. The context-free
 * token layer gives 1.0 everywhere; the LSTM layers tell "river bank" from "bank account".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "io/util.h"

#define CMD "similarity"
#define MAX_SENT 16

static double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

int cmd_similarity(int argc, char **argv) {
    cli_model mo = {0};
    const char *word = NULL;
    const char *pos[MAX_SENT];
    int npos = 0;
    cli_opt opts[] = {
        CLI_MODEL_OPTS(mo), {"--word", OPT_STR, &word, 0, 0, "the word to compare"}, {0}};
    int r = cli_parse(CMD, "--word WORD \"sentence one\" \"sentence two\" ...", opts, argc, argv,
                      pos, MAX_SENT, &npos);
    if (r) return r == 1 ? 0 : r;
    if (!word) return cli_error(CMD, "missing --word");
    if (npos < 2) return cli_error(CMD, "give at least two sentences");
    elmo_model *m = cli_load_model(CMD, &mo);
    if (!m) return 1;
    int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m), rc = 0;
    elmo_session *s = NULL;
    elmo_status st = elmo_session_new(m, 1, 2, &s);
    if (st) {
        elmo_model_free(m);
        return cli_lib_error(CMD, st);
    }
    float *vec = calloc((size_t)npos * (K + 1) * D,
                        sizeof(float)); /* (sentence, layer, D); layer K = mean */
    for (int i = 0; !rc && i < npos; i++) {
        char *copy = strdup(pos[i]);
        const char *tok[1024];
        int n = 0, at = -1;
        for (char *p = strtok(copy, " \t"); p && n < 1024; p = strtok(NULL, " \t")) {
            if (at < 0 && !strcmp(p, word)) at = n;
            tok[n++] = p;
        }
        if (at < 0) {
            rc = cli_error(CMD, "sentence %d does not contain '%s'", i + 1, word);
        } else {
            float *out = malloc(sizeof(float) * (size_t)K * n * D);
            const char *const *tk[1] = {tok};
            if ((st = elmo_embed(s, 1, tk, &n, &out))) rc = cli_lib_error(CMD, st);
            for (int l = 0; !rc && l < K; l++) {
                float *dst = vec + ((size_t)i * (K + 1) + l) * D,
                      *avg = vec + ((size_t)i * (K + 1) + K) * D;
                memcpy(dst, out + ((size_t)l * n + at) * D, sizeof(float) * D);
                for (int d = 0; d < D; d++) avg[d] += dst[d] / K;
            }
            free(out);
        }
        free(copy);
    }
    for (int l = 0; !rc && l <= K; l++) {
        if (l == 0)
            printf("layer 0 (context-free token layer):\n");
        else if (l < K)
            printf("layer %d (LSTM layer %d, forward and backward):\n", l, l);
        else
            printf("ELMo (average of the %d layers):\n", K);
        for (int i = 0; i < npos; i++) {
            printf("  %-48.48s", pos[i]);
            for (int j = 0; j < npos; j++)
                printf(" %6.3f", cosine(vec + ((size_t)i * (K + 1) + l) * D,
                                        vec + ((size_t)j * (K + 1) + l) * D, D));
            printf("\n");
        }
    }
    free(vec);
    elmo_session_free(s);
    elmo_model_free(m);
    return rc;
}
