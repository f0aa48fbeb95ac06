/*
 * mute.c - /project/mute?token=...: the mute link of alert mail.  No login:
 * the token is the permission.  DESIGN §2.
 *
 * The mailer (monitor/) stores the hex SHA-256 of each link's token, never
 * the token; a link works while the project's mute_generation is the one it
 * was mailed with (unmuting through PUT /project/{id} bumps it) and for
 * MUTE_LINK_DAYS.
 */
#include "handlers.h"
#include "input.h"
#include "log.h"
#include "secret.h"

#include <string.h>

/* How long a mute link works (SQL text); the mailer's MUTE_LINK_DAYS
 * deletes older digests. */
#define MUTE_LINK_DAYS "30"

const struct db_statement mute_statements[] = {
  /* $1 is the hex SHA-256 of the link's token.  POST mutes; GET looks. */
  {"project_mute",
   "UPDATE projects p SET alerts_muted = true, updated_at = now()"
   " FROM mute_tokens t"
   " WHERE t.token_hash = decode($1, 'hex') AND t.project_id = p.id"
   "   AND t.generation = p.mute_generation"
   "   AND t.created_at > now() - interval '" MUTE_LINK_DAYS " days'"
   " RETURNING p.name, p.alerts_muted"},
  {"project_by_mute_token",
   "SELECT p.name, p.alerts_muted FROM projects p JOIN mute_tokens t"
   "   ON t.project_id = p.id AND t.generation = p.mute_generation"
   " WHERE t.token_hash = decode($1, 'hex')"
   "   AND t.created_at > now() - interval '" MUTE_LINK_DAYS " days'"},
  {NULL, NULL},
};

/* The answer of /project/mute, from its row (name, alerts_muted). */
static int reply_mute(struct request *req, bool post, const PGresult *res)
{
  cJSON *out = cJSON_CreateObject();
  int rc = 500;

  if(cJSON_AddStringToObject(out, "message", post ?
        "alerts muted; unmute with PUT /project/{id} {\"alerts_muted\": false}" :
        "POST to this URL to mute alerts for this project") &&
     cJSON_AddStringToObject(out, "project", PQgetvalue(res, 0, 0)) &&
     cJSON_AddBoolToObject(out, "alerts_muted",
                           PQgetvalue(res, 0, 1)[0] == 't'))
    rc = reply_json(req, 200, out);
  cJSON_Delete(out);
  return rc;
}

/* POST mutes (the page the mail links to posts here, and so does RFC 8058
 * one-click List-Unsubscribe); GET only says what POST would do, because
 * mail scanners open links in mail and must not silence anyone's alerts. */
int mute_link(struct request *req)
{
  bool post = !strcmp(req->method, "POST");
  char token[INPUT_LINK_TOKEN_MAX], digest_hex[2 * SECRET_DIGEST_LEN + 1];
  unsigned char digest[SECRET_DIGEST_LEN];
  long len = input_link_token(req->query, token, sizeof(token));
  PGresult *res = NULL;
  enum db_result dr;
  int rc;

  if(len < 0)
    return reply_error(req, 400, "invalid mute link");
  if(secret_digest(token, (size_t)len, digest))
    return reply_error(req, 500, "internal error");
  secret_hex(digest, digest_hex);
  dr = db_exec(&req->app->db, post ? "project_mute" : "project_by_mute_token",
               1, (const char *[]){digest_hex}, &res);
  if(dr != DB_OK)
    rc = reply_db_error(req, dr);
  else if(PQntuples(res) != 1)
    rc = reply_error(req, 400, "invalid mute link");
  else {
    if(post)
      log_info("alerts muted for a project through its mute link");
    rc = reply_mute(req, post, res);
  }
  PQclear(res);
  return rc;
}
