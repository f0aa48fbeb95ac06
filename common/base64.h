/*
 * base64.h - the project's one home for bytes written as digits: standard
 * base64 (RFC 4648 §4, padded: MIME bodies and RFC 2047 encoded-words),
 * base64url (RFC 4648 §5, unpadded: JWTs and random tokens) and lower-case
 * hex (digests).
 *
 * The decoders are strict: no whitespace, no characters outside the
 * alphabet, no non-zero trailing bits, and padding exactly where the
 * standard form needs it, so one text decodes to given bytes and no other.
 *
 * Nothing here allocates: the caller passes the output buffer and its
 * size.  The encoded and decoded lengths are computed by the *_len
 * helpers, so a caller can size a buffer first.
 */
#ifndef TRACKLY_BASE64_H
#define TRACKLY_BASE64_H

#include <stddef.h>

/* Characters base64_encode writes for len bytes (a multiple of 4). */
size_t base64_encoded_len(size_t len);

/* Standard base64 with '=' padding.  Each returns the number of bytes
 * written (no NUL is added), or -1 when the input is invalid or out is too
 * small. */
long base64_encode(const unsigned char *in, size_t len, char *out,
                   size_t cap);
long base64_decode(const char *in, size_t len, unsigned char *out,
                   size_t cap);

/* Strict base64url, no padding.  Same returns as above. */
long base64url_encode(const unsigned char *in, size_t len, char *out,
                      size_t cap);
long base64url_decode(const char *in, size_t len, unsigned char *out,
                      size_t cap);

/* Lower-case hex of in[0..len) into out, which holds 2 * len + 1 bytes
 * (the result is NUL-terminated). */
void hex_encode(const unsigned char *in, size_t len, char *out);

/* The value of hex digit c (0-9, a-f, A-F), or -1. */
int hex_digit(char c);

#endif
