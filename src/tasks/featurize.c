/*
 * featurize.c: tokenizing texts and embedding many token sequences in length-sorted batches.
 */
#include "tasks/featurize.h"

#include <stdlib.h>
#include <string.h>

#include "text/tokenize.h"
#include "io/util.h"

#define BATCH_SEQS 64
#define BATCH_TOKENS 8192

size_t elmo_tokenize_text(elmo_tokenizer t, const char *text, size_t len, size_t *st, size_t *ln,
                          size_t max) {
    return t == ELMO_TOK_SIMPLE ? elmo_tokenize_spans(text, len, st, ln, max)
                                : elmo_split_whitespace(text, len, st, ln, max);
}

elmo_status elmo_tokenize_all(elmo_tokenizer t, size_t count, const char *const *text,
                              const size_t *len, int max_tokens, elmo_tokenized *out) {
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = elmo_tokenize_text(t, text[i], len[i], NULL, NULL, 0);
        if (max_tokens > 0 && n > (size_t)max_tokens) n = (size_t)max_tokens;
        total += n;
    }
    out->seq = malloc(sizeof(elmo_tok_seq) * (count ? count : 1));
    out->st = malloc(sizeof(size_t) * (total ? total : 1));
    out->ln = malloc(sizeof(size_t) * (total ? total : 1));
    size_t cap = 1024, *tst = malloc(sizeof(size_t) * cap), *tln = malloc(sizeof(size_t) * cap);
    if (!out->seq || !out->st || !out->ln || !tst || !tln) {
        free(tst);
        free(tln);
        elmo_tokenized_free(out);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory tokenizing %zu texts", count);
    }
    size_t pos = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = elmo_tokenize_text(t, text[i], len[i], tst, tln, cap);
        if (n > cap) {
            size_t nc = n;
            size_t *a = realloc(tst, sizeof(size_t) * nc),
                   *b = a ? realloc(tln, sizeof(size_t) * nc) : NULL;
            if (a) tst = a;
            if (b) tln = b;
            if (!a || !b) {
                free(tst);
                free(tln);
                elmo_tokenized_free(out);
                return elmo_fail(ELMO_ERR_NOMEM, "out of memory tokenizing");
            }
            cap = nc;
            elmo_tokenize_text(t, text[i], len[i], tst, tln, cap);
        }
        if (max_tokens > 0 && n > (size_t)max_tokens) n = (size_t)max_tokens;
        memcpy(out->st + pos, tst, sizeof(size_t) * n);
        memcpy(out->ln + pos, tln, sizeof(size_t) * n);
        out->seq[i] = (elmo_tok_seq){text[i], out->st + pos, out->ln + pos, (int)n, NULL};
        pos += n;
    }
    free(tst);
    free(tln);
    out->count = count;
    out->n_tokens = total;
    return ELMO_OK;
}

void elmo_tokenized_free(elmo_tokenized *t) {
    free(t->seq);
    free(t->st);
    free(t->ln);
    memset(t, 0, sizeof *t);
}

static const elmo_tok_seq *g_seqs; /* for the sort comparator */

static int by_length(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int nx = g_seqs[x].n, ny = g_seqs[y].n;
    if (nx != ny) return nx < ny ? -1 : 1;
    return x < y ? -1 : x > y;
}

elmo_status elmo_embed_many(elmo_session *s, const elmo_model *m, size_t count,
                            const elmo_tok_seq *seqs, elmo_emit_fn emit, void *user,
                            elmo_progress_fn progress, void *puser) {
    int W = elmo_model_config(m)->max_chars, K = elmo_model_n_output_layers(m);
    int D = elmo_model_output_dim(m);
    size_t *order = malloc(sizeof(size_t) * (count ? count : 1));
    if (!order) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) order[i] = i;
    g_seqs = seqs;
    qsort(order, count, sizeof *order, by_length);
    int16_t *ids = NULL;
    float *outm = NULL;
    size_t ids_cap = 0, out_cap = 0;
    elmo_status st = ELMO_OK;
    const int16_t *rows[BATCH_SEQS];
    int ntok[BATCH_SEQS];
    float *outs[BATCH_SEQS];
    for (size_t a = 0; a < count && !st;) {
        /* a batch: up to BATCH_SEQS sequences and BATCH_TOKENS tokens (at least one) */
        size_t b = a, tokens = 0;
        while (b < count && b - a < BATCH_SEQS &&
               (b == a || tokens + (size_t)seqs[order[b]].n <= BATCH_TOKENS))
            tokens += (size_t)seqs[order[b++]].n;
        size_t need_ids = tokens * W, need_out = tokens * (size_t)K * D;
        if (need_ids > ids_cap) {
            int16_t *n2 = realloc(ids, sizeof(int16_t) * need_ids);
            if (!n2) {
                st = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
                break;
            }
            ids = n2;
            ids_cap = need_ids;
        }
        if (need_out > out_cap) {
            float *n2 = realloc(outm, sizeof(float) * need_out);
            if (!n2) {
                st = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
                break;
            }
            outm = n2;
            out_cap = need_out;
        }
        size_t ti = 0, oi = 0;
        for (size_t k = a; k < b; k++) {
            const elmo_tok_seq *q = &seqs[order[k]];
            rows[k - a] = ids + ti * W;
            outs[k - a] = outm + oi;
            ntok[k - a] = q->n;
            for (int t = 0; t < q->n; t++) {
                if (q->tok)
                    elmo_char_ids(q->tok[t], strlen(q->tok[t]), W, ids + (ti + t) * W);
                else
                    elmo_char_ids(q->text + q->st[t], q->ln[t], W, ids + (ti + t) * W);
            }
            ti += (size_t)q->n;
            oi += (size_t)q->n * K * D;
        }
        st = elmo_embed_ids(s, (int)(b - a), rows, ntok, outs);
        for (size_t k = a; k < b && !st; k++) emit(order[k], outs[k - a], ntok[k - a], user);
        a = b;
        if (progress) progress(a, count, puser);
    }
    free(order);
    free(ids);
    free(outm);
    return st;
}
