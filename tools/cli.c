/*
 * cli.c: flag parsing, model resolution, errors and progress for the elmo tool.
 */
#include "cli.h"
#include "io/textio.h"

#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/util.h"

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "elmo %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_lib_error(const char *cmd, elmo_status s) {
    const char *msg = elmo_last_error();
    return cli_error(cmd, "%s", msg && *msg ? msg : elmo_status_name(s));
}

/* " [X]": the option's initial value as its default, or "" when the help text states the
 * default itself, "(default X)": options whose initial value is a sentinel (0 or -1 = "from
 * the model's options"). */
static void format_default(const cli_opt *o, char *out, size_t size) {
    out[0] = 0;
    if (o->help && strstr(o->help, "(default ")) return;
    switch (o->type) {
        case OPT_STR:
            if (*(const char **)o->ptr) snprintf(out, size, " [%s]", *(const char **)o->ptr);
            break;
        case OPT_INT: snprintf(out, size, " [%d]", *(int *)o->ptr); break;
        case OPT_FLOAT: snprintf(out, size, " [%g]", *(double *)o->ptr); break;
        default: break;
    }
}

void cli_usage(const char *cmd, const char *usage, const cli_opt *opts) {
    fprintf(stderr, "usage: elmo %s %s\n", cmd, usage);
    for (const cli_opt *o = opts; o->name; o++) {
        char dflt[64];
        format_default(o, dflt, sizeof dflt);
        fprintf(stderr, "  %-22s %s%s\n", o->name, o->help ? o->help : "", dflt);
    }
}

static int parse_number(const char *cmd, const cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x))
        return cli_error(cmd, "option %s expects a number, got '%s'", o->name, v) + 1;
    if (o->type == OPT_INT && x != floor(x))
        return cli_error(cmd, "option %s expects an integer, got '%s'", o->name, v) + 1;
    if ((o->lo != 0 || o->hi != 0) && (x < o->lo || x > o->hi))
        return cli_error(cmd, "option %s must be in [%g, %g], got %s", o->name, o->lo, o->hi, v) +
               1;
    if (o->type == OPT_INT)
        *(int *)o->ptr = (int)x;
    else
        *(double *)o->ptr = x;
    return 0;
}

int cli_parse(const char *cmd, const char *usage, cli_opt *opts, int argc, char **argv,
              const char **pos, int max_pos, int *n_pos) {
    if (n_pos) *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_usage(cmd, usage, opts);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0 || strcmp(a, "-") == 0) {
            if (!pos || !n_pos || *n_pos >= max_pos) {
                cli_error(cmd, "unexpected argument '%s' (see elmo %s --help)", a, cmd);
                return 2;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        cli_opt *o = opts;
        while (o->name && strcmp(o->name, a) != 0) o++;
        if (!o->name) {
            cli_error(cmd, "unknown option %s (see elmo %s --help)", a, cmd);
            return 2;
        }
        if (o->type == OPT_BOOL) {
            *(int *)o->ptr = 1;
            continue;
        }
        if (o->type == OPT_LIST) {
            cli_list *l = o->ptr;
            l->items = (const char **)&argv[i + 1];
            l->n = 0;
            while (i + 1 < argc && (strncmp(argv[i + 1], "--", 2) != 0)) {
                i++;
                l->n++;
            }
            if (l->n == 0) {
                cli_error(cmd, "option %s expects at least one value", a);
                return 2;
            }
            continue;
        }
        if (i + 1 >= argc) {
            cli_error(cmd, "option %s expects a value", a);
            return 2;
        }
        const char *v = argv[++i];
        if (o->type == OPT_STR) {
            *(const char **)o->ptr = v;
        } else if (parse_number(cmd, o, v)) {
            return 2;
        }
    }
    return 0;
}

int cli_check_utf8(const char *cmd, const char *name, uint64_t lineno, const char *line,
                   size_t len) {
    size_t vl = elmo_utf8_valid_prefix(line, len);
    if (vl == len) return 0;
    cli_error(cmd, "%s:%llu: invalid UTF-8 at byte %zu", name, (unsigned long long)lineno, vl + 1);
    return 1;
}

int cli_check_output(const char *cmd, const char *path, const char *const *inputs, int n_inputs) {
    elmo_status s = elmo_output_check(path, inputs, n_inputs);
    return s ? cli_lib_error(cmd, s) : 0;
}

int cli_skip_special(const char *cmd, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return 0;
    const char *what = S_ISFIFO(st.st_mode)   ? "a FIFO"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "a device";
    fprintf(stderr, "elmo %s: %s: not a regular file (%s): skipped\n", cmd, path, what);
    return 1;
}

static void on_fatal_signal(int sig) {
    elmo_temp_remove_all();
    signal(sig, SIG_DFL);
    raise(sig); /* delivered when the handler returns */
}

void cli_cleanup_on_signals(void) {
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        struct sigaction old;
        /* a signal ignored by the parent (nohup) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

int cli_finish_stdout(const char *cmd, int rc) {
    errno = 0;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int err = errno;
    if (fclose(stdout) != 0 && !bad) bad = 1, err = errno;
    if (!bad) return rc;
    cli_error(cmd, "error writing standard output: %s", err ? strerror(err) : "write error");
    return 1;
}

const char *cli_default_model_dir(void) {
    static const char *candidates[] = {
#ifdef ELMO_INSTALLED_MODEL_DIR
        ELMO_INSTALLED_MODEL_DIR,
#endif
#ifdef ELMO_SOURCE_MODEL_DIR
        ELMO_SOURCE_MODEL_DIR,
#endif
        NULL};
    const char *env = getenv("ELMO_MODEL");
    if (env && *env) return env;
    for (int i = 0; candidates[i]; i++) {
        char *o = elmo_path_join(candidates[i], "weights.hdf5");
        int ok = o && access(o, R_OK) == 0;
        free(o);
        if (ok) return candidates[i];
    }
    return NULL;
}

int cli_precision(const char *cmd, const char *name, elmo_precision *out) {
    *out = ELMO_PRECISION_FP32;
    if (name && elmo_precision_parse(name, out) != ELMO_OK)
        return cli_error(cmd, "--precision must be fp32, bf16, int8 or auto, got '%s'", name);
    if ((*out == ELMO_PRECISION_BF16 || *out == ELMO_PRECISION_INT8) && !elmo_cpu_has_native_bf16())
        fprintf(stderr,
                "elmo %s: note: this CPU has no native bfloat16 matrix instructions (AMX, "
                "AVX-512-BF16): bf16 is emulated in float32, no faster than fp32\n",
                cmd);
    return 0;
}

elmo_model *cli_load_model(const char *cmd, const cli_model *m) {
    elmo_model *model = NULL;
    elmo_status s;
    elmo_precision prec;
    if (cli_precision(cmd, m->precision, &prec)) return NULL;
    if (m->model_dir && (m->options || m->weights)) {
        cli_error(cmd, "give either --model DIR or --options and --weights, not both");
        return NULL;
    }
    if (m->options || m->weights) {
        if (!m->options || !m->weights) {
            cli_error(cmd, "--options and --weights go together");
            return NULL;
        }
        s = elmo_model_load(m->options, m->weights, &model);
    } else {
        const char *dir = m->model_dir ? m->model_dir : cli_default_model_dir();
        if (!dir) {
            cli_error(cmd, "no model given and no default model found (use --model DIR or set "
                           "ELMO_MODEL)");
            return NULL;
        }
        s = elmo_model_load_dir(dir, &model);
    }
    if (!s && (s = elmo_model_set_precision(model, prec))) elmo_model_free(model);
    if (s) {
        cli_lib_error(cmd, s);
        return NULL;
    }
    return model;
}

const char *cli_resolve_recorded(const char *recorded, const char *model_file) {
    static char buf[PATH_MAX];
    if (!recorded || !*recorded || recorded[0] == '/' || access(recorded, R_OK) == 0)
        return recorded;
    char *d = strdup(model_file);
    if (!d) return recorded;
    snprintf(buf, sizeof buf, "%s/%s", dirname(d), recorded);
    free(d);
    return access(buf, R_OK) == 0 ? buf : recorded;
}

elmo_model *cli_load_recorded_model(const char *cmd, const char *model_dir, const char *recorded,
                                    const char *precision, const char **used) {
    static char abs_dir[PATH_MAX]; /* recorded in classifier/tagger files: absolute */
    cli_model mo = {0};
    mo.model_dir = model_dir;
    mo.precision = precision;
    if (!mo.model_dir && recorded && *recorded && access(recorded, R_OK) == 0)
        mo.model_dir = recorded;
    if (!mo.model_dir) mo.model_dir = cli_default_model_dir();
    *used = mo.model_dir;
    elmo_model *m = cli_load_model(cmd, &mo);
    if (m && mo.model_dir && realpath(mo.model_dir, abs_dir)) *used = abs_dir;
    return m;
}

void progress_start(cli_progress *p, const char *what, uint64_t total) {
    p->what = what;
    p->t0 = p->last = elmo_now();
    p->tty = isatty(2);
    p->total = total;
    p->log_every = 30.0;
}

static void fmt_eta(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "?");
        return;
    }
    int h = (int)(s / 3600), m = (int)(s / 60) % 60, sec = (int)s % 60;
    if (h)
        snprintf(buf, n, "%dh%02dm", h, m);
    else
        snprintf(buf, n, "%dm%02ds", m, sec);
}

void progress_update(cli_progress *p, uint64_t done, const char *tail) {
    double now = elmo_now();
    if (now - p->last < (p->tty ? 0.1 : p->log_every)) return;
    p->last = now;
    double el = now - p->t0;
    char eta[32] = "?";
    if (p->total && done > 0) fmt_eta(eta, sizeof eta, el * ((double)p->total / done - 1));
    if (p->total)
        fprintf(stderr, "%s%s: %5.1f%% %s, ETA %s%s", p->tty ? "\r" : "", p->what,
                100.0 * done / p->total, tail ? tail : "", eta, p->tty ? "\033[K" : "\n");
    else
        fprintf(stderr, "%s%s: %s%s", p->tty ? "\r" : "", p->what, tail ? tail : "",
                p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

void progress_end(cli_progress *p, const char *summary) {
    if (p->tty) fprintf(stderr, "\r\033[K");
    if (summary) fprintf(stderr, "%s: %s\n", p->what, summary);
}

/* Expand each pattern with glob(3) (sorted); a pattern matching nothing is an error. A
 * wildcard's matches that are not regular files (a FIFO would block the reader) are skipped
 * with a message: moved after the *n kept ones (glob_t still owns them); a path given
 * literally is kept whatever it is (a pipe from process substitution reads fine). */
int cli_expand_globs(const char *cmd, const cli_list *in, glob_t *g, int *n) {
    memset(g, 0, sizeof *g);
    *n = 0;
    for (int i = 0; i < in->n; i++) {
        size_t before = g->gl_pathc;
        int r = glob(in->items[i], i ? GLOB_APPEND : 0, NULL, g);
        if (r == GLOB_NOMATCH) return cli_error(cmd, "%s: no such file", in->items[i]);
        if (r) return cli_error(cmd, "%s: cannot expand the pattern", in->items[i]);
        int wild = strpbrk(in->items[i], "*?[") != NULL;
        for (size_t k = before; k < g->gl_pathc; k++) {
            if (wild && cli_skip_special(cmd, g->gl_pathv[k])) continue;
            char *keep = g->gl_pathv[k]; /* stable: kept ones in order, skipped ones after */
            memmove(g->gl_pathv + *n + 1, g->gl_pathv + *n, sizeof(char *) * (k - (size_t)*n));
            g->gl_pathv[(*n)++] = keep;
        }
    }
    if (*n == 0) return cli_error(cmd, "no regular files to read");
    return 0;
}
