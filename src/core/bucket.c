/* bucket.c: see bucket.h. */
#include "core/bucket.h"

#include <stdlib.h>

/* merge sort of idx[0..n) by decreasing len (stable), tmp (n) scratch */
static void msort(int *idx, int *tmp, int n, const int *len) {
    if (n < 2) return;
    int h = n / 2;
    msort(idx, tmp, h, len);
    msort(idx + h, tmp, n - h, len);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = len[idx[j]] > len[idx[i]] ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    for (k = 0; k < n; k++) idx[k] = tmp[k];
}

void elmo_bucket_order(int n, const int *len, int window, int *order) {
    if (window < 1) window = 1;
    for (int i = 0; i < n; i++) order[i] = i;
    int *tmp = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    for (int w0 = 0; w0 < n; w0 += window) {
        int m = n - w0 < window ? n - w0 : window;
        if (tmp) {
            msort(order + w0, tmp, m, len);
        } else { /* no memory: insertion sort, same result */
            for (int i = w0 + 1; i < w0 + m; i++) {
                int v = order[i], k = i;
                while (k > w0 && len[order[k - 1]] < len[v]) {
                    order[k] = order[k - 1];
                    k--;
                }
                order[k] = v;
            }
        }
    }
    free(tmp);
}

int elmo_bucket_batches(int n, const int *len, const int *order, int max_rows, long max_positions,
                        int *starts) {
    int nb = 0, rows = 0;
    long pos = 0;
    for (int i = 0; i < n; i++) {
        long p = (long)len[order[i]] + 2;
        if (rows == 0 || rows == max_rows || pos + p > max_positions) {
            starts[nb++] = i;
            rows = 0;
            pos = 0;
        }
        rows++;
        pos += p;
    }
    starts[nb] = n;
    return nb;
}

long elmo_bucket_budget(int n, const int *len, int max_rows) {
    if (n <= 0 || max_rows < 1) return 1;
    long total = 0;
    for (int i = 0; i < n; i++) total += (long)len[i] + 2;
    long batches = (n + max_rows - 1) / max_rows;
    return total / batches + total / batches / 4 + 1;
}
