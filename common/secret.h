/*
 * secret.h - random tokens and digests for links sent by mail.
 *
 * A verification (or mute) link carries a random token; the database keeps
 * only its SHA-256, so a leaked database dump does not hand out working
 * links.
 */
#ifndef TRACKLY_SECRET_H
#define TRACKLY_SECRET_H

#include <stddef.h>

#define SECRET_TOKEN_BYTES 32
/* base64url of SECRET_TOKEN_BYTES, plus the NUL. */
#define SECRET_TOKEN_LEN 44
#define SECRET_DIGEST_LEN 32

/* Fills out (at least SECRET_TOKEN_LEN bytes) with a fresh random token in
 * base64url.  Returns 0, or -1 when the system RNG fails. */
int secret_token(char *out);

/* SHA-256 of s[0..len) into digest.  Returns 0 or -1. */
int secret_digest(const char *s, size_t len,
                  unsigned char digest[SECRET_DIGEST_LEN]);

/* Lower-case hex of digest into out (2 * SECRET_DIGEST_LEN + 1 bytes). */
void secret_hex(const unsigned char digest[SECRET_DIGEST_LEN], char *out);

#endif
