/*
 * cmd_dump_tokens.c: `elmo dump-token-embeddings --vocab V --output out.hdf5 [--model DIR]`:
 * the context-free token layer of every vocabulary entry, in bilm-tf's
 * dump_token_embeddings format (bilm/model.py): one float32 dataset "embedding" of shape (V, P),
 * row k = token vector of vocabulary line k (stripped), lines "!!!MAXTERMID" skipped, "<S>"
 * and "</S>" given the sentence-boundary encodings. Streams: memory stays bounded whatever V.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "io/h5rows.h"
#include "io/textio.h"
#include "io/util.h"

#define CMD "dump-token-embeddings"
#define BLOCK 2048 /* tokens per library call */

int cmd_dump_token_embeddings(int argc, char **argv) {
    cli_model mo = {0};
    const char *vocab = NULL, *output = NULL;
    int threads = 2;
    cli_opt opts[] = {
        CLI_MODEL_OPTS(mo),
        {"--vocab", OPT_STR, &vocab, 0, 0, "vocabulary, one token per line (- = stdin)"},
        {"--output", OPT_STR, &output, 0, 0, "HDF5 file to write (dataset \"embedding\", (V, P))"},
        {"--threads", OPT_INT, &threads, 1, 256, "threads"},
        {0}};
    int r = cli_parse(CMD, "--vocab V.txt --output OUT.hdf5 [--model DIR]", opts, argc, argv, NULL,
                      0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!vocab) return cli_error(CMD, "missing --vocab");
    if (!output) return cli_error(CMD, "missing --output");
    if (cli_check_output(CMD, output, &vocab, 1)) return 1;
    elmo_model *model = cli_load_model(CMD, &mo);
    if (!model) return 1;
    int P = elmo_model_config(model)->projection_dim, rc = 1, rd_open = 0;
    elmo_session *sess = NULL;
    elmo_line_reader rd;
    elmo_h5_rows *wr = NULL;
    char *arena = NULL;
    size_t used = 0, acap = 0;
    size_t offs[BLOCK];
    const char *toks[BLOCK];
    float *vec = malloc(sizeof(float) * (size_t)BLOCK * P);
    int n = 0;
    elmo_status s = vec ? ELMO_OK : elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    if (!s) s = elmo_session_new(model, 1, threads, &sess);
    if (s) goto done;
    elmo_session_set_token_cache(sess, 0); /* every entry is new */
    if ((s = elmo_line_reader_open(&rd, vocab, (size_t)1 << 20))) goto done;
    rd_open = 1;
    if ((s = elmo_h5_rows_open(output, "embedding", P, &wr))) goto done;
    cli_progress pg;
    progress_start(&pg, CMD, rd.size);
    for (;;) {
        int got;
        if ((s = elmo_line_reader_next(&rd, &got))) goto done;
        if (got) {
            if (cli_check_utf8(CMD, rd.name, rd.lineno, rd.line, rd.len)) goto done;
            size_t len;
            const char *w = elmo_strip(rd.line, rd.len, &len);
            if (len == 12 && memcmp(w, "!!!MAXTERMID", 12) == 0) continue;
            if (used + len + 1 > acap) {
                size_t nc = (used + len + 1) * 2 + 65536;
                char *na = realloc(arena, nc);
                if (!na) {
                    cli_error(CMD, "out of memory");
                    goto done;
                }
                arena = na;
                acap = nc;
            }
            memcpy(arena + used, w, len);
            arena[used + len] = 0;
            offs[n++] = used;
            used += len + 1;
        }
        if (n == BLOCK || (got == 0 && n > 0)) {
            for (int k = 0; k < n; k++) toks[k] = arena + offs[k];
            if ((s = elmo_token_vectors(sess, n, toks, vec))) goto done;
            if ((s = elmo_h5_rows_append(wr, n, vec))) goto done;
            n = 0;
            used = 0;
            char tail[64];
            snprintf(tail, sizeof tail, "%llu tokens", (unsigned long long)elmo_h5_rows_count(wr));
            progress_update(&pg, rd.size ? rd.bytes : elmo_h5_rows_count(wr), tail);
        }
        if (got == 0) break;
    }
    uint64_t V = elmo_h5_rows_count(wr);
    if (V == 0) {
        cli_error(CMD, "%s: no tokens (empty vocabulary)", rd.name);
        goto done;
    }
    s = elmo_h5_rows_commit(wr);
    wr = NULL;
    if (s) goto done;
    char sum[128];
    snprintf(sum, sizeof sum, "%llu tokens x %d -> %s", (unsigned long long)V, P, output);
    progress_end(&pg, sum);
    rc = 0;
done:
    if (s) cli_lib_error(CMD, s);
    if (wr) elmo_h5_rows_abort(wr);
    if (rd_open) elmo_line_reader_close(&rd);
    elmo_session_free(sess);
    elmo_model_free(model);
    free(arena);
    free(vec);
    return rc;
}
