/*
 * stats.h - the monitor's Prometheus metrics, written to a textfile.
 *
 * With MONITOR_METRICS_FILE set, the check loop rewrites that file every
 * few seconds (a temporary file renamed over it, so a reader never sees
 * half of one) in the Prometheus text format, for node_exporter's textfile
 * collector or any agent that reads files.  Counters are atomic: the
 * mailer thread counts its mail too.
 */
#ifndef TRACKLY_STATS_H
#define TRACKLY_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define STATS_BUCKETS 11

struct histogram {
  atomic_uint_fast64_t buckets[STATS_BUCKETS + 1];   /* not cumulative */
  atomic_uint_fast64_t sum_ms;
};

struct stats {
  atomic_uint_fast64_t checks_up, checks_down;
  struct histogram duration;      /* of each check */
  struct histogram lag;           /* start minus its scheduled slot */
  atomic_uint_fast64_t leases_claimed, leases_expired;
  atomic_uint_fast64_t mail_queued, mail_sent, mail_failed;
  /* From the database at each write; -1 when it could not be read. */
  int64_t outbox_pending;
  int64_t outbox_oldest_s;
};

extern struct stats stats;
extern const struct db_statement stats_statements[];

void stats_observe(struct histogram *h, int64_t ms);

/* Reads the outbox figures; on failure they become -1 (not written). */
void stats_read_outbox(struct db *db);

/* Writes s as Prometheus text into out[cap]; returns the length, or 0 when
 * it does not fit. */
size_t stats_render(struct stats *s, char *out, size_t cap);

/* Writes the file atomically: path.tmp, then rename.  Returns 0 or -1
 * (errno set). */
int stats_write_file(struct stats *s, const char *path);

#endif
