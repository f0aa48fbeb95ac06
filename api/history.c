/*
 * history.c - what a project went through: /project/{id}/checks (the raw
 * checks), /project/{id}/uptime (windows of the hourly totals),
 * /project/{id}/incidents (down periods) and /project/{id}/series (the
 * response-time chart).  DESIGN §2 and §4.
 *
 * Reads only, each one statement scoped by the caller's user id like the
 * rest of projects.c: one row per project, so a project that is missing or
 * someone else's gives no row and a 404.  Postgres aggregates and builds
 * the JSON; the client never receives more rows than it shows (a chart of
 * 24 hours is at most 289 points, however often the project is checked).
 */
#include "handlers.h"
#include "parse.h"

#include <string.h>

#define CHECKS_LIMIT_DEFAULT 100
#define CHECKS_LIMIT_MAX 1000
#define INCIDENTS_LIMIT_DEFAULT 20
#define INCIDENTS_LIMIT_MAX 100
/* Deepest page of checks or incidents (OFFSET walks the index). */
#define HISTORY_OFFSET_MAX 100000

/* Five-minute buckets of the day's raw checks. */
#define SERIES_BUCKET_SECONDS "300"

const struct db_statement history_statements[] = {
  /* (total, page); the checks are a sub-select, so a project without
   * checks gives 0 and []. */
  {"history_checks",
   "SELECT (SELECT count(*) FROM checks c WHERE c.project_id = p.id),"
   " " SQL_JSON_ARRAY(
     "SELECT c.id, " SQL_RFC3339("c.scheduled_at") " AS scheduled_at,"
     "  " SQL_RFC3339("c.checked_at") " AS checked_at, c.ok,"
     "  CASE WHEN c.ok THEN 'UP' ELSE 'DOWN' END AS status, c.status_code,"
     "  c.latency_ms, c.error"
     " FROM checks c WHERE c.project_id = p.id"
     " ORDER BY c.checked_at DESC, c.id DESC LIMIT $3::int OFFSET $4::int",
     "t.checked_at DESC, t.id DESC")
   " FROM projects p WHERE p.id = $1 AND p.user_id = $2"},
  /* Each window counts the current hour and the hours before it, read
   * from the hourly aggregates the monitor keeps (at most 720 rows). */
  {"history_uptime",
   "SELECT json_build_object('project_id', p.id, 'windows', ("
   "  SELECT json_object_agg(w.label, json_build_object("
   "    'checks', coalesce(s.checks, 0), 'up', coalesce(s.up, 0),"
   "    'uptime_percent', CASE WHEN s.checks > 0"
   "        THEN round(100.0 * s.up / s.checks, 3) END,"
   "    'avg_latency_ms', CASE WHEN s.checks > 0"
   "        THEN round(s.latency::numeric / s.checks, 1) END)"
   "    ORDER BY w.hours)"
   "  FROM (VALUES ('24h', 24), ('7d', 168), ('30d', 720)) AS w(label, hours)"
   "  CROSS JOIN LATERAL ("
   "    SELECT sum(h.checks) AS checks, sum(h.up) AS up,"
   "           sum(h.latency_sum) AS latency"
   "    FROM check_hours h"
   "    WHERE h.project_id = p.id"
   "      AND h.hour >= date_trunc('hour', now())"
   "                    - (w.hours - 1) * interval '1 hour') s))"
   " FROM projects p WHERE p.id = $1 AND p.user_id = $2"},
  /* (total, page), newest first; an open incident lasts until now.  The
   * page is ordered by the timestamps themselves, not their text, so
   * incidents of the same second keep their order. */
  {"history_incidents",
   "SELECT (SELECT count(*) FROM incidents i WHERE i.project_id = p.id),"
   " coalesce((SELECT json_agg(json_build_object("
   "     'id', i.id,"
   "     'started_at', " SQL_RFC3339("i.started_at") ","
   "     'resolved_at', " SQL_RFC3339("i.resolved_at") ","
   "     'duration_seconds', floor(extract(epoch FROM"
   "         coalesce(i.resolved_at, now()) - i.started_at))::bigint,"
   "     'cause', i.reason)"
   "     ORDER BY i.started_at DESC, i.id DESC)"
   "   FROM (SELECT * FROM incidents WHERE project_id = p.id"
   "         ORDER BY started_at DESC, id DESC"
   "         LIMIT $3::int OFFSET $4::int) i), '[]')"
   " FROM projects p WHERE p.id = $1 AND p.user_id = $2"},
  /* The last 24 hours from the raw checks (the checks_project_time_idx
   * range of one project), in buckets that start on multiples of 300 s
   * since the epoch; the first may start before "from".  The mean is over
   * the checks that have a latency. */
  {"history_series_day",
   "SELECT json_build_object('project_id', p.id, 'range', '24h',"
   "  'bucket_seconds', " SERIES_BUCKET_SECONDS ","
   "  'from', " SQL_RFC3339("w.since") ", 'to', " SQL_RFC3339("w.until") ","
   "  'points', coalesce((SELECT json_agg(json_build_object("
   "      't', " SQL_RFC3339("b.t") ", 'checks', b.checks, 'up', b.up,"
   "      'avg_latency_ms', b.avg_latency, 'max_latency_ms', b.max_latency)"
   "      ORDER BY b.t)"
   "    FROM (SELECT date_bin(interval '" SERIES_BUCKET_SECONDS " seconds',"
   "                          c.checked_at, timestamptz 'epoch') AS t,"
   "                 count(*) AS checks, count(*) FILTER (WHERE c.ok) AS up,"
   "                 round(avg(c.latency_ms), 1) AS avg_latency,"
   "                 max(c.latency_ms) AS max_latency"
   "          FROM checks c"
   "          WHERE c.project_id = p.id AND c.checked_at >= w.since"
   "          GROUP BY 1) b), '[]'))"
   " FROM projects p, (SELECT date_trunc('second', now()) AS until,"
   "   date_trunc('second', now()) - interval '24 hours' AS since) w"
   " WHERE p.id = $1 AND p.user_id = $2"},
  /* $4 hours of the hourly totals, the current one included (the uptime
   * windows' hours); "from" is the start of the first. */
  {"history_series_hours",
   "SELECT json_build_object('project_id', p.id, 'range', $3::text,"
   "  'bucket_seconds', 3600,"
   "  'from', " SQL_RFC3339("w.since") ", 'to', " SQL_RFC3339("w.until") ","
   "  'points', coalesce((SELECT json_agg(json_build_object("
   "      't', " SQL_RFC3339("h.hour") ", 'checks', h.checks, 'up', h.up,"
   "      'avg_latency_ms', round(h.latency_sum::numeric / h.checks, 1),"
   "      'max_latency_ms', h.latency_max)"
   "      ORDER BY h.hour)"
   "    FROM check_hours h"
   "    WHERE h.project_id = p.id AND h.hour >= w.since"
   "      AND h.checks > 0), '[]'))"
   " FROM projects p, (SELECT date_trunc('second', now()) AS until,"
   "   date_trunc('hour', now()) - ($4::int - 1) * interval '1 hour'"
   "     AS since) w"
   " WHERE p.id = $1 AND p.user_id = $2"},
  {NULL, NULL},
};

/* limit and offset of a paged read.  Returns 0, or the status after
 * replying 400. */
static int page_or_reply(struct request *req, int64_t limit_default,
                         int64_t limit_max, int64_t *limit, int64_t *offset)
{
  int rc;

  *limit = limit_default;
  *offset = 0;
  rc = request_query_int_or_reply(req, "limit", 1, limit_max, limit);
  if(!rc)
    rc = request_query_int_or_reply(req, "offset", 0, HISTORY_OFFSET_MAX,
                                    offset);
  return rc;
}

/* A paged read of the project in the path: (total, page). */
static int reply_page(struct request *req, const char *stmt,
                      int64_t limit_default, int64_t limit_max)
{
  char pid[INT_TEXT_MAX], uid[INT_TEXT_MAX], lim[INT_TEXT_MAX];
  char off[INT_TEXT_MAX];
  int64_t limit, offset;
  int rc = page_or_reply(req, limit_default, limit_max, &limit, &offset);

  if(rc)
    return rc;
  return reply_db_page(req, stmt, 4, (const char *[]){
      int_text(pid, req->ids[0]), int_text(uid, req->user_id),
      int_text(lim, limit), int_text(off, offset)});
}

int history_checks(struct request *req)
{
  return reply_page(req, "history_checks", CHECKS_LIMIT_DEFAULT,
                    CHECKS_LIMIT_MAX);
}

int history_incidents(struct request *req)
{
  return reply_page(req, "history_incidents", INCIDENTS_LIMIT_DEFAULT,
                    INCIDENTS_LIMIT_MAX);
}

int history_uptime(struct request *req)
{
  char pid[INT_TEXT_MAX], uid[INT_TEXT_MAX];

  return reply_db_read(req, "history_uptime", 2, (const char *[]){
      int_text(pid, req->ids[0]), int_text(uid, req->user_id)});
}

/* ?range=24h|7d|30d: the day from raw checks, or 168 or 720 hourly
 * totals. */
int history_series(struct request *req)
{
  char pid[INT_TEXT_MAX], uid[INT_TEXT_MAX], range[8];
  const char *hours;

  if(query_param(req->query, "range", range, sizeof(range), NULL) !=
     QUERY_OK ||
     (strcmp(range, "24h") && strcmp(range, "7d") && strcmp(range, "30d")))
    return reply_error(req, 400, "query parameter 'range' must be 24h, 7d "
                       "or 30d");
  int_text(pid, req->ids[0]);
  int_text(uid, req->user_id);
  if(!strcmp(range, "24h"))
    return reply_db_read(req, "history_series_day", 2,
                         (const char *[]){pid, uid});
  hours = strcmp(range, "7d") ? "720" : "168";
  return reply_db_read(req, "history_series_hours", 4,
                       (const char *[]){pid, uid, range, hours});
}
