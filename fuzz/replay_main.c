/* replay_main.c: a main() for the fuzz targets without libFuzzer (the normal and sanitizer
 * builds): runs LLVMFuzzerTestOneInput once on every file given, directories included (their
 * regular files, in name order). ctest replays fuzz/corpus/<target> and tests/regress/<target>
 * (the inputs of past findings) this way: a finding that comes back aborts (or is reported by
 * the sanitizers). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* NAME.patch: the input is a fixture file with some bytes changed (findings on mutated
 * fixtures: the fixtures are not copied into the repository). Lines: "base REL" (a file
 * under the fixtures directory), then "OFFSET 0xVALUE"; '#' starts a comment. */
static int run_patch(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[1200], base[1024] = "";
    uint8_t *buf = NULL;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long off;
        unsigned val;
        if (line[0] == '#') continue;
        if (sscanf(line, "base %1023s", base) == 1) {
            const char *fp = fuzz_fixture(base);
            if (!fp) {
                printf("%s: fixture %s not found, skipped\n", path, base);
                fclose(f);
                return -1;
            }
            FILE *b = fopen(fp, "rb");
            if (!b) break;
            fseek(b, 0, SEEK_END);
            n = (size_t)ftell(b);
            rewind(b);
            buf = malloc(n ? n : 1);
            if (!buf || fread(buf, 1, n, b) != n) abort();
            fclose(b);
        } else if (sscanf(line, "%llu %x", &off, &val) == 2 && buf && off < n) {
            buf[off] = (uint8_t)val;
        }
    }
    fclose(f);
    if (!buf) return -1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int run_file(const char *path) {
    size_t pl = strlen(path);
    if (pl > 6 && strcmp(path + pl - 6, ".patch") == 0) return run_patch(path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf) return -1;
    /* an exact-size copy, so that reads past the end are caught as they are under libFuzzer */
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) continue; /* e.g. no regression inputs for this target */
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) == 0) count++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) continue;
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            names = realloc(names, (n + 1) * sizeof *names);
            names[n] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
            sprintf(names[n], "%s/%s", argv[i], e->d_name);
            n++;
        }
        closedir(d);
        if (n) qsort(names, n, sizeof *names, cmp);
        for (size_t k = 0; k < n; k++) {
            if (stat(names[k], &st) == 0 && S_ISREG(st.st_mode) && run_file(names[k]) == 0) count++;
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %d inputs\n", count);
    return 0;
}
