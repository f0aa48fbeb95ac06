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

/* True when the domain of s (an address email_valid accepted) is a public
 * domain name: at least two labels, the last of them not all digits.  That
 * refuses single-label names (a@b, postmaster@localhost) and numeric
 * domains, which are IP literals in some form (a@127.0.0.1, a@127.1); the
 * bracketed form a@[127.0.0.1] never passes email_valid.  Public DNS has
 * no all-numeric top-level domain (RFC 3696 section 2). */
bool email_domain_public(const char *s, size_t len);

/* 8 to 1024 bytes; any bytes the JSON layer let through. */
bool password_length_valid(size_t len);

#define NAME_MAX_CHARS 200
#define DESCRIPTION_MAX_CHARS 2000
#define LINK_MAX 2048
#define KEYWORD_MAX 1024
#define STATUS_RANGES_MAX 16
/* Longest canonical expected_status: 16 items of "100-599" and commas. */
#define STATUS_RANGES_TEXT_MAX (STATUS_RANGES_MAX * 8)

/* A project name: 1-200 code points of well-formed UTF-8, not all
 * whitespace. */
bool name_valid(const char *s, size_t len);

/* A link the monitor may probe: at most 2048 bytes, scheme http or https
 * (any case) followed by "://", a non-empty host (a name, an IPv4 address
 * or a bracketed IPv6 literal), an optional port from 1 to 65535, and no
 * user:password@ part.  No whitespace or control characters anywhere.
 * Whether the host is an allowed address is the prober's business (it
 * must be checked after DNS resolution, on every connection). */
bool link_valid(const char *s, size_t len);

/* Acceptable HTTP status codes: "200-399", "200,301-302", "204". */
struct status_ranges {
  int n;
  struct {
    short lo, hi;
  } r[STATUS_RANGES_MAX];
};

/* Parses s[0..len): comma-separated codes or lo-hi ranges of codes from
 * 100 to 599 with lo <= hi, at most STATUS_RANGES_MAX of them, spaces
 * allowed around items.  Returns true and fills *out. */
bool status_ranges_parse(const char *s, size_t len,
                         struct status_ranges *out);

/* Writes the canonical form ("200-399,418") into out. */
void status_ranges_format(const struct status_ranges *r, char *out,
                          size_t cap);

bool status_ranges_match(const struct status_ranges *r, int code);

#endif
