/*
 * train_data.c: shard streams and the B x T packer of bilm-tf's training (see train_data.h).
 */
#include "train/train_data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io/textio.h"

#define MAX_LINE ((size_t)16 << 20)

typedef struct {
    int32_t *words;    /* (cap) word ids of the remainder */
    int16_t *chars;    /* (cap, W) */
    int len, pos, cap; /* tokens held, first unread, capacity */
} row_rem;

struct elmo_stream {
    char **shards;
    int n_shards;
    const elmo_vocab *v;
    int reverse, W, B;
    size_t chunk_lines;
    int shuffle;    /* 0: shards and sentences in file order (tests) */
    double restart; /* probability that a row's state restarts at a sentence start */
    elmo_rng rng;   /* shard order and the seed of each chunk's shuffle */
    int *perm, pos; /* current shard = shards[perm[pos]] */
    uint64_t passes;
    /* the current chunk */
    elmo_line_reader rd;
    int rd_open;
    uint64_t chunk_offset; /* byte offset of the chunk's first line in its shard */
    int chunk_pending_cr;  /* the reader's CR state at that offset */
    elmo_rng chunk_rng;    /* state that shuffled this chunk */
    char *text;            /* the chunk's lines, NUL-separated */
    size_t text_used, text_cap;
    size_t *sent_off; /* (n_sent) offset of each line in text */
    size_t n_sent, sent_cap;
    size_t *order; /* (n_sent) shuffled */
    size_t next;   /* next index into order */
    int chunk_eof; /* the chunk ended its shard */
    row_rem *rows; /* (B) */
    size_t *tst, *tln, tcap;
};

static void shuffle(elmo_rng *r, size_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)elmo_rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static void shuffle_int(elmo_rng *r, int *a, int n) {
    for (int i = n; i > 1; i--) {
        int j = (int)elmo_rng_below(r, (uint64_t)i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

elmo_status elmo_stream_new(const char *const *shards, int n_shards, const elmo_vocab *v,
                            int reverse, int W, int B, uint64_t seed, size_t chunk_lines,
                            int shuffle, elmo_stream **out) {
    *out = NULL;
    if (n_shards < 1) return elmo_fail(ELMO_ERR_ARG, "no training files");
    elmo_stream *s = calloc(1, sizeof *s);
    if (!s) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    s->shards = calloc((size_t)n_shards, sizeof(char *));
    s->perm = malloc(sizeof(int) * n_shards);
    s->rows = calloc((size_t)B, sizeof(row_rem));
    if (!s->shards || !s->perm || !s->rows) {
        elmo_stream_free(s);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    s->n_shards = n_shards;
    for (int i = 0; i < n_shards; i++)
        if (!(s->shards[i] = strdup(shards[i]))) {
            elmo_stream_free(s);
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        }
    s->v = v;
    s->reverse = reverse;
    s->W = W;
    s->B = B;
    s->chunk_lines = chunk_lines ? chunk_lines : 1;
    s->shuffle = shuffle;
    elmo_rng_seed(&s->rng, seed);
    for (int i = 0; i < n_shards; i++) s->perm[i] = i;
    if (shuffle) shuffle_int(&s->rng, s->perm, n_shards);
    s->pos = -1; /* no shard open yet */
    s->chunk_eof = 1;
    *out = s;
    return ELMO_OK;
}

void elmo_stream_free(elmo_stream *s) {
    if (!s) return;
    if (s->rd_open) elmo_line_reader_close(&s->rd);
    for (int i = 0; s->shards && i < s->n_shards; i++) free(s->shards[i]);
    free(s->shards);
    free(s->perm);
    free(s->text);
    free(s->sent_off);
    free(s->order);
    for (int b = 0; s->rows && b < s->B; b++) {
        free(s->rows[b].words);
        free(s->rows[b].chars);
    }
    free(s->rows);
    free(s->tst);
    free(s->tln);
    free(s);
}

uint64_t elmo_stream_passes(const elmo_stream *s) { return s->passes; }

/* Open shard perm[pos] positioned at offset. */
static elmo_status open_shard(elmo_stream *s, uint64_t offset, int pending_cr) {
    if (s->rd_open) elmo_line_reader_close(&s->rd);
    s->rd_open = 0;
    const char *path = s->shards[s->perm[s->pos]];
    elmo_status st = elmo_line_reader_open(&s->rd, path, MAX_LINE);
    if (st) return st;
    s->rd_open = 1;
    if (offset && fseeko(s->rd.f, (off_t)offset, SEEK_SET) != 0)
        return elmo_fail(ELMO_ERR_IO, "%s: cannot seek to byte %llu: %s", path,
                         (unsigned long long)offset, strerror(errno));
    s->rd.bytes = offset;
    s->rd.pending_cr = pending_cr;
    return ELMO_OK;
}

/* Read up to chunk_lines lines of the open shard into the chunk and shuffle it with the
 * current chunk_rng. */
static elmo_status read_chunk(elmo_stream *s) {
    s->text_used = 0;
    s->n_sent = 0;
    s->next = 0;
    s->chunk_offset = s->rd.bytes;
    s->chunk_pending_cr = s->rd.pending_cr;
    s->chunk_eof = 0;
    while (s->n_sent < s->chunk_lines) {
        int got;
        elmo_status st = elmo_line_reader_next(&s->rd, &got);
        if (st) return st;
        if (!got) {
            s->chunk_eof = 1;
            break;
        }
        if (s->text_used + s->rd.len + 1 > s->text_cap) {
            size_t nc = s->text_cap ? s->text_cap : 1 << 20;
            while (nc < s->text_used + s->rd.len + 1) nc *= 2;
            char *nt = realloc(s->text, nc);
            if (!nt) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading training data");
            s->text = nt;
            s->text_cap = nc;
        }
        if (s->n_sent == s->sent_cap) {
            size_t nc = s->sent_cap ? s->sent_cap * 2 : 4096;
            size_t *no = realloc(s->sent_off, nc * sizeof *no),
                   *oo = no ? realloc(s->order, nc * sizeof *oo) : NULL;
            if (no) s->sent_off = no;
            if (oo) s->order = oo;
            if (!no || !oo) return elmo_fail(ELMO_ERR_NOMEM, "out of memory reading training data");
            s->sent_cap = nc;
        }
        s->sent_off[s->n_sent] = s->text_used;
        memcpy(s->text + s->text_used, s->rd.line, s->rd.len + 1);
        s->text_used += s->rd.len + 1;
        s->n_sent++;
    }
    for (size_t i = 0; i < s->n_sent; i++) s->order[i] = i;
    elmo_rng r = s->chunk_rng;
    if (s->shuffle) shuffle(&r, s->order, s->n_sent);
    return ELMO_OK;
}

/* Move to the next chunk (the next shard when this one is done). */
static elmo_status next_chunk(elmo_stream *s) {
    int dry = 0; /* shards opened in a row without a sentence */
    for (;;) {
        if (s->chunk_eof) {
            if (++s->pos >= s->n_shards) {
                s->passes++;
                if (s->shuffle) shuffle_int(&s->rng, s->perm, s->n_shards);
                s->pos = 0;
            }
            if (dry++ > s->n_shards)
                return elmo_fail(ELMO_ERR_FORMAT, "%s%s: no sentences (empty file%s)", s->shards[0],
                                 s->n_shards > 1 ? " and the other training files" : "",
                                 s->n_shards > 1 ? "s" : "");
            elmo_status st = open_shard(s, 0, 0);
            if (st) return st;
        }
        /* each chunk is shuffled by its own generator, seeded from the stream's */
        elmo_rng_seed(&s->chunk_rng, elmo_rng_next(&s->rng));
        elmo_status st = read_chunk(s);
        if (st) return st;
        if (s->n_sent > 0) return ELMO_OK;
    }
}

void elmo_sentence_ids(const elmo_vocab *v, int reverse, int W, const char *line, const size_t *st,
                       const size_t *ln, size_t n, int32_t *words, int16_t *chars) {
    const char *first = reverse ? "</S>" : "<S>", *last = reverse ? "<S>" : "</S>";
    words[0] = (int32_t)(reverse ? elmo_vocab_eos(v) : elmo_vocab_bos(v));
    elmo_char_ids(first, strlen(first), W, chars);
    for (size_t i = 0; i < n; i++) {
        size_t k = reverse ? n - 1 - i : i;
        const char *w = line + st[k];
        words[1 + i] = (int32_t)elmo_vocab_id(v, w, ln[k]);
        /* a literal <S> or </S> in the text is spelled out, never a boundary */
        int16_t *ch = chars + (1 + i) * (size_t)W;
        elmo_char_ids(w, ln[k], W, ch);
        if (ch[1] == ELMO_CHAR_BOS || ch[1] == ELMO_CHAR_EOS) {
            for (int q = 0; q < W; q++) ch[q] = ELMO_CHAR_PAD;
            ch[0] = ELMO_CHAR_BOW;
            size_t m = ln[k] < (size_t)W - 2 ? ln[k] : (size_t)W - 2;
            for (size_t q = 0; q < m; q++) ch[1 + q] = (int16_t)((unsigned char)w[q] + 1);
            ch[1 + m] = ELMO_CHAR_EOW;
        }
    }
    words[n + 1] = (int32_t)(reverse ? elmo_vocab_bos(v) : elmo_vocab_eos(v));
    elmo_char_ids(last, strlen(last), W, chars + (n + 1) * (size_t)W);
}

/* The next sentence, with boundaries, into row r's remainder. */
static elmo_status fetch(elmo_stream *s, row_rem *r) {
    if (s->next >= s->n_sent) {
        elmo_status st = next_chunk(s);
        if (st) return st;
    }
    const char *line = s->text + s->sent_off[s->order[s->next++]];
    size_t len = strlen(line);
    size_t n = elmo_split_whitespace(line, len, s->tst, s->tln, s->tcap);
    if (n > s->tcap) {
        size_t nc = n * 2;
        size_t *a = realloc(s->tst, nc * sizeof *a),
               *b = a ? realloc(s->tln, nc * sizeof *b) : NULL;
        if (a) s->tst = a;
        if (b) s->tln = b;
        if (!a || !b) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        s->tcap = nc;
        elmo_split_whitespace(line, len, s->tst, s->tln, s->tcap);
    }
    int need = (int)n + 2;
    if (need > r->cap) {
        int nc = need * 2;
        int32_t *w = realloc(r->words, sizeof(int32_t) * nc);
        int16_t *c = w ? realloc(r->chars, sizeof(int16_t) * (size_t)nc * s->W) : NULL;
        if (w) r->words = w;
        if (c) r->chars = c;
        if (!w || !c) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        r->cap = nc;
    }
    elmo_sentence_ids(s->v, s->reverse, s->W, line, s->tst, s->tln, n, r->words, r->chars);
    r->len = (int)n + 2;
    r->pos = 0;
    return ELMO_OK;
}

elmo_status elmo_stream_next_batch(elmo_stream *s, int T, int16_t *ids, int32_t *targets) {
    return elmo_stream_next_rows(s, T, 0, s->B, ids, targets, NULL);
}

void elmo_stream_set_restart(elmo_stream *s, double p) { s->restart = p; }

elmo_status elmo_stream_next_rows(elmo_stream *s, int T, int b0, int n, int16_t *ids,
                                  int32_t *targets, uint8_t *reset) {
    int B = s->B, W = s->W;
    if (b0 < 0 || n < 0 || b0 + n > B)
        return elmo_fail(ELMO_ERR_ARG, "rows [%d, %d) of a batch of %d", b0, b0 + n, B);
    /* every row advances (rows take sentences from the stream in turn); rows in [b0, b0+n)
     * are written */
    for (int b = 0; b < B; b++) {
        row_rem *r = &s->rows[b];
        int mine = b >= b0 && b < b0 + n;
        int filled = 0;
        while (filled < T) {
            int restart = 0;
            if (r->len - r->pos <= 1) {
                elmo_status st = fetch(s, r);
                if (st) return st;
                /* a new sentence: its row's LSTM state restarts from zero with probability
                 * `restart` (every rank draws the same, for every row) */
                restart =
                    s->restart >= 1 || (s->restart > 0 && elmo_rng_uniform(&s->rng) < s->restart);
            }
            int k = r->len - r->pos - 1;
            if (k > T - filled) k = T - filled;
            for (int q = 0; mine && q < k; q++) {
                size_t row = (size_t)(filled + q) * n + (b - b0);
                memcpy(ids + row * W, r->chars + (size_t)(r->pos + q) * W, sizeof(int16_t) * W);
                targets[row] = r->words[r->pos + q + 1];
                if (reset) reset[row] = q == 0 && restart;
            }
            r->pos += k;
            filled += k;
        }
    }
    return ELMO_OK;
}

/* ---- state: a flat little-endian record (the checkpoint adds its own framing and CRC) */
static int put(elmo_strbuf *b, const void *p, size_t n) { return elmo_strbuf_add(b, p, n); }

elmo_status elmo_stream_save(const elmo_stream *s, elmo_strbuf *b) {
    int32_t hdr[4] = {s->n_shards, s->pos, s->B, s->W};
    int bad = put(b, hdr, sizeof hdr) || put(b, s->perm, sizeof(int) * s->n_shards) ||
              put(b, &s->passes, 8) || put(b, &s->rng, sizeof s->rng) ||
              put(b, &s->chunk_rng, sizeof s->chunk_rng) || put(b, &s->chunk_offset, 8);
    uint64_t nx[3] = {s->next, (uint64_t)s->chunk_pending_cr, (uint64_t)s->chunk_eof};
    bad = bad || put(b, nx, sizeof nx);
    for (int r = 0; r < s->B && !bad; r++) {
        const row_rem *x = &s->rows[r];
        int32_t rem = x->len - x->pos;
        if (rem < 0) rem = 0;
        bad = put(b, &rem, 4) || (rem && (put(b, x->words + x->pos, sizeof(int32_t) * rem) ||
                                          put(b, x->chars + (size_t)x->pos * s->W,
                                              sizeof(int16_t) * (size_t)rem * s->W)));
    }
    return bad ? elmo_fail(ELMO_ERR_NOMEM, "out of memory saving the data position") : ELMO_OK;
}

static int get(const char **p, const char *end, void *dst, size_t n) {
    if ((size_t)(end - *p) < n) return -1;
    memcpy(dst, *p, n);
    *p += n;
    return 0;
}

static elmo_status damaged_position(void) {
    return elmo_fail(ELMO_ERR_FORMAT, "the checkpoint's data position is damaged");
}

elmo_status elmo_stream_load(elmo_stream *s, const char **p, const char *end) {
    int32_t hdr[4];
    if (get(p, end, hdr, sizeof hdr)) return damaged_position();
    if (hdr[0] != s->n_shards || hdr[2] != s->B || hdr[3] != s->W)
        return elmo_fail(
            ELMO_ERR_STATE,
            "the checkpoint was written for %d training files, batch %d (now %d files, "
            "batch %d): resume with the same --train and --batch-size",
            hdr[0], hdr[2], s->n_shards, s->B);
    if (hdr[1] < -1 || hdr[1] > s->n_shards) return damaged_position();
    s->pos = hdr[1];
    uint64_t nx[3];
    if (get(p, end, s->perm, sizeof(int) * s->n_shards) || get(p, end, &s->passes, 8) ||
        get(p, end, &s->rng, sizeof s->rng) || get(p, end, &s->chunk_rng, sizeof s->chunk_rng) ||
        get(p, end, &s->chunk_offset, 8) || get(p, end, nx, sizeof nx))
        return damaged_position();
    if (nx[1] > 1) return damaged_position();
    for (int i = 0; i < s->n_shards; i++)
        if (s->perm[i] < 0 || s->perm[i] >= s->n_shards) return damaged_position();
    uint32_t V = elmo_vocab_size(s->v);
    for (int r = 0; r < s->B; r++) {
        row_rem *x = &s->rows[r];
        int32_t rem;
        /* the size is checked against the bytes that are there before allocating */
        if (get(p, end, &rem, 4) || rem < 0 ||
            (size_t)rem > (size_t)(end - *p) / (sizeof(int32_t) + sizeof(int16_t) * (size_t)s->W))
            return damaged_position();
        if (rem > x->cap) {
            int32_t *w = realloc(x->words, sizeof(int32_t) * rem);
            int16_t *c = w ? realloc(x->chars, sizeof(int16_t) * (size_t)rem * s->W) : NULL;
            if (w) x->words = w;
            if (c) x->chars = c;
            if (!w || !c) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
            x->cap = rem;
        }
        if (rem && (get(p, end, x->words, sizeof(int32_t) * rem) ||
                    get(p, end, x->chars, sizeof(int16_t) * (size_t)rem * s->W)))
            return damaged_position();
        /* word ids index the softmax, character ids the character embedding */
        for (int32_t k = 0; k < rem; k++)
            if (x->words[k] < 0 || (uint32_t)x->words[k] >= V) return damaged_position();
        for (size_t k = 0; k < (size_t)rem * s->W; k++)
            if (x->chars[k] < 0 || x->chars[k] > ELMO_CHAR_PAD) return damaged_position();
        x->len = rem;
        x->pos = 0;
    }
    /* reopen the shard, re-read and re-shuffle the chunk, skip what was consumed */
    if (s->pos >= 0 && s->pos < s->n_shards) {
        elmo_status st = open_shard(s, s->chunk_offset, (int)nx[1]);
        if (st) return st;
        elmo_rng saved = s->chunk_rng;
        if ((st = read_chunk(s))) return st;
        s->chunk_rng = saved;
        if (nx[0] > s->n_sent) return damaged_position();
        s->next = nx[0];
    } else {
        s->chunk_eof = 1;
    }
    return ELMO_OK;
}

elmo_status elmo_count_tokens(const char *const *files, int n_files, uint64_t *sentences,
                              uint64_t *tokens) {
    uint64_t ns = 0, nt = 0;
    for (int f = 0; f < n_files; f++) {
        elmo_line_reader r;
        elmo_status s = elmo_line_reader_open(&r, files[f], MAX_LINE);
        if (s) return s;
        int got;
        while (!(s = elmo_line_reader_next(&r, &got)) && got) {
            size_t n = elmo_split_whitespace(r.line, r.len, NULL, NULL, 0);
            ns++;
            nt += n + 1;
        }
        elmo_line_reader_close(&r);
        if (s) return s;
    }
    *sentences = ns;
    *tokens = nt;
    return ELMO_OK;
}
