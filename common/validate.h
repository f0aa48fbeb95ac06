/*
 * validate.h - the input rules of DESIGN §2 that are not about JSON types:
 * email addresses, passwords, and (with the projects API) links, names and
 * expected-status ranges.  Pure functions, shared by the API and the
 * monitor and unit-tested on their own.
 */
#ifndef TRACKLY_VALIDATE_H
#define TRACKLY_VALIDATE_H

#include <stddef.h>
#include <stdbool.h>

#define EMAIL_MAX 254
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024

/* Returns s with leading and trailing ASCII whitespace removed; *len is
 * updated.  Does not copy. */
const char *trim_space(const char *s, size_t *len);

/* A deliverable-looking address: printable ASCII without spaces or the
 * characters that mean something in a mail header (<>()[]\,;:"), exactly
 * one '@' with 1-64 bytes before it, a domain of dot-separated non-empty
 * labels after it, 3-254 bytes in all.  Internationalised addresses are not
 * accepted (they would need SMTPUTF8 end to end). */
bool email_valid(const char *s, size_t len);

/* 8 to 1024 bytes; any bytes the JSON layer let through. */
bool password_length_valid(size_t len);

#endif
