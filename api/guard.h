/*
 * guard.h - the checks a request passes before it may check or hash a
 * password: the per-account throttle on failed checks, a hashing slot, and
 * the host's registration rate.  Each *_or_reply returns 0 to go on, or
 * the status it answered (429, with Retry-After; 503 when the database is
 * away).
 */
#ifndef TRACKLY_GUARD_H
#define TRACKLY_GUARD_H

#include "request.h"

/* 429 while the account behind email is locked out by failed checks. */
int guard_login_or_reply(struct request *req, const char *email);

/* Takes a hashing slot, or replies 429.  The slot is given back by
 * pool_hash_release (the worker also does so after every request). */
int guard_hash_slot_or_reply(struct request *req);

/* 429 when registrations over the whole host passed their rate this
 * minute; otherwise this one is counted. */
int guard_register_rate_or_reply(struct request *req);

/* A failed password check counts against email (a failure to record it is
 * logged); a good one clears its count. */
void guard_login_failed(struct request *req, const char *email);
void guard_login_ok(struct request *req, const char *email);

#endif
