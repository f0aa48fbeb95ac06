/*
 * verify.c - confirming an email address: POST /user/verify, the old link
 * GET /user/verify, and POST /user/verify/resend.  DESIGN §2 and §4.
 *
 * The mail links to the web client's verify page (PUBLIC_URL/verify?token=),
 * which POSTs the token here: mail scanners open links, and opening one
 * must not confirm anything.  Links in mail sent before that page existed
 * pointed at GET /user/verify, which therefore only redirects to the page.
 *
 * Only the SHA-256 of a token is stored (users.verify_token_hash), so a
 * resend replaces the digest and every earlier link stops working.
 */
#include "verify.h"
#include "handlers.h"
#include "input.h"
#include "log.h"
#include "parse.h"

#include <stdio.h>
#include <string.h>

#define INVALID_LINK "invalid or expired verification link"

const struct db_statement verify_statements[] = {
  {"verify_confirm",
   "UPDATE users SET email_verified = true, verify_token_hash = NULL,"
   "                 verify_expires_at = NULL, updated_at = now()"
   " WHERE verify_token_hash = decode($1, 'hex')"
   "   AND verify_expires_at > now()"
   " RETURNING id"},
  /*
   * The throttle's check and its update in one statement.  cur locks the
   * account's row (FOR UPDATE reads its latest version), so of two
   * concurrent resends on any workers or hosts the second waits, then
   * sees the first one's verify_sent_at and is refused.  gap_wait,
   * day_wait and addr_wait are the seconds until each limit lets a mail
   * through (NULL: it does now).  a counts the mail against the address
   * (verify_mail_log) when the account's limits pass; its upsert is
   * atomic, so the address's limit holds against registrations of the
   * same address running at the same time as well.
   */
  {"verify_resend",
   "WITH cur AS ("
   "  SELECT id, email, email_verified,"
   "    verify_window_start IS NULL"
   "      OR verify_window_start <= now() - interval '24 hours' AS new_day,"
   "    CASE WHEN verify_sent_at > now() - $5::int * interval '1 second'"
   "      THEN ceil(extract(epoch FROM verify_sent_at"
   "                    + $5::int * interval '1 second' - now()))::bigint"
   "    END AS gap_wait,"
   "    CASE WHEN verify_window_start > now() - interval '24 hours'"
   "          AND verify_sends >= $6::int"
   "      THEN ceil(extract(epoch FROM verify_window_start"
   "                    + interval '24 hours' - now()))::bigint"
   "    END AS day_wait,"
   "    (SELECT ceil(extract(epoch FROM l.window_start"
   "                     + interval '24 hours' - now()))::bigint"
   "     FROM verify_mail_log l"
   "     WHERE l.email = lower(users.email) AND l.sends >= $6::int"
   "       AND l.window_start > now() - interval '24 hours') AS addr_wait"
   "  FROM users WHERE id = $1 FOR UPDATE),"
   " a AS (" VERIFY_MAIL_LOG_COUNT("SELECT lower(email), 1, now() FROM cur"
   "  WHERE NOT email_verified AND gap_wait IS NULL AND day_wait IS NULL",
   "$6") "),"
   " u AS ("
   "  UPDATE users us SET verify_token_hash = decode($2, 'hex'),"
   "    verify_expires_at = now() + interval '7 days',"
   "    verify_sent_at = now(),"
   "    verify_sends = CASE WHEN cur.new_day THEN 1"
   "                   ELSE us.verify_sends + 1 END,"
   "    verify_window_start = CASE WHEN cur.new_day THEN now()"
   "                          ELSE us.verify_window_start END,"
   "    updated_at = now()"
   "  FROM cur"
   "  WHERE us.id = cur.id AND EXISTS (SELECT 1 FROM a)"
   "  RETURNING us.id, us.email),"
   " o AS ("
   "  INSERT INTO mail_outbox (user_id, kind, recipient, payload)"
   "  SELECT id, 'verify', email,"
   "         jsonb_build_object('token', $3::text, 'link', $4::text)"
   "  FROM u)"
   " SELECT cur.email_verified, cur.gap_wait, cur.day_wait,"
   "        (SELECT count(*) FROM u), cur.addr_wait"
   " FROM cur"},
  {NULL, NULL},
};

int verify_link_new(const struct config *cfg, struct verify_link *link)
{
  unsigned char digest[SECRET_DIGEST_LEN];

  if(secret_token(link->token) ||
     secret_digest(link->token, strlen(link->token), digest))
    return -1;
  secret_hex(digest, link->digest_hex);
  snprintf(link->url, sizeof(link->url), "%s/verify?token=%s",
           cfg->public_url, link->token);
  return 0;
}

void verify_link_clear(struct verify_link *link)
{
  explicit_bzero(link, sizeof(*link));
}

/* POST /user/verify {token}: no login needed, the token is the proof. */
int verify_confirm(struct request *req)
{
  static const char verified[] = "{\"message\":\"email address verified\"}";
  char digest_hex[2 * SECRET_DIGEST_LEN + 1];
  unsigned char digest[SECRET_DIGEST_LEN];
  struct input_string in = {input_verify, NULL, 0};
  PGresult *res = NULL;
  enum db_result dr;
  cJSON *body;
  int rc;

  body = request_body_or_reply(req, input_string_check, &in, &rc);
  if(!body)
    return rc;
  if(!input_link_token_valid(in.s, in.len)) {
    rc = reply_error(req, 400, INVALID_LINK);
    goto out;
  }
  if(secret_digest(in.s, in.len, digest)) {
    rc = reply_error(req, 500, "internal error");
    goto out;
  }
  secret_hex(digest, digest_hex);
  dr = db_exec(&req->app->db, "verify_confirm", 1,
               (const char *[]){digest_hex}, &res);
  if(dr != DB_OK) {
    rc = reply_db_error(req, dr);
    goto out;
  }
  if(PQntuples(res) != 1) {
    rc = reply_error(req, 400, INVALID_LINK);
    goto out;
  }
  log_info("user %s verified their email address", PQgetvalue(res, 0, 0));
  rc = reply_raw_json(req, 200, verified, sizeof(verified) - 1);
out:
  PQclear(res);
  cJSON_Delete(body);
  return rc;
}

/* GET /user/verify?token=...: the link of mail sent before the web client
 * had its verify page.  It confirms nothing (a mail scanner may be the one
 * opening it) and sends the browser to that page, which POSTs.  The token
 * is echoed into Location, so only a token of the link alphabet is. */
int verify_redirect(struct request *req)
{
  static const char body[] =
    "{\"message\":\"open the web client's verify page to confirm your "
    "address\"}";
  char token[INPUT_LINK_TOKEN_MAX + 1];

  if(input_link_token(req->query, token, sizeof(token)) < 0)
    return reply_error(req, 400, INVALID_LINK);
  request_add_header(req, "Location", "/verify?token=%s", token);
  return reply_raw_json(req, 303, body, sizeof(body) - 1);
}

/* The 429 of a refused resend: which limit, and when it lets one through.
 * All three empty means the address's count moved between the statement's
 * read and its update (a registration at that moment): the address's
 * limit, for a minute. */
static int throttled(struct request *req, const char *gap, const char *day,
                     const char *addr)
{
  const char *seconds;
  int64_t wait, fallback;
  char text[128];

  if(*addr || (!*day && !*gap)) {
    seconds = addr;
    fallback = VERIFY_RESEND_GAP_SECONDS;
    snprintf(text, sizeof(text), "at most %d verification mails a day go "
             "to one address", VERIFY_SENDS_PER_DAY);
  }
  else if(*day) {
    seconds = day;
    fallback = 86400;
    snprintf(text, sizeof(text), "at most %d verification mails a day",
             VERIFY_SENDS_PER_DAY);
  }
  else {
    seconds = gap;
    fallback = VERIFY_RESEND_GAP_SECONDS;
    snprintf(text, sizeof(text), "a verification mail was sent less than %d "
             "seconds ago", VERIFY_RESEND_GAP_SECONDS);
  }
  if(!parse_int(seconds, 1, 86400, &wait))
    wait = fallback;
  request_add_header(req, "Retry-After", "%lld", (long long)wait);
  return reply_error(req, 429, "%s; try again in %lld seconds", text,
                     (long long)wait);
}

/* POST /user/verify/resend: a new link for the signed-in account, whose
 * digest replaces the old one. */
int verify_resend(struct request *req)
{
  static const char sent[] =
    "{\"message\":\"verification mail sent; links in earlier mails no "
    "longer work\"}";
  char uid[INT_TEXT_MAX], gap[INT_TEXT_MAX], per_day[INT_TEXT_MAX];
  struct verify_link link;
  PGresult *res = NULL;
  enum db_result dr;
  int rc;

  if(verify_link_new(&req->app->cfg, &link)) {
    rc = reply_error(req, 500, "internal error");
    goto out;
  }
  dr = db_exec(&req->app->db, "verify_resend", 6, (const char *[]){
      int_text(uid, req->user_id), link.digest_hex, link.token, link.url,
      int_text(gap, VERIFY_RESEND_GAP_SECONDS),
      int_text(per_day, VERIFY_SENDS_PER_DAY)}, &res);
  if(dr != DB_OK) {
    rc = reply_db_error(req, dr);
    goto out;
  }
  if(PQntuples(res) != 1) {             /* deleted since its token passed */
    rc = reply_error(req, 401, "invalid or expired token");
    goto out;
  }
  if(PQgetvalue(res, 0, 0)[0] == 't')
    rc = reply_error(req, 409, "email address already verified");
  else if(strcmp(PQgetvalue(res, 0, 3), "1"))
    rc = throttled(req, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                   PQgetvalue(res, 0, 4));
  else {
    log_info("user %s asked for a new verification mail", uid);
    rc = reply_raw_json(req, 202, sent, sizeof(sent) - 1);
  }
out:
  verify_link_clear(&link);
  PQclear(res);
  return rc;
}
