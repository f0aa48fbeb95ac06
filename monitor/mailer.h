/*
 * mailer.h - delivering the outbox, on a thread of its own.
 *
 * The mailer has its own database connection and never touches the
 * prober's, so a slow or absent mail server delays mail and nothing else.
 * It claims due rows with FOR UPDATE SKIP LOCKED and a lease (several
 * daemons may run), renders each (message.c), hands it to the SMTP server
 * with libesmtp, and marks it sent - or schedules the next attempt with
 * exponential backoff (30 s doubling up to 1 h) for 48 hours, after which
 * the row is given up and says why.
 */
#ifndef TRACKLY_MAILER_H
#define TRACKLY_MAILER_H

#include <pthread.h>
#include <stdbool.h>

#include "config.h"

struct mailer {
  const struct config *cfg;     /* borrowed; outlives the thread */
  pthread_t thread;
  int wake_fd;                  /* eventfd: stop (and wake) the thread */
  bool running;
  bool once;                    /* one pass over what is due, then exit */
};

/* Starts the mailer thread.  Returns 0 or -1. */
int mailer_start(struct mailer *m, const struct config *cfg, bool once);

/* Asks the thread to finish the message in hand and stop, and joins it. */
void mailer_stop(struct mailer *m);

/* Waits for a --once mailer to finish its pass. */
void mailer_join(struct mailer *m);

#endif
