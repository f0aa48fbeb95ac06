/*
 * auth.h - bearer tokens: checking them on requests, issuing them at login.
 */
#ifndef TRACKLY_AUTH_H
#define TRACKLY_AUTH_H

#include "request.h"

/* Checks the request's bearer token: signature, claims, and that the user
 * still exists with the same token version (so logout and password change
 * revoke every older token).  Returns 0 with req->user_id set, or the status
 * it replied with (401, or 503 when the database is away). */
int auth_or_reply(struct request *req);

/* The token of an Authorization header value: what follows "Bearer "
 * (any case) and any spaces.  Returns a pointer into header with its
 * length in *len, or NULL when there is no token.  Pure; exposed for the
 * unit tests and the fuzzer. */
const char *auth_bearer(const char *header, size_t *len);

/* The user id of a verified token's claims: sub must be a path-style id
 * and the token version must be present.  True with *uid set. */
bool auth_claims_user(const struct jwt_claims *claims, int64_t *uid);

/* Issues a token for user_id at token version ver and replies 200 (or
 * status) with {"token", "expires_at"}.  Returns the status sent. */
int auth_reply_token(struct request *req, int status, int64_t user_id,
                     int64_t ver);

#endif
