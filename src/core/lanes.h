/*
 * lanes.h: the rows of a stateless batch's LSTM steps (internal). Every step of an LSTM
 * layer reads all of its recurrent weights, however few rows it has: in a batch of
 * sentences of mixed length the last steps run a handful of long sentences at full cost.
 * Laying sentences end to end into fewer rows ("lanes"), the state set to zero where a
 * sentence starts, keeps the rows busy and cuts the steps to the longest lane's length.
 * Each sentence's arithmetic is unchanged (a row of a product does not depend on the other
 * rows), so results equal those of one row per sentence.
 */
#ifndef ELMO_LANES_H
#define ELMO_LANES_H

/* Lay B sentences of lengths len (B, non-increasing: longest first) into `lanes` rows, each
 * sentence into the lane that ends soonest (ties: the lowest lane). Lanes are then numbered
 * by decreasing total length (ties in first-use order), so that the rows still running at
 * any step are a prefix. Writes each sentence's lane and its first step, and returns the
 * number of steps (the longest lane). lanes >= B gives one lane per sentence, in order. */
int elmo_lanes_pack(int B, const int *len, int lanes, int *lane, int *first);

/* The lane count for B sentences (len non-increasing) with the least modelled time, a step
 * costing max(knee, rows) + knee / 4 (below `knee` rows a step is bound by reading the
 * weights, above by arithmetic; plus its fixed cost); the larger count on ties, and B
 * unless that saves at least 5 %. knee < 1 or B < 2: B. */
int elmo_lanes_count(int B, const int *len, int knee);

#endif
