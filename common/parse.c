/*
 * parse.c - strict parsing of ids, integers and query parameters.
 *
 * Hand-rolled rather than strtoll: strtoll skips leading spaces, accepts a
 * '+' sign and reports overflow only through errno, and each of those is a
 * way for "1 " or "+5" to become a valid id.  Here the accepted syntax is
 * written out in full.
 */
#include "parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Reads s[0..len) as unsigned digits of base (8 or 10) no greater than
 * limit.  Returns false for an empty string, any other character, or
 * overflow.
 */
static bool digits_in(const char *s, size_t len, unsigned base,
                      uint64_t limit, uint64_t *out)
{
  uint64_t v = 0;
  size_t i;

  if(!len)
    return false;
  for(i = 0; i < len; i++) {
    unsigned d;

    if(s[i] < '0' || s[i] >= (char)('0' + base))
      return false;
    d = (unsigned)(s[i] - '0');
    if(v > (limit - d) / base)
      return false;
    v = v * base + d;
  }
  *out = v;
  return true;
}

static bool digits(const char *s, size_t len, uint64_t limit, uint64_t *out)
{
  return digits_in(s, len, 10, limit, out);
}

bool parse_id(const char *s, size_t len, int64_t *out)
{
  uint64_t v;

  /* A leading zero is either "0" itself or a second spelling of an id. */
  if(!s || !len || s[0] == '0')
    return false;
  if(!digits(s, len, INT64_MAX, &v))
    return false;
  if(out)
    *out = (int64_t)v;
  return true;
}

bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
  bool negative = false;
  uint64_t v;
  int64_t n;

  if(!s)
    return false;
  if(*s == '-') {
    negative = true;
    s++;
  }
  /* The magnitude of INT64_MIN is one more than INT64_MAX. */
  if(!digits(s, strlen(s), negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX,
             &v))
    return false;
  if(!negative)
    n = (int64_t)v;
  else if(v == (uint64_t)INT64_MAX + 1)
    n = INT64_MIN;
  else
    n = -(int64_t)v;
  if(n < min || n > max)
    return false;
  if(out)
    *out = n;
  return true;
}

bool parse_octal(const char *s, int64_t max, int64_t *out)
{
  uint64_t v;

  if(!s || max < 0 || !digits_in(s, strlen(s), 8, (uint64_t)max, &v))
    return false;
  if(out)
    *out = (int64_t)v;
  return true;
}

/*
 * Percent-decodes s[0..len) into out, '+' meaning a space.  Returns the
 * decoded length, or -1 for a '%' not followed by two hex digits, for "%00"
 * (a C string would end there), or when the result needs more than cap - 1
 * bytes.
 */
static int64_t decode(const char *s, size_t len, char *out, size_t cap)
{
  size_t i, n = 0;

  if(!out || !cap)
    return -1;
  for(i = 0; i < len; i++) {
    int c = (unsigned char)s[i];

    if(c == '+')
      c = ' ';
    else if(c == '%') {
      int hi, lo;

      if(len - i < 3)
        return -1;
      hi = hex_digit(s[i + 1]);
      lo = hex_digit(s[i + 2]);
      if(hi < 0 || lo < 0)
        return -1;
      c = (hi << 4) | lo;
      if(!c)
        return -1;
      i += 2;
    }
    if(n >= cap - 1)
      return -1;
    out[n++] = (char)c;
  }
  out[n] = '\0';
  return (int64_t)n;
}

/*
 * Walks the '&'-separated pairs comparing each raw name with name byte for
 * byte, so "token" matches neither "xtoken=" nor "token2=".  Names are not
 * percent-decoded: Trackly's parameter names are plain ASCII and a client
 * that encodes them is not one we need to understand.  On any result other
 * than QUERY_OK, out (when it has room) is left holding "".
 */
enum query_result query_param(const char *query, const char *name,
                              char *out, size_t cap, size_t *len)
{
  const char *p = query;
  size_t namelen;
  enum query_result rc = QUERY_ABSENT;

  if(out && cap)
    out[0] = '\0';
  if(len)
    *len = 0;
  if(!query || !name || !*name)
    goto out;
  namelen = strlen(name);

  for(;;) {
    size_t pairlen = strcspn(p, "&");
    size_t keylen = strcspn(p, "=&");

    if(keylen == namelen && !memcmp(p, name, namelen)) {
      int64_t n = keylen < pairlen ?
                  decode(p + keylen + 1, pairlen - keylen - 1, out, cap) :
                  decode("", 0, out, cap);
      if(n < 0)
        rc = QUERY_INVALID;
      else {
        rc = QUERY_OK;
        if(len)
          *len = (size_t)n;
      }
      break;
    }
    if(!p[pairlen])
      break;
    p += pairlen + 1;
  }

out:
  if(rc != QUERY_OK && out && cap)
    out[0] = '\0';
  return rc;
}

bool parse_double(const char *s, double *out)
{
  char *end;
  double v;

  if(!*s || *s == ' ' || *s == '\t')
    return false;
  errno = 0;
  v = strtod(s, &end);
  if(errno || *end || !isfinite(v))
    return false;
  *out = v;
  return true;
}

const char *int_text(char buf[INT_TEXT_MAX], int64_t n)
{
  snprintf(buf, INT_TEXT_MAX, "%lld", (long long)n);
  return buf;
}
