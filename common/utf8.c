/*
 * utf8.c - UTF-8 validation, counting and cutting; see utf8.h.
 */
#include "utf8.h"

#include <string.h>

/* The lead byte says how many continuation bytes follow and the smallest
 * code point that needed that many; anything below it is an overlong
 * form.  0x80-0xC1 and 0xF5-0xFF never lead. */
size_t utf8_seq(const char *s, size_t n, uint32_t *cp)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t len;
  uint32_t min;

  if(p[0] < 0x80) {
    *cp = p[0];
    return 1;
  }
  if(p[0] >= 0xC2 && p[0] <= 0xDF) {
    len = 2;
    *cp = p[0] & 0x1F;
    min = 0x80;
  }
  else if(p[0] >= 0xE0 && p[0] <= 0xEF) {
    len = 3;
    *cp = p[0] & 0x0F;
    min = 0x800;
  }
  else if(p[0] >= 0xF0 && p[0] <= 0xF4) {
    len = 4;
    *cp = p[0] & 0x07;
    min = 0x10000;
  }
  else
    return 0;
  if(n < len)
    return 0;
  for(size_t i = 1; i < len; i++) {
    if((p[i] & 0xC0) != 0x80)
      return 0;
    *cp = (*cp << 6) | (p[i] & 0x3F);
  }
  if(*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
    return 0;
  return len;
}

bool utf8_valid(const char *s, size_t len)
{
  size_t i = 0;

  while(i < len) {
    uint32_t cp;
    size_t n = utf8_seq(s + i, len - i, &cp);
    if(!n || !cp)
      return false;
    i += n;
  }
  return true;
}

size_t utf8_chars(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i, n = 0;

  for(i = 0; i < len; i++)
    if((p[i] & 0xC0) != 0x80)
      n++;
  return n;
}

size_t utf8_cut(const char *s, size_t max)
{
  size_t n = strnlen(s, max + 1);

  if(n > max) {
    n = max;
    while(n && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
  }
  return n;
}
