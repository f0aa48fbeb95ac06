/*
 * histogram.h - a Prometheus latency histogram: fixed bucket bounds,
 * lock-free observation, and its text form.  The API (request latency, in
 * a block of shared memory) and the monitor (check duration and schedule
 * lag, shared by two threads) both count into one.
 *
 * The counters are relaxed atomics and hold no pointer, so a histogram
 * may live in memory shared between processes.  The bounds are a separate
 * constant, given to each call:
 *
 *     static const struct histogram_bounds ms = {
 *       .per_second = 1000, .le = {50, 100, ...}};
 *     histogram_observe(&h, &ms, elapsed_ms);
 *     histogram_render(&out, "x_seconds", "How long x took.", &h, &ms);
 *
 * A reader may see a bucket a moment before _count; Prometheus tolerates
 * that, so no lock is needed.
 */
#ifndef TRACKLY_HISTOGRAM_H
#define TRACKLY_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#include "dynbuf.h"

/* Upper bounds per histogram (the +Inf bucket follows them). */
#define HISTOGRAM_BUCKETS 11

struct histogram_bounds {
  uint64_t per_second;            /* units of le[] and of observations */
  uint64_t le[HISTOGRAM_BUCKETS]; /* ascending */
};

struct histogram {
  atomic_uint_fast64_t buckets[HISTOGRAM_BUCKETS + 1];   /* not cumulative */
  atomic_uint_fast64_t sum;       /* in the bounds' unit */
};

/* Counts one observation of value (in the bounds' unit): into the first
 * bucket whose bound it does not pass. */
void histogram_observe(struct histogram *h, const struct histogram_bounds *b,
                       uint64_t value);

/* Appends the family: HELP, TYPE, cumulative buckets with their bounds in
 * seconds, then _sum (in seconds) and _count. */
void histogram_render(struct dynbuf *o, const char *name, const char *help,
                      struct histogram *h, const struct histogram_bounds *b);

#endif
