/*
 * history.c - what a project went through: /project/{id}/checks (the raw
 * checks), /project/{id}/uptime (windows of the hourly totals),
 * /project/{id}/incidents (down periods) and /project/{id}/series (the
 * response-time chart).  DESIGN §2 and §4.
 *
 * Reads only, each one statement scoped by the caller's user id like the
 * rest of projects.c: one row per project, so a project that is missing or
 * someone else's gives no row and a 404.  Postgres aggregates; the checks,
 * the incidents and the uptime windows come back as plain columns and the
 * worker writes their JSON (common/pgjson.h), while the chart's series is
 * still built by Postgres (a route the client does not poll).  The client
 * never receives more rows than it shows (a chart of 24 hours is at most
 * 289 points, however often the project is checked).
 */
#include "handlers.h"
#include "parse.h"
#include "pgjson.h"

#include <string.h>

#define CHECKS_LIMIT_DEFAULT 100
#define CHECKS_LIMIT_MAX 1000
#define INCIDENTS_LIMIT_DEFAULT 20
#define INCIDENTS_LIMIT_MAX 100
/* Deepest page of checks or incidents (OFFSET walks the index). */
#define HISTORY_OFFSET_MAX 100000

/* The first hour of an uptime window w (w.hours hours, the current one
 * included). */
#define WINDOW_SINCE \
  "date_trunc('hour', now()) - (w.hours - 1) * interval '1 hour'"

/* Five-minute buckets of the day's raw checks. */
#define SERIES_BUCKET_SECONDS "300"

const struct db_statement history_statements[] = {
  /* (total, page) rows (SQL_PAGE): a project without checks gives one
   * row, 0 and nulls, and someone else's none.  A check has no key of its
   * own in the table (schema.sql): its "id" is its checked_at in
   * milliseconds since the epoch, unique within its project (a project's
   * checks are one after another) and growing with each new check, which
   * is what the web client watches for after "Check now". */
  {"history_checks",
   SQL_PAGE("SELECT (SELECT count(*) FROM checks c"
            "        WHERE c.project_id = p.id) AS total"
            " FROM projects p WHERE p.id = $1 AND p.user_id = $2",
            "SELECT floor(extract(epoch FROM c.checked_at) * 1000)::bigint"
            "    AS id, c.scheduled_at, c.checked_at, c.ok,"
            "  CASE WHEN c.ok THEN 'UP' ELSE 'DOWN' END AS status,"
            "  c.status_code, c.latency_ms, c.error"
            " FROM checks c WHERE c.project_id = $1"
            "   AND c.checked_at < " SQL_CHECKS_UNTIL
            " ORDER BY c.checked_at DESC, c.scheduled_at DESC"
            " LIMIT $3::int OFFSET $4::int",
            "t.checked_at DESC, t.scheduled_at DESC")},
  /* One row per window, (project_id, label, the window's fields...),
   * written as {"project_id", "windows": {label: {...}}}.  Each window
   * counts the current hour and the hours before it, read from the hourly
   * aggregates the monitor keeps (at most 720 rows) and the current
   * hour's in the projects row. */
  {"history_uptime",
   "SELECT p.id AS project_id, w.label,"
   "  coalesce(s.checks, 0) AS checks, coalesce(s.up, 0) AS up,"
   "  CASE WHEN s.checks > 0 THEN round(100.0 * s.up / s.checks, 3) END"
   "    AS uptime_percent,"
   "  CASE WHEN s.checks > 0 THEN round(s.latency::numeric / s.checks, 1) END"
   "    AS avg_latency_ms"
   " FROM projects p"
   " CROSS JOIN (VALUES ('24h', 24), ('7d', 168), ('30d', 720))"
   "   AS w(label, hours)"
   " CROSS JOIN LATERAL ("
   "   SELECT coalesce(sum(h.checks), 0)"
   "            + " SQL_HOUR_NOW("checks", WINDOW_SINCE) " AS checks,"
   "          coalesce(sum(h.up), 0)"
   "            + " SQL_HOUR_NOW("up", WINDOW_SINCE) " AS up,"
   "          coalesce(sum(h.latency_sum), 0)"
   "            + " SQL_HOUR_NOW("latency_sum", WINDOW_SINCE) " AS latency"
   "   FROM check_hours h"
   "   WHERE h.project_id = p.id AND h.hour >= " WINDOW_SINCE ") s"
   " WHERE p.id = $1 AND p.user_id = $2"
   " ORDER BY w.hours"},
  /* (total, page) rows, newest first; an open incident lasts until now.
   * The page is ordered by the timestamps themselves, so incidents of the
   * same second keep their order. */
  {"history_incidents",
   SQL_PAGE("SELECT (SELECT count(*) FROM incidents i"
            "        WHERE i.project_id = p.id) AS total"
            " FROM projects p WHERE p.id = $1 AND p.user_id = $2",
            "SELECT i.id, i.started_at, i.resolved_at,"
            "  floor(extract(epoch FROM"
            "    coalesce(i.resolved_at, now()) - i.started_at))::bigint"
            "    AS duration_seconds,"
            "  i.reason AS cause"
            " FROM incidents i WHERE i.project_id = $1"
            " ORDER BY i.started_at DESC, i.id DESC"
            " LIMIT $3::int OFFSET $4::int",
            "t.started_at DESC, t.id DESC")},
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
   * windows' hours; the current hour's in the projects row, added to any
   * row of that hour a late check made); "from" is the start of the
   * first. */
  {"history_series_hours",
   "SELECT json_build_object('project_id', p.id, 'range', $3::text,"
   "  'bucket_seconds', 3600,"
   "  'from', " SQL_RFC3339("w.since") ", 'to', " SQL_RFC3339("w.until") ","
   "  'points', coalesce((SELECT json_agg(json_build_object("
   "      't', " SQL_RFC3339("h.hour") ", 'checks', h.checks, 'up', h.up,"
   "      'avg_latency_ms', round(h.latency_sum::numeric / h.checks, 1),"
   "      'max_latency_ms', h.latency_max)"
   "      ORDER BY h.hour)"
   "    FROM (SELECT a.hour, sum(a.checks) AS checks, sum(a.up) AS up,"
   "                 sum(a.latency_sum) AS latency_sum,"
   "                 max(a.latency_max) AS latency_max"
   "          FROM (SELECT hour, checks, up, latency_sum, latency_max"
   "                FROM check_hours"
   "                WHERE project_id = p.id AND hour >= w.since"
   "                UNION ALL"
   "                SELECT p.hour_start, p.hour_checks, p.hour_up,"
   "                       p.hour_latency_sum, p.hour_latency_max"
   "                WHERE p.hour_start >= w.since) a"
   "          GROUP BY a.hour) h"
   "    WHERE h.checks > 0), '[]'))"
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
  return reply_rows_page(req, stmt, 4, (const char *[]){
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

/* {"project_id": id, "windows": {"24h": {checks, up, uptime_percent,
 * avg_latency_ms}, "7d": ..., "30d": ...}} from the statement's rows. */
int history_uptime(struct request *req)
{
  char pid[INT_TEXT_MAX], uid[INT_TEXT_MAX];
  PGresult *res = NULL;
  struct dynbuf b;
  int row;
  int rc = request_read_or_reply(req, "history_uptime", 2, (const char *[]){
      int_text(pid, req->ids[0]), int_text(uid, req->user_id)}, &res);

  if(rc)
    return rc;
  if(!PQntuples(res)) {
    PQclear(res);
    return 404;
  }
  dynbuf_init(&b, PGJSON_MAX);
  dynbuf_addstr(&b, "{\"project_id\":");
  pgjson_value(&b, res, 0, 0);
  dynbuf_addstr(&b, ",\"windows\":{");
  for(row = 0; row < PQntuples(res); row++) {
    if(row)
      dynbuf_addc(&b, ',');
    pgjson_value(&b, res, row, 1);
    dynbuf_addc(&b, ':');
    pgjson_object(&b, res, row, 2);
  }
  dynbuf_addstr(&b, "}}");
  rc = reply_json_buffer(req, 200, &b);
  dynbuf_free(&b);
  PQclear(res);
  return rc;
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
