/*
 * random_weights.h: seeded random weights in the bilm-tf layout for any options.json
 * (internal), scaled like the peer's make_weights.py so activations look like a trained
 * model's: char embeddings U(-1, 1); conv weights N(0, 3/(K E)) (pre-activations of std ~1);
 * highway and projection N(0, 1/F) with carry bias ~ -2; LSTM W_0 (2P, 4H) uniform with the
 * input half x2.5 and the recurrent half x0.5 (contracting LSTMs: float rounding stays flat
 * along long sentences); W_P_0 (H, P) U(+-3 sqrt(3/H)) so ~10% of cells and ~1-2% of
 * outputs reach a clip of 3. Biases are small and random so every bias is exercised.
 * Used by `elmo random-model`, the benchmarks and the tests.
 */
#ifndef ELMO_RANDOM_WEIGHTS_H
#define ELMO_RANDOM_WEIGHTS_H

#include <stdint.h>

#include "elmo.h"
#include "io/params.h"

/* Fill p (bound for c, zeroed: char_embed row 0 stays zero) deterministically from seed. */
void elmo_random_params(const elmo_config *c, elmo_params *p, uint64_t seed);

/* Create dir (if missing) and write dir/options.json (options_json verbatim) and
 * dir/weights.hdf5 (random weights for those options). */
elmo_status elmo_random_model_write(const char *dir, const char *options_json, uint64_t seed);

#endif
