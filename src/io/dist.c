/*
 * dist.c: MPI behind the small interface of dist.h, with single-process fallbacks. The only
 * file of the library that includes <mpi.h>.
 */
#include "io/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/util.h"

#ifdef ELMO_WITH_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_peer_failed = 0, g_shared = 0;

void elmo_dist_rows(int B, int N, int r, int *b0, int *n) {
    int64_t a = (int64_t)r * B / N, b = (int64_t)(r + 1) * B / N;
    *b0 = (int)a;
    *n = (int)(b - a);
}

int elmo_dist_built(void) {
#ifdef ELMO_WITH_MPI
    return 1;
#else
    return 0;
#endif
}

int elmo_dist_rank(void) { return g_rank; }
int elmo_dist_size(void) { return g_size; }
int elmo_dist_peer_failed(void) { return g_peer_failed; }
int elmo_dist_failure_shared(void) { return g_shared; }

#ifdef ELMO_WITH_MPI

/* MPI counts are int: split large calls into pieces of at most this many elements */
#define PIECE ((size_t)1 << 28)

static int g_inited = 0; /* 1: MPI initialised by the host program, 2: by elmo_dist_init */
static int *g_cd;        /* (2 * size) counts and displacements of v-collectives */

static int launched_by_mpi(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static elmo_status mpi_fail(int rc, const char *call) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = 0;
    return elmo_fail(ELMO_ERR_IO, "rank %d of %d: %s failed: %s", g_rank, g_size, call,
                     len ? msg : "unknown MPI error");
}

elmo_status elmo_dist_init(void) {
    int flag = 0;
    if (g_inited || !launched_by_mpi()) return ELMO_OK;
    MPI_Initialized(&flag);
    if (!flag) {
        int provided;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS)
            return elmo_fail(ELMO_ERR_IO, "MPI_Init_thread failed (code %d)", rc);
        g_inited = 2; /* ours to finalise */
    } else {
        g_inited = 1; /* the host program's */
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    free(g_cd);
    g_cd = malloc(sizeof(int) * 2 * (size_t)g_size);
    if (!g_cd) return elmo_fail(ELMO_ERR_NOMEM, "rank %d: out of memory", g_rank);
    return ELMO_OK;
}

void elmo_dist_finalize(void) {
    if (g_inited == 2) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin) MPI_Finalize();
    }
    free(g_cd);
    g_cd = NULL;
    g_inited = 0;
    g_rank = 0;
    g_size = 1;
}

void elmo_dist_abort(int code) {
    if (g_inited && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

elmo_status elmo_dist_sum_f(float *x, size_t n) {
    if (g_size == 1) return ELMO_OK;
    for (size_t o = 0; o < n; o += PIECE) {
        int k = (int)(n - o < PIECE ? n - o : PIECE);
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + o, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allreduce");
    }
    return ELMO_OK;
}

elmo_status elmo_dist_max_i64(int64_t *x, size_t n) {
    if (g_size == 1) return ELMO_OK;
    for (size_t o = 0; o < n; o += PIECE) {
        int k = (int)(n - o < PIECE ? n - o : PIECE);
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + o, k, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allreduce");
    }
    return ELMO_OK;
}

elmo_status elmo_dist_bcast(void *buf, size_t bytes, int root) {
    if (g_size == 1) return ELMO_OK;
    for (size_t o = 0; o < bytes; o += PIECE) {
        int k = (int)(bytes - o < PIECE ? bytes - o : PIECE);
        int rc = MPI_Bcast((char *)buf + o, k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Bcast");
    }
    return ELMO_OK;
}

/* int counts and displacements (2 * size) of a v-collective, in a buffer allocated once by
 * elmo_dist_init (no allocation per call); NULL when a count does not fit an int */
static int *int_counts(const size_t *counts) {
    size_t off = 0;
    for (int r = 0; r < g_size; r++) {
        if (counts[r] > INT_MAX || off > INT_MAX) return NULL;
        g_cd[r] = (int)counts[r];
        g_cd[g_size + r] = (int)off;
        off += counts[r];
    }
    return off > INT_MAX ? NULL : g_cd;
}

elmo_status elmo_dist_allgather_i32(const int32_t *send, const size_t *counts, int32_t *recv) {
    if (g_size == 1) {
        if (recv != send) memcpy(recv, send, sizeof(int32_t) * counts[0]);
        return ELMO_OK;
    }
    int *cd = int_counts(counts);
    if (!cd) return elmo_fail(ELMO_ERR_NOMEM, "rank %d: MPI_Allgatherv: counts too large", g_rank);
    int rc = MPI_Allgatherv(send, cd[g_rank], MPI_INT32_T, recv, cd, cd + g_size, MPI_INT32_T,
                            MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? ELMO_OK : mpi_fail(rc, "MPI_Allgatherv");
}

elmo_status elmo_dist_gather_f(const float *send, const size_t *counts, float *recv) {
    if (g_size == 1) {
        if (recv != send) memcpy(recv, send, sizeof(float) * counts[0]);
        return ELMO_OK;
    }
    int *cd = int_counts(counts);
    if (!cd) return elmo_fail(ELMO_ERR_NOMEM, "rank %d: MPI_Gatherv: counts too large", g_rank);
    int rc = MPI_Gatherv(send, cd[g_rank], MPI_FLOAT, recv, cd, cd + g_size, MPI_FLOAT, 0,
                         MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? ELMO_OK : mpi_fail(rc, "MPI_Gatherv");
}

elmo_status elmo_dist_send_f(const float *x, size_t n, int dest, int tag) {
    size_t o = 0;
    do { /* one message even when n is 0 */
        int k = (int)(n - o < PIECE ? n - o : PIECE);
        int rc = MPI_Send(x + o, k, MPI_FLOAT, dest, tag, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Send");
        o += (size_t)k;
    } while (o < n);
    return ELMO_OK;
}

elmo_status elmo_dist_recv_f(float *x, size_t n, int src, int tag) {
    size_t o = 0;
    do {
        int k = (int)(n - o < PIECE ? n - o : PIECE);
        int rc = MPI_Recv(x + o, k, MPI_FLOAT, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Recv");
        o += (size_t)k;
    } while (o < n);
    return ELMO_OK;
}

elmo_status elmo_dist_agree(elmo_status s) {
    if (g_size == 1) return s;
    /* the largest status wins; among equal ones the lowest rank */
    int64_t v = s ? ((int64_t)s << 32) | (int64_t)(INT_MAX - g_rank) : 0;
    elmo_status e = elmo_dist_max_i64(&v, 1);
    if (e) return e;
    if (!v) return ELMO_OK;
    int who = INT_MAX - (int)(v & 0xffffffff);
    g_shared = 1;
    g_peer_failed = who != g_rank; /* one rank reports */
    if (s) return s;
    return elmo_fail((elmo_status)(v >> 32), "rank %d of %d: stopped because rank %d failed",
                     g_rank, g_size, who);
}

#else /* ---- built without MPI: one process */

elmo_status elmo_dist_init(void) {
    /* several processes started by a launcher would each train alone into the same files */
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1)
            return elmo_fail(ELMO_ERR_STATE,
                             "started by mpirun with %d processes, but this elmo was built without "
                             "MPI (install libopenmpi-dev and rebuild: CMake finds it)",
                             atoi(v));
    }
    return ELMO_OK;
}
void elmo_dist_finalize(void) {}
void elmo_dist_abort(int code) { (void)code; }
elmo_status elmo_dist_sum_f(float *x, size_t n) {
    (void)x;
    (void)n;
    return ELMO_OK;
}
elmo_status elmo_dist_max_i64(int64_t *x, size_t n) {
    (void)x;
    (void)n;
    return ELMO_OK;
}
elmo_status elmo_dist_bcast(void *buf, size_t bytes, int root) {
    (void)buf;
    (void)bytes;
    (void)root;
    return ELMO_OK;
}
elmo_status elmo_dist_allgather_i32(const int32_t *send, const size_t *counts, int32_t *recv) {
    if (recv != send) memcpy(recv, send, sizeof(int32_t) * counts[0]);
    return ELMO_OK;
}
elmo_status elmo_dist_gather_f(const float *send, const size_t *counts, float *recv) {
    if (recv != send) memcpy(recv, send, sizeof(float) * counts[0]);
    return ELMO_OK;
}
elmo_status elmo_dist_send_f(const float *x, size_t n, int dest, int tag) {
    (void)x;
    (void)n;
    (void)tag;
    return elmo_fail(ELMO_ERR_STATE, "send to rank %d: built without MPI", dest);
}
elmo_status elmo_dist_recv_f(float *x, size_t n, int src, int tag) {
    (void)x;
    (void)n;
    (void)tag;
    return elmo_fail(ELMO_ERR_STATE, "receive from rank %d: built without MPI", src);
}
elmo_status elmo_dist_agree(elmo_status s) { return s; }

#endif
