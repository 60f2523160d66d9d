/*
 * test_stateless.c: properties of the forward pass on random models of several shapes:
 *  - stateless results do not depend on the batch size nor on a sentence's place in its batch;
 *  - the fast path (packed LSTM GEMMs, trimmed char-CNN windows, token cache, two threads)
 *    equals the plain reference path on every layer (max |diff| <= 1e-5);
 *  - stateful mode carries state per row and reset clears it;
 *  - `elmo embed` writes the same datasets with and without length bucketing (and refuses
 *    bucketing with --stateful);
 *  - bfloat16 precision stays within its measured error of the float32 reference, its
 *    stateless results do not depend on the batch either (bit for bit), and going back to
 *    float32 restores the float32 results;
 *  - lanes (several sentences end to end in one LSTM row, state zero where each starts):
 *    the layout is sound, a batch of mixed lengths uses fewer rows than sentences, and every
 *    sentence's result equals its result alone, bit for bit (float32 and bfloat16);
 *  - `elmo dump-token-embeddings` writes the token layer in bilm-tf's format (lines
 *    !!!MAXTERMID skipped, <S> and </S> the boundary encodings), equal to the plain path and
 *    to the AllenNLP fixture's elmo_token_embeddings.hdf5.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lanes.h"
#include "io/h5io.h"
#include "testutil.h"
#include "io/util.h"

/* Variants exercising every option: skip or not, relu/tanh, highway count, optional
 * projections, clips absent. */
static const char *variants[] = {
    "{\"lstm\": {\"dim\": 48, \"projection_dim\": 12, \"n_layers\": 2, \"cell_clip\": 3, "
    "\"proj_clip\": 3, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": "
    "5}, "
    "\"filters\": [[1, 4], [2, 6], [3, 8], [5, 10]], \"n_highway\": 2, \"n_characters\": 262, "
    "\"max_characters_per_token\": 50, \"activation\": \"relu\"}}",
    /* tanh, no highway, three layers, no clips, no skip */
    "{\"lstm\": {\"dim\": 20, \"projection_dim\": 8, \"n_layers\": 3, "
    "\"use_skip_connections\": false}, \"char_cnn\": {\"embedding\": {\"dim\": 3}, "
    "\"filters\": [[1, 5], [4, 7]], \"n_highway\": 0, \"n_characters\": 261, "
    "\"max_characters_per_token\": 20, \"activation\": \"tanh\"}}",
    /* no CNN projection (F == P) and no LSTM projection (P == H) */
    "{\"lstm\": {\"dim\": 16, \"projection_dim\": 16, \"n_layers\": 2, \"cell_clip\": 2, "
    "\"proj_clip\": 0, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": {\"dim\": "
    "4}, "
    "\"filters\": [[2, 6], [3, 10]], \"n_highway\": 1, \"n_characters\": 262, "
    "\"max_characters_per_token\": 50, \"activation\": \"relu\"}}",
};

static const char *sentences[] = {
    "The bank raised interest rates .",
    "He sat on the river bank and watched the water .",
    "",
    "a",
    "Ünïcödé wörds and a veryveryveryveryveryveryveryveryveryverylongtokenthatexceedsfiftybytes",
    "The bank raised interest rates .",
    ("Colorless green ideas sleep furiously , said the linguist , and nobody disagreed with "
     "that claim in the seminar room that afternoon"),
    "<S> literal boundary tokens </S>",
};
#define NS (int)(sizeof sentences / sizeof *sentences)

typedef struct {
    char *copy;
    const char *tok[64];
    int n;
} tokenized;

static void tokenize(const char *s, tokenized *t) {
    t->copy = strdup(s);
    t->n = 0;
    for (char *p = strtok(t->copy, " "); p; p = strtok(NULL, " ")) t->tok[t->n++] = p;
}

/* Embed sentences [first, first+count) as batches of bs; outputs per sentence. */
static void embed_all(elmo_session *s, tokenized *ts, int bs, float **out) {
    for (int b0 = 0; b0 < NS; b0 += bs) {
        int B = NS - b0 < bs ? NS - b0 : bs;
        const char *const *tk[NS];
        int n[NS];
        for (int b = 0; b < B; b++) {
            tk[b] = ts[b0 + b].tok;
            n[b] = ts[b0 + b].n;
        }
        assert_int_equal(elmo_embed(s, B, tk, n, out + b0), ELMO_OK);
    }
}

static double maxdiff(float **a, float **b, tokenized *ts, int K, int D) {
    double m = 0;
    for (int i = 0; i < NS; i++) {
        cmp_result r = allclose(a[i], b[i], (size_t)K * ts[i].n * D, 0, 0);
        if (r.max_abs > m) m = r.max_abs;
    }
    return m;
}

/* max |a| over every sentence's outputs */
static double maxabs(float **a, tokenized *ts, int K, int D) {
    double m = 0;
    for (int i = 0; i < NS; i++)
        for (size_t k = 0; k < (size_t)K * ts[i].n * D; k++) m = fmax(m, fabs(a[i][k]));
    return m;
}

static void test_variants(void **state) {
    (void)state;
    tokenized ts[NS];
    for (int i = 0; i < NS; i++) tokenize(sentences[i], &ts[i]);
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        char dir[300];
        snprintf(dir, sizeof dir, "%s/model%zu", tmpdir(), v);
        make_random_model(dir, variants[v], 1234 + v);
        elmo_model *m;
        assert_int_equal(elmo_model_load_dir(dir, &m), ELMO_OK);
        int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
        float *ref[NS], *out[NS];
        for (int i = 0; i < NS; i++) {
            ref[i] = calloc((size_t)K * (ts[i].n + 1) * D, sizeof(float));
            out[i] = calloc((size_t)K * (ts[i].n + 1) * D, sizeof(float));
        }
        /* the plain reference, one sentence per batch */
        elmo_session *sr;
        assert_int_equal(elmo_session_new(m, NS, 1, &sr), ELMO_OK);
        elmo_session_set_reference(sr, 1);
        embed_all(sr, ts, 1, ref);
        elmo_session_free(sr);
        /* the fast path: batch sizes 1, 3, all; 1 and 2 threads; cache on and off */
        int sizes[] = {1, 3, NS};
        for (int si = 0; si < 3; si++)
            for (int th = 1; th <= 2; th++)
                for (int cache = 0; cache < 2; cache++) {
                    elmo_session *s;
                    assert_int_equal(elmo_session_new(m, NS, th, &s), ELMO_OK);
                    elmo_session_set_token_cache(s, cache ? 4 : 0); /* tiny: forces evictions */
                    embed_all(s, ts, sizes[si], out);
                    embed_all(s, ts, sizes[si], out); /* second pass: cache hits */
                    double d = maxdiff(ref, out, ts, K, D);
                    if (d > 1e-5)
                        fail_msg("variant %zu, batch %d, %d threads, cache %d: max |diff| %.3g", v,
                                 sizes[si], th, cache, d);
                    elmo_session_free(s);
                }
        /* reversed order inside one batch: each sentence at another row */
        elmo_session *s;
        assert_int_equal(elmo_session_new(m, NS, 2, &s), ELMO_OK);
        tokenized rev[NS];
        float *rout[NS];
        for (int i = 0; i < NS; i++) {
            rev[i] = ts[NS - 1 - i];
            rout[i] = out[NS - 1 - i];
        }
        embed_all(s, rev, NS, rout);
        double d = maxdiff(ref, out, ts, K, D);
        print_message("variant %zu: fast vs reference, all batchings: max |diff| <= %.3g\n", v, d);
        assert_true(d <= 1e-5);
        elmo_session_free(s);
        for (int i = 0; i < NS; i++) {
            free(ref[i]);
            free(out[i]);
        }
        elmo_model_free(m);
    }
    for (int i = 0; i < NS; i++) free(ts[i].copy);
}

/* Stateful: the same sentence twice in the same row differs the second time; reset restores
 * the first result; other rows keep their state. Fast and reference paths agree. */
static void test_stateful(void **state) {
    (void)state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/stateful", tmpdir());
    make_random_model(dir, variants[0], 99);
    elmo_model *m;
    assert_int_equal(elmo_model_load_dir(dir, &m), ELMO_OK);
    int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
    tokenized a, b;
    tokenize("the cat sat on the mat", &a);
    tokenize("dogs bark", &b);
    size_t na = (size_t)K * a.n * D, nb = (size_t)K * b.n * D;
    float *o[4][2];
    for (int r = 0; r < 4; r++) {
        o[r][0] = malloc(sizeof(float) * na);
        o[r][1] = malloc(sizeof(float) * nb);
    }
    for (int reference = 0; reference < 2; reference++) {
        elmo_session *s;
        assert_int_equal(elmo_session_new(m, 2, 2, &s), ELMO_OK);
        elmo_session_set_stateful(s, 1);
        elmo_session_set_reference(s, reference);
        const char *const *tk[2] = {a.tok, b.tok};
        int n[2] = {a.n, b.n};
        assert_int_equal(elmo_embed(s, 2, tk, n, o[0]), ELMO_OK);
        assert_int_equal(elmo_embed(s, 2, tk, n, o[1]), ELMO_OK);
        cmp_result r = allclose(o[0][0] + (size_t)a.n * D, o[1][0] + (size_t)a.n * D,
                                na - (size_t)a.n * D, 0, 0);
        assert_true(r.max_abs > 1e-4); /* state carried: LSTM layers differ */
        cmp_result r0 = allclose(o[0][0], o[1][0], (size_t)a.n * D, 0, 0);
        assert_true(r0.max_abs == 0); /* the token layer does not */
        /* reset row 0 only: row 0 repeats its first result, row 1 continues */
        assert_int_equal(elmo_session_reset_row(s, 0), ELMO_OK);
        assert_int_equal(elmo_embed(s, 2, tk, n, o[2]), ELMO_OK);
        assert_true(allclose(o[2][0], o[0][0], na, 1e-6, 0).ok);
        assert_false(allclose(o[2][1], o[0][1], nb, 1e-6, 0).ok);
        /* a batch of one touches only row 0 */
        elmo_session_reset(s);
        assert_int_equal(elmo_embed(s, 1, tk, n, o[3]), ELMO_OK);
        assert_true(allclose(o[3][0], o[0][0], na, 1e-6, 0).ok);
        /* more rows than the state capacity is refused */
        const char *const *tk3[3] = {a.tok, b.tok, a.tok};
        int n3[3] = {a.n, b.n, a.n};
        float *o3[3] = {o[0][0], o[0][1], o[1][0]};
        assert_int_equal(elmo_embed(s, 3, tk3, n3, o3), ELMO_ERR_STATE);
        assert_non_null(strstr(elmo_last_error(), "exceeds"));
        elmo_session_free(s);
    }
    for (int r = 0; r < 4; r++) {
        free(o[r][0]);
        free(o[r][1]);
    }
    free(a.copy);
    free(b.copy);
    elmo_model_free(m);
}

/* ---- lanes: a batch of mixed lengths (one long sentence, many short ones) */
#define NL 40
static void test_lanes(void **state) {
    (void)state;
    static const char *words[] = {"the", "bank", "river",    "rates", "sat", "on",
                                  "a",   "cat",  "interest", "water", ",",   "."};
    char text[NL][600];
    tokenized ts[NL];
    int len[NL]; /* positions (tokens + 2), longest first */
    unsigned r = 12345;
    for (int i = 0; i < NL; i++) {
        int n = i == 0 ? 60 : 1 + (int)((r = r * 1103515245u + 12345u) >> 16) % 12;
        text[i][0] = 0;
        for (int k = 0; k < n; k++) {
            strcat(text[i], words[(r = r * 1103515245u + 12345u) >> 16 & 7 ? (r >> 20) % 12 : 1]);
            if (k + 1 < n) strcat(text[i], " ");
        }
        tokenize(text[i], &ts[i]);
        assert_int_equal(ts[i].n, n);
    }
    for (int i = 0; i < NL; i++) len[i] = ts[i].n + 2;
    for (int i = 1; i < NL; i++) /* sorted copy for the layout checks */
        for (int k = i; k > 0 && len[k - 1] < len[k]; k--) {
            int v = len[k];
            len[k] = len[k - 1];
            len[k - 1] = v;
        }
    /* the layout: sentences of a lane do not overlap, lanes by decreasing total, T the
     * longest lane; one lane per sentence when lanes >= B */
    int lanes = elmo_lanes_count(NL, len, 12), lane[NL], first[NL], end[NL] = {0};
    assert_true(lanes < NL);
    int T = elmo_lanes_pack(NL, len, lanes, lane, first), maxend = 0;
    for (int i = 0; i < NL; i++) {
        assert_true(lane[i] >= 0 && lane[i] < lanes);
        for (int k = 0; k < i; k++)
            if (lane[k] == lane[i])
                assert_true(first[i] >= first[k] + len[k] || first[k] >= first[i] + len[i]);
        if (first[i] + len[i] > end[lane[i]]) end[lane[i]] = first[i] + len[i];
        if (first[i] + len[i] > maxend) maxend = first[i] + len[i];
    }
    assert_int_equal(T, maxend);
    assert_int_equal(T, len[0]); /* here the long sentence sets the steps */
    for (int k = 1; k < lanes; k++) assert_true(end[k] <= end[k - 1]);
    assert_int_equal(elmo_lanes_pack(NL, len, NL, lane, first), len[0]);
    for (int i = 0; i < NL; i++) assert_true(lane[i] == i && first[i] == 0);
    print_message("lanes: %d sentences in %d rows, %d steps\n", NL, lanes, T);
    /* the results: the whole batch equals each sentence alone, bit for bit */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/lanes", tmpdir());
    make_random_model(dir, variants[0], 4242);
    elmo_model *m;
    assert_int_equal(elmo_model_load_dir(dir, &m), ELMO_OK);
    int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
    float *all[NL], *one[NL];
    const char *const *tk[NL];
    int n[NL];
    for (int i = 0; i < NL; i++) {
        all[i] = malloc(sizeof(float) * K * ts[i].n * D);
        one[i] = malloc(sizeof(float) * K * ts[i].n * D);
        tk[i] = ts[i].tok;
        n[i] = ts[i].n;
    }
    /* lanes in every precision and on every ISA (by default only bfloat16 on AMX uses them) */
    setenv("ELMO_LANE_KNEE", "12", 1);
    elmo_precision precs[] = {ELMO_PRECISION_FP32, ELMO_PRECISION_BF16};
    for (int pi = 0; pi < 2; pi++) {
        assert_int_equal(elmo_model_set_precision(m, precs[pi]), ELMO_OK);
        elmo_session *s;
        assert_int_equal(elmo_session_new(m, NL, 2, &s), ELMO_OK);
        elmo_session_set_token_cache(s, 0);
        assert_int_equal(elmo_embed(s, NL, tk, n, all), ELMO_OK);
        for (int i = 0; i < NL; i++)
            assert_int_equal(elmo_embed(s, 1, tk + i, n + i, one + i), ELMO_OK);
        for (int i = 0; i < NL; i++)
            if (memcmp(all[i], one[i], sizeof(float) * K * ts[i].n * D))
                fail_msg("%s: sentence %d differs in the batch from alone",
                         elmo_precision_name(precs[pi]), i);
        elmo_session_free(s);
    }
    unsetenv("ELMO_LANE_KNEE");
    assert_int_equal(elmo_model_set_precision(m, ELMO_PRECISION_FP32), ELMO_OK);
    for (int i = 0; i < NL; i++) {
        free(all[i]);
        free(one[i]);
        free(ts[i].copy);
    }
    elmo_model_free(m);
}

/* ---- `elmo embed` with and without bucketing: identical datasets */
static float *read_ds(const char *path, const char *name, uint64_t dims[4], int *rank) {
    float *d = NULL;
    assert_int_equal(elmo_h5_read(path, name, &d, rank, dims), ELMO_OK);
    return d;
}

static void test_cli_bucketing(void **state) {
    (void)state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/bucket_model", tmpdir());
    make_random_model(dir, variants[0], 7);
    /* 41 lines: lengths 0..20 in a scrambled order, repeats, an empty line */
    elmo_strbuf in = {0};
    for (int i = 0; i < 41; i++) {
        int n = (i * 7) % 21;
        for (int t = 0; t < n; t++)
            elmo_strbuf_printf(&in, "%sw%d", t ? " " : "", (i * 13 + t * 5) % 17);
        elmo_strbuf_add(&in, "\n", 1);
    }
    const char *inp = tmpfile_path("bucket_in.txt");
    write_file(inp, in.p, in.n);
    elmo_strbuf_free(&in);
    const char *outs[3] = {tmpfile_path("bucket_b0.hdf5"), tmpfile_path("bucket_b3.hdf5"),
                           tmpfile_path("bucket_def.hdf5")};
    const char *extra[3] = {"--bucket 0 --batch-size 4", "--bucket 3 --batch-size 4", ""};
    for (int k = 0; k < 3; k++) {
        char args[2048], *err = NULL;
        snprintf(args, sizeof args, "embed --model '%s' --input '%s' --output '%s' %s", dir, inp,
                 outs[k], extra[k]);
        int rc = run_elmo(args, NULL, &err);
        if (rc != 0) fail_msg("elmo %s: exit %d: %s", args, rc, err ? err : "");
        free(err);
    }
    for (int i = 0; i < 41; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        uint64_t d0[4], d1[4];
        int r0, r1;
        float *a = read_ds(outs[0], name, d0, &r0);
        for (int k = 1; k < 3; k++) {
            float *b = read_ds(outs[k], name, d1, &r1);
            assert_int_equal(r0, r1);
            assert_memory_equal(d0, d1, sizeof(uint64_t) * r0);
            size_t cnt = (size_t)d0[0] * d0[1] * d0[2];
            if (cnt && memcmp(a, b, sizeof(float) * cnt) != 0)
                fail_msg("line %d differs with %s: max |diff| %.3g", i, extra[k],
                         allclose(b, a, cnt, 0, 0).max_abs);
            free(b);
        }
        free(a);
    }
    char *s0, *s1;
    assert_int_equal(elmo_h5_read_string(outs[0], "sentence_to_index", &s0), ELMO_OK);
    assert_int_equal(elmo_h5_read_string(outs[1], "sentence_to_index", &s1), ELMO_OK);
    assert_string_equal(s0, s1);
    free(s0);
    free(s1);
    /* bucketing reorders lines: refused in stateful mode */
    char args[2048], *err = NULL;
    snprintf(args, sizeof args,
             "embed --model '%s' --input '%s' --output '%s' --stateful --bucket 2", dir, inp,
             tmpfile_path("bucket_stateful.hdf5"));
    assert_int_equal(run_elmo(args, NULL, &err), 1);
    assert_non_null(err);
    assert_non_null(strstr(err, "--bucket needs stateless mode"));
    free(err);
}

/* ---- bfloat16: bounded error, batch-independent, and fp32 again restores float32 */
static void test_reduced_precision(void **state) {
    (void)state;
    tokenized ts[NS];
    for (int i = 0; i < NS; i++) tokenize(sentences[i], &ts[i]);
    static const elmo_precision precs[] = {ELMO_PRECISION_BF16, ELMO_PRECISION_INT8};
    for (size_t pv = 0; pv < 2 * sizeof variants / sizeof *variants; pv++) {
        size_t v = pv / 2;
        elmo_precision prec = precs[pv % 2];
        char dir[300];
        snprintf(dir, sizeof dir, "%s/lowp_%zu", tmpdir(), pv);
        make_random_model(dir, variants[v], 55 + v);
        elmo_model *m;
        assert_int_equal(elmo_model_load_dir(dir, &m), ELMO_OK);
        int K = elmo_model_n_output_layers(m), D = elmo_model_output_dim(m);
        float *ref[NS], *out[NS], *out1[NS];
        for (int i = 0; i < NS; i++) {
            ref[i] = calloc((size_t)K * (ts[i].n + 1) * D, sizeof(float));
            out[i] = calloc((size_t)K * (ts[i].n + 1) * D, sizeof(float));
            out1[i] = calloc((size_t)K * (ts[i].n + 1) * D, sizeof(float));
        }
        elmo_session *sr, *s;
        assert_int_equal(elmo_session_new(m, NS, 1, &sr), ELMO_OK);
        elmo_session_set_reference(sr, 1);
        embed_all(sr, ts, 1, ref);
        elmo_session_free(sr);
        assert_int_equal(elmo_model_set_precision(m, prec), ELMO_OK);
        assert_int_equal(elmo_model_precision(m), prec);
        assert_int_equal(elmo_session_new(m, NS, 2, &s), ELMO_OK);
        embed_all(s, ts, 1, out1);
        double d1 = maxdiff(ref, out1, ts, K, D);
        embed_all(s, ts, NS, out);
        double dn = maxdiff(ref, out, ts, K, D), dbatch = maxdiff(out1, out, ts, K, D);
        elmo_session_free(s);
        assert_int_equal(elmo_model_set_precision(m, ELMO_PRECISION_FP32), ELMO_OK);
        assert_int_equal(elmo_session_new(m, NS, 2, &s), ELMO_OK);
        embed_all(s, ts, NS, out);
        double d32 = maxdiff(ref, out, ts, K, D);
        double scale = maxabs(ref, ts, K, D);
        print_message("variant %zu: %s max |diff| from the fp32 reference %.3g (batch 1), %.3g "
                      "(batch %d) of values up to %.3g; between the batchings %.3g; fp32 again: "
                      "%.3g\n",
                      v, elmo_precision_name(prec), d1, dn, NS, scale, dbatch, d32);
        /* bfloat16 keeps 8 bits (0.4 % per rounding) through every layer; these random toy
         * models amplify it (variant 1, three unclipped tanh layers: 7.6 % of the largest
         * value, the same with our emulation as with oneDNN's AMX kernels); int8 adds its
         * rounding (1/254 of a column's largest weight) on the per-step products; the trained
         * fixture models' errors are measured in test_conformance */
        assert_true(d1 > 0 && d1 <= 0.1 * scale && dn <= 0.1 * scale);
        assert_true(dbatch == 0);
        assert_true(d32 <= 1e-5);
        elmo_session_free(s);
        for (int i = 0; i < NS; i++) {
            free(ref[i]);
            free(out[i]);
            free(out1[i]);
        }
        elmo_model_free(m);
    }
    for (int i = 0; i < NS; i++) free(ts[i].copy);
}

/* ---- dump-token-embeddings */
static void test_dump_tokens(void **state) {
    (void)state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/dump_model", tmpdir());
    make_random_model(dir, variants[0], 21);
    static const char vocab[] =
        "<S>\n</S>\n<UNK>\nthe\n!!!MAXTERMID\n  bank \nÜnïcödé\n"
        "veryveryveryveryveryveryveryveryveryverylongtokenthatexceedsfiftybytes\n"
        "!!!MAXTERMID\n,\r\n.";
    const char *toks[] = {"<S>",
                          "</S>",
                          "<UNK>",
                          "the",
                          "bank",
                          "Ünïcödé",
                          "veryveryveryveryveryveryveryveryveryverylongtokenthatexceedsfiftybytes",
                          ",",
                          "."};
    int V = (int)(sizeof toks / sizeof *toks);
    const char *vp = tmpfile_path("dump_vocab.txt"), *op = tmpfile_path("dump_out.hdf5");
    write_file(vp, vocab, sizeof vocab - 1);
    char args[2048], *err = NULL;
    snprintf(args, sizeof args, "dump-token-embeddings --model '%s' --vocab '%s' --output '%s'",
             dir, vp, op);
    int rc = run_elmo(args, NULL, &err);
    if (rc) fail_msg("elmo %s: exit %d: %s", args, rc, err ? err : "");
    free(err);
    uint64_t dims[4];
    int rank;
    float *got = read_ds(op, "embedding", dims, &rank);
    elmo_model *m;
    assert_int_equal(elmo_model_load_dir(dir, &m), ELMO_OK);
    int P = elmo_model_config(m)->projection_dim;
    assert_int_equal(rank, 2);
    assert_int_equal(dims[0], V);
    assert_int_equal(dims[1], P);
    float *want = malloc(sizeof(float) * V * P);
    elmo_session *s;
    assert_int_equal(elmo_session_new(m, 1, 1, &s), ELMO_OK);
    elmo_session_set_reference(s, 1);
    assert_int_equal(elmo_token_vectors(s, V, toks, want), ELMO_OK);
    cmp_result r = allclose(got, want, (size_t)V * P, 1e-5, 0);
    print_message("dump-token-embeddings vs plain path: max |diff| %.3g\n", r.max_abs);
    assert_true(r.ok);
    /* row 0 (<S>) is the boundary encoding, not the characters '<', 'S', '>' */
    int16_t ids[2][64];
    int W = elmo_model_config(m)->max_chars;
    elmo_char_ids("<S>", 3, W, ids[0]);
    assert_int_equal(ids[0][0], ELMO_CHAR_BOW);
    assert_int_equal(ids[0][1], ELMO_CHAR_BOS);
    (void)ids;
    elmo_session_free(s);
    elmo_model_free(m);
    free(got);
    free(want);
    /* the AllenNLP fixture's token embeddings of its test vocabulary */
    if (fixtures_available()) {
        snprintf(args, sizeof args,
                 "dump-token-embeddings --options '%s' --weights '%s' --vocab '%s' --output '%s'",
                 fixture("allennlp-elmo/options.json"), fixture("allennlp-elmo/lm_weights.hdf5"),
                 fixture("allennlp-elmo/vocab_test.txt"), op);
        err = NULL;
        rc = run_elmo(args, NULL, &err);
        if (rc) fail_msg("elmo %s: exit %d: %s", args, rc, err ? err : "");
        free(err);
        uint64_t de[4];
        int re;
        float *a = read_ds(op, "embedding", dims, &rank);
        float *e =
            read_ds(fixture("allennlp-elmo/elmo_token_embeddings.hdf5"), "embedding", de, &re);
        assert_int_equal(dims[0], de[0]);
        assert_int_equal(dims[1], de[1]);
        cmp_result c = allclose(a, e, (size_t)de[0] * de[1], 1e-6, 1e-5);
        print_message(
            "dump-token-embeddings vs the AllenNLP fixture (%llu x %llu): max |diff| %.3g\n",
            (unsigned long long)de[0], (unsigned long long)de[1], c.max_abs);
        assert_true(c.ok);
        free(a);
        free(e);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants),      cmocka_unit_test(test_stateful),
        cmocka_unit_test(test_cli_bucketing), cmocka_unit_test(test_reduced_precision),
        cmocka_unit_test(test_dump_tokens),   cmocka_unit_test(test_lanes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
