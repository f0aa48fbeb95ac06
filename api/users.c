/*
 * users.c - accounts: /user/register, /user/login, /user/logout, /user/me,
 * /user/password, /user (DELETE) and /user/signout.  DESIGN §2 and §3.
 * Confirming the address is verify.c; the session cookie, auth.c.
 *
 * Passwords are checked with Argon2id, which is deliberately slow; every
 * path that checks or hashes one goes through guard.c first (the
 * per-account throttle, the hashing slots, the registration rate).
 */
#include "auth.h"
#include "guard.h"
#include "handlers.h"
#include "input.h"
#include "log.h"
#include "parse.h"
#include "password.h"
#include "pool.h"
#include "secret.h"
#include "validate.h"
#include "verify.h"

#include <stdio.h>
#include <string.h>

const struct db_statement users_statements[] = {
  /*
   * One statement, so the account and its verification mail are created
   * together or not at all.  gone: an unverified account of the same
   * address older than the grace ($7 hours) gives way; its projects, mail
   * and tokens (which name its id) go with it.  A verified account, or an
   * unverified one within the grace, stays, and the insert meets the
   * unique index: 409.  u's WHERE reads gone's count, so the delete is
   * done before the insert looks for a duplicate (an unused count would
   * be planned away, and the old row would still be in the way).  a counts the mail against the
   * address; past the address's daily limit the account is still made,
   * without a mail or a link (verify_sends 0, so a resend may go as soon
   * as the address's window lets it).  wait: seconds until then.
   */
  {"user_register",
   "WITH gone AS ("
   "  DELETE FROM users"
   "  WHERE lower(email) = lower($1) AND NOT email_verified"
   "    AND created_at <= now() - $7::int * interval '1 hour'"
   "  RETURNING id),"
   " a AS (" VERIFY_MAIL_LOG_COUNT("VALUES (lower($1), 1, now())", "$6") "),"
   " u AS ("
   "  INSERT INTO users (email, password_hash, verify_token_hash,"
   "                     verify_expires_at, verify_sent_at, verify_sends,"
   "                     verify_window_start)"
   "  SELECT $1, $2,"
   "    CASE WHEN m.mailed THEN decode($3, 'hex') END,"
   "    CASE WHEN m.mailed THEN now() + interval '7 days' END,"
   "    CASE WHEN m.mailed THEN now() END, m.mailed::int,"
   "    CASE WHEN m.mailed THEN now() END"
   "  FROM (SELECT EXISTS (SELECT 1 FROM a) AS mailed,"
   "               (SELECT count(*) FROM gone) AS replaced) m"
   "  WHERE m.replaced >= 0"         /* always; makes gone run first */
   "  RETURNING id, email, created_at, verify_sends = 1 AS mailed),"
   " o AS ("
   "  INSERT INTO mail_outbox (user_id, kind, recipient, payload)"
   "  SELECT id, 'verify', email,"
   "         jsonb_build_object('token', $4::text, 'link', $5::text)"
   "  FROM u WHERE mailed)"
   " SELECT id, email, " SQL_RFC3339("created_at") ", mailed,"
   "   (SELECT count(*) FROM gone),"
   "   (SELECT ceil(extract(epoch FROM window_start + interval '24 hours'"
   "                              - now()))::bigint"
   "    FROM verify_mail_log WHERE email = lower($1)) AS wait"
   " FROM u"},
  {"user_by_email",
   "SELECT id, password_hash, token_version FROM users"
   " WHERE lower(email) = lower($1)"},
  {"user_by_id",
   "SELECT id, email, email_verified, " SQL_RFC3339("created_at") ","
   "       password_hash, token_version"
   " FROM users WHERE id = $1"},
  {"user_rehash",
   "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1"},
  {"user_logout",
   "UPDATE users SET token_version = token_version + 1, updated_at = now()"
   " WHERE id = $1"},
  {"user_set_password",
   "UPDATE users SET password_hash = $2, token_version = token_version + 1,"
   "                 updated_at = now()"
   " WHERE id = $1 RETURNING token_version"},
  {"user_delete",
   "DELETE FROM users WHERE id = $1"},
  {NULL, NULL},
};

/* The answer to a registration: the account, and whether its
 * verification mail went (it does not when the address has had
 * VERIFY_SENDS_PER_DAY today, whichever accounts asked). */
static int registered(struct request *req, PGresult *res)
{
  bool mailed = PQgetvalue(res, 0, 3)[0] == 't';
  const char *id = PQgetvalue(res, 0, 0);
  char message[256];
  cJSON *out = cJSON_CreateObject(), *user;
  int64_t uid, wait = 0;
  int rc;

  if(mailed)
    snprintf(message, sizeof(message), "registered; check your email for "
             "the verification link");
  else {
    if(!parse_int(PQgetvalue(res, 0, 5), 0, 86400, &wait))
      wait = 86400;
    snprintf(message, sizeof(message), "registered, but no verification mail "
             "was sent: at most %d a day go to one address; ask for one "
             "(POST /user/verify/resend) in %lld seconds",
             VERIFY_SENDS_PER_DAY, (long long)wait);
  }
  if(!cJSON_AddStringToObject(out, "message", message) ||
     !cJSON_AddBoolToObject(out, "verification_mail_sent", mailed) ||
     (!mailed && !cJSON_AddNumberToObject(out, "resend_after_seconds",
                                          (double)wait)) ||
     !(user = cJSON_AddObjectToObject(out, "user")) ||
     !parse_id(id, strlen(id), &uid) ||
     !cJSON_AddNumberToObject(user, "id", (double)uid) ||
     !cJSON_AddStringToObject(user, "email", PQgetvalue(res, 0, 1)) ||
     !cJSON_AddStringToObject(user, "created_at", PQgetvalue(res, 0, 2))) {
    rc = reply_error(req, 500, "internal error");
    goto out;
  }
  if(strcmp(PQgetvalue(res, 0, 4), "0"))
    log_info("user %s registered, replacing an unverified account", id);
  else
    log_info("user %s registered%s", id, mailed ? "" :
             " (no verification mail: the address's daily limit)");
  rc = reply_json(req, 201, out);
out:
  cJSON_Delete(out);
  return rc;
}

/* input.h's checks of these routes' bodies, in request_body_check's
 * shape. */
static int check_register(const cJSON *body, void *in, char *err,
                          size_t errcap)
{
  return input_register(body, in, err, errcap);
}

static int check_login(const cJSON *body, void *in, char *err, size_t errcap)
{
  return input_login(body, in, err, errcap);
}

static int check_password_change(const cJSON *body, void *in, char *err,
                                 size_t errcap)
{
  return input_change_password(body, in, err, errcap);
}

int users_register(struct request *req)
{
  char hash[PASSWORD_ENCODED_MAX];
  char per_day[INT_TEXT_MAX], grace[INT_TEXT_MAX];
  const struct config *cfg = &req->app->cfg;
  struct verify_link link;
  struct credentials_input in;
  cJSON *body;
  PGresult *res = NULL;
  enum db_result dr;
  int rc;

  memset(&link, 0, sizeof(link));
  body = request_body_or_reply(req, check_register, &in, &rc);
  if(!body)
    return rc;
  if(!cfg->email_allow_local_domains &&
     !email_domain_public(in.email, strlen(in.email))) {
    rc = reply_error(req, 400, "field 'email' must be an address at a public "
                     "domain name, not a single-label name or an IP address");
    goto out;
  }

  /* The slot first: an attempt turned away for want of one is not
   * counted against the rate. */
  if((rc = guard_hash_slot_or_reply(req)) ||
     (rc = guard_register_rate_or_reply(req)))
    goto out;
  if(password_hash(in.password, in.password_len, hash, sizeof(hash)) ||
     verify_link_new(cfg, &link)) {
    rc = reply_error(req, 500, "internal error");
    goto out;
  }
  pool_hash_release();

  dr = db_exec(&req->app->db, "user_register", 7, (const char *[]){
      in.email, hash, link.digest_hex, link.token, link.url,
      int_text(per_day, VERIFY_SENDS_PER_DAY),
      int_text(grace, cfg->unverified_replace_hours)}, &res);
  if(dr == DB_CONFLICT) {
    rc = reply_error(req, 409, "email already registered");
    goto out;
  }
  if(dr != DB_OK) {
    rc = reply_db_error(req, dr);
    goto out;
  }
  rc = registered(req, res);
out:
  verify_link_clear(&link);
  PQclear(res);
  cJSON_Delete(body);
  return rc;
}

int users_login(struct request *req)
{
  char hash[PASSWORD_ENCODED_MAX];
  struct credentials_input in;
  const char *stored;
  cJSON *body;
  PGresult *res = NULL;
  enum db_result dr;
  int64_t uid, ver;
  int rc, ok;

  body = request_body_or_reply(req, check_login, &in, &rc);
  if(!body)
    return rc;
  if((rc = guard_login_or_reply(req, in.email)) ||
     (rc = guard_hash_slot_or_reply(req)))
    goto out;

  dr = db_exec(&req->app->db, "user_by_email", 1, (const char *[]){in.email},
               &res);
  if(dr != DB_OK) {
    rc = reply_db_error(req, dr);
    goto out;
  }
  if(PQntuples(res) != 1) {
    /* Same cost as a wrong password, so timing does not tell which
     * addresses have accounts. */
    password_dummy_verify(in.password, in.password_len);
    goto fail;
  }
  stored = PQgetvalue(res, 0, 1);
  ok = password_verify(stored, in.password, in.password_len);
  if(ok < 0)
    log_error("user %s has an unreadable password hash",
              PQgetvalue(res, 0, 0));
  if(ok != 1)
    goto fail;
  if(!password_needs_rehash(stored))
    pool_hash_release();

  if(!parse_id(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), &uid) ||
     !parse_int(PQgetvalue(res, 0, 2), INT32_MIN, INT32_MAX, &ver)) {
    rc = reply_error(req, 500, "internal error");
    goto out;
  }
  guard_login_ok(req, in.email);
  if(password_needs_rehash(stored) &&
     !password_hash(in.password, in.password_len, hash, sizeof(hash))) {
    PGresult *r2 = NULL;
    db_exec(&req->app->db, "user_rehash", 2,
            (const char *[]){PQgetvalue(res, 0, 0), hash}, &r2);
    PQclear(r2);
  }
  pool_hash_release();
  rc = auth_reply_token(req, 200, uid, ver);
  goto out;

fail:
  pool_hash_release();
  guard_login_failed(req, in.email);
  rc = reply_error(req, 401, "invalid email or password");
out:
  PQclear(res);
  cJSON_Delete(body);
  return rc;
}

/* Runs a statement whose only parameter is the caller's user id. */
static enum db_result exec_for_user(struct request *req, const char *stmt,
                                    PGresult **res)
{
  char id[INT_TEXT_MAX];
  return db_exec(&req->app->db, stmt, 1,
                 (const char *[]){int_text(id, req->user_id)}, res);
}

int users_logout(struct request *req)
{
  PGresult *res = NULL;
  enum db_result dr = exec_for_user(req, "user_logout", &res);

  PQclear(res);
  if(dr != DB_OK)
    return reply_db_error(req, dr);
  auth_clear_cookie(req);
  return reply_empty(req, 204);
}

/* POST /user/signout: ends the session of this browser only, by clearing
 * its cookie; no token is revoked (logout does that).  The cookie is
 * HttpOnly, so the page's script never held the token and cannot have
 * leaked it.  No login needed, but the CSRF marks are, so another site
 * cannot sign a visitor out. */
int users_signout(struct request *req)
{
  int rc = auth_same_origin_or_reply(req);

  if(rc)
    return rc;
  auth_clear_cookie(req);
  return reply_empty(req, 204);
}

int users_me(struct request *req)
{
  const struct config *cfg = &req->app->cfg;
  char id[INT_TEXT_MAX];
  PGresult *res = NULL;
  cJSON *out = NULL, *limits;
  int rc = request_read_or_reply(req, "user_by_id", 1,
                                 (const char *[]){int_text(id, req->user_id)},
                                 &res);

  if(rc)
    return rc;
  if(PQntuples(res) != 1) {
    rc = 404;
    goto out;
  }
  /* limits: what POST /project enforces, so a form can check it first. */
  out = cJSON_CreateObject();
  if(!cJSON_AddNumberToObject(out, "id", (double)req->user_id) ||
     !cJSON_AddStringToObject(out, "email", PQgetvalue(res, 0, 1)) ||
     !cJSON_AddBoolToObject(out, "email_verified",
                            PQgetvalue(res, 0, 2)[0] == 't') ||
     !cJSON_AddStringToObject(out, "created_at", PQgetvalue(res, 0, 3)) ||
     !(limits = cJSON_AddObjectToObject(out, "limits")) ||
     !cJSON_AddNumberToObject(limits, "min_interval_seconds",
                              (double)cfg->monitor_min_interval) ||
     !cJSON_AddNumberToObject(limits, "max_projects",
                              (double)cfg->max_projects_per_user))
    rc = reply_error(req, 500, "internal error");
  else
    rc = reply_json(req, 200, out);
out:
  cJSON_Delete(out);
  PQclear(res);
  return rc;
}

/* Checks the caller's password pw (from the body field called name) for a
 * sensitive change.  Returns 0 when it matches and leaves the user's row in
 * *user (id, email, verified, created, hash, version); otherwise replies 403
 * (or 429 while locked out) and returns the status. */
static int confirm_password_or_reply(struct request *req, const char *name,
                                     const char *pw, size_t pwlen,
                                     PGresult **user)
{
  const char *email;
  enum db_result dr;
  int rc;

  *user = NULL;
  dr = exec_for_user(req, "user_by_id", user);
  if(dr != DB_OK)
    return reply_db_error(req, dr);
  if(PQntuples(*user) != 1) {
    rc = reply_error(req, 401, "invalid or expired token");
    goto fail;
  }
  email = PQgetvalue(*user, 0, 1);
  if((rc = guard_login_or_reply(req, email)) ||
     (rc = guard_hash_slot_or_reply(req)))
    goto fail;
  if(password_verify(PQgetvalue(*user, 0, 4), pw, pwlen) != 1) {
    pool_hash_release();
    guard_login_failed(req, email);
    rc = reply_error(req, 403, "%s is incorrect",
                     strcmp(name, "password") ? "current password" :
                     "password");
    goto fail;
  }
  return 0;
fail:
  PQclear(*user);
  *user = NULL;
  return rc;
}

int users_change_password(struct request *req)
{
  char hash[PASSWORD_ENCODED_MAX], id[INT_TEXT_MAX];
  struct password_change_input in;
  PGresult *user = NULL, *res = NULL;
  enum db_result dr;
  int64_t ver;
  cJSON *body;
  int rc;

  body = request_body_or_reply(req, check_password_change, &in, &rc);
  if(!body)
    return rc;
  if((rc = confirm_password_or_reply(req, "current_password",
                                     in.current_password, in.current_len,
                                     &user)))
    goto out;
  if(password_hash(in.new_password, in.new_len, hash, sizeof(hash))) {
    rc = reply_error(req, 500, "internal error");
    goto out;
  }
  pool_hash_release();
  dr = db_exec(&req->app->db, "user_set_password", 2,
               (const char *[]){int_text(id, req->user_id), hash}, &res);
  if(dr != DB_OK) {
    rc = reply_db_error(req, dr);
    goto out;
  }
  if(PQntuples(res) != 1 ||
     !parse_int(PQgetvalue(res, 0, 0), INT32_MIN, INT32_MAX, &ver)) {
    rc = reply_error(req, 500, "internal error");
    goto out;
  }
  log_info("user %s changed their password", id);
  rc = auth_reply_token(req, 200, req->user_id, ver);
out:
  PQclear(res);
  PQclear(user);
  cJSON_Delete(body);
  return rc;
}

int users_delete(struct request *req)
{
  PGresult *user = NULL, *res = NULL;
  struct input_string in = {input_confirm_password, NULL, 0};
  enum db_result dr;
  int rc;
  cJSON *body = request_body_or_reply(req, input_string_check, &in, &rc);

  if(!body)
    return rc;
  if((rc = confirm_password_or_reply(req, "password", in.s, in.len,
                                     &user)))
    goto out;
  pool_hash_release();
  dr = exec_for_user(req, "user_delete", &res);
  if(dr != DB_OK) {
    rc = reply_db_error(req, dr);
    goto out;
  }
  log_info("user %lld deleted their account", (long long)req->user_id);
  auth_clear_cookie(req);
  rc = reply_empty(req, 204);
out:
  PQclear(res);
  PQclear(user);
  cJSON_Delete(body);
  return rc;
}
