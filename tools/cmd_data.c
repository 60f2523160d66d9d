/*
 * cmd_data.c: `elmo data MODE`: the corpora (fetched by scripts/fetch_data.sh) into the text
 * files the rest of the project uses. Formats and rules: docs/data.md.
 *   brown         Brown corpus files -> one tokenized sentence per line (train / held-out)
 *   text          prose (plain text or JSON with "text") -> sentence-split, tokenized lines
 *   spamassassin  SpamAssassin messages -> label<TAB>text
 * Every output is written atomically (temporary file renamed into place).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "cli.h"
#include "commands.h"
#include "text/mail.h"
#include "core/options.h"
#include "io/textio.h"
#include "text/tokenize.h"
#include "io/util.h"

#define MAX_INPUT_BYTES ((size_t)1 << 30)
#define MAX_LINE_BYTES ((size_t)1 << 24)

/* ---- atomic output files */

typedef struct {
    elmo_atomic_file a;
    FILE *f;
} out_file;

static int out_open(const char *cmd, out_file *o, const char *path) {
    memset(o, 0, sizeof *o);
    elmo_status s = elmo_atomic_begin(&o->a, path);
    if (s) return cli_lib_error(cmd, s);
    o->f = fopen(o->a.tmp, "wb");
    if (!o->f) {
        cli_error(cmd, "%s: cannot create: %s", path, strerror(errno));
        elmo_atomic_abort(&o->a);
        return 1;
    }
    return 0;
}

static void out_abort(out_file *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->a.tmp) elmo_atomic_abort(&o->a);
}

static int out_commit(const char *cmd, out_file *o) {
    int bad = ferror(o->f);
    if (fclose(o->f) != 0) bad = 1;
    o->f = NULL;
    if (bad) {
        cli_error(cmd, "%s: write error: %s", o->a.path, strerror(errno));
        elmo_atomic_abort(&o->a);
        return 1;
    }
    elmo_status s = elmo_atomic_commit(&o->a);
    return s ? cli_lib_error(cmd, s) : 0;
}

static int out_write(out_file *o, const char *s, size_t n) {
    return o->f && fwrite(s, 1, n, o->f) == n ? 0 : -1;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Sorted entries of dir accepted by filter into *list (free with free_list); returns the
 * count, or -1 with the error printed. */
static int list_dir(const char *cmd, const char *dir, int (*filter)(const struct dirent *),
                    struct dirent ***list) {
    *list = NULL;
    int n = scandir(dir, list, filter, alphasort);
    if (n < 0) {
        *list = NULL;
        cli_error(cmd, "%s: cannot read directory: %s", dir, strerror(errno));
    }
    return n;
}

static void free_list(struct dirent **list, int n) {
    for (int i = 0; i < n; i++) free(list[i]);
    free(list); /* NULL when nothing matched */
}

/* ---- brown */

/* Corpus files: c + genre letter a-r + two digits (ca01 ... cr09). */
static int brown_file(const struct dirent *d) {
    const char *s = d->d_name;
    return strlen(s) == 4 && s[0] == 'c' && s[1] >= 'a' && s[1] <= 'r' && s[2] >= '0' &&
           s[2] <= '9' && s[3] >= '0' && s[3] <= '9';
}

/* Held out: the file's number is a multiple of 10 (ca10, ca20, ..., cj80). */
static int brown_heldout(const char *name) {
    return ((name[2] - '0') * 10 + (name[3] - '0')) % 10 == 0;
}

/* Tag normalisation (docs/data.md): drop every leading "fw-" and every trailing "-tl", "-hl",
 * "-nc" (and the truncated "-t", "-n" of two corpus typos); '+' compounds, '*' and '$' stay.
 * Returns the new length. */
static size_t brown_norm_tag(const char **tag, size_t n) {
    const char *t = *tag;
    while (n > 3 && memcmp(t, "fw-", 3) == 0) t += 3, n -= 3;
    for (;;) {
        if (n > 3 && (memcmp(t + n - 3, "-tl", 3) == 0 || memcmp(t + n - 3, "-hl", 3) == 0 ||
                      memcmp(t + n - 3, "-nc", 3) == 0))
            n -= 3;
        else if (n > 2 && t[n - 2] == '-' && (t[n - 1] == 't' || t[n - 1] == 'n') &&
                 t[n - 3] != '-')
            n -= 2;
        else
            break;
    }
    *tag = t;
    return n;
}

typedef struct {
    out_file out;
    const char *path;
    uint64_t files, sentences, tokens;
} brown_split;

static int brown_convert(const char *cmd, const char *path, int tagged, brown_split *sp) {
    elmo_line_reader r;
    elmo_status s = elmo_line_reader_open(&r, path, MAX_LINE_BYTES);
    if (s) return cli_lib_error(cmd, s);
    r.raw_bytes = 1; /* a converter: copies the corpus' bytes */
    size_t cap = 0, *st = NULL, *ln = NULL;
    elmo_strbuf line = {0};
    int rc = 0, got;
    while (rc == 0 && !(s = elmo_line_reader_next(&r, &got)) && got) {
        size_t n = elmo_split_whitespace(r.line, r.len, st, ln, cap);
        if (n > cap) {
            free(st);
            free(ln);
            cap = n * 2;
            st = malloc(cap * sizeof *st);
            ln = malloc(cap * sizeof *ln);
            if (!st || !ln) {
                rc = cli_error(cmd, "out of memory");
                break;
            }
            elmo_split_whitespace(r.line, r.len, st, ln, cap);
        }
        if (n == 0) continue;
        line.n = 0;
        for (size_t k = 0; k < n && rc == 0; k++) {
            const char *w = r.line + st[k];
            size_t slash = ln[k];
            while (slash > 0 && w[slash - 1] != '/') slash--;
            if (slash <= 1 || slash == ln[k]) {
                rc = cli_error(cmd, "%s:%llu: token '%.*s' is not WORD/TAG", path,
                               (unsigned long long)r.lineno, (int)(ln[k] > 80 ? 80 : ln[k]), w);
                break;
            }
            const char *tag = w + slash;
            size_t tl = brown_norm_tag(&tag, ln[k] - slash);
            if ((k && elmo_strbuf_add(&line, " ", 1)) || elmo_strbuf_add(&line, w, slash - 1) ||
                (tagged && (elmo_strbuf_add(&line, "/", 1) || elmo_strbuf_add(&line, tag, tl))))
                rc = cli_error(cmd, "out of memory");
        }
        if (rc) break;
        if (elmo_strbuf_add(&line, "\n", 1) || out_write(&sp->out, line.p, line.n)) {
            rc = cli_error(cmd, "%s: write error: %s", sp->path, strerror(errno));
            break;
        }
        sp->sentences++;
        sp->tokens += n;
    }
    if (rc == 0 && s) rc = cli_lib_error(cmd, s);
    elmo_line_reader_close(&r);
    free(st);
    free(ln);
    elmo_strbuf_free(&line);
    sp->files++;
    return rc;
}

static int data_brown(int argc, char **argv) {
    const char *cmd = "data brown", *input = NULL, *train = NULL, *heldout = NULL;
    int tagged = 0;
    cli_opt opts[] = {
        {"--input", OPT_STR, &input, 0, 0, "directory with the Brown corpus files ca01 ... cr09"},
        {"--train", OPT_STR, &train, 0, 0, "output: sentences of the other files"},
        {"--heldout", OPT_STR, &heldout, 0, 0,
         "output: sentences of the files numbered 10, 20, ..."},
        {"--tagged", OPT_BOOL, &tagged, 0, 0, "write word/TAG (normalised tags) instead of words"},
        {0}};
    const char *usage =
        "--input DIR [--train OUT.txt] [--heldout OUT.txt] [--tagged]\n"
        "  One sentence per line, tokens separated by single spaces, as tokenized in\n"
        "  the corpus. Held out: the files whose number is a multiple of 10.";
    int r = cli_parse(cmd, usage, opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!input) return cli_error(cmd, "--input DIR is required (see elmo %s --help)", cmd);
    if (!train && !heldout) return cli_error(cmd, "give --train and/or --heldout");
    if (!is_dir(input)) return cli_error(cmd, "%s: not a directory", input);
    struct dirent **list;
    int n = list_dir(cmd, input, brown_file, &list);
    if (n < 0) return 1;
    if (n == 0) {
        free_list(list, n);
        return cli_error(cmd, "%s: no Brown corpus files (ca01 ... cr09)", input);
    }
    brown_split sp[2] = {{.path = train}, {.path = heldout}};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++)
        if (sp[k].path) rc = out_open(cmd, &sp[k].out, sp[k].path);
    for (int i = 0; i < n && rc == 0; i++) {
        brown_split *s = &sp[brown_heldout(list[i]->d_name)];
        if (!s->path) continue;
        char *path = elmo_path_join(input, list[i]->d_name);
        rc = !path                         ? cli_error(cmd, "out of memory")
             : cli_skip_special(cmd, path) ? 0
                                           : brown_convert(cmd, path, tagged, s);
        free(path);
    }
    for (int k = 0; k < 2; k++) {
        if (!sp[k].path) continue;
        if (rc) {
            out_abort(&sp[k].out);
            continue;
        }
        rc = out_commit(cmd, &sp[k].out);
        if (rc == 0)
            fprintf(stderr, "elmo %s: %s: %llu files, %llu sentences, %llu tokens -> %s\n", cmd,
                    k ? "held-out" : "train", (unsigned long long)sp[k].files,
                    (unsigned long long)sp[k].sentences, (unsigned long long)sp[k].tokens,
                    sp[k].path);
    }
    free_list(list, n);
    return rc;
}

/* ---- text */

/* The texts of a JSON document: a string, an object's "text" string, or an array of these. */
static int json_texts(const cJSON *j, int depth, const cJSON **items, int max, int *n) {
    if (cJSON_IsString(j)) {
        if (*n < max) items[*n] = j;
        (*n)++;
    } else if (cJSON_IsObject(j)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (cJSON_IsString(t)) return json_texts(t, depth, items, max, n);
    } else if (cJSON_IsArray(j) && depth == 0) {
        const cJSON *e;
        cJSON_ArrayForEach(e, j) json_texts(e, depth + 1, items, max, n);
    }
    return *n;
}

typedef struct {
    out_file out;
    const char *path;
    uint64_t sentences, tokens;
    size_t *st, *ln, cap;
    elmo_strbuf line;
} text_out;

/* Sentence-split and tokenize one text (UTF-8 repaired first). */
static int text_convert(const char *cmd, const char *s, size_t len, text_out *o) {
    elmo_strbuf clean = {0};
    if (elmo_utf8_repair(s, len, &clean)) return cli_error(cmd, "out of memory");
    const char *t = clean.p ? clean.p : "";
    size_t tl = clean.n;
    if (tl >= 3 && memcmp(t, "\xef\xbb\xbf", 3) == 0) t += 3, tl -= 3; /* BOM */
    size_t n = elmo_split_sentences(t, tl, o->st, o->ln, o->cap);
    if (n > o->cap) {
        free(o->st);
        free(o->ln);
        o->cap = n;
        o->st = malloc(n * sizeof *o->st);
        o->ln = malloc(n * sizeof *o->ln);
        if (!o->st || !o->ln) {
            o->cap = 0;
            elmo_strbuf_free(&clean);
            return cli_error(cmd, "out of memory");
        }
        elmo_split_sentences(t, tl, o->st, o->ln, n);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        o->line.n = 0;
        size_t k = elmo_tokenize_simple(t + o->st[i], o->ln[i], &o->line);
        if (k == SIZE_MAX || elmo_strbuf_add(&o->line, "\n", 1)) {
            rc = cli_error(cmd, "out of memory");
        } else if (k > 0) {
            if (out_write(&o->out, o->line.p, o->line.n))
                rc = cli_error(cmd, "%s: write error: %s", o->path, strerror(errno));
            o->sentences++;
            o->tokens += k;
        }
    }
    elmo_strbuf_free(&clean);
    return rc;
}

static int text_file(const char *cmd, const char *path, text_out *o) {
    char *data;
    size_t len;
    if (is_dir(path)) return cli_error(cmd, "%s: is a directory", path);
    elmo_status s = elmo_read_file(path, MAX_INPUT_BYTES, &data, &len);
    if (s) return cli_lib_error(cmd, s);
    int rc = 0;
    if (ends_with(path, ".json")) {
        size_t bom = len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        cJSON *j = cJSON_ParseWithLength(data + bom, len - bom);
        char key[256] = "";
        if (!j) {
            rc = cli_error(cmd, "%s: invalid JSON", path);
        } else if (elmo_json_dup_key(j, key, sizeof key, 0)) {
            rc = cli_error(cmd, "%s: duplicate key \"%s\"", path, key);
            cJSON_Delete(j);
        } else {
            int n = 0;
            json_texts(j, 0, NULL, 0, &n);
            const cJSON **items = n ? malloc((size_t)n * sizeof *items) : NULL;
            if (n == 0) {
                rc = cli_error(cmd,
                               "%s: no text in the JSON (expected a string, an object with a "
                               "\"text\" string, or an array of these)",
                               path);
            } else if (!items) {
                rc = cli_error(cmd, "out of memory");
            } else {
                int m = 0;
                json_texts(j, 0, items, n, &m);
                for (int i = 0; i < n && rc == 0; i++)
                    rc = text_convert(cmd, items[i]->valuestring, strlen(items[i]->valuestring), o);
            }
            free(items);
            cJSON_Delete(j);
        }
    } else {
        rc = text_convert(cmd, data, len, o);
    }
    free(data);
    return rc;
}

static int data_text(int argc, char **argv) {
    const char *cmd = "data text", *output = NULL;
    cli_list inputs = {0};
    cli_opt opts[] = {
        {"--input", OPT_LIST, &inputs, 0, 0,
         "text files (UTF-8), or .json files with \"text\" strings"},
        {"--output", OPT_STR, &output, 0, 0, "output: one tokenized sentence per line"},
        {0}};
    const char *usage =
        "--input FILE... --output OUT.txt\n"
        "  Splits running text into sentences (a blank line always ends one) and\n"
        "  tokenizes them with the simple tokenizer; inputs are read in the given order.\n"
        "  A .json input holds a string, an object with a \"text\" string, or an array\n"
        "  of these.";
    int r = cli_parse(cmd, usage, opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (inputs.n == 0)
        return cli_error(cmd, "--input FILE... is required (see elmo %s --help)", cmd);
    if (!output) return cli_error(cmd, "--output OUT.txt is required");
    if (cli_check_output(cmd, output, inputs.items, inputs.n)) return 1;
    text_out o = {.path = output};
    int rc = out_open(cmd, &o.out, output);
    for (int i = 0; i < inputs.n && rc == 0; i++) rc = text_file(cmd, inputs.items[i], &o);
    if (rc)
        out_abort(&o.out);
    else
        rc = out_commit(cmd, &o.out);
    if (rc == 0)
        fprintf(stderr, "elmo %s: %d files, %llu sentences, %llu tokens -> %s\n", cmd, inputs.n,
                (unsigned long long)o.sentences, (unsigned long long)o.tokens, output);
    free(o.st);
    free(o.ln);
    elmo_strbuf_free(&o.line);
    return rc;
}

/* ---- spamassassin */

static int visible(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Label of a corpus directory: spam* -> spam, *ham* -> ham, else NULL (not a label). */
static const char *dir_label(const char *name) {
    if (strncmp(name, "spam", 4) == 0) return "spam";
    if (strstr(name, "ham")) return "ham";
    return NULL;
}

/* The raw message of one corpus file: a .json file is used only without a .txt twin (the npm
 * package has both; the .txt keeps the original bytes). Returns 1 = got one, 0 = skip. */
static int read_message(const char *cmd, const char *dir, const char *name, elmo_strbuf *raw,
                        int *rc) {
    *rc = 0;
    if (strcmp(name, "cmds") == 0) return 0;
    char *path = elmo_path_join(dir, name);
    if (!path) return (*rc = cli_error(cmd, "out of memory")), 0;
    int got = 0;
    if (is_dir(path) || cli_skip_special(cmd, path)) { /* a FIFO would block the read */
        free(path);
        return 0;
    }
    if (ends_with(name, ".json")) {
        size_t n = strlen(path);
        char *twin = malloc(n + 1);
        if (twin) {
            memcpy(twin, path, n - 5);
            strcpy(twin + n - 5, ".txt");
        }
        int has_twin = twin && elmo_file_exists(twin);
        free(twin);
        if (has_twin) {
            free(path);
            return 0;
        }
    }
    char *data;
    size_t len;
    elmo_status s = elmo_read_file(path, MAX_INPUT_BYTES, &data, &len);
    if (s) {
        *rc = cli_lib_error(cmd, s);
    } else if (ends_with(name, ".json")) {
        size_t bom = len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        cJSON *j = cJSON_ParseWithLength(data + bom, len - bom);
        const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
        char key[256] = "";
        if (j && elmo_json_dup_key(j, key, sizeof key, 0))
            *rc = cli_error(cmd, "%s: duplicate key \"%s\"", path, key);
        else if (!cJSON_IsString(t))
            *rc = cli_error(cmd, "%s: expected a JSON object with a \"text\" string", path);
        else if (elmo_strbuf_add(raw, t->valuestring, strlen(t->valuestring)))
            *rc = cli_error(cmd, "out of memory");
        else
            got = 1;
        cJSON_Delete(j);
        free(data);
    } else {
        if (elmo_strbuf_add(raw, data, len))
            *rc = cli_error(cmd, "out of memory");
        else
            got = 1;
        free(data);
    }
    free(path);
    return got;
}

static int data_spamassassin(int argc, char **argv) {
    const char *cmd = "data spamassassin", *input = NULL, *output = NULL;
    cli_opt opts[] = {
        {"--input", OPT_STR, &input, 0, 0,
         "corpus directory with spam*/ and *ham*/ subdirectories"},
        {"--output", OPT_STR, &output, 0, 0, "output TSV: label<TAB>text, one message per line"},
        {0}};
    const char *usage =
        "--input DIR --output OUT.tsv\n"
        "  Labels from the directory names (spam*: spam, *ham*: ham). Text = Subject +\n"
        "  body: MIME decoded (quoted-printable, base64, charsets to UTF-8), HTML\n"
        "  stripped, whitespace collapsed to single spaces.";
    int r = cli_parse(cmd, usage, opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!input) return cli_error(cmd, "--input DIR is required (see elmo %s --help)", cmd);
    if (!output) return cli_error(cmd, "--output OUT.tsv is required");
    if (!is_dir(input)) return cli_error(cmd, "%s: not a directory", input);
    if (cli_check_output(cmd, output, NULL, 0)) return 1;
    struct dirent **dirs;
    int nd = list_dir(cmd, input, visible, &dirs);
    if (nd < 0) return 1;
    out_file o;
    int rc = out_open(cmd, &o, output), labelled = 0;
    uint64_t count[2] = {0, 0}, empty = 0;
    elmo_strbuf raw = {0}, line = {0};
    for (int d = 0; d < nd && rc == 0; d++) {
        const char *label = dir_label(dirs[d]->d_name);
        char *sub = label ? elmo_path_join(input, dirs[d]->d_name) : NULL;
        if (!label || !sub || !is_dir(sub)) {
            free(sub);
            continue;
        }
        labelled++;
        struct dirent **files;
        int nf = list_dir(cmd, sub, visible, &files);
        if (nf < 0) rc = 1;
        for (int f = 0; f < nf && rc == 0; f++) {
            raw.n = 0;
            if (!read_message(cmd, sub, files[f]->d_name, &raw, &rc)) continue;
            line.n = 0;
            if (elmo_strbuf_add(&line, label, strlen(label)) || elmo_strbuf_add(&line, "\t", 1)) {
                rc = cli_error(cmd, "out of memory");
                break;
            }
            size_t before = line.n;
            elmo_status s = elmo_mail_text(raw.p ? raw.p : "", raw.n, &line);
            if (s) {
                rc = cli_lib_error(cmd, s);
                break;
            }
            if (line.n == before) { /* readers want a non-empty text: skipped, counted */
                empty++;
                continue;
            }
            if (elmo_strbuf_add(&line, "\n", 1) || out_write(&o, line.p, line.n)) {
                rc = cli_error(cmd, "%s: write error: %s", output, strerror(errno));
                break;
            }
            count[label[0] == 's']++;
        }
        if (nf >= 0) free_list(files, nf);
        free(sub);
    }
    if (rc == 0 && labelled == 0)
        rc = cli_error(cmd, "%s: no spam*/ or *ham*/ subdirectories", input);
    if (rc)
        out_abort(&o);
    else
        rc = out_commit(cmd, &o);
    if (rc == 0)
        fprintf(stderr,
                "elmo %s: %llu messages (ham %llu, spam %llu; %llu skipped: no text) -> %s\n", cmd,
                (unsigned long long)(count[0] + count[1]), (unsigned long long)count[0],
                (unsigned long long)count[1], (unsigned long long)empty, output);
    elmo_strbuf_free(&raw);
    elmo_strbuf_free(&line);
    free_list(dirs, nd);
    return rc;
}

/* ---- shard: mix corpora into shards of random lines */

/* Every input line goes to a shard drawn at random (seeded), in one streaming pass: memory
 * stays bounded and every shard is a sample of the whole mixture. The trainer shuffles
 * within a shard but visits shards one at a time, so training on separate files of
 * different domains would drift from domain to domain (the model ends up tuned to whichever
 * file it read last); training on these shards does not. */
static int data_shard(int argc, char **argv) {
    const char *cmd = "data shard", *dir = NULL;
    cli_list in = {0};
    int shards = 64, seed = 1;
    cli_opt opts[] = {
        {"--input", OPT_LIST, &in, 0, 0, "text files (one sentence per line)"},
        {"--output-dir", OPT_STR, &dir, 0, 0, "directory for shard-000.txt, shard-001.txt, ..."},
        {"--shards", OPT_INT, &shards, 1, 100000, "number of shards"},
        {"--seed", OPT_INT, &seed, 0, 2147483647, "seed of the assignment"},
        {0}};
    int r = cli_parse(cmd, "--input FILE... --output-dir DIR [--shards 64] [--seed 1]", opts, argc,
                      argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!in.n) return cli_error(cmd, "missing --input");
    if (!dir) return cli_error(cmd, "missing --output-dir");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cli_error(cmd, "%s: cannot create: %s", dir, strerror(errno));
    out_file *out = calloc((size_t)shards, sizeof *out);
    if (!out) return cli_error(cmd, "out of memory");
    int rc = 0, opened = 0;
    for (; !rc && opened < shards; opened++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/shard-%03d.txt", dir, opened);
        rc = out_open(cmd, &out[opened], path);
        if (rc) break;
    }
    elmo_rng rng;
    elmo_rng_seed(&rng, (uint64_t)seed);
    uint64_t lines = 0;
    for (int i = 0; !rc && i < in.n; i++) {
        elmo_line_reader rd;
        elmo_status st = elmo_line_reader_open(&rd, in.items[i], MAX_LINE_BYTES);
        if (st) {
            rc = cli_lib_error(cmd, st);
            break;
        }
        int got;
        elmo_status s = ELMO_OK;
        while (!rc && !(s = elmo_line_reader_next(&rd, &got)) && got) {
            out_file *o = &out[elmo_rng_below(&rng, (uint64_t)shards)];
            if (out_write(o, rd.line, rd.len) || out_write(o, "\n", 1))
                rc = cli_error(cmd, "%s: write error", dir);
            lines++;
        }
        if (!rc && s) rc = cli_lib_error(cmd, s);
        elmo_line_reader_close(&rd);
    }
    for (int i = 0; i < opened; i++)
        if (rc)
            out_abort(&out[i]);
        else if (out_commit(cmd, &out[i]))
            rc = 1;
    free(out);
    if (!rc)
        fprintf(stderr, "data shard: %llu lines from %d file(s) into %d shards in %s\n",
                (unsigned long long)lines, in.n, shards, dir);
    return rc;
}

/* ---- dispatch */

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} modes[] = {
    {"brown", data_brown, "Brown corpus -> train / held-out sentences (words or word/TAG)"},
    {"text", data_text, "prose (text or JSON) -> sentence-split, tokenized lines"},
    {"spamassassin", data_spamassassin, "SpamAssassin e-mails -> label<TAB>text"},
    {"shard", data_shard, "mix text files into shards of randomly assigned lines (for training)"},
    {NULL, NULL, NULL},
};

int cmd_data(int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fprintf(stderr,
                "usage: elmo data MODE [options]   (elmo data MODE --help for its options)\n\n");
        for (int i = 0; modes[i].name; i++)
            fprintf(stderr, "  %-14s %s\n", modes[i].name, modes[i].help);
        fprintf(stderr, "\nscripts/prepare_data.sh fetches the corpora and runs every mode; see "
                        "docs/data.md.\n");
        return argc < 1 ? 2 : 0;
    }
    for (int i = 0; modes[i].name; i++)
        if (strcmp(argv[0], modes[i].name) == 0) return modes[i].fn(argc - 1, argv + 1);
    cli_error("data", "unknown mode '%s' (brown, text, spamassassin, shard; see elmo data --help)",
              argv[0]);
    return 2;
}
