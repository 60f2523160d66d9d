/* fuzz_common.c: see fuzz_common.h. */
#include "fuzz_common.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/h5io.h"
#include "core/random_weights.h"
#include "io/textio.h"
#include "io/util.h"

static char g_dir[512];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static void cleanup(void) {
    if (g_dir[0]) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fuzz_init(void) {
    if (g_dir[0]) return;
    elmo_h5_quiet();
    elmo_set_memory_limit((size_t)256 << 20);
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/elmo-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        abort();
    }
    atexit(cleanup);
}

const char *fuzz_path(const char *name) {
    static char bufs[8][600];
    static int k;
    fuzz_init();
    char *b = bufs[k++ & 7];
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}

const char *fuzz_write(const char *name, const void *data, size_t size) {
    const char *p = fuzz_path(name);
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

void fuzz_fix_crcs(uint8_t *buf, size_t size) {
    size_t off = 12;
    while (off <= size && size - off >= 44) {
        uint64_t n;
        memcpy(&n, buf + off + 32, 8);
        if (n > size - off - 44) return;
        uint32_t crc = elmo_crc32(0, buf + off + 44, (size_t)n);
        memcpy(buf + off + 40, &crc, 4);
        off += 44 + (size_t)n;
    }
}

void fuzz_container_passes(const uint8_t *data, size_t size, const char *name,
                           void (*check)(const char *path)) {
    check(fuzz_write(name, data, size));
    if (size < 12) return; /* no section to fix */
    uint8_t *fixed = malloc(size);
    if (!fixed) return;
    memcpy(fixed, data, size);
    fuzz_fix_crcs(fixed, size);
    if (memcmp(fixed, data, size) != 0) check(fuzz_write(name, fixed, size));
    free(fixed);
}

const char *fuzz_fixture(const char *rel) {
    static char bufs[4][1024];
    static int k;
    const char *root = getenv("ELMO_FIXTURES");
#ifdef ELMO_FIXTURES_DIR
    if (!root) root = ELMO_FIXTURES_DIR;
#endif
    if (!root) return NULL;
    char *b = bufs[k++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", root, rel);
    return access(b, R_OK) == 0 ? b : NULL;
}

const char *fuzz_tiny_model_dir(void) {
    static char dir[600];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", fuzz_path("tiny_model"));
        if (elmo_random_model_write(dir, FUZZ_TINY_OPTIONS, FUZZ_TINY_SEED)) {
            fprintf(stderr, "fuzz: cannot write the tiny model: %s\n", elmo_last_error());
            abort();
        }
    }
    return dir;
}

const char *fuzz_train_setup(elmo_train_config *c) {
    static char opts[600], vocab[600], data[600], dir[600], ckpt[700];
    static const char *files[1];
    if (!opts[0]) {
        snprintf(opts, sizeof opts, "%s",
                 fuzz_write("train_options.json", FUZZ_TINY_TRAIN_OPTIONS,
                            sizeof FUZZ_TINY_TRAIN_OPTIONS - 1));
        snprintf(vocab, sizeof vocab, "%s",
                 fuzz_write("train_vocab.txt", FUZZ_TRAIN_VOCAB, sizeof FUZZ_TRAIN_VOCAB - 1));
        snprintf(data, sizeof data, "%s",
                 fuzz_write("train_data.txt", FUZZ_TRAIN_TEXT, sizeof FUZZ_TRAIN_TEXT - 1));
        snprintf(dir, sizeof dir, "%s", fuzz_path("save"));
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", dir);
        mkdir(dir, 0755);
        files[0] = data;
    }
    elmo_train_config_init(c);
    c->options_path = opts;
    c->vocab_path = vocab;
    c->train_files = files;
    c->n_train_files = 1;
    c->save_dir = dir;
    c->max_steps = 3;
    c->batch_size = 2;
    c->unroll_steps = 3;
    c->threads = 1;
    c->seed = 1;
    c->checkpoint_every = 1000;
    return ckpt;
}

void fuzz_check_error(elmo_status s) {
    if (s == ELMO_OK) return;
    const char *e = elmo_last_error();
    if (!e[0]) {
        fprintf(stderr, "fuzz: status %d (%s) with an empty error message\n", (int)s,
                elmo_status_name(s));
        abort();
    }
    if (strchr(e, '\n') || strchr(e, '\r')) {
        fprintf(stderr, "fuzz: error message of more than one line: %s\n", e);
        abort();
    }
}

void fuzz_check_utf8(const char *s, size_t len) {
    if (elmo_utf8_valid_prefix(s, len) != len) {
        fprintf(stderr, "fuzz: invalid UTF-8 handed out (%zu bytes)\n", len);
        abort();
    }
}
