/* head_file.c: the file format the classifier and the tagger share (head_file.h). */
#include "tasks/head_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/textdata.h"

static void put_fingerprint(cJSON *m, const char *key, uint64_t fp) {
    char s[32];
    snprintf(s, sizeof s, "%016llx", (unsigned long long)fp);
    cJSON_AddStringToObject(m, key, s);
}

void elmo_head_desc_put(cJSON *m, const elmo_head_desc *h, const char *names_key) {
    cJSON_AddNumberToObject(m, "hidden", h->hidden);
    cJSON_AddNumberToObject(m, "K", h->K);
    cJSON_AddNumberToObject(m, "D", h->D);
    cJSON_AddNumberToObject(m, "static_dim", h->Ds);
    put_fingerprint(m, "bilm_fingerprint", h->bilm_fp);
    cJSON_AddStringToObject(m, "bilm_dir", h->bilm_dir ? h->bilm_dir : "");
    put_fingerprint(m, "static_fingerprint", h->static_fp);
    if (h->static_path) cJSON_AddStringToObject(m, "static_vectors", h->static_path);
    cJSON *names = cJSON_AddArrayToObject(m, names_key);
    for (int k = 0; k < h->n_names; k++)
        cJSON_AddItemToArray(names, cJSON_CreateString(h->names[k]));
}

elmo_status elmo_head_file_begin(elmo_ckpt_writer *w, const char *path, const char *magic,
                                 int version, cJSON *m, const float *params, size_t n_params) {
    char *txt = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    if (!txt) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s = elmo_ckpt_begin(w, path, magic, version);
    if (!s) {
        elmo_ckpt_put(w, "meta", txt, strlen(txt));
        elmo_ckpt_put(w, "params", params, sizeof(float) * n_params);
    }
    free(txt);
    return s;
}

elmo_status elmo_head_file_open(const char *path, const char *magic, int version, elmo_ckpt *ck,
                                cJSON **m) {
    *m = NULL;
    elmo_status s = elmo_ckpt_read(path, magic, version, ck);
    if (s) {
        memset(ck, 0, sizeof *ck);
        return s;
    }
    const char *d;
    size_t nb;
    if (!(s = elmo_ckpt_get(ck, "meta", SIZE_MAX, &d, &nb))) *m = cJSON_ParseWithLength(d, nb);
    return s;
}

int elmo_head_json_int(const cJSON *m, const char *key, int *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(m, key);
    if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 1e8) return -1;
    *out = (int)x->valuedouble;
    return 0;
}

elmo_status elmo_head_desc_get(const cJSON *m, const char *path, const char *what,
                               const char *names_key, const char *name, int max_names,
                               elmo_head_desc *h) {
    memset(h, 0, sizeof *h);
    const cJSON *names = cJSON_GetObjectItem(m, names_key);
    const cJSON *fp = cJSON_GetObjectItem(m, "bilm_fingerprint"),
                *dir = cJSON_GetObjectItem(m, "bilm_dir");
    const cJSON *sp = cJSON_GetObjectItem(m, "static_vectors"),
                *sfp = cJSON_GetObjectItem(m, "static_fingerprint");
    if (!m || !cJSON_IsArray(names) || !cJSON_IsString(fp) || elmo_head_json_int(m, "K", &h->K) ||
        elmo_head_json_int(m, "D", &h->D) || elmo_head_json_int(m, "static_dim", &h->Ds) ||
        elmo_head_json_int(m, "hidden", &h->hidden))
        return elmo_fail(ELMO_ERR_FORMAT, "%s: damaged %s description", path, what);
    h->bilm_fp = strtoull(fp->valuestring, NULL, 16);
    h->static_fp = cJSON_IsString(sfp) ? strtoull(sfp->valuestring, NULL, 16) : 0;
    h->bilm_dir = strdup(cJSON_IsString(dir) ? dir->valuestring : "");
    if (cJSON_IsString(sp)) h->static_path = strdup(sp->valuestring);
    if (!h->bilm_dir || (cJSON_IsString(sp) && !h->static_path))
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    int n = cJSON_GetArraySize(names);
    if (n < 2 || n > max_names) return elmo_fail(ELMO_ERR_FORMAT, "%s: bad %s list", path, name);
    if (!(h->names = calloc((size_t)n, sizeof(char *))))
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    h->n_names = n;
    for (int k = 0; k < n; k++) {
        const cJSON *x = cJSON_GetArrayItem(names, k);
        if (!cJSON_IsString(x) || elmo_label_control_char(x->valuestring))
            return elmo_fail(ELMO_ERR_FORMAT, "%s: bad %s list", path, name);
        if (!(h->names[k] = strdup(x->valuestring)))
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    }
    return ELMO_OK;
}

void elmo_head_desc_free(elmo_head_desc *h) {
    for (int k = 0; h->names && k < h->n_names; k++) free(h->names[k]);
    free(h->names);
    free(h->bilm_dir);
    free(h->static_path);
    memset(h, 0, sizeof *h);
}
