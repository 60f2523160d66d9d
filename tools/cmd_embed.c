/*
 * cmd_embed.c: `elmo embed`: sentences (one per line) to the AllenNLP `elmo` HDF5 format.
 *
 * Dataset "i" holds line i (0-based): (L+1, n, 2P) with --layers all, (n, 2P) with top or
 * average; "sentence_to_index" maps each stripped line to its index (JSON, as json.dumps).
 * Lines stream through in windows of --bucket x --batch-size lines (memory stays bounded);
 * stateless, each window is run longest line first in batches of up to --batch-size lines
 * (length bucketing: similar lengths share a batch, so the LSTM steps keep most rows busy;
 * batches of long lines hold fewer of them, at most the positions of a typical batch plus a
 * quarter, so memory stays that of a file-order batch), and each line's result is written
 * under its own index. With --stateful the batches are consecutive
 * lines and row k of a batch continues row k of the previous batch. The output appears only
 * when complete (temporary file, then rename).
 *
 * --layers mean gives one vector per line: the mean over its tokens of the layer average
 * (TF-Hub's "default" output; zeros for an empty line). --output-format npy stacks every
 * line's result into one array (the lines' shapes must agree: always so with mean), jsonl
 * writes one JSON object per line ({"index": i, "embedding": ...}); both in line order
 * (tools/embed_output.c). --output - writes JSON lines to stdout; progress stays on stderr.
 *
 * Under mpirun (stateless only) every rank reads the whole input and forms the same windows
 * and batches; batch k (counted over the whole input) is run by rank k mod N, so each batch
 * has the composition it has in one process and the output is bitwise the same. Rank 0
 * receives the other ranks' batches in order, and alone writes the output file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bucket.h"
#include "cli.h"
#include "commands.h"
#include "io/dist.h"
#include "embed_output.h"
#include "io/strmap.h"
#include "io/textio.h"
#include "io/util.h"

#define CMD "embed"

/* ---- sentence_to_index: ordered map text -> last line index (Python dict semantics): the
 * texts in a strmap (ids in first-insertion order, as a dict keeps them), the index by id */
typedef struct {
    elmo_strmap texts;
    uint64_t *index; /* (cap) last line with text id */
    size_t cap;
} s2i_map;

static int s2i_put(s2i_map *m, const char *text, size_t len, uint64_t index) {
    int added;
    int64_t id = elmo_strmap_add(&m->texts, text, len, &added);
    if (id < 0) return -1;
    if ((size_t)id >= m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        uint64_t *ni = realloc(m->index, sizeof *ni * nc);
        if (!ni) return -1;
        m->index = ni;
        m->cap = nc;
    }
    m->index[id] = index;
    return 0;
}

/* {"text": "index", ...} with json.dumps' default separators; NULL when out of memory */
static char *s2i_json(const s2i_map *m) {
    elmo_strbuf b = {0};
    int bad = elmo_strbuf_add(&b, "{", 1);
    for (size_t k = 0; k < m->texts.n && !bad; k++) {
        bad =
            (k && elmo_strbuf_add(&b, ", ", 2)) || elmo_strbuf_add(&b, "\"", 1) ||
            elmo_json_escape(&b, elmo_strmap_key(&m->texts, k), elmo_strmap_keylen(&m->texts, k)) ||
            elmo_strbuf_printf(&b, "\": \"%llu\"", (unsigned long long)m->index[k]);
    }
    if (bad || elmo_strbuf_add(&b, "}", 1)) {
        elmo_strbuf_free(&b);
        return NULL;
    }
    return b.p;
}

static void s2i_free(s2i_map *m) {
    elmo_strmap_free(&m->texts);
    free(m->index);
}

/* ---- the window of lines being assembled, and the batch being run */
typedef struct {
    int B, cap;     /* lines in the window, capacity */
    int *n;         /* (cap) tokens per line */
    size_t *id_off; /* (cap) first id row of each line */
    int16_t *ids;   /* all lines' char ids (rows of W) */
    size_t rows, rcap;
    int *order;          /* (cap) processing order (bucketed or identity) */
    int *starts;         /* (cap + 1) first index into order of each batch */
    uint64_t first_line; /* 0-based index of the window's first line */
    /* one batch of up to batch_size lines */
    const int16_t **rowp;
    int *bn;
    float **out; /* per line of the batch (L+1, n, 2P) */
    float *outmem;
    size_t ocap;
} batch;

enum { LAYERS_ALL, LAYERS_TOP, LAYERS_AVERAGE, LAYERS_MEAN };

/* ---- flags */
typedef struct {
    cli_model mo;
    const char *input, *output, *layers, *format;
    int batch_size, stateful, threads, forget, max_tokens, bucket;
    int mode; /* LAYERS_* */
    embed_format fmt;
    int window; /* lines read per window */
} embed_flags;

/* the format: --output-format, else jsonl for stdout, npy / jsonl by extension, else hdf5 */
static int pick_format(embed_flags *f) {
    if (f->format) {
        if (embed_format_parse(f->format, &f->fmt))
            return cli_error(CMD, "--output-format must be hdf5, npy or jsonl, got '%s'",
                             f->format);
        if (strcmp(f->output, "-") == 0 && f->fmt != EMBED_JSONL)
            return cli_error(CMD,
                             "--output - writes JSON lines to stdout: use --output-format jsonl "
                             "(or a file name)");
        return 0;
    }
    size_t n = strlen(f->output);
    if (strcmp(f->output, "-") == 0 || (n > 6 && strcmp(f->output + n - 6, ".jsonl") == 0))
        f->fmt = EMBED_JSONL;
    else if (n > 4 && strcmp(f->output + n - 4, ".npy") == 0)
        f->fmt = EMBED_NPY;
    else
        f->fmt = EMBED_HDF5;
    return 0;
}

/* 0: go on; otherwise the exit status (*done set) */
static int parse_flags(int argc, char **argv, embed_flags *f, int *done) {
    *f = (embed_flags){
        .layers = "all", .batch_size = 64, .threads = 2, .max_tokens = 100000, .bucket = 16};
    *done = 1;
    cli_opt opts[] = {
        CLI_MODEL_OPTS(f->mo),
        {"--input", OPT_STR, &f->input, 0, 0,
         "sentences, one per line, tokens separated by spaces (- = stdin)"},
        {"--output", OPT_STR, &f->output, 0, 0, "file to write (- = JSON lines to stdout)"},
        {"--output-format", OPT_STR, &f->format, 0, 0,
         "hdf5 | npy (one array; every line the same shape) | jsonl; default: by the --output "
         "name (.npy, .jsonl, -), else hdf5"},
        {"--layers", OPT_STR, &f->layers, 0, 0,
         "all | top | average | mean (one vector per line: the mean over tokens of the average)"},
        {"--batch-size", OPT_INT, &f->batch_size, 1, 65536, "lines per batch"},
        {"--stateful", OPT_BOOL, &f->stateful, 0, 0,
         "carry LSTM states per batch row across batches"},
        {"--threads", OPT_INT, &f->threads, 1, 256, "threads"},
        {"--max-tokens", OPT_INT, &f->max_tokens, 1, 10000000, "refuse lines with more tokens"},
        {"--forget-sentences", OPT_BOOL, &f->forget, 0, 0, "do not write sentence_to_index"},
        {"--bucket", OPT_INT, &f->bucket, 0, 4096,
         "sort by length within windows of this many batches (0 = file order; stateless only)"},
        {0}};
    int r =
        cli_parse(CMD, "--input FILE --output OUT.hdf5 [options]", opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!f->input) return cli_error(CMD, "missing --input (use - for stdin)");
    if (!f->output) return cli_error(CMD, "missing --output");
    if (pick_format(f)) return 1;
    if (strcmp(f->output, "-") != 0 && cli_check_output(CMD, f->output, &f->input, 1))
        return 1; /* before any work */
    if (strcmp(f->layers, "all") == 0)
        f->mode = LAYERS_ALL;
    else if (strcmp(f->layers, "top") == 0)
        f->mode = LAYERS_TOP;
    else if (strcmp(f->layers, "average") == 0)
        f->mode = LAYERS_AVERAGE;
    else if (strcmp(f->layers, "mean") == 0)
        f->mode = LAYERS_MEAN;
    else
        return cli_error(CMD, "--layers must be all, top, average or mean, got '%s'", f->layers);
    int bucket_given = 0;
    for (int i = 0; i < argc; i++) bucket_given |= strcmp(argv[i], "--bucket") == 0;
    if (f->stateful && bucket_given && f->bucket > 0)
        return cli_error(CMD, "--bucket needs stateless mode: with --stateful the batches must be "
                              "consecutive lines");
    if (f->stateful) f->bucket = 0;
    /* lines read per window: bucket batches (at least one) */
    f->window = f->batch_size * (f->bucket > 1 ? f->bucket : 1);
    if (f->window > (1 << 20)) f->window = 1 << 20; /* batch_size <= 65536 */
    *done = 0;
    return 0;
}

/* ---- one run */
typedef struct {
    const embed_flags *f;
    int W, K, D;
    int rank, nranks;
    elmo_session *sess;
    elmo_line_reader rd;
    int rd_open;
    embed_output *out;
    s2i_map map;
    int keep_s2i; /* sentence_to_index is written (HDF5, not forgotten, rank 0) */
    batch bt;
    size_t *tst, *tln, tcap; /* whitespace split of a line */
    float *red;              /* (ocap) a line's reduced result */
    uint64_t n_lines, n_tokens, n_batches;
} embed_run;

static int oom(void) { return cli_error(CMD, "out of memory"); }

/* split a stripped line, append its character ids to the window */
static int add_line(embed_run *e, const char *text, size_t slen) {
    batch *bt = &e->bt;
    size_t nt = elmo_split_whitespace(text, slen, e->tst, e->tln, e->tcap);
    if (nt > (size_t)e->f->max_tokens)
        return cli_error(CMD, "%s:%llu: %zu tokens, more than --max-tokens %d", e->rd.name,
                         (unsigned long long)e->rd.lineno, nt, e->f->max_tokens);
    if (nt > e->tcap) {
        size_t nc = nt * 2;
        size_t *a = realloc(e->tst, sizeof(size_t) * nc), *b2;
        if (a) e->tst = a;
        b2 = realloc(e->tln, sizeof(size_t) * nc);
        if (b2) e->tln = b2;
        if (!a || !b2) return oom();
        e->tcap = nc;
        elmo_split_whitespace(text, slen, e->tst, e->tln, e->tcap);
    }
    if (bt->rows + nt > bt->rcap) {
        size_t nc = (bt->rows + nt) * 2 + 256;
        int16_t *ni = realloc(bt->ids, sizeof(int16_t) * nc * e->W);
        if (!ni) return oom();
        bt->ids = ni;
        bt->rcap = nc;
    }
    for (size_t t = 0; t < nt; t++)
        elmo_char_ids(text + e->tst[t], e->tln[t], e->W, bt->ids + (bt->rows + t) * e->W);
    bt->n[bt->B] = (int)nt;
    bt->id_off[bt->B] = bt->rows;
    bt->rows += nt;
    if (e->keep_s2i && s2i_put(&e->map, text, slen, e->n_lines))
        return cli_error(CMD, "out of memory for sentence_to_index (try --forget-sentences)");
    bt->B++;
    e->n_lines++;
    return 0;
}

/* read up to one window of lines; *eof at the end of the input */
static int read_window(embed_run *e, int *eof) {
    batch *bt = &e->bt;
    bt->B = 0;
    bt->rows = 0;
    bt->first_line = e->n_lines;
    while (bt->B < bt->cap) {
        int got;
        elmo_status s = elmo_line_reader_next(&e->rd, &got);
        if (s) return cli_lib_error(CMD, s);
        if (!got) {
            *eof = 1;
            return 0;
        }
        if (cli_check_utf8(CMD, e->rd.name, e->rd.lineno, e->rd.line, e->rd.len)) return 1;
        size_t slen;
        const char *text = elmo_strip(e->rd.line, e->rd.len, &slen);
        if (add_line(e, text, slen)) return 1;
    }
    return 0;
}

/* batches of the window: consecutive lines, or (bucketing) the window's lines longest first,
 * cut at batch_size lines or at the position budget of a typical batch; returns the count */
static int plan_window(embed_run *e) {
    batch *bt = &e->bt;
    int bs = e->f->batch_size, nbatch = 0;
    if (e->f->bucket > 0) {
        elmo_bucket_order(bt->B, bt->n, bt->B, bt->order);
        return elmo_bucket_batches(bt->B, bt->n, bt->order, bs,
                                   elmo_bucket_budget(bt->B, bt->n, bs), bt->starts);
    }
    for (int b = 0; b < bt->B; b++) bt->order[b] = b;
    for (int b = 0; b < bt->B; b += bs) bt->starts[nbatch++] = b;
    bt->starts[nbatch] = bt->B;
    return nbatch;
}

/* one line's (K, n, D) result reduced as --layers asks, to the output. The arithmetic of
 * average and mean is also the Python package's (python/src/elmomodule.c, reduce_one): keep
 * them the same, bit for bit. */
static elmo_status emit_line(embed_run *e, uint64_t index, int n, const float *res) {
    int K = e->K, D = e->D;
    size_t nd = (size_t)n * D;
    uint64_t dims[3] = {(uint64_t)K, (uint64_t)n, (uint64_t)D};
    switch (e->f->mode) {
        case LAYERS_ALL: return embed_output_put(e->out, index, 3, dims, res);
        case LAYERS_TOP:
            return embed_output_put(e->out, index, 2, dims + 1, res + (size_t)(K - 1) * nd);
        case LAYERS_AVERAGE:
            for (size_t q = 0; q < nd; q++) {
                float acc = 0;
                for (int l = 0; l < K; l++) acc += res[(size_t)l * nd + q];
                e->red[q] = acc / (float)K;
            }
            return embed_output_put(e->out, index, 2, dims + 1, e->red);
        default: /* LAYERS_MEAN: over tokens (double, in order) of the layer average */
            for (int d = 0; d < D; d++) {
                double sum = 0;
                for (int t = 0; t < n; t++) {
                    float acc = 0;
                    for (int l = 0; l < K; l++) acc += res[(size_t)l * nd + (size_t)t * D + d];
                    sum += acc / (float)K;
                }
                e->red[d] = n > 0 ? (float)(sum / n) : 0.0f;
            }
            return embed_output_put(e->out, index, 1, dims + 2, e->red);
    }
}

/* batch bi of the window: run it (or receive it from the rank that ran it), then write it
 * (rank 0) or send it to rank 0 */
static int run_batch(embed_run *e, int b0, int nb) {
    batch *bt = &e->bt;
    int K = e->K, D = e->D, W = e->W;
    int owner = (int)(e->n_batches++ % (uint64_t)e->nranks); /* the rank that runs it */
    if (e->rank != 0 && owner != e->rank) return 0;
    size_t need = (size_t)D;
    for (int k = 0; k < nb; k++) need += (size_t)K * bt->n[bt->order[b0 + k]] * D;
    if (need > bt->ocap) {
        float *no = realloc(bt->outmem, sizeof(float) * need);
        float *na = realloc(e->red, sizeof(float) * need);
        if (no) bt->outmem = no;
        if (na) e->red = na;
        if (!no || !na) return oom();
        bt->ocap = need;
    }
    size_t off = 0;
    for (int k = 0; k < nb; k++) {
        int b = bt->order[b0 + k];
        bt->rowp[k] = bt->ids + bt->id_off[b] * W;
        bt->bn[k] = bt->n[b];
        bt->out[k] = bt->outmem + off;
        off += (size_t)K * bt->n[b] * D;
    }
    elmo_status s;
    if (owner == e->rank)
        s = elmo_embed_ids(e->sess, nb, bt->rowp, bt->bn, bt->out);
    else
        s = elmo_dist_recv_f(bt->outmem, off, owner, 0);
    if (!s && e->rank != 0) s = elmo_dist_send_f(bt->outmem, off, 0, 0); /* rank 0 writes */
    for (int k = 0; !s && e->rank == 0 && k < nb; k++) {
        e->n_tokens += (uint64_t)bt->bn[k];
        s = emit_line(e, bt->first_line + (uint64_t)bt->order[b0 + k], bt->bn[k], bt->out[k]);
    }
    return s ? cli_lib_error(CMD, s) : 0;
}

static int alloc_window(embed_run *e) {
    batch *bt = &e->bt;
    int window = e->f->window, bs = e->f->batch_size;
    bt->cap = window;
    bt->n = malloc(sizeof(int) * window);
    bt->id_off = malloc(sizeof(size_t) * window);
    bt->order = malloc(sizeof(int) * window);
    bt->starts = malloc(sizeof(int) * (window + 1));
    bt->rowp = malloc(sizeof(*bt->rowp) * bs);
    bt->bn = malloc(sizeof(int) * bs);
    bt->out = malloc(sizeof(float *) * bs);
    if (!bt->n || !bt->id_off || !bt->order || !bt->starts || !bt->rowp || !bt->bn || !bt->out)
        return oom();
    return 0;
}

/* every window of the input through the biLM to the output (not yet committed) */
static int embed_all(embed_run *e, cli_progress *pg) {
    int eof = 0;
    while (!eof) {
        if (read_window(e, &eof)) return 1;
        if (e->bt.B == 0) break;
        int nbatch = plan_window(e);
        for (int bi = 0; bi < nbatch; bi++)
            if (run_batch(e, e->bt.starts[bi], e->bt.starts[bi + 1] - e->bt.starts[bi])) return 1;
        char tail[96];
        double el = elmo_now() - pg->t0;
        snprintf(tail, sizeof tail, "%llu lines, %.0f tokens/s", (unsigned long long)e->n_lines,
                 el > 0 ? e->n_tokens / el : 0.0);
        progress_update(pg, e->rd.size ? e->rd.bytes : e->n_lines, tail);
    }
    if (e->n_lines == 0) return cli_error(CMD, "%s: no lines to embed (empty input)", e->rd.name);
    return 0;
}

/* rank 0: sentence_to_index, then the output moved into place */
static int finish_output(embed_run *e) {
    elmo_status s = ELMO_OK;
    if (e->keep_s2i) {
        char *json = s2i_json(&e->map);
        if (!json)
            return cli_error(CMD, "out of memory for sentence_to_index (try --forget-sentences)");
        s = embed_output_put_string(e->out, "sentence_to_index", json);
        free(json);
    }
    if (!s) {
        s = embed_output_commit(e->out);
        e->out = NULL;
    }
    return s ? cli_lib_error(CMD, s) : 0;
}

static void run_free(embed_run *e) {
    embed_output_abort(e->out);
    if (e->rd_open) elmo_line_reader_close(&e->rd);
    elmo_session_free(e->sess);
    s2i_free(&e->map);
    batch *bt = &e->bt;
    free(bt->n);
    free(bt->id_off);
    free(bt->order);
    free(bt->starts);
    free(bt->bn);
    free(bt->rowp);
    free(bt->out);
    free(bt->outmem);
    free(bt->ids);
    free(e->red);
    free(e->tst);
    free(e->tln);
}

/* session, input and output of a run (rank 0 opens the output: a bad path fails now) */
static int open_run(embed_run *e, elmo_model *model) {
    const embed_flags *f = e->f;
    elmo_status s = elmo_session_new(model, f->batch_size, f->threads, &e->sess);
    if (s) return cli_lib_error(CMD, s);
    elmo_session_set_stateful(e->sess, f->stateful);
    if ((s = elmo_line_reader_open(&e->rd, f->input, (size_t)64 << 20)))
        return cli_lib_error(CMD, s);
    e->rd_open = 1;
    if (e->rank == 0 && (s = embed_output_open(f->output, f->fmt, &e->out)))
        return cli_lib_error(CMD, s);
    return alloc_window(e);
}

int cmd_embed(int argc, char **argv) {
    embed_flags f;
    int done, r = parse_flags(argc, argv, &f, &done);
    if (done) return r;
    elmo_model *model = cli_load_model(CMD, &f.mo);
    if (!model) return 1;
    elmo_status s0 = elmo_dist_init(); /* MPI only when started by mpirun */
    if (s0) {
        elmo_model_free(model);
        return cli_lib_error(CMD, s0);
    }
    int rank = elmo_dist_rank(), nranks = elmo_dist_size();
    if (nranks > 1 && (f.stateful || strcmp(f.input, "-") == 0 || strcmp(f.output, "-") == 0)) {
        if (rank == 0)
            cli_error(CMD, "%s cannot be split across %d processes: run it without mpirun",
                      f.stateful ? "--stateful (each batch continues the previous one)"
                      : strcmp(f.input, "-") == 0 ? "--input - (mpirun gives stdin to rank 0 only)"
                                                  : "--output - (every rank's stdout is merged)",
                      nranks);
        elmo_dist_finalize();
        elmo_model_free(model);
        return 1;
    }
    embed_run e = {.f = &f, .rank = rank, .nranks = nranks};
    e.W = elmo_model_config(model)->max_chars;
    e.K = elmo_model_n_output_layers(model);
    e.D = elmo_model_output_dim(model);
    e.keep_s2i = !f.forget && rank == 0 && f.fmt == EMBED_HDF5;
    elmo_strmap_init(&e.map.texts);
    cli_progress pg;
    int rc = open_run(&e, model);
    if (!rc) {
        progress_start(&pg, "embed", e.rd.size);
        if (rank != 0) pg.tty = 0, pg.log_every = 1e300; /* rank 0 reports */
        rc = embed_all(&e, &pg);
    }
    if (!rc && rank == 0 && !(rc = finish_output(&e))) {
        char sum[160];
        double el = elmo_now() - pg.t0;
        snprintf(sum, sizeof sum, "%llu lines, %llu tokens in %.2f s (%.0f tokens/s) -> %s",
                 (unsigned long long)e.n_lines, (unsigned long long)e.n_tokens, el,
                 el > 0 ? e.n_tokens / el : 0.0, strcmp(f.output, "-") ? f.output : "stdout");
        progress_end(&pg, sum);
    }
    if (rc && nranks > 1) elmo_dist_abort(rc); /* the other ranks may be waiting for this one */
    run_free(&e);
    elmo_model_free(model);
    elmo_dist_finalize();
    return rc;
}
