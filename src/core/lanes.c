/* lanes.c: see lanes.h. */
#include "core/lanes.h"

#include <stdlib.h>

/* Longest-processing-time placement: lane totals in total (lanes), sentence i's lane and
 * first step in lane[i], first[i] (lanes numbered by first use). Returns the steps. */
static int place(int B, const int *len, int lanes, int *total, int *lane, int *first) {
    for (int k = 0; k < lanes; k++) total[k] = 0;
    int T = 0;
    for (int i = 0; i < B; i++) {
        int k = 0;
        for (int q = 1; q < lanes; q++)
            if (total[q] < total[k]) k = q;
        lane[i] = k;
        first[i] = total[k];
        total[k] += len[i];
        if (total[k] > T) T = total[k];
    }
    return T;
}

/* Modelled time of lanes with these totals: sum over steps of max(knee, rows running),
 * plus a step's fixed cost (the gates' and products' set-up, a quarter of the knee's). */
static long cost(int lanes, int *total, int knee) {
    /* rows running at step t: lanes with total > t; sort the totals (insertion: few lanes) */
    for (int i = 1; i < lanes; i++) {
        int v = total[i], k = i;
        while (k > 0 && total[k - 1] < v) {
            total[k] = total[k - 1];
            k--;
        }
        total[k] = v;
    }
    long c = 0;
    for (int i = lanes; i >= 1; i--) { /* steps where exactly i lanes run */
        int from = i < lanes ? total[i] : 0, to = total[i - 1];
        c += (long)(to - from) * (i > knee ? i : knee);
    }
    return c + (long)total[0] * (knee / 4);
}

int elmo_lanes_pack(int B, const int *len, int lanes, int *lane, int *first) {
    if (lanes > B) lanes = B;
    if (lanes < 1) lanes = 1;
    int *total = malloc(sizeof(int) * 2 * (size_t)lanes);
    if (!total) { /* no memory: one lane per sentence, as without packing */
        for (int i = 0; i < B; i++) lane[i] = i, first[i] = 0;
        return B > 0 ? len[0] : 0;
    }
    int *rank = total + lanes;
    int T = place(B, len, lanes, total, lane, first);
    /* renumber by decreasing total, ties by first use (stable selection: lanes are few) */
    for (int k = 0; k < lanes; k++) {
        int r = 0;
        for (int q = 0; q < lanes; q++)
            if (total[q] > total[k] || (total[q] == total[k] && q < k)) r++;
        rank[k] = r;
    }
    for (int i = 0; i < B; i++) lane[i] = rank[lane[i]];
    free(total);
    return T;
}

int elmo_lanes_count(int B, const int *len, int knee) {
    if (knee < 1 || B < 2) return B;
    int lo = knee / 2 > 1 ? knee / 2 : 1, hi = 4 * knee < B ? 4 * knee : B - 1;
    int *total = malloc(sizeof(int) * (size_t)B * 3), best = B;
    if (!total) return B;
    int *lane = total + B, *first = lane + B;
    place(B, len, B, total, lane, first);
    long base = cost(B, total, knee), best_cost = base;
    for (int lanes = hi; lanes >= lo; lanes--) {
        place(B, len, lanes, total, lane, first);
        long c = cost(lanes, total, knee);
        if (c < best_cost) best_cost = c, best = lanes;
    }
    free(total);
    /* a saving within the model's error is not worth the rearrangement */
    return best_cost < base - base / 20 ? best : B;
}
