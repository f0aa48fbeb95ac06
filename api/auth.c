/*
 * auth.c - bearer tokens; see auth.h and DESIGN §3.
 */
#include "auth.h"
#include "log.h"
#include "parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const struct db_statement auth_statements[] = {
  {"auth_user",
   "SELECT token_version FROM users WHERE id = $1"},
  {NULL, NULL},
};

static int unauthorized(struct request *req, const char *msg)
{
  request_add_header(req, "WWW-Authenticate", "Bearer realm=\"trackly\"");
  return reply_error(req, 401, "%s", msg);
}

const char *auth_bearer(const char *header, size_t *len)
{
  const char *h = header;

  *len = 0;
  if(!h || strncasecmp(h, "Bearer ", 7))
    return NULL;
  h += 7;
  while(*h == ' ')
    h++;
  if(!*h)
    return NULL;
  *len = strlen(h);
  return h;
}

bool auth_claims_user(const struct jwt_claims *claims, int64_t *uid)
{
  return claims->has_ver && parse_id(claims->sub, strlen(claims->sub), uid);
}

int auth_or_reply(struct request *req)
{
  struct jwt_claims claims;
  enum jwt_result jr;
  enum db_result dr;
  PGresult *res = NULL;
  const char *token;
  char idbuf[24];
  int64_t uid, ver;
  size_t len;
  int rc;

  token = auth_bearer(request_param(req, "HTTP_AUTHORIZATION"), &len);
  if(!token)
    return unauthorized(req, "missing bearer token");

  jr = jwt_verify(token, len, req->app->keys, req->app->nkeys,
                  API_JWT_ISSUER, (int64_t)time(NULL), API_JWT_LEEWAY,
                  &claims);
  if(jr != JWT_OK || !auth_claims_user(&claims, &uid))
    return unauthorized(req, "invalid or expired token");

  snprintf(idbuf, sizeof(idbuf), "%lld", (long long)uid);
  dr = db_exec(&req->app->db, "auth_user", 1, (const char *[]){idbuf}, &res);
  if(dr != DB_OK)
    return reply_db_error(req, dr);
  if(PQntuples(res) != 1 ||
     !parse_int(PQgetvalue(res, 0, 0), INT32_MIN, INT32_MAX, &ver) ||
     ver != claims.ver) {
    rc = unauthorized(req, "invalid or expired token");
    goto out;
  }
  req->user_id = uid;
  rc = 0;
out:
  PQclear(res);
  return rc;
}

int auth_reply_token(struct request *req, int status, int64_t user_id,
                     int64_t ver)
{
  struct jwt_claims claims = {0};
  char token[JWT_MAX_TOKEN], expires[32];
  cJSON *obj;
  int rc;

  claims.iat = (int64_t)time(NULL);
  claims.exp = claims.iat + req->app->cfg.jwt_ttl;
  claims.ver = ver;
  claims.has_ver = true;
  snprintf(claims.sub, sizeof(claims.sub), "%lld", (long long)user_id);
  if(jwt_sign(&req->app->keys[0], API_JWT_ISSUER, &claims, token,
              sizeof(token)) != JWT_OK) {
    log_error("cannot sign a token");
    return reply_error(req, 500, "internal error");
  }
  format_rfc3339(claims.exp, expires);

  obj = cJSON_CreateObject();
  if(!obj || !cJSON_AddStringToObject(obj, "token", token) ||
     !cJSON_AddStringToObject(obj, "expires_at", expires))
    rc = reply_error(req, 500, "internal error");
  else
    rc = reply_json(req, status, obj);
  cJSON_Delete(obj);
  explicit_bzero(token, sizeof(token));
  return rc;
}
