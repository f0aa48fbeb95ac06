/*
 * metrics.h - the API's Prometheus counters, shared by every worker.
 *
 * The master maps one block of shared memory before it forks the first
 * worker (metrics_init); workers inherit it and count into it with atomic
 * adds, so GET /metrics, answered by whichever worker takes it, sees the
 * whole pool, and a worker that dies takes none of the counts with it.
 * A SIGHUP keeps the block: counters only ever grow while the master runs.
 */
#ifndef TRACKLY_METRICS_H
#define TRACKLY_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"
#include "histogram.h"
#include "router.h"

/* Room for the route table plus the unmatched requests (index 0). */
#define METRICS_ROUTES_MAX 48
/* Statuses counted by code; anything else is counted as "other". */
#define METRICS_STATUSES 17

enum metrics_db_error { METRICS_DB_UNAVAILABLE, METRICS_DB_ERROR,
                        METRICS_DB_BUSY };

struct metrics {
  atomic_uint_fast64_t requests[METRICS_ROUTES_MAX][METRICS_STATUSES];
  struct histogram latency_us;    /* arrival at a worker to answer */
  atomic_uint_fast64_t db_errors[3];
  atomic_uint_fast64_t workers_restarted;
  atomic_int workers_alive;
};

/* The block the counters go to: NULL until metrics_init, and then the
 * record functions do nothing (unit tests, fuzzers). */
extern struct metrics *metrics_shared;

/* Maps the shared block; the master calls it before forking.  Returns 0,
 * or -1 with errno set. */
int metrics_init(void);

/* A finished request: route is its index in the route table plus one (0
 * when no route matched), us how long it took. */
void metrics_request(struct metrics *m, size_t route, int status,
                     uint64_t us);
void metrics_db_error(struct metrics *m, enum metrics_db_error kind);

/* Appends m in the Prometheus text format (0.0.4) to out; labels come
 * from the route table.  Returns 0, or -1 when out failed (its cap). */
int metrics_render(struct metrics *m, const struct route *routes,
                   size_t nroutes, struct dynbuf *out);

#endif
