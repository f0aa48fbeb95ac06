/*
 * guard.c - what stands between a flood and the password hashes; see
 * guard.h.
 *
 * Passwords are checked with Argon2id, which is deliberately slow; every
 * path that checks one (login, password change, account deletion) goes
 * through the same per-account throttle, kept in Postgres so all workers
 * (and all API hosts) share it.  Every path that hashes (those three and
 * registration) first takes one of the pool's hashing slots (pool.h), so a
 * flood of them from many addresses cannot occupy every worker; and
 * registrations are counted against a rate for the whole host.
 */
#include "guard.h"
#include "clock.h"
#include "log.h"
#include "parse.h"
#include "pool.h"

/* After this many failed password checks for one account within the
 * window, further attempts get 429 until the window ends.  The numbers are
 * written into the SQL below. */
#define LOGIN_MAX_FAILURES 10
#define LOGIN_WINDOW_SECONDS (15 * 60)

/* How long a request may wait for a hashing slot (and only while another
 * worker is idle, see pool_hash_acquire): about two hashes' time. */
#define HASH_WAIT_MS 250

const struct db_statement guard_statements[] = {
  /* Seconds until the account may try again, when it is locked out. */
  {"throttle_check",
   "SELECT ceil(extract(epoch FROM window_start + interval '15 minutes'"
   "                               - now()))::bigint"
   " FROM login_throttle"
   " WHERE email = lower($1) AND failures >= 10"
   "   AND window_start > now() - interval '15 minutes'"},
  {"throttle_fail",
   "INSERT INTO login_throttle AS t (email, failures, window_start)"
   " VALUES (lower($1), 1, now())"
   " ON CONFLICT (email) DO UPDATE SET"
   "  failures = CASE WHEN t.window_start <= now() - interval '15 minutes'"
   "                  THEN 1 ELSE t.failures + 1 END,"
   "  window_start = CASE WHEN t.window_start <= now() - interval '15 minutes'"
   "                      THEN now() ELSE t.window_start END"},
  {"throttle_clear",
   "DELETE FROM login_throttle WHERE email = lower($1)"},
  {NULL, NULL},
};

/* 429 when the account behind email is locked out; 0 when it may try. */
int guard_login_or_reply(struct request *req, const char *email)
{
  PGresult *res = NULL;
  enum db_result dr;
  int64_t wait = 0;
  int rc = 0;

  dr = db_exec(&req->app->db, "throttle_check", 1, (const char *[]){email},
               &res);
  if(dr != DB_OK)
    return reply_db_error(req, dr);
  if(PQntuples(res) == 1) {
    if(!parse_int(PQgetvalue(res, 0, 0), 1, LOGIN_WINDOW_SECONDS, &wait))
      wait = LOGIN_WINDOW_SECONDS;
    request_add_header(req, "Retry-After", "%lld", (long long)wait);
    rc = reply_error(req, 429, "too many failed attempts; try again in %lld "
                     "seconds", (long long)wait);
  }
  PQclear(res);
  return rc;
}

/* Takes a hashing slot, or replies 429 with Retry-After and returns it.
 * The slot is given back by pool_hash_release (the worker also does so
 * after every request). */
int guard_hash_slot_or_reply(struct request *req)
{
  if(!pool_hash_acquire(HASH_WAIT_MS))
    return 0;
  request_add_header(req, "Retry-After", "1");
  return reply_error(req, 429, "the server is busy checking other "
                     "passwords; retry in a second");
}

/* 429 when registrations over the whole host passed their rate this
 * minute; 0 when this one may go ahead (and is counted). */
int guard_register_rate_or_reply(struct request *req)
{
  int wait = 60;

  if(pool_register_allow(req->app->cfg.api_registrations_per_minute,
                         clock_ms(), &wait))
    return 0;
  request_add_header(req, "Retry-After", "%d", wait);
  return reply_error(req, 429, "too many accounts are being created; try "
                     "again in %d seconds", wait);
}

/* Counts a failed password check against email.  Failing to record it is
 * logged but does not change the answer. */
void guard_login_failed(struct request *req, const char *email)
{
  PGresult *res = NULL;
  if(db_exec(&req->app->db, "throttle_fail", 1, (const char *[]){email},
             &res) != DB_OK)
    log_warn("could not record a failed login");
  PQclear(res);
}

void guard_login_ok(struct request *req, const char *email)
{
  PGresult *res = NULL;
  db_exec(&req->app->db, "throttle_clear", 1, (const char *[]){email}, &res);
  PQclear(res);
}
