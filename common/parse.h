/*
 * parse.h - strict parsing of the small strings that come from outside:
 * ids in paths, numbers in query strings and configuration, and
 * application/x-www-form-urlencoded query parameters.
 *
 * Strict means the whole input is the number: no sign unless allowed, no
 * spaces, no trailing garbage, no overflow.  These replace atoi and
 * unchecked strtol everywhere in the tree.
 */
#ifndef TRACKLY_PARSE_H
#define TRACKLY_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "base64.h"   /* hex_digit: percent-decoding callers use it */

/* Room for a 64-bit integer as decimal text, sign and NUL included. */
#define INT_TEXT_MAX 24

/* Formats n into buf and returns buf: a number as a text parameter for
 * SQL (the other way from parse_int). */
const char *int_text(char buf[INT_TEXT_MAX], int64_t n);

/* A path id: a positive decimal integer without sign or leading zeros that
 * fits in int64_t ("1", "42"; not "0", "-1", "+5", "007", "1e3", " 1").
 * Returns true and sets *out when s[0..len) is one. */
bool parse_id(const char *s, size_t len, int64_t *out);

/* A decimal integer (optional leading '-') in [min, max] filling all of the
 * NUL-terminated s.  Returns true and sets *out on success. */
bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Octal digits only (leading zeros welcome, no sign: "0660", "755") for
 * a value in [0, max] filling all of s, as a file mode is written.
 * Returns true and sets *out. */
bool parse_octal(const char *s, int64_t max, int64_t *out);

/* A finite decimal floating-point number filling all of s (as Postgres
 * prints an epoch).  Returns true and sets *out. */
bool parse_double(const char *s, double *out);

/* What query_param found. */
enum query_result {
  QUERY_OK = 0,     /* the value, decoded, is in out */
  QUERY_ABSENT,     /* no such parameter */
  QUERY_INVALID,    /* malformed (bad %-escape, decodes to a NUL byte) or
                     * longer than cap - 1 bytes */
};

/* Finds parameter name in a query string ("a=1&b=2", no leading '?') and
 * percent-decodes its value ('+' is a space) into out (NUL-terminated),
 * its length in *len (len may be NULL; 0 on anything but QUERY_OK).  The
 * first occurrence wins. */
enum query_result query_param(const char *query, const char *name,
                              char *out, size_t cap, size_t *len);

#endif
