/*
 * stats.h - the monitor's Prometheus metrics, written to a textfile.
 *
 * With MONITOR_METRICS_FILE set, the check loop rewrites that file every
 * few seconds (a temporary file renamed over it, so a reader never sees
 * half of one) in the Prometheus text format, for node_exporter's textfile
 * collector or any agent that reads files.
 *
 * One struct stats per monitor: main() owns it (in its struct daemon) and
 * passes it by pointer to the check loop and to the mailer thread.  There
 * is no global.  Who touches what, and how:
 *
 *   - the counters and histograms are relaxed atomics, no lock: the check
 *     thread adds checks, leases and queued mail; the mailer thread adds
 *     sent and failed mail; the check thread reads them all to write the
 *     file.  A reader may see one counter a moment before another, which
 *     Prometheus tolerates.
 *   - outbox_pending and outbox_oldest_s are plain: only the check thread
 *     writes them (stats_read_outbox) and reads them (stats_render).
 */
#ifndef TRACKLY_STATS_H
#define TRACKLY_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "dynbuf.h"
#include "histogram.h"

struct stats {
  atomic_uint_fast64_t checks_up, checks_down;   /* check thread */
  struct histogram duration;      /* of each check, ms; check thread */
  struct histogram lag;           /* start minus its slot, ms; check thread */
  atomic_uint_fast64_t claims;                           /* check thread */
  atomic_uint_fast64_t leases_claimed, leases_expired;   /* check thread */
  atomic_uint_fast64_t mail_queued;                      /* check thread */
  atomic_uint_fast64_t mail_sent, mail_failed;           /* mailer thread */
  /* From the database at each write; -1 when it could not be read.  The
   * check thread's alone. */
  int64_t outbox_pending;
  int64_t outbox_oldest_s;
};

extern const struct db_statement stats_statements[];

/* Zeroes s, with the outbox gauges unknown. */
void stats_init(struct stats *s);

/* Counts one duration or lag in ms into h (a member of struct stats); a
 * negative one (a check started before its slot's second) counts as 0. */
void stats_observe(struct histogram *h, int64_t ms);

/* Reads the outbox figures into s; on failure they become -1 (not
 * written). */
void stats_read_outbox(struct stats *s, struct db *db);

/* Appends s as Prometheus text to out.  Returns 0, or -1 when out failed
 * (its cap). */
int stats_render(struct stats *s, struct dynbuf *out);

/* Writes the file atomically: path.tmp, then rename.  Returns 0 or -1
 * (errno set). */
int stats_write_file(struct stats *s, const char *path);

#endif
