/*
 * stats.c - the monitor's counters and their textfile; see stats.h.
 */
#include "stats.h"
#include "parse.h"
#include "promtext.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct stats stats = {.outbox_pending = -1, .outbox_oldest_s = -1};

const struct db_statement stats_statements[] = {
  {"stats_outbox",
   "SELECT count(*)::bigint,"
   " coalesce(floor(extract(epoch FROM now() - min(created_at))), 0)::bigint"
   " FROM mail_outbox WHERE sent_at IS NULL"},
  {NULL, NULL},
};

/* Bucket bounds in ms, for both histograms: 50 ms to 60 s. */
static const int64_t bounds_ms[STATS_BUCKETS] = {
  50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000,
};

#define ADD(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define GET(c) ((unsigned long long)atomic_load_explicit(&(c), \
                                                        memory_order_relaxed))

void stats_observe(struct histogram *h, int64_t ms)
{
  size_t b = 0;

  if(ms < 0)
    ms = 0;                 /* a check started before its slot's second */
  while(b < STATS_BUCKETS && ms > bounds_ms[b])
    b++;
  ADD(h->buckets[b], 1);
  ADD(h->sum_ms, (uint64_t)ms);
}

void stats_read_outbox(struct db *db)
{
  PGresult *res = NULL;

  int64_t pending, oldest;

  /* -1 is "unknown": the gauges are left out rather than made up. */
  stats.outbox_pending = stats.outbox_oldest_s = -1;
  if(db_exec(db, "stats_outbox", 0, NULL, &res) == DB_OK &&
     PQntuples(res) == 1 &&
     parse_int(PQgetvalue(res, 0, 0), 0, INT64_MAX, &pending) &&
     parse_int(PQgetvalue(res, 0, 1), 0, INT64_MAX, &oldest)) {
    stats.outbox_pending = pending;
    stats.outbox_oldest_s = oldest;
  }
  PQclear(res);
}

static void histogram(struct promtext *o, const char *name,
                      struct histogram *h, const char *help)
{
  unsigned long long total = 0, sum = GET(h->sum_ms);

  promtext_family(o, name, "histogram", help);
  for(size_t b = 0; b <= STATS_BUCKETS; b++) {
    total += GET(h->buckets[b]);
    if(b < STATS_BUCKETS)
      promtext_put(o, "%s_bucket{le=\"%g\"} %llu\n", name,
                   bounds_ms[b] / 1e3, total);
    else
      promtext_put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, total);
  }
  promtext_put(o, "%s_sum %llu.%03llu\n%s_count %llu\n", name, sum / 1000,
               sum % 1000, name, total);
}

static void counter(struct promtext *o, const char *name, unsigned long long n,
                    const char *help)
{
  promtext_family(o, name, "counter", help);
  promtext_put(o, "%s %llu\n", name, n);
}

size_t stats_render(struct stats *s, char *out, size_t cap)
{
  struct promtext o = {out, 0, cap, cap == 0};

  promtext_family(&o, "trackly_monitor_checks_total", "counter",
         "Checks finished, by result.");
  promtext_put(&o, "trackly_monitor_checks_total{result=\"up\"} %llu\n"
      "trackly_monitor_checks_total{result=\"down\"} %llu\n",
      GET(s->checks_up), GET(s->checks_down));
  histogram(&o, "trackly_monitor_check_duration_seconds", &s->duration,
            "How long each check took.");
  histogram(&o, "trackly_monitor_schedule_lag_seconds", &s->lag,
            "How late each check started after its scheduled slot.");
  counter(&o, "trackly_monitor_leases_claimed_total", GET(s->leases_claimed),
          "Projects claimed for a check.");
  counter(&o, "trackly_monitor_leases_expired_total", GET(s->leases_expired),
          "Of those, claimed from an expired lease of another monitor.");
  counter(&o, "trackly_monitor_mail_queued_total", GET(s->mail_queued),
          "Alert mails this monitor put in the outbox.");
  counter(&o, "trackly_monitor_mail_sent_total", GET(s->mail_sent),
          "Mails this monitor handed to the mail server.");
  counter(&o, "trackly_monitor_mail_failed_total", GET(s->mail_failed),
          "Attempts to send a mail that failed (retried later).");
  if(s->outbox_pending >= 0) {
    promtext_family(&o, "trackly_monitor_outbox_pending", "gauge",
           "Mails in the outbox not sent yet (all monitors).");
    promtext_put(&o, "trackly_monitor_outbox_pending %lld\n",
        (long long)s->outbox_pending);
    promtext_family(&o, "trackly_monitor_outbox_oldest_seconds", "gauge",
           "Age of the oldest unsent mail; 0 when none.");
    promtext_put(&o, "trackly_monitor_outbox_oldest_seconds %lld\n",
        (long long)s->outbox_oldest_s);
  }
  return o.full ? 0 : o.len;
}

int stats_write_file(struct stats *s, const char *path)
{
  char tmp[4096 + 8], text[16384];
  size_t len = stats_render(s, text, sizeof(text));
  int fd, rc = 0;

  if(!len || strlen(path) > 4096)
    return -1;
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if(fd < 0)
    return -1;
  /* Readable by the collector (another user) despite the unit's
   * UMask=0077: counts of checks and mails, nothing secret. */
  if(fchmod(fd, 0644) || write(fd, text, len) != (ssize_t)len)
    rc = -1;
  if(close(fd))
    rc = -1;
  if(!rc)
    rc = rename(tmp, path);
  if(rc)
    unlink(tmp);
  return rc;
}
