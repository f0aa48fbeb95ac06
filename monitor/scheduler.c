/*
 * scheduler.c - claiming due projects with leases; see scheduler.h.
 */
#include "scheduler.h"
#include "fairshare.h"
#include "log.h"
#include "parse.h"
#include "pgarray.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct db_statement scheduler_statements[] = {
  /* Due projects nobody holds, shared fairly between users (fairshare.h):
   * the oldest $9 due, leaving out the users in $8; each user's due work in
   * order, placed after what that user already has in flight here ($6 has
   * $7), and taken in that order (every user's first before anyone's
   * second) into the free slots ($5) beyond the reserve ($4); the reserve
   * only for a user's first check in flight.  The candidates come from the
   * snapshot, then are locked for the length of this statement with the
   * due test again (another monitor may have leased them meanwhile); the
   * lease keeps them ours while we probe. */
  {"sched_claim",
   "WITH mine AS ("
   "  SELECT * FROM unnest($6::bigint[], $7::int[]) AS m(user_id, busy)),"
   " due AS ("
   "  SELECT id, user_id, next_check_at FROM projects"
   "  WHERE NOT paused AND next_check_at <= now()"
   "    AND (lease_expires_at IS NULL OR lease_expires_at < now())"
   "    AND user_id <> ALL($8::bigint[])"
   "  ORDER BY next_check_at LIMIT $9),"
   " ranked AS ("
   "  SELECT d.id, d.next_check_at, coalesce(m.busy, 0) + row_number()"
   "    OVER (PARTITION BY d.user_id ORDER BY d.next_check_at, d.id) AS place"
   "  FROM due d LEFT JOIN mine m USING (user_id)),"
   " ordered AS ("
   "  SELECT id, place,"
   "    row_number() OVER (ORDER BY place, next_check_at, id) AS k"
   "  FROM ranked),"
   " chosen AS ("
   "  SELECT id FROM ordered WHERE k <= $5::int - $4::int OR place = 1"
   "  ORDER BY k LIMIT $2),"
   " held AS ("
   "  SELECT p.id, p.lease_owner AS old_owner"
   "  FROM projects p JOIN chosen c ON c.id = p.id"
   "  WHERE NOT p.paused AND p.next_check_at <= now()"
   "    AND (p.lease_expires_at IS NULL OR p.lease_expires_at < now())"
   "  FOR UPDATE OF p SKIP LOCKED)"
   " UPDATE projects p SET lease_owner = $1,"
   "   lease_expires_at = now() + (p.timeout_ms + $3::int)"
   "                              * interval '1 millisecond'"
   " FROM held WHERE p.id = held.id"
   " RETURNING p.id, p.link, p.keyword, p.expected_status, p.timeout_ms,"
   "   p.interval_seconds, extract(epoch FROM p.next_check_at)::float8,"
   "   p.status, p.consecutive_failures, p.consecutive_successes,"
   "   p.failure_threshold, p.recovery_threshold,"
   "   coalesce(extract(epoch FROM p.last_alert_at)::float8, 0),"
   "   held.old_owner IS NOT NULL, p.next_check_at::text, p.user_id"},
  /* Projects in flight are due but leased: they must not count, or the
   * daemon would spin on claims that find nothing until they are written.
   * A lease expiring (its daemon died) is an event of its own, looked
   * for only when nothing is due.  Nothing indexes the lease (a claim is
   * then a HOT update, schema.sql), but a leased project is one that was
   * due when claimed: the due index finds them, and when nothing else is
   * due they are all its range holds (a slot moved later meanwhile is
   * found by the rescan, work.c).  The subquery in the CASE is run only
   * when the CASE needs it. */
  {"sched_next_due",
   "WITH d AS (SELECT min(next_check_at) AS at FROM projects"
   "  WHERE NOT paused"
   "    AND (lease_expires_at IS NULL OR lease_expires_at < now()))"
   " SELECT extract(epoch FROM CASE WHEN d.at <= now() THEN d.at"
   "   ELSE least(d.at, (SELECT min(lease_expires_at) FROM projects"
   "     WHERE NOT paused AND next_check_at <= now()"
   "       AND lease_expires_at IS NOT NULL)) END)::float8 FROM d"},
  {"sched_release",
   "UPDATE projects SET lease_owner = NULL, lease_expires_at = NULL"
   " WHERE lease_owner = $1 AND id = ANY($2::bigint[])"},
  /* Project leases and the mailer's claims (mail_outbox.claimed_by) both
   * carry "name:pid". */
  {"sched_own_leases",
   "SELECT lease_owner FROM projects"
   " WHERE lease_owner IS NOT NULL"
   "   AND left(lease_owner, length($1)) = $1"
   " UNION"
   " SELECT claimed_by FROM mail_outbox"
   " WHERE sent_at IS NULL AND claimed_by IS NOT NULL"
   "   AND left(claimed_by, length($1)) = $1"},
  {"sched_take_back",
   "WITH p AS ("
   "  UPDATE projects SET lease_owner = NULL, lease_expires_at = NULL"
   "  WHERE lease_owner = ANY($1::text[]) RETURNING 1),"
   " m AS ("
   "  UPDATE mail_outbox SET claimed_by = NULL, claimed_until = NULL"
   "  WHERE claimed_by = ANY($1::text[]) AND sent_at IS NULL RETURNING 1)"
   " SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM m)"},
  {"sched_prune_misc",
   "WITH t AS (DELETE FROM login_throttle"
   "           WHERE window_start < now() - interval '1 day'),"
   " v AS (DELETE FROM verify_mail_log"
   "       WHERE window_start < now() - interval '1 day'),"
   " m AS (DELETE FROM mail_outbox WHERE id IN ("
   "   SELECT id FROM mail_outbox"
   "   WHERE sent_at < now() - $1 * interval '1 day' LIMIT $2))"
   " SELECT 1"},
  /* An account verified meanwhile is not deleted: the row is re-read under
   * its lock. */
  {"sched_purge_unverified",
   "DELETE FROM users WHERE id IN ("
   "  SELECT id FROM users"
   "  WHERE NOT email_verified AND created_at < now() - $1 * interval '1 day'"
   "  ORDER BY created_at LIMIT $2)"
   " AND NOT email_verified"},
  {NULL, NULL},
};

/* An epoch in seconds, as Postgres prints it, in milliseconds (0 when it
 * cannot be read). */
static int64_t epoch_ms(const char *s)
{
  double v;
  return parse_double(s, &v) ? (int64_t)llround(v * 1000.0) : 0;
}

/* Builds a check from one claimed row.  Returns NULL on a row that cannot
 * be checked (logged). */
static struct check *check_from_row(const PGresult *res, int row)
{
  struct check *c = NULL;
  const char *expect = PQgetvalue(res, row, 3);
  int64_t v, interval;

  if(PQgetisnull(res, row, 1))
    goto bad;
  c = check_new(PQgetvalue(res, row, 1),
                PQgetisnull(res, row, 2) ? NULL : PQgetvalue(res, row, 2));
  if(!c)
    return NULL;
  if(!parse_id(PQgetvalue(res, row, 0), strlen(PQgetvalue(res, row, 0)),
               &c->project_id))
    goto bad;
  if(!status_ranges_parse(expect, strlen(expect), &c->expect))
    status_ranges_parse("200-399", 7, &c->expect);
  if(!parse_int(PQgetvalue(res, row, 4), 1, 86400000, &v))
    goto bad;
  c->timeout_ms = (long)v;
  if(!parse_int(PQgetvalue(res, row, 5), 1, 86400, &interval))
    goto bad;
  c->interval_ms = interval * 1000;
  c->scheduled_ms = epoch_ms(PQgetvalue(res, row, 6));
  if(!state_parse_status(PQgetvalue(res, row, 7), &c->state.status))
    c->state.status = STATUS_PENDING;
  if(!parse_int(PQgetvalue(res, row, 8), 0, INT32_MAX, &v))
    v = 0;
  c->state.failures = (int)v;
  if(!parse_int(PQgetvalue(res, row, 9), 0, INT32_MAX, &v))
    v = 0;
  c->state.successes = (int)v;
  if(!parse_int(PQgetvalue(res, row, 10), 1, 10, &v))
    v = 2;
  c->failure_threshold = (int)v;
  if(!parse_int(PQgetvalue(res, row, 11), 1, 10, &v))
    v = 1;
  c->recovery_threshold = (int)v;
  c->last_alert_ms = epoch_ms(PQgetvalue(res, row, 12));
  if(PQgetlength(res, row, 14) >= (int)sizeof(c->scheduled_text))
    goto bad;
  memcpy(c->scheduled_text, PQgetvalue(res, row, 14),
         (size_t)PQgetlength(res, row, 14) + 1);
  if(!parse_id(PQgetvalue(res, row, 15), strlen(PQgetvalue(res, row, 15)),
               &c->user_id))
    goto bad;
  return c;
bad:
  log_error("project %s: unusable row, skipped", PQgetvalue(res, row, 0));
  check_free(c);
  return NULL;
}

/* The array parameters $6..$8 of sched_claim: the users with checks in
 * flight here and how many, and the users the claim need not look at. */
struct claim_arrays {
  struct pgarray users, busy, skip;
};

static bool claim_arrays(struct claim_arrays *a,
                         const struct fairshare_slots *slots,
                         const struct check *flying, int in_flight,
                         const char *params[])
{
  struct fairshare_users u;

  pgarray_init(&a->users);
  pgarray_init(&a->busy);
  pgarray_init(&a->skip);
  if(fairshare_count(flying, in_flight, &u))
    return false;
  for(int i = 0; i < u.count; i++) {
    pgarray_int(&a->users, u.ids[i]);
    pgarray_int(&a->busy, u.busy[i]);
    if(fairshare_skip(slots, &u, i))
      pgarray_int(&a->skip, u.ids[i]);
  }
  fairshare_users_free(&u);
  params[5] = pgarray_text(&a->users);
  params[6] = pgarray_text(&a->busy);
  params[7] = pgarray_text(&a->skip);
  return params[5] && params[6] && params[7];
}

static void claim_arrays_free(struct claim_arrays *a)
{
  pgarray_free(&a->users);
  pgarray_free(&a->busy);
  pgarray_free(&a->skip);
}

int scheduler_claim_send(struct db *db, const char *owner, int max,
                         const struct fairshare_slots *slots,
                         const struct check *flying, int in_flight)
{
  char limit[16], grace[16], reserve[16], free_now[16], window[16];
  const char *params[9] = {owner, limit, grace, reserve, free_now,
                           NULL, NULL, NULL, window};
  struct claim_arrays arrays;
  int rc;

  snprintf(limit, sizeof(limit), "%d", max);
  snprintf(grace, sizeof(grace), "%d", LEASE_GRACE_MS);
  snprintf(reserve, sizeof(reserve), "%d", slots->reserve);
  snprintf(free_now, sizeof(free_now), "%d", slots->free);
  snprintf(window, sizeof(window), "%d", CLAIM_WINDOW);
  if(!claim_arrays(&arrays, slots, flying, in_flight, params)) {
    claim_arrays_free(&arrays);
    log_error("claim: out of memory");
    return -1;
  }
  /* libpq has copied the parameters into its buffer once sent. */
  rc = db_send(db, "sched_claim", 9, params);
  claim_arrays_free(&arrays);
  return rc == DB_OK ? 0 : -1;
}

int scheduler_claim_take(struct db *db, struct check **out, int *taken_over)
{
  PGresult *res = NULL;
  int n = 0;

  *taken_over = 0;
  if(db_receive(db, &res) != DB_OK)
    return -1;
  for(int i = 0; i < PQntuples(res); i++) {
    struct check *c = check_from_row(res, i);
    if(PQgetvalue(res, i, 13)[0] == 't')
      (*taken_over)++;
    if(!c)
      continue;
    c->next = *out;
    *out = c;
    n++;
  }
  PQclear(res);
  return n;
}

int64_t scheduler_next_due(struct db *db)
{
  PGresult *res = NULL;
  int64_t at = -1;

  if(db_exec(db, "sched_next_due", 0, NULL, &res) != DB_OK)
    return -1;
  if(PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
    at = epoch_ms(PQgetvalue(res, 0, 0));
  PQclear(res);
  return at;
}

void scheduler_release(struct db *db, const char *owner,
                       const struct check *list)
{
  struct pgarray ids;
  const char *text;
  PGresult *res = NULL;

  if(!list)
    return;
  pgarray_init(&ids);
  for(const struct check *c = list; c; c = c->next)
    pgarray_int(&ids, c->project_id);
  text = pgarray_text(&ids);
  if(text && db_exec(db, "sched_release", 2, (const char *[]){owner, text},
                     &res) == DB_OK)
    log_info("released %s leases", PQcmdTuples(res));
  PQclear(res);
  pgarray_free(&ids);
}

/* An owner "name:pid" of an earlier run of this monitor is stale when its
 * pid is ours (a reused pid, pid 1 in a fresh container) or no process of
 * this host has it any more.  A live process keeps its leases: two
 * monitors that share a name by mistake cost nothing but a warning. */
static bool stale_owner(const char *owner, const char *mine)
{
  const char *colon = strrchr(owner, ':');
  int64_t pid;

  if(!strcmp(owner, mine))
    return true;
  if(!colon || !parse_int(colon + 1, 1, INT32_MAX, &pid))
    return false;
  return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int scheduler_take_back(struct db *db, const char *name, const char *owner,
                        int *mails)
{
  struct pgarray owners;
  char prefix[160];
  const char *text;
  PGresult *res = NULL;
  int64_t n = -1, m = 0;

  *mails = 0;

  snprintf(prefix, sizeof(prefix), "%s:", name);
  if(db_exec(db, "sched_own_leases", 1, (const char *[]){prefix}, &res) !=
     DB_OK)
    return -1;
  pgarray_init(&owners);
  for(int i = 0; i < PQntuples(res); i++)
    if(stale_owner(PQgetvalue(res, i, 0), owner))
      pgarray_string(&owners, PQgetvalue(res, i, 0));
  PQclear(res);
  res = NULL;
  if(!owners.count)
    n = 0;
  else if((text = pgarray_text(&owners)) &&
          db_exec(db, "sched_take_back", 1, (const char *[]){text}, &res) ==
          DB_OK) {
    if(PQntuples(res) != 1 ||
       !parse_int(PQgetvalue(res, 0, 0), 0, INT32_MAX, &n) ||
       !parse_int(PQgetvalue(res, 0, 1), 0, INT32_MAX, &m))
      n = m = 0;
    *mails = (int)m;
  }
  PQclear(res);
  pgarray_free(&owners);
  return (int)n;
}

/* Runs one of the batched deletes, whose parameters are an age in days
 * and a batch size.  Returns the rows it deleted, or -1 (logged by db). */
static int64_t delete_batch(struct db *db, const char *statement,
                            int64_t days, int batch)
{
  char d[INT_TEXT_MAX], b[INT_TEXT_MAX];
  PGresult *res = NULL;
  int64_t n;

  int_text(d, days);
  int_text(b, batch);
  if(db_exec(db, statement, 2, (const char *[]){d, b}, &res) != DB_OK)
    return -1;
  if(!parse_int(PQcmdTuples(res), 0, INT32_MAX, &n))
    n = 0;
  PQclear(res);
  return n;
}

int64_t scheduler_prune(struct db *db, int64_t days, int batch)
{
  return delete_batch(db, "sched_prune_misc", days, batch);
}

int64_t scheduler_purge_unverified(struct db *db, int64_t days, int batch)
{
  return delete_batch(db, "sched_purge_unverified", days, batch);
}
