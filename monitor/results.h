/*
 * results.h - writing a batch of finished checks, in one statement.
 *
 * For every check whose lease is still ours: the raw check row, the hourly
 * totals, the project's new state and next slot, and - when the state
 * machine says so - the incident and exactly one outbox row.  One
 * statement is one transaction, so a crash leaves either all of a batch or
 * none of it, and the outbox row exists exactly when the transition does.
 */
#ifndef TRACKLY_RESULTS_H
#define TRACKLY_RESULTS_H

#include "check.h"
#include "db.h"

extern const struct db_statement results_statements[];

struct results_options {
  const char *owner;          /* this daemon's lease name */
  int64_t reminder_ms;        /* ALERT_REMINDER_MINUTES, 0 = off */
  int64_t flap_transitions;   /* ALERT_FLAP_TRANSITIONS, 0 = off */
  int64_t flap_quiet_s;       /* ALERT_FLAP_QUIET_MINUTES, in seconds */
};

/* Runs the state machine on every check of list (state.c) and writes the
 * batch.  Returns the number of checks written (those whose lease had
 * expired and passed to another daemon are dropped), or -1 when the
 * database failed; list is untouched either way (the caller frees it or
 * keeps it for another try - applying the state machine twice to the same
 * list gives the same result). */
int results_write(struct db *db, const struct results_options *o,
                  struct check *list, int *mails);

#endif
