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
 * Under mpirun (stateless only) every rank reads the whole input and forms the same windows
 * and batches; batch k (counted over the whole input) is run by rank k mod N, so each batch
 * has the composition it has in one process and the output is bitwise the same. Rank 0
 * receives the other ranks' batches in order, and alone writes the output file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bucket.h"
#include "cli.h"
#include "commands.h"
#include "dist.h"
#include "h5io.h"
#include "strmap.h"
#include "textio.h"
#include "util.h"

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
        bad = (k && elmo_strbuf_add(&b, ", ", 2)) || elmo_strbuf_add(&b, "\"", 1) ||
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
    int B, cap;          /* lines in the window, capacity */
    int *n;              /* (cap) tokens per line */
    size_t *id_off;      /* (cap) first id row of each line */
    int16_t *ids;        /* all lines' char ids (rows of W) */
    size_t rows, rcap;
    int *order;          /* (cap) processing order (bucketed or identity) */
    int *starts;         /* (cap + 1) first index into order of each batch */
    uint64_t first_line; /* 0-based index of the window's first line */
    /* one batch of up to batch_size lines */
    const int16_t **rowp;
    int *bn;
    float **out;         /* per line of the batch (L+1, n, 2P) */
    float *outmem;
    size_t ocap;
} batch;

enum { LAYERS_ALL, LAYERS_TOP, LAYERS_AVERAGE };

int cmd_embed(int argc, char **argv) {
    cli_model mo = {0};
    const char *input = NULL, *output = NULL, *layers = "all";
    int batch_size = 64, stateful = 0, threads = 2, forget = 0, max_tokens = 100000, bucket = 16;
    cli_opt opts[] = {
        CLI_MODEL_OPTS(mo),
        {"--input", OPT_STR, &input, 0, 0, "sentences, one per line, tokens separated by spaces (- = stdin)"},
        {"--output", OPT_STR, &output, 0, 0, "HDF5 file to write"},
        {"--layers", OPT_STR, &layers, 0, 0, "all | top | average"},
        {"--batch-size", OPT_INT, &batch_size, 1, 65536, "lines per batch"},
        {"--stateful", OPT_BOOL, &stateful, 0, 0, "carry LSTM states per batch row across batches"},
        {"--threads", OPT_INT, &threads, 1, 256, "threads"},
        {"--max-tokens", OPT_INT, &max_tokens, 1, 10000000, "refuse lines with more tokens"},
        {"--forget-sentences", OPT_BOOL, &forget, 0, 0, "do not write sentence_to_index"},
        {"--bucket", OPT_INT, &bucket, 0, 4096,
         "sort by length within windows of this many batches (0 = file order; stateless only)"},
        {0}};
    int r = cli_parse(CMD, "--input FILE --output OUT.hdf5 [options]", opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!input) return cli_error(CMD, "missing --input (use - for stdin)");
    if (!output) return cli_error(CMD, "missing --output");
    if (cli_check_output(CMD, output, &input, 1)) return 1; /* before any work */
    int mode;
    if (strcmp(layers, "all") == 0) mode = LAYERS_ALL;
    else if (strcmp(layers, "top") == 0) mode = LAYERS_TOP;
    else if (strcmp(layers, "average") == 0) mode = LAYERS_AVERAGE;
    else return cli_error(CMD, "--layers must be all, top or average, got '%s'", layers);
    int bucket_given = 0;
    for (int i = 0; i < argc; i++) bucket_given |= strcmp(argv[i], "--bucket") == 0;
    if (stateful && bucket_given && bucket > 0)
        return cli_error(CMD, "--bucket needs stateless mode: with --stateful the batches must be "
                              "consecutive lines");
    if (stateful) bucket = 0;
    /* lines read per window: bucket batches (at least one) */
    int window = batch_size * (bucket > 1 ? bucket : 1);
    if (window > (1 << 20)) window = 1 << 20; /* batch_size <= 65536 */

    elmo_model *model = cli_load_model(CMD, &mo);
    if (!model) return 1;
    elmo_status s0 = elmo_dist_init(); /* MPI only when started by mpirun */
    if (s0) {
        elmo_model_free(model);
        return cli_lib_error(CMD, s0);
    }
    int rank = elmo_dist_rank(), nranks = elmo_dist_size();
    if (nranks > 1 && (stateful || strcmp(input, "-") == 0)) {
        if (rank == 0)
            cli_error(CMD, "%s cannot be split across %d processes: run it without mpirun",
                      stateful ? "--stateful (each batch continues the previous one)"
                               : "--input - (mpirun gives stdin to rank 0 only)",
                      nranks);
        elmo_dist_finalize();
        elmo_model_free(model);
        return 1;
    }
    const elmo_config *c = elmo_model_config(model);
    int W = c->max_chars, K = elmo_model_n_output_layers(model), D = elmo_model_output_dim(model);
    elmo_session *sess = NULL;
    elmo_line_reader rd;
    int rd_open = 0, rc = 1;
    elmo_h5_writer *wr = NULL;
    s2i_map map = {0};
    elmo_strmap_init(&map.texts);
    batch bt = {0};
    size_t *tst = NULL, *tln = NULL, tcap = 0;
    float *avg = NULL;
    elmo_status s = elmo_session_new(model, batch_size, threads, &sess);
    if (s) goto lib_fail;
    elmo_session_set_stateful(sess, stateful);
    if ((s = elmo_line_reader_open(&rd, input, (size_t)64 << 20))) goto lib_fail;
    rd_open = 1;
    /* open the output before any long work: a bad path fails now */
    if (rank == 0 && (s = elmo_h5_writer_open(output, 1, &wr))) goto lib_fail;

    bt.cap = window;
    bt.n = malloc(sizeof(int) * window);
    bt.id_off = malloc(sizeof(size_t) * window);
    bt.order = malloc(sizeof(int) * window);
    bt.starts = malloc(sizeof(int) * (window + 1));
    bt.rowp = malloc(sizeof(*bt.rowp) * batch_size);
    bt.bn = malloc(sizeof(int) * batch_size);
    bt.out = malloc(sizeof(float *) * batch_size);
    if (!bt.n || !bt.id_off || !bt.order || !bt.starts || !bt.rowp || !bt.bn || !bt.out) {
        cli_error(CMD, "out of memory");
        goto done;
    }
    cli_progress pg;
    progress_start(&pg, "embed", rd.size);
    if (rank != 0) pg.tty = 0, pg.log_every = 1e300; /* rank 0 reports */
    uint64_t n_lines = 0, n_tokens = 0, n_batches = 0;
    int eof = 0;
    while (!eof) {
        /* read up to one window of lines */
        bt.B = 0;
        bt.rows = 0;
        bt.first_line = n_lines;
        while (bt.B < bt.cap) {
            int got = elmo_line_reader_next(&rd);
            if (got < 0) {
                s = (elmo_status)-got;
                goto lib_fail;
            }
            if (got == 0) {
                eof = 1;
                break;
            }
            if (cli_check_utf8(CMD, rd.name, rd.lineno, rd.line, rd.len)) goto done;
            size_t slen;
            const char *text = elmo_strip(rd.line, rd.len, &slen);
            size_t nt = elmo_split_whitespace(text, slen, tst, tln, tcap);
            if (nt > (size_t)max_tokens) {
                cli_error(CMD, "%s:%llu: %zu tokens, more than --max-tokens %d", rd.name,
                          (unsigned long long)rd.lineno, nt, max_tokens);
                goto done;
            }
            if (nt > tcap) {
                size_t nc = nt * 2;
                size_t *a = realloc(tst, sizeof(size_t) * nc), *b2;
                if (a) tst = a;
                b2 = realloc(tln, sizeof(size_t) * nc);
                if (b2) tln = b2;
                if (!a || !b2) {
                    cli_error(CMD, "out of memory");
                    goto done;
                }
                tcap = nc;
                elmo_split_whitespace(text, slen, tst, tln, tcap);
            }
            if (bt.rows + nt > bt.rcap) {
                size_t nc = (bt.rows + nt) * 2 + 256;
                int16_t *ni = realloc(bt.ids, sizeof(int16_t) * nc * W);
                if (!ni) {
                    cli_error(CMD, "out of memory");
                    goto done;
                }
                bt.ids = ni;
                bt.rcap = nc;
            }
            for (size_t t = 0; t < nt; t++)
                elmo_char_ids(text + tst[t], tln[t], W, bt.ids + (bt.rows + t) * W);
            bt.n[bt.B] = (int)nt;
            bt.id_off[bt.B] = bt.rows;
            bt.rows += nt;
            if (!forget && rank == 0 && s2i_put(&map, text, slen, n_lines)) {
                cli_error(CMD, "out of memory for sentence_to_index (try --forget-sentences)");
                goto done;
            }
            bt.B++;
            n_lines++;
        }
        if (bt.B == 0) break;
        /* batches: consecutive lines, or (bucketing) the window's lines longest first, cut
         * at batch_size lines or at the position budget of a typical batch */
        int nbatch;
        if (bucket > 0) {
            elmo_bucket_order(bt.B, bt.n, bt.B, bt.order);
            nbatch = elmo_bucket_batches(bt.B, bt.n, bt.order, batch_size,
                                         elmo_bucket_budget(bt.B, bt.n, batch_size), bt.starts);
        } else {
            for (int b = 0; b < bt.B; b++) bt.order[b] = b;
            nbatch = 0;
            for (int b = 0; b < bt.B; b += batch_size) bt.starts[nbatch++] = b;
            bt.starts[nbatch] = bt.B;
        }
        for (int bi = 0; bi < nbatch; bi++) {
            int b0 = bt.starts[bi], nb = bt.starts[bi + 1] - b0;
            int owner = (int)(n_batches++ % (uint64_t)nranks); /* the rank that runs it */
            if (rank != 0 && owner != rank) continue;
            /* output buffers */
            size_t need = 0;
            for (int k = 0; k < nb; k++) need += (size_t)K * bt.n[bt.order[b0 + k]] * D;
            if (need > bt.ocap) {
                float *no = realloc(bt.outmem, sizeof(float) * need);
                float *na = realloc(avg, sizeof(float) * need);
                if (no) bt.outmem = no;
                if (na) avg = na;
                if (!no || !na) {
                    cli_error(CMD, "out of memory");
                    goto done;
                }
                bt.ocap = need;
            }
            size_t off = 0;
            for (int k = 0; k < nb; k++) {
                int b = bt.order[b0 + k];
                bt.rowp[k] = bt.ids + bt.id_off[b] * W;
                bt.bn[k] = bt.n[b];
                bt.out[k] = bt.outmem + off;
                off += (size_t)K * bt.n[b] * D;
            }
            if (owner == rank) {
                if ((s = elmo_embed_ids(sess, nb, bt.rowp, bt.bn, bt.out))) goto lib_fail;
            } else if ((s = elmo_dist_recv_f(bt.outmem, off, owner, 0))) {
                goto lib_fail;
            }
            if (rank != 0) { /* to rank 0, which writes */
                if ((s = elmo_dist_send_f(bt.outmem, off, 0, 0))) goto lib_fail;
                continue;
            }
            for (int k = 0; k < nb; k++) {
                char name[32];
                snprintf(name, sizeof name, "%llu", (unsigned long long)(bt.first_line + bt.order[b0 + k]));
                uint64_t n = (uint64_t)bt.bn[k];
                n_tokens += n;
                if (mode == LAYERS_ALL) {
                    uint64_t dims[3] = {(uint64_t)K, n, (uint64_t)D};
                    s = elmo_h5_writer_put(wr, name, 3, dims, bt.out[k]);
                } else {
                    uint64_t dims[2] = {n, (uint64_t)D};
                    const float *src = bt.out[k] + (size_t)(K - 1) * n * D;
                    if (mode == LAYERS_AVERAGE) {
                        size_t nd = (size_t)n * D;
                        for (size_t q = 0; q < nd; q++) {
                            float acc = 0;
                            for (int l = 0; l < K; l++) acc += bt.out[k][(size_t)l * nd + q];
                            avg[q] = acc / (float)K;
                        }
                        src = avg;
                    }
                    s = elmo_h5_writer_put(wr, name, 2, dims, src);
                }
                if (s) goto lib_fail;
            }
        }
        char tail[96];
        double el = elmo_now() - pg.t0;
        snprintf(tail, sizeof tail, "%llu lines, %.0f tokens/s", (unsigned long long)n_lines,
                 el > 0 ? n_tokens / el : 0.0);
        progress_update(&pg, rd.size ? rd.bytes : n_lines, tail);
    }
    if (n_lines == 0) {
        cli_error(CMD, "%s: no lines to embed (empty input)", rd.name);
        goto done;
    }
    if (rank != 0) { /* rank 0 writes the file */
        rc = 0;
        goto done;
    }
    if (!forget) {
        char *json = s2i_json(&map);
        if (!json) {
            cli_error(CMD, "out of memory for sentence_to_index (try --forget-sentences)");
            goto done;
        }
        s = elmo_h5_writer_put_string(wr, "sentence_to_index", json);
        free(json);
        if (s) goto lib_fail;
    }
    s = elmo_h5_writer_commit(wr);
    wr = NULL;
    if (s) goto lib_fail;
    {
        char sum[160];
        double el = elmo_now() - pg.t0;
        snprintf(sum, sizeof sum, "%llu lines, %llu tokens in %.2f s (%.0f tokens/s) -> %s",
                 (unsigned long long)n_lines, (unsigned long long)n_tokens, el,
                 el > 0 ? n_tokens / el : 0.0, output);
        progress_end(&pg, sum);
    }
    rc = 0;
    goto done;
lib_fail:
    cli_lib_error(CMD, s);
done:
    if (rc && nranks > 1) elmo_dist_abort(rc); /* the other ranks may be waiting for this one */
    if (wr) elmo_h5_writer_abort(wr);
    if (rd_open) elmo_line_reader_close(&rd);
    elmo_session_free(sess);
    elmo_model_free(model);
    s2i_free(&map);
    free(bt.n);
    free(bt.id_off);
    free(bt.order);
    free(bt.starts);
    free(bt.bn);
    free(bt.rowp);
    free(bt.out);
    free(bt.outmem);
    free(bt.ids);
    free(avg);
    free(tst);
    free(tln);
    elmo_dist_finalize();
    return rc;
}
