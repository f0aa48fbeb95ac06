/*
 * auth.c - session tokens; see auth.h and DESIGN §3.
 *
 * API clients send the token as "Authorization: Bearer".  The web client,
 * served by nginx from the API's own origin, never sees it: login sets it
 * in an HttpOnly cookie, and the browser sends that back.  A browser also
 * sends cookies with requests other sites make it send, so the cookie
 * counts only with the web client's CSRF marks (auth_same_origin);
 * docs/security.md has the whole argument.
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

/* A browser that says where a request started (Sec-Fetch-Site) must say
 * it started on this origin. */
static bool fetch_from_here(const char *fetch_site)
{
  return !fetch_site || !strcmp(fetch_site, "same-origin");
}

bool auth_same_origin(const char *requested_with, const char *fetch_site)
{
  return requested_with && !strcmp(requested_with, AUTH_CSRF_HEADER_VALUE) &&
         fetch_from_here(fetch_site);
}

int auth_same_origin_or_reply(struct request *req)
{
  if(auth_same_origin(request_param(req, "HTTP_X_REQUESTED_WITH"),
                      request_param(req, "HTTP_SEC_FETCH_SITE")))
    return 0;
  return reply_error(req, 403, "cross-site request refused");
}

/* RFC 6265's cookie-octet: printable ASCII but for '"', ',', ';', '\\'. */
static bool cookie_octet(unsigned char c)
{
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
         (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

enum auth_cookie auth_cookie_find(const char *header, const char *name,
                                  const char **value, size_t *len)
{
  size_t nlen = strlen(name);
  const char *p = header;

  *value = NULL;
  *len = 0;
  if(!p)
    return AUTH_COOKIE_ABSENT;
  for(;;) {
    const char *end, *eq;

    while(*p == ' ' || *p == '\t')
      p++;
    end = p + strcspn(p, ";");
    eq = memchr(p, '=', (size_t)(end - p));
    /* A pair without '=' is skipped, as browsers do. */
    if(eq && (size_t)(eq - p) == nlen && !memcmp(p, name, nlen)) {
      const char *v = eq + 1;
      size_t n = (size_t)(end - v);

      if(!n)
        return AUTH_COOKIE_ABSENT;
      if(n > JWT_MAX_TOKEN)
        return AUTH_COOKIE_INVALID;
      for(size_t i = 0; i < n; i++)
        if(!cookie_octet((unsigned char)v[i]))
          return AUTH_COOKIE_INVALID;
      *value = v;
      *len = n;
      return AUTH_COOKIE_FOUND;
    }
    if(!*end)
      return AUTH_COOKIE_ABSENT;
    p = end + 1;
  }
}

/* Secure when the browser reached us over HTTPS (nginx's TLS site passes
 * HTTPS=on) or the operator says the site is an https one. */
static bool over_https(const struct request *req)
{
  const char *https = request_param(req, "HTTPS");
  const char *url = req->app->cfg.public_url;

  return (https && !strcasecmp(https, "on")) ||
         (url && !strncasecmp(url, "https://", 8));
}

/* Sets the session cookie to token for max_age seconds ("" and 0 clear
 * it).  SameSite=Strict: the browser sends it only with requests that
 * start on this site. */
static void set_cookie(struct request *req, const char *token,
                       int64_t max_age)
{
  request_add_header(req, "Set-Cookie", AUTH_COOKIE "=%s; Path=/; "
                     "Max-Age=%lld; HttpOnly; SameSite=Strict%s", token,
                     (long long)max_age, over_https(req) ? "; Secure" : "");
}

void auth_clear_cookie(struct request *req)
{
  set_cookie(req, "", 0);
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

int auth_version_or_reply(struct request *req, const PGresult *res)
{
  int64_t ver;

  req->token_unchecked = false;
  if(res && PQntuples(res) == 1 &&
     parse_int(PQgetvalue(res, 0, 0), INT32_MIN, INT32_MAX, &ver) &&
     ver == req->token_ver)
    return 0;
  /* Whatever the handler was about to answer becomes this 401, without
   * the headers it added for that answer (X-Total-Count, ...). */
  req->user_id = 0;
  req->extra_len = req->token_extra_len;
  req->extra[req->extra_len] = '\0';
  return unauthorized(req, "invalid or expired token");
}

int auth_confirm_or_reply(struct request *req)
{
  char idbuf[INT_TEXT_MAX];
  PGresult *res = NULL;
  enum db_result dr;
  int rc;

  dr = db_exec(&req->app->db, "auth_user", 1,
               (const char *[]){int_text(idbuf, req->user_id)}, &res);
  if(dr != DB_OK) {
    /* A 503 says nothing about the account: it may leave unconfirmed. */
    req->token_unchecked = false;
    return reply_db_error(req, dr);
  }
  rc = auth_version_or_reply(req, res);
  PQclear(res);
  return rc;
}

int auth_or_reply(struct request *req)
{
  struct jwt_claims claims;
  enum jwt_result jr;
  const char *token;
  int64_t uid;
  size_t len;
  int rc;

  /* A Bearer header wins; the cookie is the browser's. */
  token = auth_bearer(request_param(req, "HTTP_AUTHORIZATION"), &len);
  if(!token) {
    enum auth_cookie c = auth_cookie_find(request_param(req, "HTTP_COOKIE"),
                                          AUTH_COOKIE, &token, &len);
    if(c == AUTH_COOKIE_ABSENT)
      return unauthorized(req, "missing bearer token");
    if((rc = auth_same_origin_or_reply(req)))
      return rc;
    if(c == AUTH_COOKIE_INVALID)
      return unauthorized(req, "invalid or expired token");
  }

  jr = jwt_verify(token, len, req->app->keys, req->app->nkeys,
                  API_JWT_ISSUER, (int64_t)time(NULL), API_JWT_LEEWAY,
                  &claims);
  if(jr != JWT_OK || !auth_claims_user(&claims, &uid))
    return unauthorized(req, "invalid or expired token");

  req->user_id = uid;
  req->token_ver = claims.ver;
  req->token_extra_len = req->extra_len;
  /* A read only: its database read is scoped to uid, which the signature
   * vouches for, so it may run before the version is known, in the same
   * round trip as the check (request_read_or_reply); send_typed checks
   * before any answer that had no read.  Anything that may write checks
   * first. */
  if(!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) {
    req->token_unchecked = true;
    return 0;
  }
  return auth_confirm_or_reply(req);
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
  else {
    /* Not for a request the browser marks as started on another site: a
     * cross-site form can post JSON to /user/login, and the cookie from
     * its answer would sign the victim's browser into the attacker's
     * account (login CSRF).  The body's token is there for other
     * clients. */
    if(fetch_from_here(request_param(req, "HTTP_SEC_FETCH_SITE")))
      set_cookie(req, token, req->app->cfg.jwt_ttl);
    rc = reply_json(req, status, obj);
  }
  cJSON_Delete(obj);
  explicit_bzero(token, sizeof(token));
  return rc;
}
