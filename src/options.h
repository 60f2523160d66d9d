/* options.h: options.json parsing (internal). */
#ifndef ELMO_OPTIONS_H
#define ELMO_OPTIONS_H

#include <cJSON.h>

#include "elmo.h"

/* Read a whole file (at most max_bytes) into a NUL-terminated malloc'd buffer. */
elmo_status elmo_read_file(const char *path, size_t max_bytes, char **out, size_t *len);
/* Parse a JSON file (errors name the file and line). */
elmo_status elmo_json_load(const char *path, cJSON **out);
elmo_status elmo_config_from_json(const char *path, const cJSON *root, elmo_config *c);
double elmo_config_cnn_flops(const elmo_config *c);
double elmo_config_lstm_flops(const elmo_config *c);

#endif
