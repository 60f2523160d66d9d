/* cmd_info.c: `elmo info`: architecture, parameter count, FLOPs per token, precision and
 * the matrix backend. */
#include <stdio.h>

#include "cli.h"
#include "commands.h"

int cmd_info(int argc, char **argv) {
    cli_model mo = {0};
    cli_opt opts[] = {CLI_MODEL_OPTS(mo), {0}};
    int r = cli_parse("info", "[--model DIR | --options O.json --weights W.hdf5]", opts, argc, argv,
                      NULL, 0, NULL);
    if (r) return r == 1 ? 0 : r;
    elmo_model *m = cli_load_model("info", &mo);
    if (!m) return 1;
    const elmo_config *c = elmo_model_config(m);
    printf("%-28s %d\n", "char embedding dim (E)", c->char_embed_dim);
    printf("%-28s", "filters [width, count]");
    for (int i = 0; i < c->n_banks; i++)
        printf(" [%d, %d]", c->filter_width[i], c->filter_count[i]);
    printf("\n%-28s %d\n", "total filters (F)", c->n_filters);
    printf("%-28s %d\n", "highway layers", c->n_highway);
    printf("%-28s %s\n", "activation", c->activation == ELMO_ACT_TANH ? "tanh" : "relu");
    printf("%-28s %d\n", "max characters per token", c->max_chars);
    printf("%-28s %d\n", "n_characters", c->n_characters);
    printf("%-28s %s\n", "CNN projection", c->has_cnn_proj ? "yes" : "no (F == P)");
    printf("%-28s %d\n", "LSTM layers (L)", c->n_layers);
    printf("%-28s %d\n", "LSTM cell size (H)", c->lstm_dim);
    printf("%-28s %d%s\n", "projection size (P)", c->projection_dim,
           c->has_lstm_proj ? "" : " (no LSTM projection)");
    printf("%-28s %g\n", "cell clip", c->cell_clip);
    printf("%-28s %g\n", "projection clip", c->proj_clip);
    printf("%-28s %s\n", "skip connections", c->use_skip_connections ? "yes" : "no");
    printf("%-28s %d x %d\n", "output layers x width", elmo_model_n_output_layers(m),
           elmo_model_output_dim(m));
    printf("%-28s %lld\n", "parameters", (long long)elmo_model_n_params(m));
    printf("%-28s %.2f M\n", "FLOPs per token", elmo_model_flops_per_token(m) / 1e6);
    printf("%-28s %.2f M\n", "  of which LSTMs", elmo_model_lstm_flops_per_token(m) / 1e6);
    printf("%-28s %s\n", "precision", elmo_precision_name(elmo_model_precision(m)));
    printf("%-28s %s\n", "matrix backend", elmo_backend_info());
    elmo_model_free(m);
    return 0;
}
