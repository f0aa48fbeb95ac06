/*
 * auth.h - session tokens: checking them on requests (a Bearer header, or
 * the browser's cookie with the web client's CSRF marks), issuing them at
 * login, and the session cookie that carries them in a browser.
 */
#ifndef TRACKLY_AUTH_H
#define TRACKLY_AUTH_H

#include "request.h"

/* The browser's session cookie, and the value of X-Requested-With that the
 * web client sends with every request (the CSRF mark). */
#define AUTH_COOKIE "trackly_session"
#define AUTH_CSRF_HEADER_VALUE "trackly"

/* Checks the request's token: an Authorization Bearer header, or else the
 * session cookie, which counts only on a request with the CSRF marks
 * (auth_same_origin; 403 otherwise).  Then the signature, the claims, and
 * that the user still exists with the same token version (so logout,
 * password change and account deletion revoke every older token).
 * Returns 0 with req->user_id set, or the status it replied with (401,
 * 403, or 503 when the database is away).
 *
 * For GET and HEAD the version is not read here: the request is marked
 * req->token_unchecked, and the check travels with the handler's first
 * read (request_read_or_reply), or runs before an answer that had none
 * (send_typed).  Either way no answer leaves before it, and a revoked
 * token's answer is the 401. */
int auth_or_reply(struct request *req);

/* Compares the result of statement auth_user (res; NULL or no row: the
 * user is gone) with the version of the request's token and clears
 * req->token_unchecked.  Returns 0 when they match; otherwise replies 401
 * "invalid or expired token" in place of anything the handler meant to
 * send (its extra headers dropped) and returns 401. */
int auth_version_or_reply(struct request *req, const PGresult *res);

/* The check of an unchecked token on its own round trip (auth_user, then
 * auth_version_or_reply).  Returns 0, or the status replied: 401, or a
 * database failure's (503 ...). */
int auth_confirm_or_reply(struct request *req);

/* Replies 403 {"error":"cross-site request refused"} and returns 403
 * unless the request carries the CSRF marks; returns 0 when it does. */
int auth_same_origin_or_reply(struct request *req);

/* The CSRF marks: X-Requested-With is exactly "trackly" (requested_with,
 * NULL when absent), and Sec-Fetch-Site, if the browser sent it
 * (fetch_site), is "same-origin".  A cross-site form cannot send a custom
 * header; a cross-origin fetch needs a preflight for one, which the API
 * never grants.  Pure; exposed for the unit tests. */
bool auth_same_origin(const char *requested_with, const char *fetch_site);

enum auth_cookie {
  AUTH_COOKIE_ABSENT,       /* no such cookie, or an empty one */
  AUTH_COOKIE_FOUND,
  AUTH_COOKIE_INVALID,      /* present, but no token could be it */
};

/* Finds cookie name in a Cookie header value (RFC 6265: "a=1; b=2"; the
 * space after each ';' optional).  The name must match exactly, and the
 * first occurrence counts.  A value longer than JWT_MAX_TOKEN, or holding
 * anything but RFC 6265 cookie-octets (no quotes, spaces, commas,
 * backslashes, controls), is AUTH_COOKIE_INVALID.  On AUTH_COOKIE_FOUND,
 * *value points into header, *len bytes long.  Reads header once, so its
 * cost is bounded by its length (nginx caps a header line at 8 KiB).
 * Pure; exposed for the unit tests and the fuzzer. */
enum auth_cookie auth_cookie_find(const char *header, const char *name,
                                  const char **value, size_t *len);

/* Adds the Set-Cookie header that ends this browser's session (Max-Age=0),
 * to a reply not yet sent. */
void auth_clear_cookie(struct request *req);

/* The token of an Authorization header value: what follows "Bearer "
 * (any case) and any spaces.  Returns a pointer into header with its
 * length in *len, or NULL when there is no token.  Pure; exposed for the
 * unit tests and the fuzzer. */
const char *auth_bearer(const char *header, size_t *len);

/* The user id of a verified token's claims: sub must be a path-style id
 * and the token version must be present.  True with *uid set. */
bool auth_claims_user(const struct jwt_claims *claims, int64_t *uid);

/* Issues a token for user_id at token version ver and replies 200 (or
 * status) with {"token", "expires_at"}, setting the session cookie to the
 * same token unless the browser's Sec-Fetch-Site says the request started
 * on another site.  Returns the status sent. */
int auth_reply_token(struct request *req, int status, int64_t user_id,
                     int64_t ver);

#endif
