/*
 * train.c: training a biLM from scratch or from a trained model, as bilm-tf does
 * (https://github.com/allenai/bilm-tf, bilm/training.py):
 * two independent shuffled streams packed into B x T batches with LSTM states carried across
 * batches; one step = both directions forward and backward (on two threads), the gradients
 * summed, clipped to a global norm, and an Adagrad update (dense for the biLM, on touched
 * rows only for the softmax). Checkpoints hold everything a run depends on (parameters,
 * accumulators, carried states, data position, every random generator), so --resume
 * continues bit for bit.
 *
 * The save directory receives, at every checkpoint: checkpoint.bin, and the exported model:
 * options.json (inference form, n_characters 262), vocab.txt, weights.hdf5 (bilm-tf layout),
 * softmax.hdf5 (for `elmo perplexity` and further training); plus metrics.jsonl (one line per
 * logged step) and, at the end, curve.svg.
 *
 * Data parallelism (`mpirun -np N`, see dist.h): synchronous, and equal to one process with
 * the same global batch B by construction. Every rank packs the whole B x T batch (the same
 * streams, so it reads every training file) and computes rows [r*B/N, (r+1)*B/N) of it; the
 * loss weights use the global B; the sampled candidates are drawn from the same generator on
 * every rank; dropout masks are a function of (seed, step, direction, layer, global row, time
 * step, unit) (grad.h). After the backward pass one MPI_Allreduce sums, in one buffer: the
 * dense biLM gradient, the touched softmax rows (the union over ranks of both directions'
 * candidates and targets: target ids are all-gathered before the forward pass, so every rank
 * knows the union in the same order) and the two losses and the stop flag. Every rank then
 * takes the same clipped Adagrad step. Rank 0 alone writes checkpoints (the carried states of
 * all B rows gathered into the single-process layout), exports and metrics; on --resume it
 * reads the checkpoint and broadcasts it.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "kernels/matmul.h"
#include "io/checkpoint.h"
#include "io/dist.h"
#include "train/grad.h"
#include "io/h5io.h"
#include "train/optim.h"
#include "core/options.h"
#include "io/params.h"
#include "io/svgplot.h"
#include "train/train_data.h"
#include "io/util.h"
#include "train/vocab.h"

#define CKPT_MAGIC "ELMOCKPT"
#define CKPT_VERSION 1

void elmo_train_config_init(elmo_train_config *c) {
    memset(c, 0, sizeof *c);
    c->lr = -1;
    c->dropout = -1;
    c->clip_norm = -1;
    c->threads = 2;
    c->freeze_steps = 1000;
}

typedef struct {
    elmo_train_config cfg; /* resolved */
    elmo_config arch;
    elmo_layout lay; /* where arch's parameters lie in w.mem (and in a gradient block) */
    elmo_vocab *v;
    int V, B, T, S;
    double lr, dropout, clip;
    int64_t total_steps, step;
    int64_t frozen_until; /* steps before it update only the softmax (a new softmax on a
                               published biLM, --init-from without softmax.hdf5) */
    uint64_t tokens;
    double elapsed_before;
    elmo_params w;    /* the biLM */
    float *smW, *smb; /* softmax (V, P), (V) */
    float *acc, *acc_smW, *acc_smb;
    float *g[2];         /* gradient blocks of the two direction threads */
    double *block_sumsq; /* (w.n / DENSE_BLOCK rounded up) the gradient's sums of squares */
    float *gsmW, *gsmb;  /* dense softmax gradient, only touched rows non-zero */
    uint8_t *touched;
    int32_t *tlist;
    int ntouched;
    bilm_trainer_f tr;
    int tr_ready;
    elmo_stream *st[2];
    elmo_rng rdrop[2], rsamp[2];
    int16_t *ids[2];
    uint8_t *reset[2]; /* (T, Bl) state restarts at sentence starts, or NULL */
    int32_t *tg[2], *cand[2];
    float *logq[2];
    uint8_t *seen[2];
    int tries[2];
    double loss[2];
    sparse_rows_f rows[2];
    char *paths[8];
    /* data parallelism: this rank computes global rows [b0, b0 + Bl) of B */
    int rank, nranks, b0, Bl;
    size_t *tcounts;    /* (nranks) targets per direction of each rank: T x its rows */
    size_t *scounts;    /* (nranks) carried-state floats of each rank */
    int32_t *tg_all[2]; /* (T*B) every rank's targets, rank by rank (nranks > 1) */
    size_t comm_max;    /* floats of g[0] beyond the biLM gradient: softmax rows + 3 */
    float *state_all;   /* (2L blocks of h (B, P), c (B, H)) the carried states of all
                               rows, single-process layout (== tr.mem when nranks == 1) */
    float *state_tmp;   /* (same size) gather buffer (rank 0) */
    double comm_s;      /* seconds spent in the gradient all-reduce */
    double comm_floats; /* floats all-reduced */
} trainer;

enum { P_CKPT, P_OPTIONS, P_VOCAB, P_WEIGHTS, P_SOFTMAX, P_METRICS, P_CURVE, P_COUNT };
static const char *path_names[P_COUNT] = {"checkpoint.bin", "options.json", "vocab.txt",
                                          "weights.hdf5",   "softmax.hdf5", "metrics.jsonl",
                                          "curve.svg"};

/* ---- option values: flag, else the options file's training key, else bilm-tf's default */
static double opt_num(const cJSON *root, const char *key, double dflt) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, key);
    /* clamped: callers convert to int (out of range is undefined), then check the range */
    return cJSON_IsNumber(x) ? fmax(-1e9, fmin(1e9, x->valuedouble)) : dflt;
}

/* ---- initialisation from scratch (bilm-tf's initialisers, bilm/training.py) */
static void init_params(trainer *t) {
    const elmo_config *c = &t->arch;
    elmo_params *p = &t->w;
    elmo_rng r;
    elmo_rng_seed(&r, t->cfg.seed ^ 0x5eed5eedULL);
    int E = c->char_embed_dim, F = c->n_filters, P = c->projection_dim, H = c->lstm_dim;
#define UNIF(x, n, lim)                                                                            \
    for (size_t k_ = 0; k_ < (size_t)(n); k_++)                                                    \
    (x)[k_] = (float)((2 * elmo_rng_uniform(&r) - 1) * (lim))
#define NORM(x, n, sd)                                                                             \
    for (size_t k_ = 0; k_ < (size_t)(n); k_++) (x)[k_] = (float)(sd)*elmo_rng_normal(&r)
    UNIF(p->char_embed + E, (size_t)(ELMO_NC - 1) * E, 1.0);
    for (int i = 0; i < c->n_banks; i++) {
        size_t n = (size_t)c->filter_width[i] * E * c->filter_count[i];
        if (c->activation == ELMO_ACT_RELU) {
            UNIF(p->conv_w[i], n, 0.05);
        } else {
            NORM(p->conv_w[i], n, sqrt(1.0 / (c->filter_width[i] * E)));
        }
    }
    for (int i = 0; i < c->n_highway; i++) {
        NORM(p->hw_wc[i], (size_t)F * F, sqrt(1.0 / F));
        NORM(p->hw_wt[i], (size_t)F * F, sqrt(1.0 / F));
        for (int k = 0; k < F; k++) p->hw_bc[i][k] = -2.0f;
    }
    if (c->has_cnn_proj) NORM(p->proj_w, (size_t)F * P, sqrt(1.0 / F));
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < c->n_layers; l++) {
            UNIF(p->lstm_w[d][l], (size_t)2 * P * 4 * H, sqrt(6.0 / (2 * P + 4 * H)));
            if (c->has_lstm_proj) UNIF(p->lstm_p[d][l], (size_t)H * P, sqrt(6.0 / (H + P)));
        }
    NORM(t->smW, (size_t)t->V * P, 1.0 / sqrt(P));
#undef UNIF
#undef NORM
}

/* ---- exporting the model in the bilm-tf layout */
static cJSON *arch_json(const elmo_config *c, int n_characters) {
    cJSON *root = cJSON_CreateObject(), *lstm = cJSON_AddObjectToObject(root, "lstm");
    cJSON_AddNumberToObject(lstm, "dim", c->lstm_dim);
    cJSON_AddNumberToObject(lstm, "projection_dim", c->projection_dim);
    cJSON_AddNumberToObject(lstm, "n_layers", c->n_layers);
    if (c->cell_clip > 0) cJSON_AddNumberToObject(lstm, "cell_clip", c->cell_clip);
    if (c->proj_clip > 0) cJSON_AddNumberToObject(lstm, "proj_clip", c->proj_clip);
    cJSON_AddBoolToObject(lstm, "use_skip_connections", c->use_skip_connections);
    cJSON *cnn = cJSON_AddObjectToObject(root, "char_cnn");
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(cnn, "embedding"), "dim", c->char_embed_dim);
    cJSON *fl = cJSON_AddArrayToObject(cnn, "filters");
    for (int i = 0; i < c->n_banks; i++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateNumber(c->filter_width[i]));
        cJSON_AddItemToArray(pair, cJSON_CreateNumber(c->filter_count[i]));
        cJSON_AddItemToArray(fl, pair);
    }
    cJSON_AddNumberToObject(cnn, "n_highway", c->n_highway);
    cJSON_AddNumberToObject(cnn, "n_characters", n_characters);
    cJSON_AddNumberToObject(cnn, "max_characters_per_token", c->max_chars);
    cJSON_AddStringToObject(cnn, "activation", c->activation == ELMO_ACT_TANH ? "tanh" : "relu");
    return root;
}

static elmo_status write_text_atomic(const char *path, const char *text, size_t len) {
    elmo_atomic_file af;
    elmo_status s = elmo_atomic_begin(&af, path);
    if (s) return s;
    FILE *f = fopen(af.tmp, "wb");
    int bad = !f || fwrite(text, 1, len, f) != len;
    if (f) bad |= fclose(f) != 0;
    if (bad) {
        elmo_atomic_abort(&af);
        return elmo_fail(ELMO_ERR_IO, "%s: write error", path);
    }
    return elmo_atomic_commit(&af);
}

static elmo_status export_model(trainer *t) {
    cJSON *o = arch_json(&t->arch, 262);
    /* the training settings, as bilm-tf's options.json records them */
    cJSON_AddNumberToObject(o, "batch_size", t->B);
    cJSON_AddNumberToObject(o, "unroll_steps", t->T);
    cJSON_AddNumberToObject(o, "n_negative_samples_batch", t->S ? t->S : t->V);
    cJSON_AddNumberToObject(o, "n_tokens_vocab", t->V);
    cJSON_AddNumberToObject(o, "dropout", t->dropout);
    cJSON_AddNumberToObject(o, "all_clip_norm_val", t->clip);
    cJSON_AddNumberToObject(o, "learning_rate", t->lr);
    cJSON_AddBoolToObject(o, "bidirectional", 1);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    elmo_status s = write_text_atomic(t->paths[P_OPTIONS], txt, strlen(txt));
    free(txt);
    if (s) return s;
    /* vocabulary: copy the words in id order */
    elmo_strbuf vb = {0};
    for (uint32_t k = 0; k < (uint32_t)t->V; k++) {
        const char *w = elmo_vocab_word(t->v, k);
        if (elmo_strbuf_add(&vb, w, strlen(w)) || elmo_strbuf_add(&vb, "\n", 1)) {
            elmo_strbuf_free(&vb);
            return elmo_fail(ELMO_ERR_NOMEM, "out of memory");
        }
    }
    s = write_text_atomic(t->paths[P_VOCAB], vb.p, vb.n);
    elmo_strbuf_free(&vb);
    if (s) return s;
    if ((s = elmo_weights_write(t->paths[P_WEIGHTS], &t->arch, &t->w))) return s;
    elmo_h5_writer *hw;
    if ((s = elmo_h5_writer_open(t->paths[P_SOFTMAX], 0, &hw))) return s;
    uint64_t dW[2] = {(uint64_t)t->V, (uint64_t)t->arch.projection_dim}, db[1] = {(uint64_t)t->V};
    if ((s = elmo_h5_writer_put(hw, "softmax/W", 2, dW, t->smW)) ||
        (s = elmo_h5_writer_put(hw, "softmax/b", 1, db, t->smb))) {
        elmo_h5_writer_abort(hw);
        return s;
    }
    return elmo_h5_writer_commit(hw);
}

/* ---- checkpoints */
typedef struct {
    int64_t step, total_steps;
    uint64_t tokens;
    double elapsed;
    int32_t V, B, T, S;
    uint64_t vocab_hash, n_params;
} ckpt_meta;

/* Carried LSTM states. tr.mem holds this rank's rows: per (direction, layer) block an h
 * (Bl, P) then a c (Bl, H); state_all the same blocks for all B rows, the single-process
 * layout that checkpoints store. Collective: rank 0's state_all receives every rank's rows. */
static elmo_status gather_states(trainer *t) {
    if (t->nranks == 1) return ELMO_OK; /* state_all is tr.mem */
    const elmo_config *c = &t->arch;
    size_t P = c->projection_dim, H = c->lstm_dim, PH = P + H, nb = 2 * (size_t)c->n_layers,
           B = t->B;
    elmo_status s = elmo_dist_gather_f(t->tr.mem, t->scounts, t->state_tmp);
    if (s || t->rank != 0) return s;
    for (int r = 0; r < t->nranks; r++) {
        int b0, n;
        elmo_dist_rows(t->B, t->nranks, r, &b0, &n);
        const float *src = t->state_tmp + nb * (size_t)b0 * PH; /* rank r's tr.mem */
        for (size_t k = 0; k < nb; k++) {
            const float *blk = src + k * (size_t)n * PH;
            float *dst = t->state_all + k * B * PH;
            memcpy(dst + (size_t)b0 * P, blk, sizeof(float) * n * P);
            memcpy(dst + B * P + (size_t)b0 * H, blk + (size_t)n * P, sizeof(float) * n * H);
        }
    }
    return ELMO_OK;
}

/* This rank's rows of state_all into tr.mem. */
static void scatter_states(trainer *t) {
    if (t->nranks == 1) return;
    const elmo_config *c = &t->arch;
    size_t P = c->projection_dim, H = c->lstm_dim, PH = P + H, nb = 2 * (size_t)c->n_layers,
           B = t->B;
    size_t n = (size_t)t->Bl, b0 = (size_t)t->b0;
    for (size_t k = 0; k < nb; k++) {
        const float *src = t->state_all + k * B * PH;
        float *blk = t->tr.mem + k * n * PH;
        memcpy(blk, src + b0 * P, sizeof(float) * n * P);
        memcpy(blk + n * P, src + B * P + b0 * H, sizeof(float) * n * H);
    }
}

/* Collective: whether every rank holds the same parameters (they take the same steps from
 * the same all-reduced gradients; this checks it at every checkpoint). */
static elmo_status check_replicas(trainer *t) {
    if (t->nranks == 1) return ELMO_OK;
    const float *x[3] = {t->w.mem, t->smW, t->smb};
    size_t n[3] = {t->w.n, (size_t)t->V * t->arch.projection_dim, (size_t)t->V};
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 3; i++)
        for (size_t k = 0; k < n[i]; k++) {
            uint32_t u;
            memcpy(&u, x[i] + k, 4);
            h = (h ^ u) * 1099511628211ULL;
        }
    int64_t v[2] = {(int64_t)(h >> 1), (int64_t)(~h >> 1)}; /* max of h and of ~h: min and max */
    elmo_status s = elmo_dist_max_i64(v, 2);
    if (s) return s;
    if ((uint64_t)v[0] != ((~(uint64_t)v[1]) & (UINT64_MAX >> 1)))
        return elmo_fail(ELMO_ERR_STATE,
                         "rank %d of %d: step %lld: the ranks' parameters differ (a "
                         "bug or a non-deterministic MPI reduction); not checkpointed",
                         t->rank, t->nranks, (long long)t->step);
    return ELMO_OK;
}

/* Collective; rank 0 writes. */
static elmo_status save_checkpoint(trainer *t, double elapsed) {
    elmo_status s = check_replicas(t);
    if (!s) s = gather_states(t);
    if (s || t->rank != 0) return s;
    elmo_ckpt_writer w;
    if ((s = elmo_ckpt_begin(&w, t->paths[P_CKPT], CKPT_MAGIC, CKPT_VERSION))) return s;
    const elmo_config *c = &t->arch;
    size_t P = c->projection_dim, H = c->lstm_dim, L = c->n_layers;
    ckpt_meta m = {t->step, t->total_steps,        t->tokens, elapsed, t->V, t->B, t->T,
                   t->S,    elmo_vocab_hash(t->v), t->w.n};
    cJSON *arch = arch_json(c, 261);
    char *arch_txt = cJSON_PrintUnformatted(arch);
    cJSON_Delete(arch);
    elmo_ckpt_put(&w, "meta", &m, sizeof m);
    elmo_ckpt_put(&w, "architecture", arch_txt ? arch_txt : "", arch_txt ? strlen(arch_txt) : 0);
    free(arch_txt);
    elmo_ckpt_put(&w, "params", t->w.mem, sizeof(float) * t->w.n);
    elmo_ckpt_put(&w, "adagrad", t->acc, sizeof(float) * t->w.n);
    elmo_ckpt_put(&w, "softmax_W", t->smW, sizeof(float) * t->V * P);
    elmo_ckpt_put(&w, "softmax_b", t->smb, sizeof(float) * t->V);
    elmo_ckpt_put(&w, "adagrad_softmax_W", t->acc_smW, sizeof(float) * t->V * P);
    elmo_ckpt_put(&w, "adagrad_softmax_b", t->acc_smb, sizeof(float) * t->V);
    elmo_ckpt_put(&w, "lstm_states", t->state_all, sizeof(float) * 2 * L * t->B * (P + H));
    int32_t ranks = t->nranks; /* processes of the run (mpirun -np); 1 when absent */
    elmo_ckpt_put(&w, "ranks", &ranks, sizeof ranks);
    elmo_ckpt_put(&w, "frozen_until", &t->frozen_until, sizeof t->frozen_until);
    elmo_ckpt_put(&w, "rng", t->rdrop, sizeof t->rdrop);
    elmo_ckpt_put(&w, "rng_sampler", t->rsamp, sizeof t->rsamp);
    for (int d = 0; d < 2; d++) {
        elmo_strbuf b = {0};
        if ((s = elmo_stream_save(t->st[d], &b))) {
            elmo_ckpt_abort(&w);
            return s;
        }
        elmo_ckpt_put(&w, d ? "data_backward" : "data_forward", b.p, b.n);
        elmo_strbuf_free(&b);
    }
    return elmo_ckpt_commit(&w);
}

/* The first difference between two JSON values: its key path ("lstm.cell_clip",
 * "char_cnn.filters[2]") into path, and 1; 0 when they are equal. */
static int json_first_diff(const cJSON *a, const cJSON *b, char *path, size_t n, size_t at) {
    if (!a || !b) return 1;
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        for (int pass = 0; pass < 2; pass++) /* keys of a (compared), then keys only in b */
            for (const cJSON *x = (pass ? b : a)->child; x; x = x->next) {
                const cJSON *y = cJSON_GetObjectItemCaseSensitive(pass ? a : b, x->string);
                if (pass && y) continue;
                snprintf(path + at, n - at, "%s%s", at ? "." : "", x->string);
                size_t end = strlen(path);
                if (!y || json_first_diff(pass ? y : x, pass ? x : y, path, n, end)) return 1;
                path[at] = 0;
            }
        return 0;
    }
    if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
        int na = cJSON_GetArraySize(a), nb = cJSON_GetArraySize(b);
        for (int i = 0; i < na && i < nb; i++) {
            snprintf(path + at, n - at, "[%d]", i);
            if (json_first_diff(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), path, n,
                                strlen(path)))
                return 1;
        }
        path[at] = 0;
        return na != nb;
    }
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) return a->valuedouble != b->valuedouble;
    if (cJSON_IsString(a) && cJSON_IsString(b)) return strcmp(a->valuestring, b->valuestring) != 0;
    if (cJSON_IsBool(a) && cJSON_IsBool(b)) return cJSON_IsTrue(a) != cJSON_IsTrue(b);
    return 1;
}

/* The item at a key path as JSON text ("absent" when missing): for messages. */
static void json_at(const cJSON *root, const char *path, char *out, size_t n) {
    char key[256];
    const cJSON *x = root;
    for (const char *p = path; x && *p;) {
        if (*p == '.') p++;
        if (*p == '[') {
            x = cJSON_GetArrayItem(x, atoi(p + 1));
            p = strchr(p, ']');
            p = p ? p + 1 : "";
            continue;
        }
        size_t k = strcspn(p, ".[");
        snprintf(key, sizeof key, "%.*s", (int)(k < sizeof key ? k : sizeof key - 1), p);
        x = cJSON_GetObjectItemCaseSensitive(x, key);
        p += k;
    }
    char *txt = x ? cJSON_PrintUnformatted(x) : NULL;
    snprintf(out, n, "%s", txt ? txt : "absent");
    free(txt);
}

/* Every option that defines the model (the architecture, as the checkpoint records it) must
 * be the same as now: named when it is not. */
static elmo_status check_architecture(const trainer *t, const char *path, const char *rec,
                                      size_t len) {
    cJSON *was = cJSON_ParseWithLength(rec, len), *now = arch_json(&t->arch, 261);
    char key[256] = "", a[64], b[64];
    elmo_status s = ELMO_OK;
    if (!was) {
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: damaged checkpoint (architecture)", path);
    } else if (json_first_diff(was, now, key, sizeof key, 0)) {
        json_at(was, key, a, sizeof a);
        json_at(now, key, b, sizeof b);
        s = elmo_fail(ELMO_ERR_STATE,
                      "%s: the options differ from the checkpoint's: %s is %s there, %s now (the "
                      "model's options cannot change: use the checkpoint's options.json, or a new "
                      "save directory)",
                      path, key, a, b);
    }
    cJSON_Delete(was);
    cJSON_Delete(now);
    return s;
}

/* Copy checkpoint entry `name` of exactly `bytes` bytes to dst. */
static elmo_status ckpt_copy(const elmo_ckpt *ck, const char *name, void *dst, size_t bytes) {
    const char *d;
    elmo_status s = elmo_ckpt_get(ck, name, bytes, &d, NULL);
    if (!s) memcpy(dst, d, bytes);
    return s;
}

/* Load a checkpoint: everything (resume) or only the parameters and accumulators
 * (init_from). */
static elmo_status load_checkpoint(trainer *t, const char *path, int everything) {
    elmo_ckpt ck;
    elmo_status s = elmo_ckpt_read(path, CKPT_MAGIC, CKPT_VERSION, &ck);
    if (s) return s;
    const elmo_config *c = &t->arch;
    size_t P = c->projection_dim, H = c->lstm_dim, L = c->n_layers;
    const char *d;
    ckpt_meta m;
    if ((s = elmo_ckpt_get(&ck, "meta", sizeof m, &d, NULL))) goto done;
    memcpy(&m, d, sizeof m);
    if (m.step < 0) {
        s = elmo_fail(ELMO_ERR_FORMAT, "%s: damaged checkpoint (step %lld)", path,
                      (long long)m.step);
        goto done;
    }
    size_t alen;
    if (!elmo_ckpt_get(&ck, "architecture", SIZE_MAX, &d, &alen) &&
        (s = check_architecture(t, path, d, alen)))
        goto done;
    if (m.n_params != t->w.n || m.V != t->V) {
        s = elmo_fail(ELMO_ERR_STATE, "%s: written for another architecture or vocabulary size",
                      path);
        goto done;
    }
    if (m.vocab_hash != elmo_vocab_hash(t->v)) {
        s = elmo_fail(ELMO_ERR_STATE,
                      "%s: written with another vocabulary (use the vocab.txt it was trained with)",
                      path);
        goto done;
    }
    if (everything && (m.B != t->B || m.T != t->T || m.S != t->S)) {
        s = elmo_fail(ELMO_ERR_STATE,
                      "%s: written with batch %d, unroll %d, %d negatives (now %d, %d, %d): resume "
                      "with the same settings",
                      path, m.B, m.T, m.S, t->B, t->T, t->S);
        goto done;
    }
    if ((s = ckpt_copy(&ck, "params", t->w.mem, sizeof(float) * t->w.n))) goto done;
    if ((s = ckpt_copy(&ck, "adagrad", t->acc, sizeof(float) * t->w.n))) goto done;
    if ((s = ckpt_copy(&ck, "softmax_W", t->smW, sizeof(float) * t->V * P))) goto done;
    if ((s = ckpt_copy(&ck, "softmax_b", t->smb, sizeof(float) * t->V))) goto done;
    if ((s = ckpt_copy(&ck, "adagrad_softmax_W", t->acc_smW, sizeof(float) * t->V * P))) goto done;
    if ((s = ckpt_copy(&ck, "adagrad_softmax_b", t->acc_smb, sizeof(float) * t->V))) goto done;
    if (everything) {
        /* (absent from checkpoints written before the entry existed: nothing frozen) */
        if (!elmo_ckpt_get(&ck, "frozen_until", sizeof t->frozen_until, &d, NULL))
            memcpy(&t->frozen_until, d, sizeof t->frozen_until);
        int32_t ranks = 1;
        if (!elmo_ckpt_get(&ck, "ranks", sizeof ranks, &d, NULL)) memcpy(&ranks, d, sizeof ranks);
        if (ranks != t->nranks) {
            s = elmo_fail(ELMO_ERR_STATE,
                          "%s: written by a run of %d process%s, this run has %d: resume with the "
                          "same number (%s%d)",
                          path, ranks, ranks == 1 ? "" : "es", t->nranks,
                          ranks == 1 ? "without mpirun, or mpirun -np " : "mpirun -np ", ranks);
            goto done;
        }
        if ((s = ckpt_copy(&ck, "lstm_states", t->state_all,
                           sizeof(float) * 2 * L * t->B * (P + H))))
            goto done;
        if ((s = ckpt_copy(&ck, "rng", t->rdrop, sizeof t->rdrop))) goto done;
        if ((s = ckpt_copy(&ck, "rng_sampler", t->rsamp, sizeof t->rsamp))) goto done;
        for (int k = 0; k < 2; k++) {
            size_t n;
            if ((s = elmo_ckpt_get(&ck, k ? "data_backward" : "data_forward", SIZE_MAX, &d, &n)))
                goto done;
            const char *p = d;
            if ((s = elmo_stream_load(t->st[k], &p, d + n))) { /* name the file */
                char msg[512];
                snprintf(msg, sizeof msg, "%s", elmo_last_error());
                s = elmo_fail(s, "%s: %s", path, msg);
                goto done;
            }
        }
        t->step = m.step;
        t->tokens = m.tokens;
        t->elapsed_before = m.elapsed;
    }
done:
    elmo_ckpt_free(&ck);
    return s;
}

/* Load a trained model directory (weights.hdf5 + softmax.hdf5) for --init-from. */
static elmo_status load_model_dir(trainer *t, const char *dir) {
    char *ck = elmo_path_join(dir, "checkpoint.bin");
    elmo_status s;
    if (ck && elmo_file_exists(ck)) {
        s = load_checkpoint(t, ck, 0);
        free(ck);
        return s;
    }
    free(ck);
    char *wp = elmo_path_join(dir, "weights.hdf5"), *sp = elmo_path_join(dir, "softmax.hdf5");
    s = elmo_weights_read(wp, &t->arch, &t->w);
    if (!s && !elmo_file_exists(sp)) {
        /* a published biLM (bilm-tf / AllenNLP weights.hdf5) comes without its softmax: the
         * new one (init_params) learns alone first, the biLM frozen */
        t->frozen_until = t->cfg.freeze_steps > 0 ? t->cfg.freeze_steps : 0;
        free(wp);
        free(sp);
        return ELMO_OK;
    }
    float *data = NULL;
    int rank;
    uint64_t dims[4];
    if (!s && !(s = elmo_h5_read(sp, "softmax/W", &data, &rank, dims))) {
        if (rank != 2 || dims[0] != (uint64_t)t->V || dims[1] != (uint64_t)t->arch.projection_dim)
            s = elmo_fail(ELMO_ERR_SHAPE, "%s: softmax/W does not match the vocabulary (%d words)",
                          sp, t->V);
        else
            memcpy(t->smW, data, sizeof(float) * t->V * t->arch.projection_dim);
        free(data);
    }
    if (!s && !(s = elmo_h5_read(sp, "softmax/b", &data, &rank, dims))) {
        if (rank != 1 || dims[0] != (uint64_t)t->V)
            s = elmo_fail(ELMO_ERR_SHAPE, "%s: softmax/b shape", sp);
        else
            memcpy(t->smb, data, sizeof(float) * t->V);
        free(data);
    }
    free(wp);
    free(sp);
    return s;
}

/* ---- metrics: keep the lines of steps <= step (after a resume), then append */
static void metrics_truncate(const char *path, int64_t step) {
    size_t n;
    char *txt;
    if (elmo_read_file(path, (size_t)1 << 30, &txt, &n)) return;
    elmo_strbuf b = {0};
    for (char *line = txt, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) break; /* an unfinished last line: dropped */
        const char *k = strstr(line, "\"step\":");
        if (k && k < nl && atoll(k + 7) <= step) elmo_strbuf_add(&b, line, (size_t)(nl - line + 1));
    }
    write_text_atomic(path, b.p ? b.p : "", b.n);
    elmo_strbuf_free(&b);
    free(txt);
}

static void write_curve(trainer *t) {
    size_t n;
    char *txt;
    if (elmo_read_file(t->paths[P_METRICS], (size_t)1 << 30, &txt, &n)) return;
    size_t cap = 1024, m = 0;
    double *xs = malloc(sizeof(double) * cap), *ys = malloc(sizeof(double) * cap);
    for (char *line = txt, *nl; xs && ys && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        cJSON *o = cJSON_Parse(line);
        const cJSON *x = cJSON_GetObjectItem(o, "step"), *y = cJSON_GetObjectItem(o, "train_ppl");
        if (cJSON_IsNumber(x) && cJSON_IsNumber(y)) {
            if (m == cap) {
                cap *= 2;
                double *a = realloc(xs, sizeof(double) * cap),
                       *b = realloc(ys, sizeof(double) * cap);
                if (a) xs = a;
                if (b) ys = b;
                if (!a || !b) break;
            }
            xs[m] = x->valuedouble;
            ys[m++] = y->valuedouble;
        }
        cJSON_Delete(o);
    }
    if (m > 0)
        elmo_svg_curve(t->paths[P_CURVE], "biLM training", "step", "train perplexity", xs, ys, m,
                       1);
    free(xs);
    free(ys);
    free(txt);
}

/* ---- one step */
typedef struct {
    trainer *t;
    int d;
    elmo_train_batch *bt;
} dir_task;

static void *dir_main(void *p) {
    dir_task *j = p;
    trainer *t = j->t;
    int d = j->d;
    elmo_mm_set_precision(t->cfg.precision); /* this thread's products */
    /* this direction's gradient: its LSTM stack straight into g[0] (the stacks' blocks are
     * apart), the shared token encoder into a block of its own, g[d] [0, cnn_end), summed
     * after the threads join */
    const elmo_layout *o = &t->lay;
    memset(t->g[0] + o->dir_begin[d], 0, sizeof(float) * (o->dir_end[d] - o->dir_begin[d]));
    memset(t->g[d], 0, sizeof(float) * o->cnn_end);
    tparams_f g, enc;
    tparams_bind_f(&t->arch, &g, t->g[0]);
    tparams_bind_f(&t->arch, &enc, t->g[d]);
    tparams_take_encoder_f(&g, &enc);
    /* bilm-tf: the gradient of (mean fw loss + mean bw loss) / 2 times unroll_steps; B is the
     * global batch, so the ranks' gradients sum to the single-process one */
    float weight = 0.5f / (float)t->B;
    /* dropout: a function of (seed, step, direction) and the global position */
    const elmo_rng *k = &t->rdrop[d];
    elmo_dropout_key drop = {
        elmo_mix64(elmo_mix64(k->s[0] ^ k->s[1]) ^ k->s[2] ^ (uint64_t)t->step), t->B, t->b0};
    t->loss[d] = bilm_direction_step_f(&t->tr, d, j->bt, t->cand[d], t->logq[d], t->tries[d],
                                       t->dropout > 0 ? &drop : NULL, weight, &g, &t->rows[d], 1);
    return NULL;
}

/* ---- the dense parameters' passes (the token encoder's two gradients' sum, the gradient's
 * norm, Adagrad), over fixed blocks of DENSE_BLOCK values split between the step's two
 * threads: the same sums whatever the thread count (each block's sum of squares, then the
 * blocks' in order). */
#define DENSE_BLOCK 65536
enum { PASS_SUM, PASS_SUMSQ, PASS_ADAGRAD };
typedef struct {
    trainer *t;
    int pass;
    size_t b0, b1; /* blocks [b0, b1) */
    double *sumsq; /* (blocks) */
    float scale;   /* PASS_ADAGRAD: the clipping factor */
} dense_job;

/* The values a pass covers, [0, end): the sum, the token encoder's; the others, all. */
static size_t dense_end(const trainer *t, int pass) {
    return pass == PASS_SUM ? t->lay.cnn_end : t->w.n;
}

static void *dense_main(void *p) {
    dense_job *j = p;
    trainer *t = j->t;
    float *g = t->g[0];
    size_t end = dense_end(t, j->pass);
    for (size_t b = j->b0; b < j->b1; b++) {
        size_t lo = b * DENSE_BLOCK, n = end - lo < DENSE_BLOCK ? end - lo : DENSE_BLOCK;
        if (j->pass == PASS_SUM)
            elmo_add(n, g + lo, t->g[1] + lo);
        else if (j->pass == PASS_SUMSQ)
            j->sumsq[b] = elmo_sumsq(n, g + lo);
        else
            elmo_adagrad_scaled(n, t->w.mem + lo, t->acc + lo, g + lo, j->scale, (float)t->lr);
    }
    return NULL;
}

/* One pass over every block, on two threads when the training has them. */
static void dense_pass(trainer *t, int pass, double *sumsq, float scale) {
    size_t nb = (dense_end(t, pass) + DENSE_BLOCK - 1) / DENSE_BLOCK, half = nb / 2;
    dense_job a = {t, pass, 0, half, sumsq, scale}, b = {t, pass, half, nb, sumsq, scale};
    pthread_t th;
    if (t->cfg.threads > 1 && half > 0 && pthread_create(&th, NULL, dense_main, &b) == 0) {
        dense_main(&a);
        pthread_join(th, NULL);
    } else {
        a.b1 = nb;
        dense_main(&a);
    }
}

/* The touched softmax rows (t->touched, t->tlist), in the same order on every rank: per
 * direction its candidates then the targets of the global batch (time-major; rank by rank
 * when distributed), or every row with the full softmax. */
static void mark_touched_rows(trainer *t) {
    for (int d = 0; d < 2; d++) {
        const int32_t *ids[2] = {t->cand[d], t->nranks > 1 ? t->tg_all[d] : t->tg[d]};
        size_t n[2] = {(size_t)t->S, (size_t)t->T * t->B};
        if (t->S == 0) {
            ids[0] = t->rows[d].ids;
            n[0] = (size_t)t->rows[d].n;
            n[1] = 0;
        }
        for (int part = 0; part < 2; part++)
            for (size_t k = 0; k < n[part]; k++) {
                int32_t id = ids[part][k];
                if (!t->touched[id]) {
                    t->touched[id] = 1;
                    t->tlist[t->ntouched++] = id;
                }
            }
    }
}

/* Global norm clipping over every gradient (the biLM's, t->g[0] (w.n); the touched softmax rows),
 * then Adagrad when the norm and the losses are finite; the softmax gradient rows are cleared
 * for the next step. *grad_norm: the norm before clipping. Returns whether it was finite. */
static int clip_and_update(trainer *t, double *grad_norm) {
    int P = t->arch.projection_dim;
    /* the norm of every gradient that is applied (the softmax's alone while the biLM is
     * frozen) */
    int frozen = t->step < t->frozen_until;
    double ss = 0;
    if (!frozen) {
        size_t nb = (t->w.n + DENSE_BLOCK - 1) / DENSE_BLOCK;
        double *bss = t->block_sumsq;
        dense_pass(t, PASS_SUMSQ, bss, 1);
        for (size_t b = 0; b < nb; b++) ss += bss[b];
    }
    for (int k = 0; k < t->ntouched; k++) {
        int32_t id = t->tlist[k];
        ss += elmo_sumsq((size_t)P, t->gsmW + (size_t)id * P) + (double)t->gsmb[id] * t->gsmb[id];
    }
    double norm = sqrt(ss);
    *grad_norm = norm;
    int finite = isfinite(norm) && isfinite(t->loss[0]) && isfinite(t->loss[1]);
    if (finite) {
        float scale = norm > t->clip ? (float)(t->clip / norm) : 1.0f;
        if (!frozen) dense_pass(t, PASS_ADAGRAD, NULL, scale);
        for (int k = 0; k < t->ntouched; k++) {
            int32_t id = t->tlist[k];
            elmo_adagrad_scaled((size_t)P, t->smW + (size_t)id * P, t->acc_smW + (size_t)id * P,
                                t->gsmW + (size_t)id * P, scale, (float)t->lr);
            elmo_adagrad_scaled(1, t->smb + id, t->acc_smb + id, t->gsmb + id, scale, (float)t->lr);
        }
    }
    for (int k = 0; k < t->ntouched; k++) {
        int32_t id = t->tlist[k];
        memset(t->gsmW + (size_t)id * P, 0, sizeof(float) * P);
        t->gsmb[id] = 0;
        t->touched[id] = 0;
    }
    t->ntouched = 0;
    return finite;
}

/* One step. *stop: in, this process was asked to stop; out, some rank was. */
static elmo_status train_step(trainer *t, double *grad_norm, int *stop) {
    const elmo_config *c = &t->arch;
    int P = c->projection_dim;
    elmo_status s;
    for (int d = 0; d < 2; d++)
        if ((s = elmo_stream_next_rows(t->st[d], t->T, t->b0, t->Bl, t->ids[d], t->tg[d],
                                       t->reset[d])))
            return s;
    elmo_train_batch bt = {
        t->Bl, t->T, {t->ids[0], t->ids[1]}, {t->tg[0], t->tg[1]}, {t->reset[0], t->reset[1]}};
    if (t->S > 0)
        for (int d = 0; d < 2; d++)
            t->tries[d] = elmo_sample_log_uniform(&t->rsamp[d], t->V, t->S, t->cand[d], t->logq[d],
                                                  t->seen[d]);
    /* every rank's targets: the softmax rows this step touches anywhere */
    if (t->nranks > 1)
        for (int d = 0; d < 2; d++)
            if ((s = elmo_dist_allgather_i32(t->tg[d], t->tcounts, t->tg_all[d]))) return s;
    dir_task jobs[2] = {{t, 0, &bt}, {t, 1, &bt}};
    elmo_mm_weights_changed(); /* the last step's update: bfloat16 copies are stale */
    pthread_t th;
    if (t->cfg.threads > 1 && pthread_create(&th, NULL, dir_main, &jobs[1]) == 0) {
        dir_main(&jobs[0]);
        pthread_join(th, NULL);
    } else {
        dir_main(&jobs[0]);
        dir_main(&jobs[1]);
    }
    /* the token encoder's two gradients summed (each LSTM stack's is in g[0] already) */
    float *g = t->g[0];
    dense_pass(t, PASS_SUM, NULL, 1);
    mark_touched_rows(t);
    /* this rank's softmax rows of both directions into the dense buffer */
    for (int d = 0; d < 2; d++) {
        const sparse_rows_f *r = &t->rows[d];
        for (int k = 0; k < r->n; k++) {
            int32_t id = r->ids[k];
            float *dst = t->gsmW + (size_t)id * P;
            const float *src = r->dW + (size_t)k * P;
            for (int q = 0; q < P; q++) dst[q] += src[q];
            t->gsmb[id] += r->db[k];
        }
    }
    if (t->nranks > 1) {
        /* one all-reduce: g (w.n) | touched softmax rows (ntouched, P + 1) | loss fw, loss bw,
         * stop */
        size_t P1 = (size_t)P + 1;
        float *cb = g + t->w.n, *tail = cb + (size_t)t->ntouched * P1;
        for (int k = 0; k < t->ntouched; k++) {
            int32_t id = t->tlist[k];
            memcpy(cb + k * P1, t->gsmW + (size_t)id * P, sizeof(float) * P);
            cb[k * P1 + P] = t->gsmb[id];
        }
        tail[0] = (float)t->loss[0];
        tail[1] = (float)t->loss[1];
        tail[2] = *stop ? 1.0f : 0.0f;
        size_t count = t->w.n + (size_t)t->ntouched * P1 + 3;
        double t0 = elmo_now();
        s = elmo_dist_sum_f(g, count);
        t->comm_s += elmo_now() - t0;
        t->comm_floats += (double)count;
        if (s) return s;
        for (int k = 0; k < t->ntouched; k++) {
            int32_t id = t->tlist[k];
            memcpy(t->gsmW + (size_t)id * P, cb + k * P1, sizeof(float) * P);
            t->gsmb[id] = cb[k * P1 + P];
        }
        t->loss[0] = tail[0];
        t->loss[1] = tail[1];
        *stop = tail[2] > 0;
    }
    int finite = clip_and_update(t, grad_norm);
    if (!finite)
        return elmo_fail(ELMO_ERR_NUMERIC,
                         "step %lld: the loss or the gradient is NaN or Inf; training stopped (the "
                         "last checkpoint is kept)",
                         (long long)t->step + 1);
    return ELMO_OK;
}

/* ---- setup and the loop */
static void trainer_free(trainer *t) {
    if (t->tr_ready) bilm_trainer_free_f(&t->tr);
    for (int d = 0; d < 2; d++) {
        elmo_stream_free(t->st[d]);
        elmo_free(t->g[d]);
        free(t->ids[d]);
        free(t->tg[d]);
        free(t->reset[d]);
        free(t->cand[d]);
        free(t->logq[d]);
        free(t->seen[d]);
    }
    elmo_params_free(&t->w);
    elmo_free(t->smW);
    elmo_free(t->smb);
    elmo_free(t->acc);
    free(t->block_sumsq);
    elmo_free(t->acc_smW);
    elmo_free(t->acc_smb);
    elmo_free(t->gsmW);
    elmo_free(t->gsmb);
    free(t->touched);
    free(t->tlist);
    elmo_vocab_free(t->v);
    for (int i = 0; i < P_COUNT; i++) free(t->paths[i]);
    free(t->tcounts);
    free(t->scounts);
    free(t->tg_all[0]);
    free(t->tg_all[1]);
    if (t->nranks > 1) elmo_free(t->state_all);
    elmo_free(t->state_tmp);
}

/* Collective: rank 0's parameters and accumulators, and after a resume its whole run state
 * (generators, step, data position, carried states), to every rank. */
static elmo_status share_state(trainer *t, int *resumed) {
    if (t->nranks == 1) return ELMO_OK;
    const elmo_config *c = &t->arch;
    size_t P = c->projection_dim, H = c->lstm_dim, L = c->n_layers, V = (size_t)t->V;
    int32_t r = *resumed;
    elmo_status s;
    if ((s = elmo_dist_bcast(&r, sizeof r, 0)) ||
        (s = elmo_dist_bcast(&t->frozen_until, sizeof t->frozen_until, 0)) ||
        (s = elmo_dist_bcast(t->w.mem, sizeof(float) * t->w.n, 0)) ||
        (s = elmo_dist_bcast(t->acc, sizeof(float) * t->w.n, 0)) ||
        (s = elmo_dist_bcast(t->smW, sizeof(float) * V * P, 0)) ||
        (s = elmo_dist_bcast(t->smb, sizeof(float) * V, 0)) ||
        (s = elmo_dist_bcast(t->acc_smW, sizeof(float) * V * P, 0)) ||
        (s = elmo_dist_bcast(t->acc_smb, sizeof(float) * V, 0)))
        return s;
    *resumed = r;
    if (!r) return ELMO_OK;
    double el = t->elapsed_before;
    int64_t step = t->step;
    uint64_t tokens = t->tokens;
    if ((s = elmo_dist_bcast(t->rdrop, sizeof t->rdrop, 0)) ||
        (s = elmo_dist_bcast(t->rsamp, sizeof t->rsamp, 0)) ||
        (s = elmo_dist_bcast(&step, sizeof step, 0)) ||
        (s = elmo_dist_bcast(&tokens, sizeof tokens, 0)) ||
        (s = elmo_dist_bcast(&el, sizeof el, 0)) ||
        (s = elmo_dist_bcast(t->state_all, sizeof(float) * 2 * L * t->B * (P + H), 0)))
        return s;
    t->step = step;
    t->tokens = tokens;
    t->elapsed_before = el;
    scatter_states(t);
    /* the data position: rank 0's streams, serialized. A rank that cannot load it (a
     * training file missing on its machine) still enters every broadcast and reports after. */
    elmo_status bad = ELMO_OK;
    for (int d = 0; d < 2; d++) {
        elmo_strbuf b = {0};
        uint64_t n = 0;
        if (t->rank == 0) {
            if ((s = elmo_stream_save(t->st[d], &b))) return s; /* out of memory: the CLI aborts */
            n = b.n;
        }
        if ((s = elmo_dist_bcast(&n, sizeof n, 0))) return s;
        if (t->rank != 0 && !(b.p = malloc(n ? n : 1)))
            return elmo_fail(ELMO_ERR_NOMEM, "rank %d: out of memory", t->rank);
        s = elmo_dist_bcast(b.p, n, 0);
        if (!s && t->rank != 0 && !bad) {
            const char *q = b.p;
            bad = elmo_stream_load(t->st[d], &q, b.p + n);
        }
        elmo_strbuf_free(&b);
        if (s) return s;
    }
    return bad;
}

static void fill(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* ---- setup, step by step: every rank on its own; elmo_train() then agrees on the outcome */

/* Rank 0 alone writes into the save directory: create it. */
static elmo_status make_save_dir(const trainer *t) {
    if (t->rank != 0) return ELMO_OK;
    mkdir(t->cfg.save_dir, 0755);
    struct stat sd;
    if (stat(t->cfg.save_dir, &sd) != 0 || !S_ISDIR(sd.st_mode))
        return elmo_fail(ELMO_ERR_IO, "%s: cannot create the save directory", t->cfg.save_dir);
    return ELMO_OK;
}

/* The number of steps: --max-steps, else epochs over the training files' tokens. */
static elmo_status plan_steps(trainer *t, const cJSON *root) {
    const elmo_train_config *cfg = &t->cfg;
    if (cfg->max_steps > 0) {
        t->total_steps = cfg->max_steps;
        return ELMO_OK;
    }
    uint64_t ns, ntok;
    elmo_status s = elmo_count_tokens(cfg->train_files, cfg->n_train_files, &ns, &ntok);
    if (s) return s;
    int epochs = cfg->epochs > 0 ? cfg->epochs : (int)opt_num(root, "n_epochs", 10);
    t->total_steps = (int64_t)epochs * (int64_t)(ntok / ((uint64_t)t->B * t->T));
    if (t->total_steps < 1) t->total_steps = 1;
    return ELMO_OK;
}

/* Architecture (--options, or the model we start from), vocabulary, the training settings
 * (flag, else the options file, else bilm-tf's default), this rank's rows, the schedule. */
static elmo_status read_settings(trainer *t) {
    const elmo_train_config *cfg = &t->cfg;
    const char *opath = cfg->options_path;
    char *init_opts = NULL;
    cJSON *root = NULL;
    if (!opath && cfg->init_from)
        opath = init_opts = elmo_path_join(cfg->init_from, "options.json");
    if (!opath && cfg->resume) opath = t->paths[P_OPTIONS];
    if (!opath) return elmo_fail(ELMO_ERR_ARG, "no options file (--options)");
    elmo_status s = elmo_json_load(opath, &root);
    if (!s) s = elmo_config_from_json(opath, root, &t->arch);
    if (!s) elmo_layout_make(&t->arch, &t->lay);
    free(init_opts);
    if (!s) s = elmo_vocab_load(cfg->vocab_path, &t->v);
    if (s) goto done;
    t->V = (int)elmo_vocab_size(t->v);
    t->B = cfg->batch_size > 0 ? cfg->batch_size : (int)opt_num(root, "batch_size", 128);
    t->T = cfg->unroll_steps > 0 ? cfg->unroll_steps : (int)opt_num(root, "unroll_steps", 20);
    int neg =
        cfg->negatives > 0 ? cfg->negatives : (int)opt_num(root, "n_negative_samples_batch", 8192);
    t->S = cfg->full_softmax || neg >= t->V ? 0 : neg;
    t->lr = cfg->lr >= 0 ? cfg->lr : opt_num(root, "learning_rate", 0.2);
    t->dropout = cfg->dropout >= 0 ? cfg->dropout : opt_num(root, "dropout", 0.1);
    t->clip = cfg->clip_norm > 0 ? cfg->clip_norm : opt_num(root, "all_clip_norm_val", 10.0);
    if (t->B < 1 || t->B > 65536 || t->T < 1 || t->T > 10000 || t->lr <= 0 || t->dropout < 0 ||
        t->dropout >= 1 || t->clip <= 0) {
        s = elmo_fail(ELMO_ERR_ARG,
                      "invalid training settings (batch %d, unroll %d, lr %g, dropout %g, clip %g)",
                      t->B, t->T, t->lr, t->dropout, t->clip);
        goto done;
    }
    if (t->B < t->nranks) {
        s = elmo_fail(ELMO_ERR_ARG,
                      "batch %d is smaller than the %d processes: each needs a row at least", t->B,
                      t->nranks);
        goto done;
    }
    elmo_dist_rows(t->B, t->nranks, t->rank, &t->b0, &t->Bl);
    s = plan_steps(t, root);
done:
    cJSON_Delete(root);
    return s;
}

/* The parameters, accumulators, gradients and per-direction buffers; Adagrad's accumulators
 * start at 1. */
static elmo_status alloc_buffers(trainer *t) {
    const elmo_config *c = &t->arch;
    size_t P = c->projection_dim, H = c->lstm_dim, L = c->n_layers;
    size_t nstate = 2 * L * (size_t)t->B * (P + H);
    if (t->nranks > 1) { /* the all-reduce buffer extends g[0]: every touched softmax row + 3 */
        size_t rows = t->S ? 2 * ((size_t)t->S + (size_t)t->T * t->B) : (size_t)t->V;
        t->comm_max = (rows < (size_t)t->V ? rows : (size_t)t->V) * (P + 1) + 3;
    }
    elmo_status s = elmo_params_alloc(c, &t->w);
    if (s) return s;
    t->smW = elmo_calloc((size_t)t->V * P, sizeof(float));
    t->smb = elmo_calloc((size_t)t->V, sizeof(float));
    t->acc = elmo_alloc(sizeof(float) * t->w.n);
    t->block_sumsq = malloc(sizeof(double) * ((t->w.n + DENSE_BLOCK - 1) / DENSE_BLOCK + 1));
    t->acc_smW = elmo_alloc(sizeof(float) * t->V * P);
    t->acc_smb = elmo_alloc(sizeof(float) * t->V);
    t->gsmW = elmo_calloc((size_t)t->V * P, sizeof(float));
    t->gsmb = elmo_calloc((size_t)t->V, sizeof(float));
    t->touched = calloc((size_t)t->V, 1);
    t->tlist = malloc(sizeof(int32_t) * t->V);
    int W = c->max_chars, ok = 1;
    for (int d = 0; d < 2; d++) {
        t->g[d] = elmo_alloc(sizeof(float) * (t->w.n + (d ? 0 : t->comm_max)));
        t->ids[d] = malloc(sizeof(int16_t) * (size_t)t->Bl * t->T * W);
        t->tg[d] = malloc(sizeof(int32_t) * (size_t)t->Bl * t->T);
        t->reset[d] = t->cfg.state_restart > 0 ? malloc((size_t)t->Bl * t->T) : NULL;
        t->cand[d] = malloc(sizeof(int32_t) * (t->S ? t->S : 1));
        t->logq[d] = malloc(sizeof(float) * (t->S ? t->S : 1));
        t->seen[d] = calloc((size_t)t->V, 1);
        ok = ok && t->block_sumsq && t->g[d] && t->ids[d] && t->tg[d] && t->cand[d] && t->logq[d] &&
             t->seen[d];
        if (t->nranks > 1)
            ok = ok && (t->tg_all[d] = malloc(sizeof(int32_t) * (size_t)t->B * t->T));
    }
    if (t->nranks > 1) {
        t->tcounts = malloc(sizeof(size_t) * t->nranks);
        t->scounts = malloc(sizeof(size_t) * t->nranks);
        t->state_all = elmo_alloc(sizeof(float) * nstate);
        if (t->rank == 0) t->state_tmp = elmo_alloc(sizeof(float) * nstate);
        ok = ok && t->tcounts && t->scounts && t->state_all && (t->rank != 0 || t->state_tmp);
        for (int r = 0; ok && r < t->nranks; r++) {
            int b0, n;
            elmo_dist_rows(t->B, t->nranks, r, &b0, &n);
            t->tcounts[r] = (size_t)n * t->T;
            t->scounts[r] = 2 * L * (size_t)n * (P + H);
        }
    }
    if (!ok || !t->smW || !t->smb || !t->acc || !t->acc_smW || !t->acc_smb || !t->gsmW ||
        !t->gsmb || !t->touched || !t->tlist)
        return elmo_fail(ELMO_ERR_NOMEM, "out of memory for the model (vocabulary %d)", t->V);
    fill(t->acc, t->w.n, 1.0f);
    fill(t->acc_smW, (size_t)t->V * P, 1.0f);
    fill(t->acc_smb, (size_t)t->V, 1.0f);
    return ELMO_OK;
}

/* The two data streams (forward, backward) and their dropout and sampler generators. */
static elmo_status open_streams(trainer *t) {
    const elmo_train_config *cfg = &t->cfg;
    for (int d = 0; d < 2; d++) {
        elmo_status s = elmo_stream_new(cfg->train_files, cfg->n_train_files, t->v, d,
                                        t->arch.max_chars, t->B, cfg->seed * 2654435761ULL + 17 + d,
                                        cfg->chunk_lines ? cfg->chunk_lines : 200000, 1, &t->st[d]);
        if (s) return s;
        elmo_stream_set_restart(t->st[d], cfg->state_restart);
        elmo_rng_seed(&t->rdrop[d], cfg->seed * 31 + 101 + d);
        elmo_rng_seed(&t->rsamp[d], cfg->seed * 37 + 211 + d);
    }
    return ELMO_OK;
}

/* Where the parameters come from (rank 0 reads; share_state gives them to the others):
 * the checkpoint under --resume, else --init-from, else the initialisers; rank 0 opens
 * the metrics file (*mf). */
static elmo_status load_start(trainer *t, FILE **mf, int *resumed) {
    init_params(t); /* also the softmax bias etc. under --init-from */
    if (t->rank != 0) return ELMO_OK;
    elmo_status s;
    if (t->cfg.resume && elmo_file_exists(t->paths[P_CKPT])) {
        if ((s = load_checkpoint(t, t->paths[P_CKPT], 1))) return s;
        *resumed = 1;
        metrics_truncate(t->paths[P_METRICS], t->step);
    } else {
        if (t->cfg.init_from && (s = load_model_dir(t, t->cfg.init_from))) return s;
        unlink(t->paths[P_METRICS]);
    }
    if (!(*mf = fopen(t->paths[P_METRICS], "ab")))
        return elmo_fail(ELMO_ERR_IO, "%s: cannot open for writing", t->paths[P_METRICS]);
    return ELMO_OK;
}

/* Everything before the first step, on this rank. */
static elmo_status setup(trainer *t, FILE **mf, int *resumed) {
    elmo_status s;
    if ((s = make_save_dir(t)) || (s = read_settings(t)) || (s = alloc_buffers(t))) return s;
    const elmo_config *c = &t->arch;
    if ((s = bilm_trainer_init_f(&t->tr, c, t->V, t->Bl, t->T, t->S, t->dropout, t->w.mem, t->smW,
                                 t->smb)))
        return s;
    t->tr_ready = 1;
    if (t->nranks == 1) t->state_all = t->tr.mem;
    if ((s = open_streams(t))) return s;
    return load_start(t, mf, resumed);
}

/* One line of metrics.jsonl (rank 0) and the progress callback. gn: the step's gradient
 * norm; el: seconds since this run started; step0, tokens0: where it started. */
static void report_step(trainer *t, FILE *mf, double gn, double el, int64_t step0, uint64_t tokens0,
                        int ck) {
    elmo_train_progress pr = {0};
    double lf = t->loss[0] / ((double)t->B * t->T), lb = t->loss[1] / ((double)t->B * t->T);
    pr.step = t->step;
    pr.total_steps = t->total_steps;
    pr.tokens = t->tokens;
    pr.elapsed_s = t->elapsed_before + el;
    pr.tokens_per_s = el > 0 ? (double)(t->tokens - tokens0) / el : 0;
    pr.fw_ppl = exp(lf);
    pr.bw_ppl = exp(lb);
    pr.train_ppl = exp(0.5 * (lf + lb));
    pr.grad_norm = gn;
    pr.eta_s =
        t->step > step0 ? el / (double)(t->step - step0) * (double)(t->total_steps - t->step) : 0;
    pr.checkpoint = ck;
    fprintf(mf,
            "{\"step\": %lld, \"tokens\": %llu, \"tokens_per_s\": %.1f, \"train_ppl\": %.4f, "
            "\"fw_ppl\": %.4f, \"bw_ppl\": %.4f, \"grad_norm\": %.4f, \"elapsed_s\": %.2f",
            (long long)pr.step, (unsigned long long)pr.tokens, pr.tokens_per_s, pr.train_ppl,
            pr.fw_ppl, pr.bw_ppl, pr.grad_norm, pr.elapsed_s);
    if (t->nranks > 1) { /* data parallel: processes, mean all-reduce per step */
        double ns = t->step > step0 ? (double)(t->step - step0) : 1;
        fprintf(mf, ", \"ranks\": %d, \"allreduce_ms\": %.2f, \"allreduce_mb\": %.2f", t->nranks,
                1e3 * t->comm_s / ns, 4e-6 * t->comm_floats / ns);
    }
    fputs("}\n", mf);
    fflush(mf);
    if (t->cfg.on_progress) t->cfg.on_progress(&pr, t->cfg.user);
}

/* Steps until the schedule ends or a stop request: checkpoints and the exported model
 * every checkpoint_every steps and at the end, a metrics line every log_every steps. */
static elmo_status train_loop(trainer *t, FILE *mf) {
    const elmo_train_config *cfg = &t->cfg;
    int64_t ckpt_every = cfg->checkpoint_every > 0 ? cfg->checkpoint_every : 1000;
    int64_t log_every = cfg->log_every > 0 ? cfg->log_every : 20;
    double t0 = elmo_now();
    int64_t step0 = t->step;
    uint64_t tokens0 = t->tokens;
    elmo_status s = ELMO_OK;
    while (t->step < t->total_steps) {
        double gn;
        int stop = cfg->stop && *cfg->stop; /* any rank's stop request stops every rank */
        if ((s = train_step(t, &gn, &stop))) break;
        t->step++;
        t->tokens += (uint64_t)t->B * t->T;
        int last = t->step == t->total_steps || stop;
        int ck = t->step % ckpt_every == 0 || last;
        double el = elmo_now() - t0;
        if (ck) {
            s = save_checkpoint(t, t->elapsed_before + el);
            if (!s && t->rank == 0) s = export_model(t);
            if ((s = elmo_dist_agree(s))) break;
        }
        if (t->rank == 0 && (t->step % log_every == 0 || last || ck))
            report_step(t, mf, gn, el, step0, tokens0, ck);
        if (stop) break;
    }
    if (!s && t->rank == 0) write_curve(t);
    return s;
}

elmo_status elmo_train(const elmo_train_config *cfg) {
    elmo_clear_error();
    if (!cfg->save_dir) return elmo_fail(ELMO_ERR_ARG, "no save directory");
    if (!cfg->vocab_path) return elmo_fail(ELMO_ERR_ARG, "no vocabulary");
    if (cfg->n_train_files < 1) return elmo_fail(ELMO_ERR_ARG, "no training files");
    if (cfg->precision == ELMO_PRECISION_INT8)
        return elmo_fail(ELMO_ERR_ARG,
                         "training takes precision fp32, bf16 or auto (int8 is for inference)");
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = *cfg;
    t.rank = elmo_dist_rank();
    t.nranks = elmo_dist_size();
    FILE *mf = NULL;
    int resumed = 0;
    elmo_status s = ELMO_OK;
    for (int i = 0; i < P_COUNT && !s; i++)
        if (!(t.paths[i] = elmo_path_join(cfg->save_dir, path_names[i])))
            s = elmo_fail(ELMO_ERR_NOMEM, "out of memory");
    if (s) goto done;
    s = setup(&t, &mf, &resumed);
    /* every rank stops here if any failed (rank 0's message is the one printed) */
    if ((s = elmo_dist_agree(s))) goto done;
    if ((s = elmo_dist_agree(share_state(&t, &resumed)))) goto done;
    elmo_mm_set_threads(1);
    if (t.cfg.precision == ELMO_PRECISION_AUTO)
        t.cfg.precision = elmo_bf16_is_faster() ? ELMO_PRECISION_BF16 : ELMO_PRECISION_FP32;
    s = train_loop(&t, mf);
done:
    if (mf) fclose(mf);
    trainer_free(&t);
    return s;
}
