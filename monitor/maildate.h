/*
 * maildate.h - the times in a mail: RFC 3339 timestamps read from an
 * outbox row, the RFC 5322 Date header, and a form for people.  All UTC,
 * none of it locale-dependent.
 */
#ifndef TRACKLY_MAILDATE_H
#define TRACKLY_MAILDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses an RFC 3339 timestamp ("2026-11-27T08:21:03Z",
 * "...03.5+01:00"; a space may stand for the T, as PostgreSQL writes it)
 * into seconds since the epoch.  False when it is not one. */
bool maildate_parse_rfc3339(const char *s, int64_t *out);

/* "Fri, 27 Nov 2026 08:21:03 +0000" into out.  0, or -1 when t is not a
 * time gmtime can represent. */
int maildate_format_rfc5322(int64_t t, char *out, size_t cap);

/* "Fri 27 Nov 2026, 08:21 UTC" into out.  0 or -1, as above. */
int maildate_format_human(int64_t t, char *out, size_t cap);

#endif
