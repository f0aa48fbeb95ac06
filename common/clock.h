/*
 * clock.h - the two clocks, named for what they are.
 *
 * clock_ms is monotonic: for timeouts, deadlines, backoff and anything
 * measured between two moments in this machine's life (it is the same in
 * every process, so it may be shared through memory).  wall_ms is the
 * calendar: for instants that meet the database or another machine (the
 * checking grid, timestamps of results).  Two helpers, so that no caller
 * has to remember which clock a function called now_ms reads.
 */
#ifndef TRACKLY_CLOCK_H
#define TRACKLY_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC (since an unspecified start). */
int64_t clock_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME; may jump). */
int64_t wall_ms(void);

#endif
