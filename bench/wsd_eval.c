/*
 * wsd_eval.c: the word-sense nearest-neighbour measure (issue 16) of a biLM.
 *
 * usage: wsd_eval MODEL_DIR USES.tsv   (USES from scripts/wsd_data.py: word, sense, index,
 *        tokens; sorted by word)
 *
 * Every sentence is embedded (stateless); the target token's vector is taken from each layer
 * (K = L + 1: the context-free token layer, then the LSTM layers) and from their average. For
 * every use, its nearest neighbour (cosine) among the other uses of the same word: the score is
 * the fraction whose neighbour has the same sense; the chance level is the expected score of a
 * neighbour drawn at random among the other uses ((same-sense uses - 1) / (uses - 1), averaged).
 * A reference without a biLM, "bag_of_context": each use as the tf-idf vector of the other words
 * of its sentence (case-folded; idf over the uses' sentences). Prints one JSON object.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"

typedef struct {
    int term;
    float w;
} entry;

typedef struct {
    char word[128], sense[32];
    int idx;
    char **words; /* (n_words) the other words of the sentence, case-folded */
    entry *ctx;   /* (n_ctx) their tf-idf weights by term id, sorted by term (bag_of_context) */
    int n_words, n_ctx;
} use;

enum { MAX_USES = 200000, MAX_TOK = 256 };

static int fail(const char *msg, const char *arg) {
    fprintf(stderr, "wsd_eval: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 1;
}

/* Cosine of rows a and b of vec (D each). */
static double cosine(const float *a, const float *b, int D) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < D; d++)
        ab += (double)a[d] * b[d], aa += (double)a[d] * a[d], bb += (double)b[d] * b[d];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : -2;
}

/* Cosine of two sparse vectors sorted by term. */
static double sparse_cosine(const use *a, const use *b) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < a->n_ctx; i++) aa += (double)a->ctx[i].w * a->ctx[i].w;
    for (int j = 0; j < b->n_ctx; j++) bb += (double)b->ctx[j].w * b->ctx[j].w;
    for (int i = 0, j = 0; i < a->n_ctx && j < b->n_ctx;) {
        if (a->ctx[i].term < b->ctx[j].term)
            i++;
        else if (a->ctx[i].term > b->ctx[j].term)
            j++;
        else
            ab += (double)a->ctx[i++].w * b->ctx[j++].w;
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : -2;
}

/* Similarity of uses a and b: the cosine of their rows of vec (D each), or of their contexts
 * when vec is NULL. */
static double similarity(const use *u, const float *vec, int D, size_t a, size_t b) {
    return vec ? cosine(vec + a * D, vec + b * D, D) : sparse_cosine(&u[a], &u[b]);
}

/* Score of one view on uses grouped by word: vectors (n, D), or the contexts if vec is NULL. */
static double score(const use *u, size_t n, const float *vec, int D) {
    size_t correct = 0;
    for (size_t a = 0, g0 = 0; a < n; a++) {
        if (a == 0 || strcmp(u[a].word, u[a - 1].word)) g0 = a;
        size_t best = a;
        double bc = -3;
        for (size_t b = g0; b < n && !strcmp(u[b].word, u[a].word); b++) {
            if (b == a) continue;
            double c = similarity(u, vec, D, a, b);
            if (c > bc) bc = c, best = b;
        }
        correct += best != a && !strcmp(u[best].sense, u[a].sense);
    }
    return (double)correct / (double)n;
}

static double chance(const use *u, size_t n) {
    double sum = 0;
    for (size_t a = 0; a < n; a++) {
        size_t same = 0, all = 0;
        for (size_t b = 0; b < n; b++)
            if (b != a && !strcmp(u[b].word, u[a].word))
                all++, same += !strcmp(u[b].sense, u[a].sense);
        sum += all ? (double)same / all : 0;
    }
    return sum / (double)n;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry(const void *a, const void *b) {
    return ((const entry *)a)->term - ((const entry *)b)->term;
}

/* Turns every use's context words into tf-idf entries over the terms of all contexts (idf =
 * log(n / uses whose context has the term)). 0 or -1 when out of memory. */
static int build_contexts(use *u, size_t n) {
    size_t total = 0, T = 0;
    for (size_t a = 0; a < n; a++) total += (size_t)u[a].n_words;
    char **terms = malloc(sizeof(char *) * (total + 1));
    int *df = calloc(total + 1, sizeof(int));
    if (!terms || !df) return free(terms), free(df), -1;
    for (size_t a = 0; a < n; a++)
        for (int i = 0; i < u[a].n_words; i++) terms[T++] = u[a].words[i];
    qsort(terms, T, sizeof(char *), cmp_str);
    size_t distinct = 0;
    for (size_t i = 0; i < T; i++)
        if (distinct == 0 || strcmp(terms[i], terms[distinct - 1])) terms[distinct++] = terms[i];
    for (size_t a = 0; a < n; a++) {
        use *x = &u[a];
        x->ctx = malloc(sizeof(entry) * (size_t)(x->n_words + 1));
        if (!x->ctx) return free(terms), free(df), -1;
        for (int i = 0; i < x->n_words; i++) {
            char **hit = bsearch(&x->words[i], terms, distinct, sizeof(char *), cmp_str);
            x->ctx[i] = (entry){(int)(hit - terms), 1};
        }
        qsort(x->ctx, (size_t)x->n_words, sizeof(entry), cmp_entry);
        int m = 0; /* merge repeats: w = term frequency for now */
        for (int i = 0; i < x->n_words; i++)
            if (m > 0 && x->ctx[m - 1].term == x->ctx[i].term)
                x->ctx[m - 1].w += 1;
            else
                x->ctx[m++] = x->ctx[i];
        for (int i = 0; i < m; i++) df[x->ctx[i].term]++;
        x->n_ctx = m;
    }
    for (size_t a = 0; a < n; a++)
        for (int i = 0; i < u[a].n_ctx; i++)
            u[a].ctx[i].w *= (float)log((double)n / df[u[a].ctx[i].term]);
    free(terms), free(df);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) return fail("usage: wsd_eval MODEL_DIR USES.tsv", NULL);
    FILE *f = fopen(argv[2], "r");
    if (!f) return fail("cannot open", argv[2]);
    elmo_model *m;
    elmo_session *s;
    if (elmo_model_load_dir(argv[1], &m) || elmo_session_new(m, 1, 2, &s))
        return fail("cannot load the model", argv[1]);
    int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
    use *u = calloc(MAX_USES, sizeof *u);
    float *vec =
        malloc(sizeof(float) * (size_t)MAX_USES * (K + 1) * D); /* (K + 1 views, n, D) later */
    float *layers = malloc(sizeof(float) * (size_t)K * MAX_TOK * D);
    char line[8192];
    size_t n = 0;
    while (u && vec && layers && fgets(line, sizeof line, f) && n < MAX_USES) {
        line[strcspn(line, "\n")] = 0;
        char *w = strtok(line, "\t"), *sense = strtok(NULL, "\t"), *idx = strtok(NULL, "\t"),
             *text = strtok(NULL, "\t");
        if (!w || !sense || !idx || !text) return fail("bad line in", argv[2]);
        const char *tok[MAX_TOK];
        int nt = 0;
        for (char *p = strtok(text, " "); p && nt < MAX_TOK; p = strtok(NULL, " ")) tok[nt++] = p;
        use *x = &u[n];
        snprintf(x->word, sizeof x->word, "%s", w);
        snprintf(x->sense, sizeof x->sense, "%s", sense);
        x->idx = atoi(idx);
        if (x->idx < 0 || x->idx >= nt) return fail("token index out of range in", argv[2]);
        x->words = malloc(sizeof(char *) * (size_t)nt);
        if (!x->words) return fail("out of memory", NULL);
        for (int i = 0; i < nt; i++) {
            if (i == x->idx) continue;
            char *w = x->words[x->n_words++] = strdup(tok[i]);
            if (!w) return fail("out of memory", NULL);
            for (char *c = w; *c; c++) *c = (char)tolower((unsigned char)*c);
        }
        const char *const *tk[1] = {tok};
        float *outs[1] = {layers};
        if (elmo_embed(s, 1, tk, &nt, outs)) return fail("embedding failed", NULL);
        float *dst = vec + n * (size_t)(K + 1) * D; /* the use's K layers, then their average */
        memset(dst + (size_t)K * D, 0, sizeof(float) * D);
        for (int j = 0; j < K; j++)
            for (int d = 0; d < D; d++) {
                float v = layers[((size_t)j * nt + x->idx) * D + d];
                dst[(size_t)j * D + d] = v;
                dst[(size_t)K * D + d] += v / (float)K;
            }
        n++;
    }
    fclose(f);
    if (n == 0) return fail("no uses in", argv[2]);
    float *view = malloc(sizeof(float) * n * D);
    size_t words = 1;
    for (size_t a = 1; a < n; a++) words += strcmp(u[a].word, u[a - 1].word) != 0;
    printf("{\"uses\": %zu, \"words\": %zu, \"chance\": %.4f", n, words, chance(u, n));
    for (int j = 0; j <= K; j++) {
        for (size_t a = 0; a < n; a++)
            memcpy(view + a * D, vec + (a * (K + 1) + j) * D, sizeof(float) * D);
        char name[32];
        if (j == K)
            snprintf(name, sizeof name, "average");
        else
            snprintf(name, sizeof name, "layer_%d", j);
        printf(", \"%s\": %.4f", name, score(u, n, view, D));
    }
    if (build_contexts(u, n)) return fail("out of memory", NULL);
    printf(", \"bag_of_context\": %.4f}\n", score(u, n, NULL, 0));
    for (size_t a = 0; a < n; a++) {
        for (int i = 0; i < u[a].n_words; i++) free(u[a].words[i]);
        free(u[a].words), free(u[a].ctx);
    }
    free(view), free(vec), free(layers), free(u);
    elmo_session_free(s);
    elmo_model_free(m);
    return 0;
}
