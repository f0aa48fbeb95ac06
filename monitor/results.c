/*
 * results.c - one statement per batch of results; see results.h.
 *
 * The batch travels as arrays (one per column) that the statement unnests;
 * each CTE then does one job for the rows whose lease is still ours (u).
 */
#include "results.h"
#include "log.h"
#include "parse.h"
#include "pgarray.h"

#include <stdio.h>
#include <string.h>

const struct db_statement results_statements[] = {
  {"results_write",
   "WITH r AS ("
   "  SELECT id, claimed::timestamptz AS claimed_at,"
   "         to_timestamp(checked) AS checked_at,"
   "         date_trunc('hour', to_timestamp(checked)) AS hour,"
   "         ok, code, latency, error,"
   "         status, fails, succs, to_timestamp(next) AS next_at, event"
   "  FROM unnest($3::bigint[], $4::text[], $5::float8[], $6::boolean[],"
   "              $7::int[], $8::int[], $9::text[], $10::text[], $11::int[],"
   "              $12::int[], $13::float8[], $14::text[])"
   "    AS r(id, claimed, checked, ok, code, latency, error, status, fails,"
   "         succs, next, event)),"
   /* Flapping (docs/monitoring.md), from the project as it was before this
    * batch: 'enter' on the DOWN that makes $2 incidents opened within the
    * hour, 'leave' once a flapping project has not changed state for $15
    * seconds, 'quiet' in between (its alert mail is held back). */
   " f AS ("
   "  SELECT r.*, n.opened, p.hour_start AS old_hour,"
   "    p.hour_checks AS old_checks, p.hour_up AS old_up,"
   "    p.hour_latency_sum AS old_latency_sum,"
   "    p.hour_latency_max AS old_latency_max,"
   "    CASE"
   "      WHEN p.flapping_since IS NULL THEN"
   "        CASE WHEN r.event = 'down' AND $2::int > 0 AND n.opened >= $2::int"
   "        THEN 'enter' ELSE '' END"
   "      WHEN r.event IN ('up', 'down', 'recovered') THEN 'quiet'"
   "      WHEN coalesce(p.status_changed_at, '-infinity') <="
   "           r.checked_at - $15::int * interval '1 second' THEN 'leave'"
   "      ELSE 'quiet'"
   "    END AS flap"
   "  FROM r JOIN projects p ON p.id = r.id"
   "  CROSS JOIN LATERAL (SELECT count(*) + 1 AS opened FROM incidents i"
   "    WHERE r.event = 'down' AND i.project_id = r.id"
   "      AND i.started_at > r.checked_at - interval '1 hour') n),"
   /* A project changed or asked to be checked while we probed keeps the
    * next_check_at the API gave it.  The update reads f alone (it holds
    * r's columns), and what follows reads u alone (it returns what they
    * need): no CTE is joined to another.  PostgreSQL takes an unnest for
    * 10 rows, so it joined two CTEs by scanning one again for each row of
    * the other: for a batch of 500, 250,000 comparisons and nine tenths of
    * the statement's time. */
   " u AS ("
   "  UPDATE projects p SET"
   "    status = f.status, consecutive_failures = f.fails,"
   "    consecutive_successes = f.succs, last_status_code = f.code,"
   "    last_latency_ms = f.latency, last_checked_at = f.checked_at,"
   "    last_error = f.error,"
   "    failing_since = CASE WHEN f.ok THEN NULL"
   "                    ELSE coalesce(p.failing_since, f.checked_at) END,"
   "    status_changed_at = CASE WHEN f.event IN ('up', 'down', 'recovered')"
   "                        THEN f.checked_at ELSE p.status_changed_at END,"
   "    last_alert_at = CASE WHEN f.event IN ('down', 'reminder')"
   "                           OR f.flap = 'leave'"
   "                    THEN f.checked_at ELSE p.last_alert_at END,"
   "    flapping_since = CASE f.flap WHEN 'enter' THEN f.checked_at"
   "                     WHEN 'leave' THEN NULL ELSE p.flapping_since END,"
   "    next_check_at = CASE WHEN p.next_check_at = f.claimed_at"
   "                    THEN f.next_at ELSE p.next_check_at END,"
   /* The current hour's totals: a check of a later hour starts them
    * again (h below writes the finished hour), one of an earlier hour
    * (written late) leaves them. */
   "    hour_start = greatest(p.hour_start, f.hour),"
   "    hour_checks = CASE WHEN f.hour = p.hour_start THEN p.hour_checks + 1"
   "      WHEN f.hour < p.hour_start THEN p.hour_checks ELSE 1 END,"
   "    hour_up = CASE WHEN f.hour = p.hour_start THEN p.hour_up + f.ok::int"
   "      WHEN f.hour < p.hour_start THEN p.hour_up ELSE f.ok::int END,"
   "    hour_latency_sum = CASE WHEN f.hour = p.hour_start"
   "      THEN p.hour_latency_sum + coalesce(f.latency, 0)"
   "      WHEN f.hour < p.hour_start THEN p.hour_latency_sum"
   "      ELSE coalesce(f.latency, 0) END,"
   "    hour_latency_max = CASE WHEN f.hour = p.hour_start"
   "      THEN greatest(p.hour_latency_max, coalesce(f.latency, 0))"
   "      WHEN f.hour < p.hour_start THEN p.hour_latency_max"
   "      ELSE coalesce(f.latency, 0) END,"
   "    lease_owner = NULL, lease_expires_at = NULL"
   "  FROM f WHERE p.id = f.id AND p.lease_owner = $1"
   "  RETURNING p.id, p.user_id, p.name, p.link, p.alerts_muted,"
   "            p.failing_since, p.status_changed_at, f.claimed_at,"
   "            f.checked_at, f.hour, f.ok, f.code, f.latency, f.error,"
   "            f.status, f.event, f.flap, f.opened, f.old_hour,"
   "            f.old_checks, f.old_up, f.old_latency_sum,"
   "            f.old_latency_max),"
   " c AS ("
   "  INSERT INTO checks (project_id, scheduled_at, checked_at, ok,"
   "                      status_code, latency_ms, error)"
   "  SELECT u.id, u.claimed_at, u.checked_at, u.ok, u.code, u.latency,"
   "         u.error"
   "  FROM u),"
   /* The hour a check of a later hour ends, as it was before this
    * batch (only the lease holder writes these columns, so f's snapshot,
    * old_*, is of the row u updates), or a late check's own hour.  Once per
    * project and hour, then; the conflict only when a late check or a
    * version 4 monitor wrote the hour first. */
   " h AS ("
   "  INSERT INTO check_hours AS h (project_id, hour, checks, up,"
   "                               latency_sum, latency_max)"
   "  SELECT u.id, u.old_hour, u.old_checks, u.old_up, u.old_latency_sum,"
   "         u.old_latency_max"
   "  FROM u WHERE u.hour > u.old_hour AND u.old_checks > 0"
   "  UNION ALL"
   "  SELECT u.id, u.hour, 1, u.ok::int, coalesce(u.latency, 0),"
   "         coalesce(u.latency, 0)"
   "  FROM u WHERE u.hour < u.old_hour"
   "  ON CONFLICT (project_id, hour) DO UPDATE SET"
   "    checks = h.checks + excluded.checks, up = h.up + excluded.up,"
   "    latency_sum = h.latency_sum + excluded.latency_sum,"
   "    latency_max = greatest(h.latency_max, excluded.latency_max)),"
   " io AS ("
   "  INSERT INTO incidents (project_id, started_at, reason)"
   "  SELECT u.id, u.failing_since, coalesce(u.error, '')"
   "  FROM u WHERE u.event = 'down'"
   "  ON CONFLICT (project_id) WHERE resolved_at IS NULL DO NOTHING),"
   " ic AS ("
   "  UPDATE incidents i SET resolved_at = u.checked_at"
   "  FROM u"
   "  WHERE u.event = 'recovered' AND i.project_id = u.id"
   "    AND i.resolved_at IS NULL"
   "  RETURNING i.project_id, i.started_at, i.resolved_at),"
   /* Alert mail only for verified addresses and unmuted projects, and
    * while a project flaps, only the mails that say it started and
    * ended.  The mute link is not here: the mailer makes a fresh one for
    * each mail as it sends (mute_tokens). */
   " m AS ("
   "  INSERT INTO mail_outbox (user_id, project_id, kind, recipient, payload)"
   "  SELECT u.user_id, u.id,"
   "    CASE WHEN u.flap = '' THEN u.event ELSE 'flapping' END, us.email,"
   "    jsonb_build_object('project_id', u.id, 'project_name', u.name,"
   "      'link', u.link, 'reason', u.error)"
   "    || coalesce(CASE"
   "      WHEN u.flap = 'enter' THEN jsonb_build_object("
   "        'phase', 'started', 'status', u.status, 'transitions', u.opened,"
   "        'since', " DB_RFC3339("u.checked_at") ")"
   "      WHEN u.flap = 'leave' THEN jsonb_build_object("
   "        'phase', 'ended', 'status', u.status,"
   "        'since', " DB_RFC3339("u.status_changed_at") ")"
   "      WHEN u.event = 'down' THEN jsonb_build_object("
   "        'since', " DB_RFC3339("u.failing_since") ")"
   "      WHEN u.event = 'reminder' THEN (SELECT jsonb_build_object("
   "          'since', " DB_RFC3339("i.started_at") ","
   "          'down_seconds', extract(epoch FROM u.checked_at"
   "                                             - i.started_at)::bigint)"
   "        FROM incidents i"
   "        WHERE i.project_id = u.id AND i.resolved_at IS NULL)"
   "      ELSE (SELECT jsonb_build_object("
   "          'since', " DB_RFC3339("ic.started_at") ","
   "          'until', " DB_RFC3339("ic.resolved_at") ","
   "          'down_seconds', extract(epoch FROM ic.resolved_at"
   "                                             - ic.started_at)::bigint)"
   "        FROM ic WHERE ic.project_id = u.id)"
   "      END, '{}'::jsonb)"
   "  FROM u JOIN users us ON us.id = u.user_id"
   "  WHERE ((u.flap = '' AND u.event IN ('down', 'recovered', 'reminder'))"
   "         OR u.flap IN ('enter', 'leave'))"
   "    AND us.email_verified AND NOT u.alerts_muted"
   "  RETURNING 1)"
   " SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM m)"},
  {NULL, NULL},
};

enum column {
  COL_ID, COL_CLAIMED, COL_CHECKED, COL_OK, COL_CODE, COL_LATENCY, COL_ERROR,
  COL_STATUS, COL_FAILS, COL_SUCCS, COL_NEXT, COL_EVENT, NCOLS,
};

static const char *event_name(enum transition t, bool reminder)
{
  switch(t) {
  case TRANSITION_UP: return "up";
  case TRANSITION_DOWN: return "down";
  case TRANSITION_RECOVERED: return "recovered";
  default: return reminder ? "reminder" : "";
  }
}

/* Adds one check to the column arrays, after the state machine. */
static void add_row(struct pgarray *col, const struct check *c,
                    const struct results_options *o)
{
  struct project_state st = c->state;
  enum transition t = state_apply(&st, c->ok, c->failure_threshold,
                                  c->recovery_threshold);
  bool reminder = t == TRANSITION_NONE && st.status == STATUS_DOWN &&
                  c->state.status == STATUS_DOWN &&
                  state_reminder_due(c->last_alert_ms, o->reminder_ms,
                                     c->checked_ms);
  int64_t now = c->checked_ms + c->latency_ms;

  pgarray_int(&col[COL_ID], c->project_id);
  /* The claimed slot exactly as Postgres gave it, so the statement can
   * tell whether the API moved it meanwhile. */
  pgarray_string(&col[COL_CLAIMED], c->scheduled_text);
  pgarray_double(&col[COL_CHECKED], (double)c->checked_ms / 1000.0);
  pgarray_bool(&col[COL_OK], c->ok);
  if(c->status_code)
    pgarray_int(&col[COL_CODE], c->status_code);
  else
    pgarray_null(&col[COL_CODE]);
  pgarray_int(&col[COL_LATENCY], c->latency_ms);
  pgarray_string(&col[COL_ERROR], c->ok ? NULL : c->error);
  pgarray_string(&col[COL_STATUS], state_status_name(st.status));
  pgarray_int(&col[COL_FAILS], st.failures);
  pgarray_int(&col[COL_SUCCS], st.successes);
  pgarray_double(&col[COL_NEXT],
                 (double)state_next_slot(c->scheduled_ms, c->interval_ms,
                                         now) / 1000.0);
  pgarray_string(&col[COL_EVENT], event_name(t, reminder));
}

int results_write(struct db *db, const struct results_options *o,
                  struct check *list, int *mails)
{
  struct pgarray col[NCOLS];
  const char *params[3 + NCOLS];
  char flaps[INT_TEXT_MAX], quiet[INT_TEXT_MAX];
  PGresult *res = NULL;
  int64_t written = -1, queued = 0;

  *mails = 0;
  for(int i = 0; i < NCOLS; i++)
    pgarray_init(&col[i]);
  for(const struct check *c = list; c; c = c->next)
    add_row(col, c, o);
  int_text(flaps, o->flap_transitions);
  int_text(quiet, o->flap_quiet_s);
  params[0] = o->owner;
  params[1] = flaps;
  params[2 + NCOLS] = quiet;
  for(int i = 0; i < NCOLS; i++) {
    params[2 + i] = pgarray_text(&col[i]);
    if(!params[2 + i]) {
      log_error("out of memory writing results");
      goto out;
    }
  }
  if(db_exec(db, "results_write", 3 + NCOLS, params, &res) != DB_OK)
    goto out;
  if(!parse_int(PQgetvalue(res, 0, 0), 0, INT32_MAX, &written) ||
     !parse_int(PQgetvalue(res, 0, 1), 0, INT32_MAX, &queued))
    written = -1;
  *mails = (int)queued;
out:
  PQclear(res);
  for(int i = 0; i < NCOLS; i++)
    pgarray_free(&col[i]);
  return (int)written;
}
