/*
 * stats.c - the monitor's counters and their textfile; see stats.h.
 */
#include "stats.h"
#include "parse.h"
#include "promtext.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most the metrics file may hold: a few dozen lines. */
#define STATS_TEXT_MAX 16384

const struct db_statement stats_statements[] = {
  {"stats_outbox",
   "SELECT count(*)::bigint,"
   " coalesce(floor(extract(epoch FROM now() - min(created_at))), 0)::bigint"
   " FROM mail_outbox WHERE sent_at IS NULL"},
  {NULL, NULL},
};

/* Bucket bounds in ms, for both histograms: 50 ms to 60 s. */
static const struct histogram_bounds bounds_ms = {
  .per_second = 1000,
  .le = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000},
};

#define GET(c) ((uint64_t)atomic_load_explicit(&(c), memory_order_relaxed))

void stats_init(struct stats *s)
{
  memset(s, 0, sizeof(*s));
  s->outbox_pending = s->outbox_oldest_s = -1;
}

void stats_observe(struct histogram *h, int64_t ms)
{
  histogram_observe(h, &bounds_ms, ms < 0 ? 0 : (uint64_t)ms);
}

void stats_read_outbox(struct stats *s, struct db *db)
{
  PGresult *res = NULL;
  int64_t pending, oldest;

  /* -1 is "unknown": the gauges are left out rather than made up. */
  s->outbox_pending = s->outbox_oldest_s = -1;
  if(db_exec(db, "stats_outbox", 0, NULL, &res) == DB_OK &&
     PQntuples(res) == 1 &&
     parse_int(PQgetvalue(res, 0, 0), 0, INT64_MAX, &pending) &&
     parse_int(PQgetvalue(res, 0, 1), 0, INT64_MAX, &oldest)) {
    s->outbox_pending = pending;
    s->outbox_oldest_s = oldest;
  }
  PQclear(res);
}

int stats_render(struct stats *s, struct dynbuf *o)
{
  promtext_family(o, "trackly_monitor_checks_total", "counter",
         "Checks finished, by result.");
  promtext_put(o, "trackly_monitor_checks_total{result=\"up\"} %llu\n"
      "trackly_monitor_checks_total{result=\"down\"} %llu\n",
      (unsigned long long)GET(s->checks_up),
      (unsigned long long)GET(s->checks_down));
  histogram_render(o, "trackly_monitor_check_duration_seconds",
                   "How long each check took.", &s->duration, &bounds_ms);
  histogram_render(o, "trackly_monitor_schedule_lag_seconds",
                   "How late each check started after its scheduled slot.",
                   &s->lag, &bounds_ms);
  promtext_counter(o, "trackly_monitor_claims_total",
          "Claim statements sent.", GET(s->claims));
  promtext_counter(o, "trackly_monitor_leases_claimed_total",
          "Projects claimed for a check.", GET(s->leases_claimed));
  promtext_counter(o, "trackly_monitor_leases_expired_total",
          "Of those, claimed from an expired lease of another monitor.",
          GET(s->leases_expired));
  promtext_counter(o, "trackly_monitor_mail_queued_total",
          "Alert mails this monitor put in the outbox.", GET(s->mail_queued));
  promtext_counter(o, "trackly_monitor_mail_sent_total",
          "Mails this monitor handed to the mail server.", GET(s->mail_sent));
  promtext_counter(o, "trackly_monitor_mail_failed_total",
          "Attempts to send a mail that failed (retried later).",
          GET(s->mail_failed));
  if(s->outbox_pending >= 0) {
    promtext_gauge(o, "trackly_monitor_outbox_pending",
           "Mails in the outbox not sent yet (all monitors).",
           s->outbox_pending);
    promtext_gauge(o, "trackly_monitor_outbox_oldest_seconds",
           "Age of the oldest unsent mail; 0 when none.", s->outbox_oldest_s);
  }
  return dynbuf_ptr(o) ? 0 : -1;
}

int stats_write_file(struct stats *s, const char *path)
{
  char tmp[4096 + 8];
  struct dynbuf text;
  int fd = -1, rc = -1;

  dynbuf_init(&text, STATS_TEXT_MAX);
  if(stats_render(s, &text) || strlen(path) > 4096) {
    errno = ENOSPC;
    goto out;
  }
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if(fd < 0)
    goto out;
  /* Readable by the collector (another user) despite the unit's
   * UMask=0077: counts of checks and mails, nothing secret. */
  if(!fchmod(fd, 0644) &&
     write(fd, dynbuf_ptr(&text), dynbuf_len(&text)) ==
     (ssize_t)dynbuf_len(&text))
    rc = 0;
  if(close(fd))
    rc = -1;
  if(!rc && rename(tmp, path))
    rc = -1;
  if(rc)
    unlink(tmp);
out:
  dynbuf_free(&text);
  return rc;
}
