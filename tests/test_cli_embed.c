/*
 * test_cli_embed.c: the `elmo embed` contract and every bad-input case of issue 2: exit
 * status, a one-line message naming the problem, and no output file left behind.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/h5io.h"
#include "testutil.h"
#include "io/util.h"

static char g_args[8192];
#define FIX_MODEL "--options '%s' --weights '%s'"
static const char *fopt(void) { return fixture("allennlp-elmo/options.json"); }
static const char *fwts(void) { return fixture("allennlp-elmo/lm_weights.hdf5"); }

/* No file in the temporary directory whose name starts with out.hdf5 (temporaries too). */
static void assert_no_output(const char *base) {
    DIR *d = opendir(tmpdir());
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, base, strlen(base)) == 0) fail_msg("left behind: %s", e->d_name);
    closedir(d);
}

/* Run embed expecting failure with a message containing `want`. */
static void expect_error(const char *args, const char *want, const char *out_base) {
    char *err = NULL;
    int rc = run_elmo(args, NULL, &err);
    if (rc == 0 || !err || !strstr(err, want))
        fail_msg("expected failure with '%s', got exit %d and: %s", want, rc, err ? err : "(none)");
    /* exactly one line */
    char *nl = strchr(err, '\n');
    assert_true(nl && nl[1] == 0);
    assert_true(rc == 1 || rc == 2);
    free(err);
    if (out_base) assert_no_output(out_base);
}

static void embed_args(const char *input, const char *out, const char *extra) {
    snprintf(g_args, sizeof g_args, "embed " FIX_MODEL " --input '%s' --output '%s' %s", fopt(),
             fwts(), input, out, extra ? extra : "");
}

static void test_missing_files(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *in = tmpfile_path("in.txt");
    write_file(in, "hello world\n", 12);
    const char *out = tmpfile_path("out_missing.hdf5");
    snprintf(g_args, sizeof g_args,
             "embed --options /nonexistent/o.json --weights '%s' --input '%s' --output '%s'",
             fwts(), in, out);
    expect_error(g_args, "/nonexistent/o.json: cannot open", "out_missing");
    snprintf(g_args, sizeof g_args,
             "embed --options '%s' --weights /nonexistent/w.hdf5 --input '%s' --output '%s'",
             fopt(), in, out);
    expect_error(g_args, "/nonexistent/w.hdf5: cannot open", "out_missing");
    embed_args("/nonexistent/in.txt", out, NULL);
    expect_error(g_args, "/nonexistent/in.txt: cannot open", "out_missing");
    snprintf(g_args, sizeof g_args, "embed --model /nonexistent/dir --input '%s' --output '%s'", in,
             out);
    expect_error(g_args, "/nonexistent/dir/options.json: cannot open", "out_missing");
    /* unwritable output location */
    embed_args(in, "/nonexistent/dir/out.hdf5", NULL);
    expect_error(g_args, "/nonexistent/dir/out.hdf5", NULL);
    /* unreadable (a directory) */
    embed_args(tmpdir(), out, NULL);
    expect_error(g_args, "is a directory", "out_missing");
    /* flags */
    embed_args(in, out, "--layers middle");
    expect_error(g_args, "--layers must be all, top, average or mean", "out_missing");
    embed_args(in, out, "--batch-size 0");
    expect_error(g_args, "--batch-size must be in", "out_missing");
    embed_args(in, out, "--bogus");
    expect_error(g_args, "unknown option --bogus", "out_missing");
}

static void test_bad_options_json(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *in = tmpfile_path("in.txt");
    write_file(in, "hello world\n", 12);
    const char *out = tmpfile_path("out_json.hdf5");
    struct {
        const char *json, *want;
    } cases[] = {
        {"{\"lstm\": {\"dim\": 64,", "malformed JSON"},
        {"[1, 2]", "must be a JSON object"},
        {"{\"lstm\": {\"dim\": 64}}", "missing object \"char_cnn\""},
        {"{\"lstm\": {\"dim\": 64, \"projection_dim\": 16}, \"char_cnn\": {\"embedding\": "
         "{\"dim\": 4}, "
         "\"filters\": [[1, 4]], \"activation\": \"gelu\"}}",
         "activation must be"},
        {"{\"lstm\": {\"dim\": 64, \"projection_dim\": \"x\"}, \"char_cnn\": {}}",
         "lstm.projection_dim must be an integer"},
        {"{\"lstm\": {\"dim\": 64, \"projection_dim\": 16}, \"char_cnn\": {\"embedding\": "
         "{\"dim\": 4}, "
         "\"filters\": [[1, 4], [2]]}}",
         "filters[1] must be [width, count]"},
        {"{\"lstm\": {\"dim\": 64, \"projection_dim\": 16, \"cell_clip\": -1}, \"char_cnn\": {}}",
         "cell_clip must be a non-negative"},
        {"{\"lstm\": {\"dim\": 64, \"projection_dim\": 16}, \"char_cnn\": {\"embedding\": "
         "{\"dim\": 4}, "
         "\"filters\": [[1, 4]], \"n_characters\": 300}}",
         "n_characters must be an integer in [261, 262]"},
    };
    const char *op = tmpfile_path("bad_options.json");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_file(op, cases[i].json, strlen(cases[i].json));
        snprintf(g_args, sizeof g_args,
                 "embed --options '%s' --weights '%s' --input '%s' --output '%s'", op, fwts(), in,
                 out);
        expect_error(g_args, cases[i].want, "out_json");
    }
}

static void copy_file(const char *from, const char *to, long limit) {
    size_t n;
    char *d = read_text(from, &n);
    assert_non_null(d);
    write_file(to, d, limit >= 0 && (size_t)limit < n ? (size_t)limit : n);
    free(d);
}

static void test_bad_weights(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *in = tmpfile_path("in.txt");
    write_file(in, "hello world\n", 12);
    const char *out = tmpfile_path("out_w.hdf5");
    /* truncated HDF5 */
    const char *tw = tmpfile_path("truncated.hdf5");
    copy_file(fwts(), tw, 200000);
    snprintf(g_args, sizeof g_args,
             "embed --options '%s' --weights '%s' --input '%s' --output '%s'", fopt(), tw, in, out);
    expect_error(g_args, "truncated.hdf5", "out_w");
    /* not HDF5 at all */
    const char *junk = tmpfile_path("junk.hdf5");
    write_file(junk, "this is not hdf5\n", 17);
    snprintf(g_args, sizeof g_args,
             "embed --options '%s' --weights '%s' --input '%s' --output '%s'", fopt(), junk, in,
             out);
    expect_error(g_args, "not a readable HDF5 file", "out_w");
    /* mis-shaped: the options say H = 32 but the file has H = 64 */
    const char *o32 = tmpfile_path("o32.json");
    const char *j32 =
        "{\"lstm\": {\"dim\": 32, \"projection_dim\": 16, \"n_layers\": 2, \"cell_clip\": 3, "
        "\"proj_clip\": 3, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": "
        "{\"dim\": 4}, "
        "\"filters\": [[1, 4], [2, 8], [3, 16], [4, 32], [5, 64]], \"n_highway\": 2, "
        "\"n_characters\": 262, \"max_characters_per_token\": 50, \"activation\": \"relu\"}}";
    write_file(o32, j32, strlen(j32));
    snprintf(g_args, sizeof g_args,
             "embed --options '%s' --weights '%s' --input '%s' --output '%s'", o32, fwts(), in,
             out);
    expect_error(
        g_args,
        "dataset RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0 has shape (32, 256), the options "
        "require (32, 128)",
        "out_w");
    /* missing dataset: three highway layers asked, two in the file */
    const char *o3 = tmpfile_path("o3.json");
    const char *j3 =
        "{\"lstm\": {\"dim\": 64, \"projection_dim\": 16, \"n_layers\": 2, \"cell_clip\": 3, "
        "\"proj_clip\": 3, \"use_skip_connections\": true}, \"char_cnn\": {\"embedding\": "
        "{\"dim\": 4}, "
        "\"filters\": [[1, 4], [2, 8], [3, 16], [4, 32], [5, 64]], \"n_highway\": 3, "
        "\"n_characters\": 262, \"max_characters_per_token\": 50, \"activation\": \"relu\"}}";
    write_file(o3, j3, strlen(j3));
    snprintf(g_args, sizeof g_args,
             "embed --options '%s' --weights '%s' --input '%s' --output '%s'", o3, fwts(), in, out);
    expect_error(g_args, "dataset CNN_high_2/W_carry is missing", "out_w");
}

static void test_bad_input_text(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    const char *out = tmpfile_path("out_t.hdf5");
    const char *in = tmpfile_path("bad.txt");
    write_file(in, "", 0);
    embed_args(in, out, NULL);
    expect_error(g_args, "no lines to embed", "out_t");
    write_file(in, "fine line\nbad \xff\xfe bytes\n", 24);
    embed_args(in, out, NULL);
    expect_error(g_args, "bad.txt:2: invalid UTF-8", "out_t");
    write_file(in, "a b c d\n", 8);
    embed_args(in, out, "--max-tokens 3");
    expect_error(g_args, "bad.txt:1: 4 tokens, more than --max-tokens 3", "out_t");
}

/* Read dataset name of path; returns its dims. */
static float *get(const char *path, const char *name, int *rank, uint64_t *dims) {
    float *d = NULL;
    elmo_status s = elmo_h5_read(path, name, &d, rank, dims);
    if (s) fail_msg("%s", elmo_last_error());
    return d;
}

static void test_good_inputs(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    /* empty lines, CRLF, a token over 50 bytes, a 3000-token line, Unicode spaces */
    const char *in = tmpfile_path("good.txt");
    const char *in_lf = tmpfile_path("good_lf.txt");
    char *big = malloc(3000 * 6 + 64);
    size_t n = 0;
    for (int i = 0; i < 3000; i++) n += (size_t)sprintf(big + n, "w%d ", i % 97);
    elmo_strbuf crlf = {0}, lf = {0};
    const char *lines[] = {
        "The first line .",
        "",
        "x\xc2\xa0y \xe3\x80\x80 z",
        "averyveryveryveryveryveryveryveryveryverylongtokenindeed_over_fifty_bytes",
        "  padded   spaces  ",
        "The first line ."};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        elmo_strbuf_add(&crlf, lines[i], strlen(lines[i]));
        elmo_strbuf_add(&crlf, "\r\n", 2);
        elmo_strbuf_add(&lf, lines[i], strlen(lines[i]));
        elmo_strbuf_add(&lf, "\n", 1);
    }
    elmo_strbuf_add(&crlf, big, n);
    elmo_strbuf_add(&lf, big, n);
    write_file(in, crlf.p, crlf.n);
    write_file(in_lf, lf.p, lf.n);
    const char *out = tmpfile_path("good.hdf5"), *out_lf = tmpfile_path("good_lf.hdf5");
    char *err = NULL;
    embed_args(in, out, "--batch-size 4");
    int rc = run_elmo(g_args, NULL, &err);
    if (rc) fail_msg("exit %d: %s", rc, err);
    free(err);
    embed_args(in_lf, out_lf, "--batch-size 2 --layers all");
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    int counts[] = {4, 0, 3, 1, 2, 4, 3000};
    for (int i = 0; i < 7; i++) {
        char name[8];
        snprintf(name, sizeof name, "%d", i);
        int r1, r2;
        uint64_t d1[4], d2[4];
        float *a = get(out, name, &r1, d1), *b = get(out_lf, name, &r2, d2);
        assert_int_equal(r1, 3);
        assert_int_equal(d1[0], 3);
        assert_int_equal(d1[1], counts[i]);
        assert_int_equal(d1[2], 32);
        assert_int_equal(d2[1], counts[i]);
        /* stateless: batch size and line ends do not matter */
        assert_true(allclose(a, b, 3 * (size_t)counts[i] * 32, 1e-5, 0).ok);
        for (size_t k = 0; k < 3 * (size_t)counts[i] * 32; k++) assert_true(a[k] == a[k]);
        free(a);
        free(b);
    }
    char *s2i = NULL;
    assert_int_equal(elmo_h5_read_string(out, "sentence_to_index", &s2i), ELMO_OK);
    /* json.dumps: first occurrence order, last index wins, \u escapes, ", " and ": " */
    const char *want_prefix =
        "{\"The first line .\": \"5\", \"\": \"1\", \"x\\u00a0y \\u3000 z\": \"2\", ";
    if (strncmp(s2i, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("sentence_to_index: %.200s", s2i);
    assert_non_null(strstr(s2i, "\"padded   spaces\": \"4\""));
    free(s2i);
    /* --layers top and average */
    const char *out_top = tmpfile_path("top.hdf5"), *out_avg = tmpfile_path("avg.hdf5");
    embed_args(in, out_top, "--layers top");
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    embed_args(in, out_avg, "--layers average --threads 1");
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    int r;
    uint64_t d[4];
    float *all = get(out, "0", &r, d), *top = get(out_top, "0", &r, d);
    assert_int_equal(r, 2);
    assert_int_equal(d[0], 4);
    assert_int_equal(d[1], 32);
    assert_true(allclose(top, all + 2 * 4 * 32, 4 * 32, 1e-6, 0).ok);
    float *avg = get(out_avg, "0", &r, d);
    for (int k = 0; k < 4 * 32; k++)
        assert_float_equal(avg[k], (all[k] + all[128 + k] + all[256 + k]) / 3, 1e-5);
    free(all);
    free(top);
    free(avg);
    /* stdin */
    snprintf(g_args, sizeof g_args, "embed " FIX_MODEL " --input - --output '%s'", fopt(), fwts(),
             tmpfile_path("stdin.hdf5"));
    assert_int_equal(run_elmo(g_args, in_lf, NULL), 0);
    float *st = get(tmpfile_path("stdin.hdf5"), "6", &r, d);
    assert_int_equal(d[1], 3000);
    free(st);
    elmo_strbuf_free(&crlf);
    elmo_strbuf_free(&lf);
    free(big);
}

/* The mean over tokens of the layer average, as elmo embed --layers mean and the Python
 * package compute it (bit for bit). all: (3, n, D). */
static void mean_of_average(const float *all, int n, int D, float *out) {
    size_t nd = (size_t)n * D;
    for (int d = 0; d < D; d++) {
        double sum = 0;
        for (int t = 0; t < n; t++) {
            float acc = 0;
            for (int l = 0; l < 3; l++) acc += all[(size_t)l * nd + (size_t)t * D + d];
            sum += acc / 3.0f;
        }
        out[d] = n > 0 ? (float)(sum / n) : 0.0f;
    }
}

/* --layers mean, --output-format npy / jsonl, --output - (stdout) */
static void test_output_formats(void **state) {
    (void)state;
    REQUIRE_FIXTURES();
    /* lengths vary so that bucketing (batch 2) runs them out of order */
    const char *text = "a b c\n\nThe longest line of them all here .\nx y\nshort one\n"
                       "another rather long line for the bucket\n";
    const char *in = tmpfile_path("fmt.txt");
    write_file(in, text, strlen(text));
    int counts[] = {3, 0, 8, 2, 2, 7}, N = 6, D = 32;
    const char *ref = tmpfile_path("fmt.hdf5");
    embed_args(in, ref, "--batch-size 2");
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    float want[6][32];
    for (int i = 0; i < N; i++) {
        char name[8];
        int r;
        uint64_t d[4];
        snprintf(name, sizeof name, "%d", i);
        float *all = get(ref, name, &r, d);
        mean_of_average(all, counts[i], D, want[i]);
        free(all);
    }
    /* npy: one (6, 32) float32 array, every row bit-identical; chosen by the extension too */
    const char *npy = tmpfile_path("fmt_mean.npy");
    embed_args(in, npy, "--layers mean --batch-size 2");
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    size_t len;
    char *raw = read_text(npy, &len);
    assert_int_equal(len, 256 + sizeof want);
    assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
    assert_int_equal((unsigned char)raw[8] | (unsigned char)raw[9] << 8, 246);
    assert_non_null(
        strstr(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 32), }"));
    assert_int_equal(raw[255], '\n');
    assert_memory_equal(raw + 256, want, sizeof want);
    free(raw);
    /* jsonl to stdout, in line order, values round-tripping exactly */
    snprintf(g_args, sizeof g_args,
             "embed " FIX_MODEL " --input '%s' --output - --layers mean --batch-size 2", fopt(),
             fwts(), in);
    char *err = NULL;
    assert_int_equal(run_elmo(g_args, NULL, &err), 0);
    assert_non_null(strstr(err, "-> stdout")); /* progress on stderr */
    free(err);
    raw = read_text(tmpfile_path("stdout.txt"), &len);
    char *line = raw;
    for (int i = 0; i < N; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        assert_int_equal(cJSON_GetObjectItem(j, "index")->valueint, i);
        cJSON *e = cJSON_GetObjectItem(j, "embedding");
        assert_int_equal(cJSON_GetArraySize(e), D);
        for (int d = 0; d < D; d++)
            assert_true((float)cJSON_GetArrayItem(e, d)->valuedouble == want[i][d]);
        cJSON_Delete(j);
        line = nl + 1;
    }
    assert_int_equal(*line, 0);
    free(raw);
    /* jsonl file of all layers: nested (3, n, 32) in line order */
    const char *jl = tmpfile_path("fmt_all.jsonl");
    embed_args(in, jl, "--batch-size 2");
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    raw = read_text(jl, &len);
    line = raw;
    for (int i = 0; i < N; i++) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        cJSON *j = cJSON_Parse(line), *e = cJSON_GetObjectItem(j, "embedding");
        assert_int_equal(cJSON_GetObjectItem(j, "index")->valueint, i);
        assert_int_equal(cJSON_GetArraySize(e), 3);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(e, 2)), counts[i]);
        cJSON_Delete(j);
        line = nl + 1;
    }
    free(raw);
    /* npy refuses lines of different lengths, and leaves nothing behind */
    embed_args(in, tmpfile_path("fmt_top.npy"), "--layers top");
    expect_error(g_args, "line 2 has 0 tokens, line 1 has 3: --output-format npy needs one shape",
                 "fmt_top");
    /* same lengths: (N, n, D) */
    const char *same = tmpfile_path("same.txt");
    write_file(same, "a b\nc d\n", 8);
    embed_args(same, tmpfile_path("same.npy"), "--layers top --output-format npy");
    assert_int_equal(run_elmo(g_args, NULL, NULL), 0);
    raw = read_text(tmpfile_path("same.npy"), &len);
    assert_non_null(strstr(raw + 10, "'shape': (2, 2, 32), }"));
    assert_int_equal(len, 256 + 2 * 2 * 32 * sizeof(float));
    free(raw);
    embed_args(in, "-", "--output-format hdf5");
    expect_error(g_args, "--output - writes JSON lines to stdout", NULL);
    embed_args(in, tmpdir(), "--layers mean --output-format npy");
    expect_error(g_args, ": is a directory", NULL);
    embed_args(in, tmpfile_path("fmt_x"), "--output-format csv");
    expect_error(g_args, "--output-format must be hdf5, npy or jsonl, got 'csv'", "fmt_x");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_files), cmocka_unit_test(test_bad_options_json),
        cmocka_unit_test(test_bad_weights),   cmocka_unit_test(test_bad_input_text),
        cmocka_unit_test(test_good_inputs),   cmocka_unit_test(test_output_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
