/*
 * options.c: options.json (bilm-tf's format, https://github.com/allenai/bilm-tf) into an
 * elmo_config, with every rule checked: required keys, value ranges, and the derived structure
 * (CNN projection iff F != P, LSTM projection iff P < H). Clip values absent, null or 0 mean
 * "no clip".
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "core/options.h"
#include "io/params.h"
#include "io/util.h"

#define MAX_OPTIONS_BYTES (1 << 20)

elmo_status elmo_read_file(const char *path, size_t max_bytes, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return elmo_fail(ELMO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                free(buf);
                fclose(f);
                return elmo_fail(ELMO_ERR_FORMAT, "%s: file larger than %zu bytes", path,
                                 max_bytes);
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return elmo_fail(ELMO_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return ELMO_OK;
}

/* Integer option: must be a whole number within [lo, hi]. */
static elmo_status get_int(const char *path, const cJSON *obj, const char *section, const char *key,
                           int required, int dflt, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return elmo_fail(ELMO_ERR_FORMAT, "%s: missing required option %s.%s", path, section,
                             key);
        *out = dflt;
        return ELMO_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return elmo_fail(ELMO_ERR_FORMAT, "%s: option %s.%s must be an integer in [%d, %d]", path,
                         section, key, lo, hi);
    *out = (int)v->valuedouble;
    return ELMO_OK;
}

static elmo_status get_clip(const char *path, const cJSON *obj, const char *key, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = 0.0f;
    if (!v || cJSON_IsNull(v)) return ELMO_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || !(v->valuedouble <= FLT_MAX))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: option lstm.%s must be a non-negative number", path,
                         key);
    *out = (float)v->valuedouble;
    return ELMO_OK;
}

static elmo_status get_bool(const char *path, const cJSON *obj, const char *section,
                            const char *key, int required, int dflt, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return elmo_fail(ELMO_ERR_FORMAT, "%s: missing required option %s.%s", path, section,
                             key);
        *out = dflt;
        return ELMO_OK;
    }
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return ELMO_OK;
    }
    if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
        *out = (int)v->valuedouble;
        return ELMO_OK;
    }
    return elmo_fail(ELMO_ERR_FORMAT, "%s: option %s.%s must be true or false", path, section, key);
}

elmo_status elmo_config_from_json(const char *path, const cJSON *root, elmo_config *c) {
    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(root))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: options must be a JSON object", path);
    const cJSON *lstm = cJSON_GetObjectItemCaseSensitive(root, "lstm");
    const cJSON *cnn = cJSON_GetObjectItemCaseSensitive(root, "char_cnn");
    if (!cJSON_IsObject(lstm))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: missing object \"lstm\"", path);
    if (!cJSON_IsObject(cnn))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: missing object \"char_cnn\"", path);
    elmo_status s;
    const int BIG = 1 << 20;
    if ((s = get_int(path, lstm, "lstm", "dim", 1, 0, 1, BIG, &c->lstm_dim)) ||
        (s = get_int(path, lstm, "lstm", "projection_dim", 1, 0, 1, BIG, &c->projection_dim)) ||
        (s = get_int(path, lstm, "lstm", "n_layers", 0, 1, 1, ELMO_MAX_LAYERS, &c->n_layers)) ||
        (s = get_clip(path, lstm, "cell_clip", &c->cell_clip)) ||
        (s = get_clip(path, lstm, "proj_clip", &c->proj_clip)) ||
        (s = get_bool(path, lstm, "lstm", "use_skip_connections", 0, 0, &c->use_skip_connections)))
        return s;
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(cnn, "embedding");
    if (!cJSON_IsObject(emb))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: missing object char_cnn.embedding", path);
    if ((s = get_int(path, emb, "char_cnn.embedding", "dim", 1, 0, 1, 4096, &c->char_embed_dim)) ||
        (s = get_int(path, cnn, "char_cnn", "n_highway", 0, 0, 0, ELMO_MAX_HIGHWAY,
                     &c->n_highway)) ||
        (s = get_int(path, cnn, "char_cnn", "n_characters", 0, 262, 261, 262, &c->n_characters)) ||
        (s = get_int(path, cnn, "char_cnn", "max_characters_per_token", 0, 50, 3, 4096,
                     &c->max_chars)))
        return s;
    const cJSON *filters = cJSON_GetObjectItemCaseSensitive(cnn, "filters");
    if (!cJSON_IsArray(filters) || cJSON_GetArraySize(filters) < 1)
        return elmo_fail(ELMO_ERR_FORMAT,
                         "%s: option char_cnn.filters must be a non-empty list of [width, count]",
                         path);
    if (cJSON_GetArraySize(filters) > ELMO_MAX_FILTER_BANKS)
        return elmo_fail(ELMO_ERR_FORMAT, "%s: more than %d filter banks in char_cnn.filters", path,
                         ELMO_MAX_FILTER_BANKS);
    const cJSON *fb;
    int i = 0;
    long total = 0;
    cJSON_ArrayForEach(fb, filters) {
        const cJSON *w = cJSON_GetArrayItem(fb, 0), *n = cJSON_GetArrayItem(fb, 1);
        if (!cJSON_IsArray(fb) || cJSON_GetArraySize(fb) != 2 || !cJSON_IsNumber(w) ||
            !cJSON_IsNumber(n) || w->valuedouble != floor(w->valuedouble) ||
            n->valuedouble != floor(n->valuedouble) || w->valuedouble < 1 || n->valuedouble < 1 ||
            n->valuedouble > BIG)
            return elmo_fail(ELMO_ERR_FORMAT,
                             "%s: char_cnn.filters[%d] must be [width, count] with positive "
                             "integers",
                             path, i);
        if (w->valuedouble > c->max_chars) /* printed as a double: it may not fit an int */
            return elmo_fail(ELMO_ERR_FORMAT,
                             "%s: char_cnn.filters[%d] width %.0f exceeds max_characters_per_token "
                             "%d",
                             path, i, w->valuedouble, c->max_chars);
        c->filter_width[i] = (int)w->valuedouble;
        c->filter_count[i] = (int)n->valuedouble;
        total += c->filter_count[i];
        i++;
    }
    c->n_banks = i;
    if (total > BIG) return elmo_fail(ELMO_ERR_FORMAT, "%s: too many CNN filters", path);
    c->n_filters = (int)total;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cnn, "activation");
    if (!act || cJSON_IsNull(act))
        c->activation = ELMO_ACT_RELU;
    else if (cJSON_IsString(act) && strcmp(act->valuestring, "relu") == 0)
        c->activation = ELMO_ACT_RELU;
    else if (cJSON_IsString(act) && strcmp(act->valuestring, "tanh") == 0)
        c->activation = ELMO_ACT_TANH;
    else
        return elmo_fail(ELMO_ERR_FORMAT,
                         "%s: option char_cnn.activation must be \"relu\" or "
                         "\"tanh\"",
                         path);
    c->has_cnn_proj = c->n_filters != c->projection_dim;
    c->has_lstm_proj = c->projection_dim < c->lstm_dim;
    if (c->has_cnn_proj && c->n_filters < c->projection_dim)
        return elmo_fail(ELMO_ERR_FORMAT,
                         "%s: the CNN has %d filters, fewer than projection_dim %d (bilm-tf "
                         "requires F >= P)",
                         path, c->n_filters, c->projection_dim);
    if (c->projection_dim > c->lstm_dim)
        return elmo_fail(ELMO_ERR_FORMAT, "%s: projection_dim %d is larger than lstm.dim %d", path,
                         c->projection_dim, c->lstm_dim);
    /* dimensions claiming more memory than there is: refused here, before any allocation */
    size_t n = elmo_params_count(c);
    if (!elmo_alloc_ok(elmo_mul_size(n, sizeof(float))))
        return elmo_fail(ELMO_ERR_NOMEM,
                         "%s: a model of these dimensions has %zu parameters (%.1f GiB), more than "
                         "the memory available (%.1f GiB)",
                         path, n, (double)n * sizeof(float) / 1073741824.0,
                         (double)elmo_memory_available() / 1073741824.0);
    return ELMO_OK;
}

int elmo_json_dup_key(const cJSON *x, char *path, size_t n, size_t at) {
    for (const cJSON *a = x ? x->child : NULL; a; a = a->next) {
        if (cJSON_IsObject(x))
            for (const cJSON *b = x->child; b != a; b = b->next)
                if (a->string && b->string && strcmp(a->string, b->string) == 0) {
                    snprintf(path + at, n - at, "%s%s", at ? "." : "", a->string);
                    return 1;
                }
        size_t end = at;
        if (cJSON_IsObject(x) && a->string)
            end += (size_t)snprintf(path + at, n - at, "%s%s", at ? "." : "", a->string);
        else if (cJSON_IsArray(x))
            end += (size_t)snprintf(path + at, n - at, "[]");
        if (end >= n) end = n - 1;
        if (elmo_json_dup_key(a, path, n, end)) return 1;
        path[at] = 0;
    }
    return 0;
}

elmo_status elmo_json_load(const char *path, cJSON **out) {
    char *text;
    size_t len;
    elmo_status s = elmo_read_file(path, MAX_OPTIONS_BYTES, &text, &len);
    if (s) return s;
    if (strlen(text) != len) {
        free(text);
        return elmo_fail(ELMO_ERR_FORMAT, "%s: malformed JSON (contains a NUL byte)", path);
    }
    const char *end = NULL;
    size_t bom = len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0; /* UTF-8 BOM */
    /* the length includes the terminating NUL: cJSON 1.7.15 needs it to see the end */
    cJSON *root = cJSON_ParseWithLengthOpts(text + bom, len - bom + 1, &end, 1);
    if (!root) {
        /* report the line of the parse error */
        size_t off = end ? (size_t)(end - text) : 0, line = 1;
        for (size_t k = 0; k < off && k < len; k++) line += text[k] == '\n';
        free(text);
        return elmo_fail(ELMO_ERR_FORMAT, "%s:%zu: malformed JSON", path, line);
    }
    free(text);
    char key[256] = "";
    if (elmo_json_dup_key(root, key, sizeof key, 0)) { /* Python's json would take the last */
        cJSON_Delete(root);
        return elmo_fail(ELMO_ERR_FORMAT, "%s: duplicate key \"%s\"", path, key);
    }
    *out = root;
    return ELMO_OK;
}

elmo_status elmo_config_load(const char *path, elmo_config *out) {
    cJSON *root;
    elmo_status s = elmo_json_load(path, &root);
    if (s) return s;
    s = elmo_config_from_json(path, root, out);
    cJSON_Delete(root);
    return s;
}

/* FLOPs per token position (every product of the forward pass; multiply-add = 2). */
double elmo_config_cnn_flops(const elmo_config *c) {
    double macs = 0;
    for (int i = 0; i < c->n_banks; i++)
        macs += (double)(c->max_chars - c->filter_width[i] + 1) * c->filter_width[i] *
                c->char_embed_dim * c->filter_count[i];
    macs += (double)c->n_highway * 2.0 * c->n_filters * c->n_filters;
    if (c->has_cnn_proj) macs += (double)c->n_filters * c->projection_dim;
    return 2 * macs;
}

double elmo_config_lstm_flops(const elmo_config *c) {
    int P = c->projection_dim, H = c->lstm_dim, out = c->has_lstm_proj ? P : H;
    double per = (double)(P + out) * 4 * H + (c->has_lstm_proj ? (double)H * P : 0);
    return 2 * 2.0 * c->n_layers * per;
}
