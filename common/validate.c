/*
 * validate.c - input rules; see validate.h.
 */
#include "validate.h"

#include <string.h>

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

bool password_length_valid(size_t len)
{
  return len >= PASSWORD_MIN && len <= PASSWORD_MAX;
}
