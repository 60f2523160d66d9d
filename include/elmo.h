/*
 * elmo.h: the public API of libelmo, ELMo (Peters et al., NAACL 2018) in C.
 *
 * A pre-trained bidirectional language model (biLM) in the bilm-tf / AllenNLP layout
 * (options.json + weights.hdf5) turns every token of a sentence into L+1 vectors of width 2P:
 *   layer 0      [tok ; tok]            context-free char-CNN token vector, duplicated
 *   layer 1..L   [h_l fwd ; h_l bwd]    the LSTM layers of the forward and backward LM
 * and ELMo = gamma * sum_j softmax(w)_j * layer_j (the scalar mix, trained downstream).
 *
 * Conventions
 *   - Every fallible call returns an elmo_status; on failure elmo_last_error() gives a one-line
 *     message (thread-local). The library never prints and never exits.
 *   - Arrays are plain, row-major float32; the caller owns every buffer it passes in.
 *   - A model is immutable after loading and can be shared by any number of threads; each
 *     thread uses its own elmo_session (workspace + LSTM state store).
 *   - Shape letters: B batch (sentences), n tokens of one sentence, L LSTM layers, P projection
 *     size (token-vector size), H LSTM cell size, W characters per token.
 */
#ifndef ELMO_H
#define ELMO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ELMO_VERSION "0.1.0"

/* ELMO_API marks the functions of this header: the only symbols libelmo.so exports (the rest
 * of the library is compiled with hidden visibility). */
#if defined(__GNUC__) || defined(__clang__)
#define ELMO_API __attribute__((visibility("default")))
#else
#define ELMO_API
#endif

/* ------------------------------------------------------------------------------------------ */
/* Status and errors                                                                          */

typedef enum {
    ELMO_OK = 0,
    ELMO_ERR_ARG = 1,     /* invalid argument */
    ELMO_ERR_IO = 2,      /* a file is missing, unreadable or unwritable */
    ELMO_ERR_FORMAT = 3,  /* malformed content: JSON, HDF5, text, classifier file */
    ELMO_ERR_SHAPE = 4,   /* a dataset's shape does not match the options */
    ELMO_ERR_NOMEM = 5,   /* allocation failed, or a size beyond the library's limits */
    ELMO_ERR_NUMERIC = 6, /* NaN or Inf in a loss or a gradient */
    ELMO_ERR_STATE = 7    /* wrong use of a session (capacity exceeded, ...) */
} elmo_status;

/* Message of the last failing call made by this thread ("" if none). */
ELMO_API const char *elmo_last_error(void);
/* Short name of a status ("ok", "io", ...). */
ELMO_API const char *elmo_status_name(elmo_status s);

/* Bound, in bytes, on any single allocation the library makes from now on (process-wide;
 * 0 = none but the machine's: 64 GiB, and for allocations of 256 MiB or more the memory the
 * system reports available). Sizes that come from files (model dimensions, dataset shapes,
 * checkpoint sections) are checked against it before anything is allocated; a refusal is
 * ELMO_ERR_NOMEM with a message naming the file. */
ELMO_API void elmo_set_memory_limit(size_t bytes);
/* The largest allocation the library would accept now (the bound above, the machine's). */
ELMO_API size_t elmo_memory_available(void);

/* ------------------------------------------------------------------------------------------ */
/* Options (options.json)                                                                     */

#define ELMO_MAX_FILTER_BANKS 16
#define ELMO_MAX_HIGHWAY 16
#define ELMO_MAX_LAYERS 16
enum { ELMO_ACT_RELU = 0, ELMO_ACT_TANH = 1 };

typedef struct {
    /* lstm */
    int lstm_dim;             /* H */
    int projection_dim;       /* P: token-vector size and per-direction output size */
    int n_layers;             /* L */
    float cell_clip;          /* clip c to [-v, v]; 0 = no clip */
    float proj_clip;          /* clip projected h to [-v, v]; 0 = no clip */
    int use_skip_connections; /* residual around LSTM layers >= 1 */
    /* char_cnn */
    int char_embed_dim; /* E */
    int n_banks;        /* number of filter banks */
    int filter_width[ELMO_MAX_FILTER_BANKS];
    int filter_count[ELMO_MAX_FILTER_BANKS];
    int n_filters; /* F = sum of filter_count */
    int n_highway;
    int n_characters; /* 262 (inference) or 261 (training) */
    int max_chars;    /* W, max_characters_per_token */
    int activation;   /* ELMO_ACT_RELU or ELMO_ACT_TANH */
    /* derived (bilm-tf rules) */
    int has_cnn_proj;  /* F != P */
    int has_lstm_proj; /* P < H */
} elmo_config;

/* Parse options.json. */
ELMO_API elmo_status elmo_config_load(const char *options_path, elmo_config *out);

/* ------------------------------------------------------------------------------------------ */
/* Model                                                                                      */

typedef struct elmo_model elmo_model;

/* Load options.json + weights.hdf5 (bilm-tf layout). Every dataset's shape is checked. */
ELMO_API elmo_status elmo_model_load(const char *options_path, const char *weights_path,
                                     elmo_model **out);
/* DIR/options.json + DIR/weights.hdf5. */
ELMO_API elmo_status elmo_model_load_dir(const char *dir, elmo_model **out);
ELMO_API void elmo_model_free(elmo_model *m);

ELMO_API const elmo_config *elmo_model_config(const elmo_model *m);
ELMO_API int elmo_model_n_output_layers(const elmo_model *m); /* L + 1 */
ELMO_API int elmo_model_output_dim(const elmo_model *m);      /* 2P */
ELMO_API int64_t elmo_model_n_params(const elmo_model *m);    /* values in the weight file */
/* A fingerprint of the architecture and every weight: downstream models record it and
 * refuse a different biLM. */
ELMO_API uint64_t elmo_model_fingerprint(const elmo_model *m);
/* Forward FLOPs per token position (multiply-add = 2), char CNN included. */
ELMO_API double elmo_model_flops_per_token(const elmo_model *m);
/* Same, LSTMs only (what remains when token vectors are cached). */
ELMO_API double elmo_model_lstm_flops_per_token(const elmo_model *m);

/* Numeric precision of the biLM's matrix products (see the README, "Precision").
 *   FP32  (default) float32 everywhere: conformant with the reference to 1e-6, bit-identical
 *         whatever the batching.
 *   BF16  weights stored in bfloat16, activations rounded to bfloat16 at the matrix products;
 *         accumulation, cell state and nonlinearities in float32. Fast on CPUs with AMX; native
 *         but not faster than FP32 with AVX-512-BF16 alone; elsewhere emulated (slower).
 *   AUTO  BF16 where the CPU has bf16 matrix engines (AMX tiles), else FP32 (with AVX-512-BF16
 *         alone bf16 was measured slower than fp32).
 *   INT8  for one sentence at a time (latency): BF16, except that the LSTMs' recurrent and
 *         projection weights (the products of every time step, which stream the whole matrix
 *         per step) are int8 with a float32 scale per output column, multiplied with float32
 *         activations: a quarter of float32's bytes per step. Batches run slower than BF16.
 *         Inference only (training and perplexity refuse it). Bit-identical whatever the
 *         batching, like the others. */
typedef enum {
    ELMO_PRECISION_FP32 = 0,
    ELMO_PRECISION_BF16 = 1,
    ELMO_PRECISION_AUTO = 2,
    ELMO_PRECISION_INT8 = 3
} elmo_precision;
/* "fp32", "bf16", "auto" or "int8"; anything else is ELMO_ERR_ARG. */
ELMO_API elmo_status elmo_precision_parse(const char *name, elmo_precision *out);
ELMO_API const char *elmo_precision_name(elmo_precision p);
/* 1 when this CPU has native bf16 matrix instructions (AMX-BF16 or AVX-512-BF16) that the
 * matrix backend may use (ONEDNN_MAX_CPU_ISA can forbid them). */
ELMO_API int elmo_cpu_has_native_bf16(void);
/* The matrix backend and what it uses here, e.g. "oneDNN 2.6.3, ISA avx512_core_amx". */
ELMO_API const char *elmo_backend_info(void);
/* Set the model's precision (AUTO is resolved here): re-prepares the weights of every
 * product. Call before creating sessions, not while they run. */
ELMO_API elmo_status elmo_model_set_precision(elmo_model *m, elmo_precision p);
/* The resolved precision: FP32, BF16 or INT8 (never AUTO). */
ELMO_API elmo_precision elmo_model_precision(const elmo_model *m);

/* ------------------------------------------------------------------------------------------ */
/* Sessions: per-thread workspace and LSTM state store                                        */

typedef struct elmo_session elmo_session;

/* max_rows: state capacity (rows of a batch) when stateful; batches may be larger when
 * stateless. threads: worker threads used by this session (1 or 2 are useful; 0 = default 1). */
ELMO_API elmo_status elmo_session_new(const elmo_model *m, int max_rows, int threads,
                                      elmo_session **out);
ELMO_API void elmo_session_free(elmo_session *s);

/* Stateless (default): every sentence starts from zero state; results do not depend on the
 * batch. Stateful: row b of a batch starts from the final state of row b of the previous
 * batch (bilm-tf / AllenNLP semantics); rows beyond the batch keep their state. */
ELMO_API void elmo_session_set_stateful(elmo_session *s, int stateful);
ELMO_API void elmo_session_reset(elmo_session *s); /* zero every row's state */
ELMO_API elmo_status elmo_session_reset_row(elmo_session *s, int row);
/* Bound of the token-vector cache in entries (0 disables it; default 65536, or fewer for wide
 * models so that the cache stays within 12 MB: about 5,800 for P = 512). Exact. */
ELMO_API void elmo_session_set_token_cache(elmo_session *s, size_t max_entries);
/* Use the plain reference kernels instead of the fast path (for testing). */
ELMO_API void elmo_session_set_reference(elmo_session *s, int on);

/* Embed B sentences. tokens[b] holds n_tokens[b] NUL-terminated UTF-8 tokens (no <S>/</S>;
 * they are added). out[b] receives (L+1, n_tokens[b], 2P) floats, layer-major.
 * A sentence with 0 tokens is allowed (its output is empty; in stateful mode its row's state
 * still advances over <S> </S>, as the reference does). */
ELMO_API elmo_status elmo_embed(elmo_session *s, int B, const char *const *const *tokens,
                                const int *n_tokens, float *const *out);

/* Same with character ids: ids[b] holds (n_tokens[b], W) ids as made by elmo_char_ids. */
ELMO_API elmo_status elmo_embed_ids(elmo_session *s, int B, const int16_t *const *ids,
                                    const int *n_tokens, float *const *out);

/* Context-free token vectors (layer 0 without duplication, shape (N, P)) of N tokens.
 * The strings "<S>" and "</S>" get the sentence-boundary encodings. */
ELMO_API elmo_status elmo_token_vectors(elmo_session *s, int N, const char *const *tokens,
                                        float *out);

/* ------------------------------------------------------------------------------------------ */
/* Text: character ids and whitespace tokenization                                            */

enum {
    ELMO_CHAR_BOS = 257, /* inference ids (raw + 1); 0 = "no token here" */
    ELMO_CHAR_EOS = 258,
    ELMO_CHAR_BOW = 259,
    ELMO_CHAR_EOW = 260,
    ELMO_CHAR_PAD = 261
};

/* Inference character ids of one token of len bytes into ids[0..W-1]: BOW, the first W-2
 * bytes (+1), EOW, then PAD. Tokens equal to "<S>" / "</S>" get the boundary encodings. */
ELMO_API void elmo_char_ids(const char *token, size_t len, int W, int16_t *ids);

/* Split text (len bytes, UTF-8) on runs of whitespace as Python's str.split() does (ASCII and
 * Unicode spaces: U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000, and U+001C-001F). Writes up to max (start, length) pairs; returns the token count
 * (which may exceed max: call again with more room). */
ELMO_API size_t elmo_split_whitespace(const char *text, size_t len, size_t *starts, size_t *lens,
                                      size_t max);

/* ------------------------------------------------------------------------------------------ */
/* Scalar mix (Peters et al. 2018, eq. 1): ELMo = gamma * sum_j softmax(w)_j * norm(layer_j) */

/* layers (K, N, D) contiguous; mask (N) of 0/1 or NULL for all valid; w (K); out (N, D).
 * With layer_norm, each layer is normalised with mean/variance over all masked positions and
 * all D features (bilm-tf: eps 1e-12), at every position. */
ELMO_API elmo_status elmo_scalar_mix(int K, int N, int D, const float *layers, const uint8_t *mask,
                                     const float *w, float gamma, int layer_norm, float *out);
/* Gradients of elmo_scalar_mix given dout (N, D): dw (K) and *dgamma are accumulated (+=);
 * dlayers (K, N, D) is accumulated when not NULL. */
ELMO_API elmo_status elmo_scalar_mix_backward(int K, int N, int D, const float *layers,
                                              const uint8_t *mask, const float *w, float gamma,
                                              int layer_norm, const float *dout, float *dw,
                                              float *dgamma, float *dlayers);

/* ------------------------------------------------------------------------------------------ */
/* Training a biLM (bilm-tf's algorithm, https://github.com/allenai/bilm-tf)                  */

typedef struct {
    int64_t step, total_steps;
    uint64_t tokens;     /* tokens per direction consumed so far */
    double tokens_per_s; /* since the start of this run */
    double train_ppl;    /* exp(mean of the two directions' losses) of the last step */
    double fw_ppl, bw_ppl;
    double grad_norm; /* before clipping */
    double elapsed_s, eta_s;
    int checkpoint; /* a checkpoint was written at this step */
} elmo_train_progress;

typedef struct {
    const char *options_path;       /* architecture; bilm-tf training keys give defaults */
    const char *vocab_path;         /* bilm-tf vocabulary (<S>, </S>, <UNK>, then by count) */
    const char *const *train_files; /* shards, one tokenized sentence per line */
    int n_train_files;
    const char *save_dir; /* gets options.json, vocab.txt, weights.hdf5, softmax.hdf5,
                                  checkpoint.bin, metrics.jsonl */
    int epochs;           /* 0: options' n_epochs, else 10 */
    int64_t max_steps;    /* > 0: stop after this many steps (instead of epochs) */
    int batch_size;       /* rows B; 0: options' batch_size, else 128. Under mpirun
                                  (data parallel) the global batch: rank r computes rows
                                  [r*B/N, (r+1)*B/N) and the run equals one process with B */
    int unroll_steps;     /* T; 0: options' unroll_steps, else 20 */
    int negatives;        /* sampled softmax candidates; 0: options', else 8192 */
    int full_softmax;     /* use the full softmax whatever the vocabulary size */
    double lr;            /* Adagrad learning rate; < 0: 0.2 */
    double dropout;       /* < 0: options' dropout, else 0.1 */
    double clip_norm;     /* global gradient norm; < 0: options' all_clip_norm_val, else 10 */
    double state_restart; /* probability that a row's LSTM state restarts from zero at a
                                  sentence start (0, bilm-tf: always carried; 1: every sentence
                                  from zero state, as stateless inference runs it) */
    uint64_t seed;
    int threads;              /* 1 or 2 (the two directions run in parallel) */
    elmo_precision precision; /* of the matrix products (FP32 default; BF16: bfloat16 products,
                                  float32 master weights, accumulators and optimizer state) */
    int resume;               /* continue from save_dir/checkpoint.bin */
    const char *init_from;    /* start from a trained model directory (domain adaptation):
                                  weights.hdf5 + softmax.hdf5 (+ checkpoint.bin) of elmo train,
                                  or a published bilm-tf / AllenNLP weights.hdf5 alone (then a
                                  new softmax over this vocabulary is learned first) */
    int64_t freeze_steps;     /* with a published weights.hdf5 (no softmax.hdf5): steps that
                                  train only the new softmax, the biLM frozen (default 1000) */
    int64_t checkpoint_every; /* steps between checkpoints; 0: 1000 */
    int64_t log_every;        /* steps between progress reports / metrics lines; 0: 20 */
    size_t chunk_lines;       /* sentences shuffled together in memory; 0: 200000 */
    volatile int *stop;       /* when it becomes non-zero: checkpoint and return */
    void (*on_progress)(const elmo_train_progress *p, void *user);
    void *user;
} elmo_train_config;

ELMO_API void elmo_train_config_init(elmo_train_config *c);
ELMO_API elmo_status elmo_train(const elmo_train_config *c);

/* Held-out perplexity of a trained model directory (options.json, vocab.txt, weights.hdf5,
 * softmax.hdf5) with the full softmax. Every sentence is scored on its own from zero state:
 * the forward LM predicts w1..wn </S> after <S>, the backward LM wn..w1 <S> after </S>. */
typedef struct {
    double fw_ppl, bw_ppl; /* exp(mean cross-entropy) of each direction */
    double mean_ppl;       /* exp of the mean of the two directions' cross-entropies */
    uint64_t n_sentences, n_predictions; /* predictions per direction */
    uint64_t n_words, n_oov;             /* words of the text, and those not in the vocabulary */
} elmo_ppl_result;
ELMO_API elmo_status elmo_perplexity(const char *model_dir, const char *input_path, int threads,
                                     elmo_precision precision, elmo_ppl_result *out);

#ifdef __cplusplus
}
#endif
#endif /* ELMO_H */
