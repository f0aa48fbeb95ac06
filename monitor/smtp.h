/*
 * smtp.h - one SMTP session with libesmtp: hands one rendered message to
 * the configured mail server, and tells the mailer what became of it.
 *
 * Knows nothing of the outbox or the database: the mailer (mailer.c)
 * decides what to send and records the outcome.  Nothing here allocates
 * anything the caller frees; the session and its context are freed before
 * smtp_send returns.
 */
#ifndef TRACKLY_SMTP_H
#define TRACKLY_SMTP_H

#include <stddef.h>

#include "config.h"

/* What became of one message. */
enum smtp_result {
  SMTP_SENT = 0,    /* the server took it */
  SMTP_REFUSED,     /* the server answered, and refused this message */
  SMTP_NO_SERVER,   /* no usable server: not reachable, or it hung up or
                     * failed before saying anything about this message */
};

/* Called once, during smtp_send, when the server has said 250 to the
 * message (before QUIT), with the arg given to smtp_send. */
typedef void (*smtp_taken_fn)(void *arg);

/* libesmtp's SASL client, set up once before the first smtp_send and
 * released after the last. */
void smtp_init(void);
void smtp_cleanup(void);

/* libesmtp connects with a plain blocking connect(2), which can hang for
 * minutes on a host that drops packets: this bounded connect finds such a
 * server dead within 10 s.  Returns 0, or -1 with the reason in err. */
int smtp_reachable(const char *host, int port, char *err, size_t errcap);

/* Sends text (a whole rendered message, borrowed) to the recipient to,
 * through cfg's server, from the address in cfg->email_from.  taken (may
 * be NULL) is called as soon as the server has the mail.  On anything but
 * SMTP_SENT, a one-line reason is in err. */
enum smtp_result smtp_send(const struct config *cfg, const char *to,
                           char *text, smtp_taken_fn taken, void *arg,
                           char *err, size_t errcap);

#endif
