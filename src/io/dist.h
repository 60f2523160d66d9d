/*
 * dist.h: the data-parallel layer (internal): process rank and count, and the few collectives
 * that training and embedding use. MPI when the library is built with it (ELMO_WITH_MPI) and
 * the program was started by an MPI launcher (mpirun, mpiexec, srun); otherwise one process,
 * rank 0 of 1, where every collective is a no-op (or a copy) and nothing is initialised.
 *
 * The launcher is recognised by its environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK),
 * so a plain `elmo train` never calls MPI_Init. MPI is used from one thread (the caller's;
 * MPI_THREAD_FUNNELED), on MPI_COMM_WORLD with MPI_ERRORS_RETURN: a failing call comes back
 * as ELMO_ERR_IO with a one-line message naming the rank and the call.
 *
 * Counts are size_t: calls larger than an MPI int count are split. Collectives must be
 * entered by every rank in the same order with the same counts (noted per function).
 */
#ifndef ELMO_DIST_H
#define ELMO_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

/* Initialise MPI when started by an MPI launcher (idempotent; a no-op otherwise). Built
 * without MPI, fails (ELMO_ERR_STATE) when the launcher started several processes: each would
 * run alone. Call from the main thread before any other dist function. */
elmo_status elmo_dist_init(void);
/* Finalise MPI if elmo_dist_init initialised it. */
void elmo_dist_finalize(void);
/* Terminate every rank (MPI_Abort) with this exit code; returns when single-process. */
void elmo_dist_abort(int code);

int elmo_dist_built(void); /* 1 when compiled with MPI */
int elmo_dist_rank(void);  /* 0 when single-process */
int elmo_dist_size(void);  /* 1 when single-process */

/* Collective: x (n) <- sum over ranks of x (n), in place. Every rank gets the same bits. */
elmo_status elmo_dist_sum_f(float *x, size_t n);
/* Collective: x (n) <- max over ranks of x (n), in place. */
elmo_status elmo_dist_max_i64(int64_t *x, size_t n);
/* Collective: the root's buf (bytes) to every rank. */
elmo_status elmo_dist_bcast(void *buf, size_t bytes, int root);
/* Collective: every rank contributes send (counts[rank] elements); recv (sum of counts)
 * receives them in rank order, on every rank. counts (size) must agree on every rank. */
elmo_status elmo_dist_allgather_i32(const int32_t *send, const size_t *counts, int32_t *recv);
/* Collective: rank 0's recv (sum of counts) receives every rank's send (counts[rank] floats)
 * in rank order; recv may be NULL on the other ranks. */
elmo_status elmo_dist_gather_f(const float *send, const size_t *counts, float *recv);
/* Point to point: n floats to rank dest / from rank src, with a tag. */
elmo_status elmo_dist_send_f(const float *x, size_t n, int dest, int tag);
elmo_status elmo_dist_recv_f(float *x, size_t n, int src, int tag);

/* Collective status agreement: every rank passes its own status; returns it when non-zero,
 * else the largest status of another rank (with a message naming that rank), else ELMO_OK.
 * Single-process: returns s. After a failure, elmo_dist_failure_shared() is true (every
 * rank knows: no need to abort) and elmo_dist_peer_failed() tells the ranks that should not
 * report it (one rank, the lowest with the largest status, reports). */
elmo_status elmo_dist_agree(elmo_status s);
int elmo_dist_peer_failed(void);
int elmo_dist_failure_shared(void);

/* Rows [*b0, *b0 + *n) of B that rank r of N computes: a contiguous, nearly even split. */
void elmo_dist_rows(int B, int N, int r, int *b0, int *n);

#endif
