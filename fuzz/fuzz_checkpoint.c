/* fuzz_checkpoint.c: the --resume load path of `elmo train` (src/train/train.c load_checkpoint and
 * the data position of src/train/train_data.c elmo_stream_load). Each input, with its section CRCs
 * recomputed, becomes SAVE_DIR/checkpoint.bin of a tiny model, and elmo_train resumes from it
 * for up to 3 steps; a run that succeeds must have left a checkpoint that loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "fuzz_common.h"
#include "io/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    fuzz_fix_crcs(fixed, size);
    elmo_train_config c;
    const char *ckpt = fuzz_train_setup(&c);
    fuzz_write("save/checkpoint.bin", fixed, size);
    free(fixed);
    c.resume = 1;
    elmo_status s = elmo_train(&c);
    fuzz_check_error(s);
    if (!s) {
        elmo_ckpt ck;
        if (elmo_ckpt_read(ckpt, "ELMOCKPT", 1, &ck) != ELMO_OK) {
            fprintf(stderr, "fuzz: the checkpoint written after a resume does not load: %s\n",
                    elmo_last_error());
            abort();
        }
        elmo_ckpt_free(&ck);
    }
    return 0;
}
