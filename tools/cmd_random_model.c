/*
 * cmd_random_model.c: `elmo random-model --options O.json --output DIR [--seed S]`: a model
 * directory (DIR/options.json, DIR/weights.hdf5) with seeded random weights in the bilm-tf
 * layout, scaled like a trained model's activations (src/core/random_weights.h). For benchmarks
 * and tests: no download needed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"
#include "core/options.h"
#include "core/random_weights.h"

#define CMD "random-model"

int cmd_random_model(int argc, char **argv) {
    const char *options = NULL, *output = NULL;
    int seed = 0;
    cli_opt opts[] = {
        {"--options", OPT_STR, &options, 0, 0, "options.json of the architecture"},
        {"--output", OPT_STR, &output, 0, 0, "model directory to write (created if missing)"},
        {"--seed", OPT_INT, &seed, 0, 2147483647, "random seed"},
        {0}};
    int r =
        cli_parse(CMD, "--options O.json --output DIR [--seed S]", opts, argc, argv, NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    if (!options) return cli_error(CMD, "missing --options");
    if (!output) return cli_error(CMD, "missing --output");
    char *json = NULL;
    size_t len;
    elmo_config c; /* checked where it is, so that errors name it (not the copy) */
    elmo_status s = elmo_config_load(options, &c);
    if (!s) s = elmo_read_file(options, (size_t)1 << 20, &json, &len);
    if (!s) s = elmo_random_model_write(output, json, (uint64_t)seed);
    free(json);
    if (s) return cli_lib_error(CMD, s);
    return 0;
}
