/*
 * verify.h - the verification link, shared by registration (users.c) and
 * the resend (verify.c).
 */
#ifndef TRACKLY_VERIFY_H
#define TRACKLY_VERIFY_H

#include "config.h"
#include "secret.h"

/* The throttle of verification mail.  Per account: at most one mail per
 * gap and VERIFY_SENDS_PER_DAY in the 24 hours from the first of them
 * (POST /user/verify/resend).  Per address, across accounts (table
 * verify_mail_log, which outlives them): VERIFY_SENDS_PER_DAY in 24 hours,
 * registrations and resends alike.  Registration's mail is the first. */
#define VERIFY_RESEND_GAP_SECONDS 60
#define VERIFY_SENDS_PER_DAY 5

/* SQL counting one verification mail against an address: source is a
 * VALUES or SELECT giving rows (lower-cased email, 1, now()); per_day the
 * parameter holding the daily limit ("$6").  A row comes back (RETURNING 1)
 * for each mail that may go; none when the address already had per_day in
 * its 24-hour window.  The upsert is atomic, so concurrent registrations
 * and resends of one address cannot pass the limit together. */
#define VERIFY_MAIL_LOG_COUNT(source, per_day) \
  "INSERT INTO verify_mail_log AS l (email, sends, window_start) " source \
  " ON CONFLICT (email) DO UPDATE SET" \
  "  sends = CASE WHEN l.window_start <= now() - interval '24 hours'" \
  "          THEN 1 ELSE l.sends + 1 END," \
  "  window_start = CASE WHEN l.window_start <= now() - interval '24 hours'" \
  "                 THEN now() ELSE l.window_start END" \
  " WHERE l.window_start <= now() - interval '24 hours'" \
  "    OR l.sends < " per_day "::int" \
  " RETURNING 1"

/* Room for PUBLIC_URL (config caps it well below) and the link's path. */
#define VERIFY_URL_MAX 2300

/* A fresh verification link: the token goes into the mail (the outbox
 * payload holds token and url), only the hex SHA-256 into users. */
struct verify_link {
  char token[SECRET_TOKEN_LEN];
  char digest_hex[2 * SECRET_DIGEST_LEN + 1];
  char url[VERIFY_URL_MAX];     /* PUBLIC_URL/verify?token=... */
};

/* Fills link with a new random token, its digest and the URL of the web
 * client's verify page.  Returns 0, or -1 when the system RNG fails.  Wipe
 * it with verify_link_clear when done. */
int verify_link_new(const struct config *cfg, struct verify_link *link);

void verify_link_clear(struct verify_link *link);

#endif
