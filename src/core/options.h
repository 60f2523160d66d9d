/* options.h: options.json parsing (internal). */
#ifndef ELMO_OPTIONS_H
#define ELMO_OPTIONS_H

#include <cJSON.h>

#include "elmo.h"

/* Read a whole file (at most max_bytes) into a NUL-terminated malloc'd buffer. */
elmo_status elmo_read_file(const char *path, size_t max_bytes, char **out, size_t *len);
/* Parse a JSON file (errors name the file and line). */
/* Parse a JSON file (a UTF-8 BOM skipped); malformed JSON names the line, a duplicate key
 * (which value would win is a guess: Python's json takes the last) is refused, named. */
elmo_status elmo_json_load(const char *path, cJSON **out);
/* 1 when an object under x holds a key twice; its path ("lstm.dim") written from path + at. */
int elmo_json_dup_key(const cJSON *x, char *path, size_t n, size_t at);
elmo_status elmo_config_from_json(const char *path, const cJSON *root, elmo_config *c);
double elmo_config_cnn_flops(const elmo_config *c);
double elmo_config_lstm_flops(const elmo_config *c);

#endif
