/*
 * mailer.h - delivering the outbox, on a thread of its own.
 *
 * The mailer has its own database connection and never touches the
 * prober's, so a slow or absent mail server delays mail and nothing else.
 * It claims due rows with FOR UPDATE SKIP LOCKED and a lease (several
 * daemons may run), renders each (message.c), hands it to the SMTP server
 * (smtp.c), and marks it sent - or, when the server refused that
 * message, schedules the next attempt with exponential backoff (30 s
 * doubling up to 1 h) for 48 hours, after which the row is given up and
 * says why.  When the server itself cannot be used (not reachable, or it
 * fails before saying anything about the message), no message is blamed:
 * the mailer stops claiming and tries to connect 1 s, 2 s, 4 s ... then
 * every 30 s, and once a message goes through again, everything waiting in
 * a backoff is made due at once.
 *
 * Before an alert mail goes out it takes one of its recipient's
 * ALERT_MAIL_PER_HOUR places in the rolling hour, or is held back for a
 * digest mail that goes out when a place frees (mailcap.c,
 * docs/monitoring.md); an alert about a project gets a fresh mute link
 * token, whose SHA-256 is stored in mute_tokens before the mail is sent.
 */
#ifndef TRACKLY_MAILER_H
#define TRACKLY_MAILER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "stats.h"

struct mailer {
  const struct config *cfg;     /* borrowed; outlives the thread */
  const char *owner;            /* "name:pid" on each claim; borrowed */
  struct stats *stats;          /* counts sent and failed mail; borrowed */
  pthread_t thread;
  int wake_fd;                  /* eventfd: stop (and wake) the thread */
  bool running;
  bool once;                    /* one pass over what is due, then exit */
  /* The server away (all in ms of CLOCK_MONOTONIC; thread only): */
  int64_t away_since;           /* first failure of the outage, 0: not */
  int64_t probe_at;             /* when to try connecting again */
  int64_t away_logged;          /* last "still away" line */
  int probe_delay_ms;           /* current gap between tries */
};

/* Starts the mailer thread; its claims carry owner (the monitor's
 * "name:pid", as on its project leases), and it counts its mail into
 * stats (the atomic mail_sent and mail_failed only; see stats.h).  cfg,
 * owner and stats must outlive the thread.  Returns 0 or -1. */
int mailer_start(struct mailer *m, const struct config *cfg,
                 const char *owner, struct stats *stats, bool once);

/* Asks the thread to finish the message in hand and stop, and joins it. */
void mailer_stop(struct mailer *m);

/* Waits for a --once mailer to finish its pass. */
void mailer_join(struct mailer *m);

#endif
