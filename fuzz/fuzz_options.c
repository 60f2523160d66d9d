/* fuzz_options.c: options.json (src/core/options.c via cJSON) -> elmo_config. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "core/options.h"
#include "io/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_write("options.json", data, size);
    elmo_config c;
    elmo_status s = elmo_config_load(p, &c);
    fuzz_check_error(s);
    if (s) return 0;
    /* what the parser promises: the derived structure is consistent */
    long total = 0;
    for (int i = 0; i < c.n_banks; i++) total += c.filter_count[i];
    if (total != c.n_filters || c.projection_dim > c.lstm_dim || c.n_banks < 1 ||
        c.n_banks > ELMO_MAX_FILTER_BANKS || c.n_layers < 1 || c.n_layers > ELMO_MAX_LAYERS ||
        c.n_highway > ELMO_MAX_HIGHWAY || (c.has_cnn_proj && c.n_filters < c.projection_dim))
        abort();
    elmo_layout lay;
    elmo_layout_make(&c, &lay);
    (void)elmo_config_cnn_flops(&c);
    (void)elmo_config_lstm_flops(&c);
    return 0;
}
