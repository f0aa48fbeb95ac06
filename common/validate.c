/*
 * validate.c - input rules; see validate.h.
 */
#include "validate.h"

#include "json.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

const char *trim_space(const char *s, size_t *len)
{
  while(*len && is_space(*s)) {
    s++;
    (*len)--;
  }
  while(*len && is_space(s[*len - 1]))
    (*len)--;
  return s;
}

bool email_valid(const char *s, size_t len)
{
  const char *at = NULL;
  size_t local;

  if(len < 3 || len > EMAIL_MAX)
    return false;
  for(size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
      return false;
    if(c == '@') {
      if(at)
        return false;
      at = s + i;
    }
  }
  if(!at)
    return false;
  local = (size_t)(at - s);
  if(local < 1 || local > 64)
    return false;
  /* Domain: labels separated by single dots, none empty. */
  for(const char *p = at + 1, *end = s + len; p <= end; p++) {
    if(p == end || *p == '.') {
      if(p == at + 1 || p[-1] == '.')
        return false;
    }
  }
  return true;
}

bool email_domain_public(const char *s, size_t len)
{
  const char *at = memchr(s, '@', len), *end = s + len, *last;

  if(!at)
    return false;
  last = end;
  while(last > at + 1 && last[-1] != '.')
    last--;
  if(last == at + 1 || last == end)
    return false;                       /* one label, or an empty one */
  for(const char *p = last; p < end; p++)
    if(*p < '0' || *p > '9')
      return true;
  return false;                         /* 127.0.0.1 and its kin */
}

bool password_length_valid(size_t len)
{
  return len >= PASSWORD_MIN && len <= PASSWORD_MAX;
}

bool name_valid(const char *s, size_t len)
{
  size_t chars;

  if(!utf8_valid(s, len))
    return false;
  chars = utf8_chars(s, len);
  if(chars < 1 || chars > NAME_MAX_CHARS)
    return false;
  trim_space(s, &len);
  return len > 0;
}

static bool port_valid(const char *p, const char *end)
{
  long port = 0;
  if(p == end || end - p > 5)
    return false;
  for(; p < end; p++) {
    if(*p < '0' || *p > '9')
      return false;
    port = port * 10 + (*p - '0');
  }
  return port >= 1 && port <= 65535;
}

bool link_valid(const char *s, size_t len)
{
  const char *p, *end = s + len, *auth_end;

  if(len > LINK_MAX)
    return false;
  for(size_t i = 0; i < len; i++)
    if((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
      return false;
  if(len > 7 && !strncasecmp(s, "http://", 7))
    p = s + 7;
  else if(len > 8 && !strncasecmp(s, "https://", 8))
    p = s + 8;
  else
    return false;

  auth_end = p;
  while(auth_end < end && *auth_end != '/' && *auth_end != '?' &&
        *auth_end != '#')
    auth_end++;
  if(memchr(p, '@', (size_t)(auth_end - p)))
    return false;                       /* no user:password@ */
  if(p < auth_end && *p == '[') {       /* [IPv6] */
    const char *close = memchr(p, ']', (size_t)(auth_end - p));
    if(!close || close == p + 1)
      return false;
    for(const char *q = p + 1; q < close; q++)
      if(!strchr("0123456789abcdefABCDEF:.", *q))
        return false;
    p = close + 1;
    if(p == auth_end)
      return true;
    return *p == ':' && port_valid(p + 1, auth_end);
  }
  {
    const char *colon = memchr(p, ':', (size_t)(auth_end - p));
    const char *host_end = colon ? colon : auth_end;
    if(host_end == p)
      return false;
    for(const char *q = p; q < host_end; q++)
      if(strchr("[]<>\\\"{}|^`%", *q))
        return false;
    return !colon || port_valid(colon + 1, auth_end);
  }
}

/* Parses a code of exactly three digits from 100 to 599. */
static bool parse_code(const char *s, size_t len, short *out)
{
  if(len != 3)
    return false;
  for(size_t i = 0; i < 3; i++)
    if(s[i] < '0' || s[i] > '9')
      return false;
  *out = (short)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
  return *out >= 100 && *out <= 599;
}

bool status_ranges_parse(const char *s, size_t len,
                         struct status_ranges *out)
{
  const char *p = s, *end = s + len;

  out->n = 0;
  for(;;) {
    const char *item_end = memchr(p, ',', (size_t)(end - p));
    const char *dash;
    size_t ilen;

    if(!item_end)
      item_end = end;
    ilen = (size_t)(item_end - p);
    p = trim_space(p, &ilen);
    if(!ilen || out->n == STATUS_RANGES_MAX)
      return false;
    dash = memchr(p, '-', ilen);
    if(dash) {
      size_t llen = (size_t)(dash - p), hlen = ilen - llen - 1;
      const char *hi = dash + 1;
      const char *lo = trim_space(p, &llen);
      hi = trim_space(hi, &hlen);
      if(!parse_code(lo, llen, &out->r[out->n].lo) ||
         !parse_code(hi, hlen, &out->r[out->n].hi) ||
         out->r[out->n].lo > out->r[out->n].hi)
        return false;
    }
    else {
      if(!parse_code(p, ilen, &out->r[out->n].lo))
        return false;
      out->r[out->n].hi = out->r[out->n].lo;
    }
    out->n++;
    if(item_end == end)
      return true;
    p = item_end + 1;
  }
}

void status_ranges_format(const struct status_ranges *r, char *out,
                          size_t cap)
{
  size_t n = 0;

  out[0] = '\0';
  for(int i = 0; i < r->n && n < cap; i++) {
    int w;
    if(r->r[i].lo == r->r[i].hi)
      w = snprintf(out + n, cap - n, "%s%d", i ? "," : "", r->r[i].lo);
    else
      w = snprintf(out + n, cap - n, "%s%d-%d", i ? "," : "", r->r[i].lo,
                   r->r[i].hi);
    if(w < 0)
      break;
    n += (size_t)w;
  }
}

bool status_ranges_match(const struct status_ranges *r, int code)
{
  for(int i = 0; i < r->n; i++)
    if(code >= r->r[i].lo && code <= r->r[i].hi)
      return true;
  return false;
}
