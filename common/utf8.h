/*
 * utf8.h - well-formed UTF-8 (RFC 3629): no overlong forms, no UTF-16
 * surrogates, nothing past U+10FFFF.  What the API's JSON bodies and the
 * monitor's mail both check, in one place.
 */
#ifndef TRACKLY_UTF8_H
#define TRACKLY_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the well-formed sequence at s, which has n > 0 bytes
 * available, with its code point in *cp; 0 when there is none there. */
size_t utf8_seq(const char *s, size_t n, uint32_t *cp);

/* True when s[0..len) is well-formed UTF-8 with no NUL byte. */
bool utf8_valid(const char *s, size_t len);

/* Number of code points in well-formed UTF-8 s[0..len). */
size_t utf8_chars(const char *s, size_t len);

/* The largest length <= max at which the NUL-terminated UTF-8 string s
 * can be cut without splitting a sequence (strlen(s) when it is
 * shorter). */
size_t utf8_cut(const char *s, size_t max);

#endif
