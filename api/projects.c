/*
 * projects.c - the sites people watch: /project, /project/{id},
 * /project/dashboard, /project/status and /project/{id}/check.  DESIGN
 * §2.  A project's history (checks, uptime, incidents, the chart's series)
 * is history.c; the mute link of alert mail, /project/mute, is mute.c.
 *
 * Every statement is scoped by the caller's user id, so someone else's
 * project is indistinguishable from a missing one (404).  Statements
 * return plain columns named as the answer's fields, and the worker writes
 * the JSON (request.h's reply_rows_*, common/pgjson.h): Postgres builds
 * JSON several times slower than it returns rows (bench/results-api.md),
 * and it is the API's most loaded process.  Only nested lists (the
 * dashboard's, the status strip) are still JSON columns built in SQL.
 *
 * Writes that change what the monitor should do (create, update, delete,
 * check now) all go through write_or_reply: BEGIN, the write's own steps,
 * NOTIFY trackly_wakeup, COMMIT, so a monitor wakes exactly when the change
 * is visible to it.
 *
 * Rollback has one owner, api/worker.c: after every request it rolls back
 * whatever transaction is still open (a no-op when none is).  A write that
 * fails or is refused (404, 403, 409, a database error) therefore just
 * returns its status and leaves the transaction to it; nothing here calls
 * db_rollback.
 */
#include "handlers.h"
#include "input.h"
#include "parse.h"
#include "pgjson.h"

#include <stdio.h>
#include <string.h>

#define LIST_LIMIT_MAX 1000
/* Most checks per project that /project/status?recent= gives. */
#define STATUS_RECENT_MAX 100
/* The dashboard's lists: projects down now, and the latest incidents
 * (SQL text: they are written into the statement). */
#define DASHBOARD_DOWN_MAX "100"
#define DASHBOARD_INCIDENTS "10"

/* A project as the API shows it: the columns of the project object, in
 * order ("p" is the projects row).  Timestamps stay timestamptz: the
 * worker writes them as RFC 3339 cheaper than to_char does. */
#define PROJECT_COLUMNS \
  "p.id, p.name, p.description, p.link, p.user_id, p.created_at," \
  " p.updated_at, p.interval_seconds, p.timeout_ms, p.expected_status," \
  " p.keyword, p.failure_threshold, p.recovery_threshold, p.paused," \
  " p.alerts_muted," \
  " CASE WHEN p.paused THEN 'PAUSED' ELSE p.status END AS status," \
  " p.last_status_code, p.last_latency_ms, p.last_checked_at, p.last_error," \
  " coalesce(p.status_changed_at, p.created_at) AS status_since"

/* The start of the current hour and the 23 before it. */
#define DAY_HOURS_SINCE "date_trunc('hour', now()) - interval '23 hours'"

/* A line of /project/status ("p" is the projects row).  uptime_24h counts
 * the current hour and the 23 before it, as the uptime windows do (the
 * current one's totals are in the projects row). */
#define STATUS_COLUMNS \
  "p.id, p.name, p.link," \
  " CASE WHEN p.paused THEN 'PAUSED' ELSE p.status END AS status," \
  " p.last_status_code AS code, p.last_latency_ms AS latency_ms," \
  " p.last_checked_at AS last_checked," \
  " coalesce(p.last_checked_at, p.updated_at) AS last_updated," \
  " p.paused, p.alerts_muted, p.interval_seconds, p.last_error," \
  " coalesce(p.status_changed_at, p.created_at) AS status_since," \
  " (SELECT round(100.0 * (coalesce(sum(h.up), 0)" \
  "                        + " SQL_HOUR_NOW("up", DAY_HOURS_SINCE) ")" \
  "          / nullif(coalesce(sum(h.checks), 0)" \
  "                   + " SQL_HOUR_NOW("checks", DAY_HOURS_SINCE) ", 0), 2)" \
  "  FROM check_hours h WHERE h.project_id = p.id" \
  "    AND h.hour >= " DAY_HOURS_SINCE ")" \
  "   AS uptime_24h"

/* One project, from a source of projects rows named p. */
#define PROJECT_FROM(source) "SELECT " PROJECT_COLUMNS " FROM " source

const struct db_statement projects_statements[] = {
  {"project_lock_owner",
   "SELECT 1 FROM users WHERE id = $1 FOR UPDATE"},
  /* New projects start at a random point of their first interval, so a
   * bulk import does not make every check fall on the same second. */
  {"project_insert",
   "WITH p AS ("
   " INSERT INTO projects (user_id, name, description, link,"
   "   interval_seconds, timeout_ms, expected_status, keyword,"
   "   failure_threshold, recovery_threshold, paused, alerts_muted,"
   "   next_check_at)"
   " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13,"
   "        now() + random() * $5::int * interval '1 second'"
   " WHERE (SELECT count(*) FROM projects WHERE user_id = $1) < $12::bigint"
   " RETURNING *) " PROJECT_FROM("p")},
  {"project_get",
   PROJECT_FROM("projects p WHERE p.id = $1 AND p.user_id = $2")},
  {"project_lock",
   "SELECT interval_seconds, timeout_ms FROM projects"
   " WHERE id = $1 AND user_id = $2 FOR UPDATE"},
  /* NULL parameters keep the stored value; $9 says whether keyword was
   * given at all, since null clears it. */
  {"project_update",
   "WITH p AS (UPDATE projects AS p SET"
   /* Unmuting rotates the mute links: the ones mailed before stop
    * working (and their digests go, below). */
   "  mute_generation = p.mute_generation + CASE WHEN p.alerts_muted"
   "    AND NOT coalesce($14::boolean, true) THEN 1 ELSE 0 END,"
   "  name = coalesce($3, p.name),"
   "  description = coalesce($4, p.description),"
   "  link = coalesce($5, p.link),"
   "  interval_seconds = coalesce($6::int, p.interval_seconds),"
   "  timeout_ms = coalesce($7::int, p.timeout_ms),"
   "  expected_status = coalesce($8, p.expected_status),"
   "  keyword = CASE WHEN $9::boolean THEN $10 ELSE p.keyword END,"
   "  failure_threshold = coalesce($11::smallint, p.failure_threshold),"
   "  recovery_threshold = coalesce($12::smallint, p.recovery_threshold),"
   "  paused = coalesce($13::boolean, p.paused),"
   "  alerts_muted = coalesce($14::boolean, p.alerts_muted),"
   "  next_check_at = now(), updated_at = now()"
   " WHERE p.id = $1 AND p.user_id = $2"
   " RETURNING *),"
   " stale AS (DELETE FROM mute_tokens t USING p"
   "   WHERE t.project_id = p.id AND t.generation <> p.mute_generation) "
   PROJECT_FROM("p")},
  {"project_delete",
   "DELETE FROM projects WHERE id = $1 AND user_id = $2"},
  {"project_check_now",
   "UPDATE projects SET next_check_at ="
   "   CASE WHEN paused THEN next_check_at ELSE now() END"
   " WHERE id = $1 AND user_id = $2 RETURNING paused"},
  {"project_wakeup",
   "SELECT pg_notify('trackly_wakeup', $1)"},
  {"project_list",
   SQL_PAGE("SELECT count(*) AS total FROM projects WHERE user_id = $1",
            "SELECT " PROJECT_COLUMNS " FROM projects p"
            " WHERE p.user_id = $1 ORDER BY p.id"
            " LIMIT $2::bigint OFFSET $3::bigint", "t.id")},
  /* The original service's fields first, in their order, then what the
   * web client's dashboard adds: the latest probe, the projects down now
   * (oldest first; since when: the open incident's start, or the first
   * failure), and the latest incidents of all the user's projects. */
  {"project_dashboard",
   "SELECT count(*) AS total_projects,"
   "  coalesce((SELECT name FROM projects"
   "      WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1), '')"
   "    AS latest_projects,"
   "  coalesce(to_char(greatest(max(updated_at),"
   "      max(last_checked_at)) AT TIME ZONE 'UTC',"
   "      'YYYY-MM-DD HH24:MI:SS'), '') AS last_updated,"
   "  count(*) FILTER (WHERE NOT paused AND status = 'UP') AS up,"
   "  count(*) FILTER (WHERE NOT paused AND status = 'DOWN') AS down,"
   "  count(*) FILTER (WHERE NOT paused AND status = 'PENDING') AS pending,"
   "  count(*) FILTER (WHERE paused) AS paused,"
   "  max(last_checked_at) AS last_checked_at,"
   "  (SELECT coalesce(json_agg(json_build_object('id', d.id,"
   "       'name', d.name, 'link', d.link,"
   "       'since', " SQL_RFC3339("d.since") ", 'reason', d.last_error)"
   "       ORDER BY d.since, d.id), '[]')"
   "   FROM (SELECT p.id, p.name, p.link, p.last_error,"
   "           coalesce(i.started_at, p.failing_since, p.status_changed_at)"
   "             AS since"
   "         FROM projects p LEFT JOIN incidents i"
   "           ON i.project_id = p.id AND i.resolved_at IS NULL"
   "         WHERE p.user_id = $1 AND p.status = 'DOWN' AND NOT p.paused"
   "         ORDER BY since, p.id LIMIT " DASHBOARD_DOWN_MAX ") d)"
   "    AS down_projects,"
   "  (SELECT coalesce(json_agg(json_build_object('id', r.id,"
   "       'project_id', r.project_id, 'project_name', r.name,"
   "       'started_at', " SQL_RFC3339("r.started_at") ","
   "       'resolved_at', " SQL_RFC3339("r.resolved_at") ","
   "       'duration_seconds', floor(extract(epoch FROM"
   "           coalesce(r.resolved_at, now()) - r.started_at))::bigint,"
   "       'cause', r.reason)"
   "       ORDER BY r.started_at DESC, r.id DESC), '[]')"
   "   FROM (SELECT i.id, i.project_id, p.name, i.started_at,"
   "                i.resolved_at, i.reason"
   "         FROM incidents i JOIN projects p ON p.id = i.project_id"
   "         WHERE p.user_id = $1"
   "         ORDER BY i.started_at DESC, i.id DESC"
   "         LIMIT " DASHBOARD_INCIDENTS ") r)"
   "    AS recent_incidents"
   " FROM projects WHERE user_id = $1"},
  /* One line per project.  The original service's fields come first, in
   * their order; last_updated is the last probe (the last change before
   * the first one). */
  {"project_status",
   "SELECT " STATUS_COLUMNS " FROM projects p WHERE p.user_id = $1"
   " ORDER BY p.id"},
  /* The same with each project's last $2 checks, oldest first, as compact
   * arrays [seconds before last_checked, ok, status_code, latency_ms] and
   * the error as a fifth element only when there is one: a thousand
   * projects' strips are most of the answer, and this is half the bytes
   * (and half the text to build) of absolute times and nulls.  The base is
   * the project's last_checked (now() if it has none), so the client gets
   * each time back exactly.  Each project's checks are one LIMIT read of
   * checks_project_time_idx (project_id, checked_at), backwards, today's
   * partition first (SQL_CHECKS_UNTIL); the arrays are
   * built as text and cast to json, which the worker copies through
   * unchanged. */
  {"project_status_recent",
   "SELECT " STATUS_COLUMNS ","
   "  (SELECT coalesce(('[' || string_agg("
   "      '[' || (extract(epoch FROM coalesce(p.last_checked_at, now()))"
   "              - extract(epoch FROM r.checked_at))::bigint || ','"
   "      || r.ok::int || ',' || coalesce(r.status_code::text, 'null')"
   "      || ',' || coalesce(r.latency_ms::text, 'null')"
   "      || coalesce(',' || to_json(r.error)::text, '') || ']',"
   "      ',' ORDER BY r.checked_at) || ']')::json, '[]'::json)"
   "   FROM (SELECT c.checked_at, c.ok, c.status_code, c.latency_ms,"
   "                c.error"
   "         FROM checks c WHERE c.project_id = p.id"
   "           AND c.checked_at < " SQL_CHECKS_UNTIL
   "         ORDER BY c.checked_at DESC LIMIT $2::int) r) AS recent"
   " FROM projects p WHERE p.user_id = $1 ORDER BY p.id"},
  {NULL, NULL},
};

/* The path's project id and the caller's user id as SQL text: the two
 * parameters of every statement about one of the caller's projects. */
struct owned {
  char pid[INT_TEXT_MAX], uid[INT_TEXT_MAX];
  const char *params[2];
};

static const char *const *owned_params(struct owned *o,
                                       const struct request *req)
{
  o->params[0] = int_text(o->pid, req->ids[0]);
  o->params[1] = int_text(o->uid, req->user_id);
  return o->params;
}

static const char *bool_text(bool b)
{
  return b ? "true" : "false";
}

static const char *opt_num(char buf[INT_TEXT_MAX], bool present, int64_t n)
{
  return present ? int_text(buf, n) : NULL;
}

/* Replies with the project in the one row of res. */
static int reply_project(struct request *req, int status,
                         const PGresult *res)
{
  struct dynbuf b;
  int rc;

  dynbuf_init(&b, PGJSON_MAX);
  pgjson_object(&b, res, 0, 0);
  rc = reply_json_buffer(req, status, &b);
  dynbuf_free(&b);
  return rc;
}

static int reply_literal(struct request *req, int status, const char *json)
{
  return reply_raw_json(req, status, json, strlen(json));
}

/* Runs one statement of a write into *res (clearing what it held).
 * Returns 0, or the status after answering the database's failure. */
static int exec_or_reply(struct request *req, const char *stmt, int nparams,
                         const char *const *params, PGresult **res)
{
  enum db_result dr;

  PQclear(*res);
  *res = NULL;
  dr = db_exec(&req->app->db, stmt, nparams, params, res);
  return dr == DB_OK ? 0 : reply_db_error(req, dr);
}

/* A write's own statements and checks, run inside its transaction: returns
 * 0 to commit, with *res the result the handler replies with, or the
 * status the request ends with (answered, or for the router to answer). */
typedef int (*write_steps)(struct request *req, void *arg, PGresult **res);

/*
 * The one sequence of every write that changes what the monitor should
 * do: BEGIN, the write's steps, NOTIFY trackly_wakeup (why), COMMIT, so a
 * monitor wakes exactly when the change becomes visible to it.  Returns 0
 * once committed, with *res from the steps (the caller clears it), or the
 * status the request ends with; a database failure is answered here.  It
 * never rolls back: see the file's header.
 */
static int write_or_reply(struct request *req, const char *why,
                          write_steps steps, void *arg, PGresult **res)
{
  enum db_result dr = db_begin(&req->app->db);
  PGresult *wake = NULL;
  int rc;

  if(dr != DB_OK)
    return reply_db_error(req, dr);
  if((rc = steps(req, arg, res)))
    return rc;
  rc = exec_or_reply(req, "project_wakeup", 1, (const char *[]){why}, &wake);
  PQclear(wake);
  if(rc)
    return rc;
  dr = db_commit(&req->app->db);
  return dr == DB_OK ? 0 : reply_db_error(req, dr);
}
/* POST /project and PUT /project/{id}: the body, as input_project checks
 * it. */
struct project_body {
  bool create;
  int64_t min_interval;
  struct project_input in;
};

static int check_project(const cJSON *body, void *arg, char *err,
                         size_t errcap)
{
  struct project_body *b = arg;
  return input_project(body, b->create, b->min_interval, &b->in, err,
                       errcap);
}

/* POST /project.  The owner's row lock makes the count and the insert one
 * step, so two concurrent creates cannot both take the last place. */
static int create_steps(struct request *req, void *arg, PGresult **res)
{
  const struct project_input *in = arg;
  const struct config *cfg = &req->app->cfg;
  char uid[INT_TEXT_MAX], iv[INT_TEXT_MAX], to[INT_TEXT_MAX];
  char fa[INT_TEXT_MAX], re[INT_TEXT_MAX], cap[INT_TEXT_MAX];
  int rc;

  int_text(uid, req->user_id);
  if((rc = exec_or_reply(req, "project_lock_owner", 1, (const char *[]){uid},
                         res)) ||
     (rc = exec_or_reply(req, "project_insert", 13, (const char *[]){
         uid, in->name, in->description, in->link,
         int_text(iv, in->interval), int_text(to, in->timeout),
         in->expected_status, in->keyword, int_text(fa, in->failure),
         int_text(re, in->recovery), bool_text(in->paused),
         int_text(cap, cfg->max_projects_per_user),
         bool_text(in->has_muted && in->muted)}, res)))
    return rc;
  if(PQntuples(*res) != 1)
    return reply_error(req, 403, "project limit reached: at most %lld "
                       "projects per user",
                       (long long)cfg->max_projects_per_user);
  return 0;
}

/* PUT /project/{id}: lock the row, check the timeout against the interval
 * the project will have, update what the body gives. */
static int update_steps(struct request *req, void *arg, PGresult **res)
{
  const struct project_input *in = arg;
  char iv[INT_TEXT_MAX], to[INT_TEXT_MAX], fa[INT_TEXT_MAX];
  char re[INT_TEXT_MAX], err[INPUT_ERR_MAX];
  int64_t interval, timeout;
  struct owned o;
  int rc;

  if((rc = exec_or_reply(req, "project_lock", 2, owned_params(&o, req),
                         res)))
    return rc;
  if(PQntuples(*res) != 1)
    return 404;
  if(!parse_int(PQgetvalue(*res, 0, 0), 1, INPUT_MAX_INTERVAL, &interval) ||
     !parse_int(PQgetvalue(*res, 0, 1), 1, INT32_MAX, &timeout))
    return 500;
  if(input_project_timeout(in->has_interval ? in->interval : interval,
                           in->has_timeout ? in->timeout : timeout,
                           err, sizeof(err)))
    return reply_error(req, 400, "%s", err);
  return exec_or_reply(req, "project_update", 14, (const char *[]){
      o.pid, o.uid, in->name, in->description, in->link,
      opt_num(iv, in->has_interval, in->interval),
      opt_num(to, in->has_timeout, in->timeout),
      in->has_expected_status ? in->expected_status : NULL,
      bool_text(in->has_keyword), in->keyword,
      opt_num(fa, in->has_failure, in->failure),
      opt_num(re, in->has_recovery, in->recovery),
      in->has_paused ? bool_text(in->paused) : NULL,
      in->has_muted ? bool_text(in->muted) : NULL}, res);
}

/* POST /project and PUT /project/{id}: answered with the project.  For a
 * create, absent fields come back with their defaults. */
static int write_project(struct request *req, bool create)
{
  struct project_body b = {create, req->app->cfg.monitor_min_interval, {0}};
  PGresult *res = NULL;
  int rc;
  cJSON *body = request_body_or_reply(req, check_project, &b, &rc);

  if(body &&
     !(rc = write_or_reply(req, create ? "create" : "update",
                           create ? create_steps : update_steps, &b.in,
                           &res)))
    rc = reply_project(req, create ? 201 : 200, res);
  PQclear(res);
  cJSON_Delete(body);
  return rc;
}

int projects_create(struct request *req)
{
  return write_project(req, true);
}

int projects_update(struct request *req)
{
  return write_project(req, false);
}

static int delete_steps(struct request *req, void *arg, PGresult **res)
{
  struct owned o;
  int rc = exec_or_reply(req, "project_delete", 2, owned_params(&o, req),
                         res);

  (void)arg;
  if(!rc && strcmp(PQcmdTuples(*res), "1"))
    rc = 404;
  return rc;
}

/* A paused project is not checked, so "check now" is refused. */
static int check_now_steps(struct request *req, void *arg, PGresult **res)
{
  struct owned o;
  int rc = exec_or_reply(req, "project_check_now", 2,
                         owned_params(&o, req), res);

  (void)arg;
  if(!rc && PQntuples(*res) != 1)
    rc = 404;
  else if(!rc && PQgetvalue(*res, 0, 0)[0] == 't')
    rc = reply_error(req, 409, "project is paused; resume it to check it");
  return rc;
}

/* DELETE /project/{id} and POST /project/{id}/check: a write with no body,
 * answered with a fixed message. */
static int write_owned(struct request *req, const char *why,
                       write_steps steps, int status, const char *json)
{
  PGresult *res = NULL;
  int rc = write_or_reply(req, why, steps, NULL, &res);

  PQclear(res);
  return rc ? rc : reply_literal(req, status, json);
}

int projects_delete(struct request *req)
{
  return write_owned(req, "delete", delete_steps, 200,
                     "{\"message\":\"project deleted\"}");
}

int projects_check_now(struct request *req)
{
  return write_owned(req, "check", check_now_steps, 202,
                     "{\"message\":\"check queued\"}");
}

int projects_get(struct request *req)
{
  struct owned o;
  return reply_rows_object(req, "project_get", 2, owned_params(&o, req));
}

int projects_dashboard(struct request *req)
{
  char uid[INT_TEXT_MAX];
  return reply_rows_object(req, "project_dashboard", 1,
                           (const char *[]){int_text(uid, req->user_id)});
}

/* ?recent=N adds each project's last N checks, for the list's strip of
 * recent results. */
int projects_status(struct request *req)
{
  char uid[INT_TEXT_MAX], n[INT_TEXT_MAX];
  int64_t recent = 0;           /* absent: below the minimum of 1 */
  int rc = request_query_int_or_reply(req, "recent", 1, STATUS_RECENT_MAX,
                                      &recent);

  int_text(uid, req->user_id);
  if(!rc && !recent)
    rc = reply_rows_array(req, "project_status", 1, (const char *[]){uid});
  else if(!rc)
    rc = reply_rows_array(req, "project_status_recent", 2,
                          (const char *[]){uid, int_text(n, recent)});
  return rc;
}

int projects_list(struct request *req)
{
  char uid[INT_TEXT_MAX], lim[INT_TEXT_MAX], off[INT_TEXT_MAX];
  int64_t limit = 0, offset = 0;        /* limit 0: absent, no LIMIT */
  int rc = request_query_int_or_reply(req, "limit", 1, LIST_LIMIT_MAX,
                                      &limit);

  if(!rc)
    rc = request_query_int_or_reply(req, "offset", 0, INT32_MAX, &offset);
  if(!rc)
    rc = reply_rows_page(req, "project_list", 3, (const char *[]){
        int_text(uid, req->user_id), limit ? int_text(lim, limit) : NULL,
        int_text(off, offset)});
  return rc;
}
