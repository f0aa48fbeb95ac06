/*
 * mailcap.h - the per-recipient cap on alert mail (ALERT_MAIL_PER_HOUR,
 * docs/monitoring.md), decided when a row is about to be sent.
 *
 * An alert mail takes one of its recipient's places in the rolling hour,
 * or is held back for a digest mail that goes out when a place frees.
 * The mailer (mailer.c) prepares mailcap_statements on its connection and
 * calls mailcap_gate for each capped row it claimed.
 */
#ifndef TRACKLY_MAILCAP_H
#define TRACKLY_MAILCAP_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "db.h"

/* What the cap decided for a row. */
enum mailcap_result {
  MAILCAP_SEND = 0, /* send it now */
  MAILCAP_HELD,     /* held back (an alert), or waiting (a digest) */
  MAILCAP_EMPTY,    /* a digest whose alerts went with their projects:
                     * nothing to send; the caller gives the row up */
  MAILCAP_FAILED,   /* the database failed; the row stays claimed */
};

/* The SQL of the cap, for db_init's lists. */
extern const struct db_statement mailcap_statements[];

/* Whether mail of this kind counts against the cap. */
bool mailcap_counts(const char *kind);

/* Decides row id (of kind, to recipient to) under the cap of per_hour
 * mails an hour, in one transaction under the recipient's advisory lock,
 * so monitors sharing the database count alike.  A digest admitted
 * gathers what was held: *payload (owned by the caller) is replaced by
 * its new payload. */
enum mailcap_result mailcap_gate(struct db *db, int64_t per_hour,
                                 const char *id, const char *kind,
                                 const char *to, cJSON **payload);

#endif
