/*
 * verify.h - the verification link, shared by registration (users.c) and
 * the resend (verify.c).
 */
#ifndef TRACKLY_VERIFY_H
#define TRACKLY_VERIFY_H

#include "config.h"
#include "secret.h"

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
