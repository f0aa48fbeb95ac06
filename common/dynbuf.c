/*
 * dynbuf.c - a capped growable buffer; see dynbuf.h.
 */
#include "dynbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation; doubled from there, never past max + 1. */
#define DYNBUF_FIRST 256

void dynbuf_init(struct dynbuf *b, size_t max)
{
  memset(b, 0, sizeof(*b));
  b->max = max;
}

void dynbuf_free(struct dynbuf *b)
{
  free(b->buf);
  b->buf = NULL;
  b->len = b->cap = 0;
}

void dynbuf_reset(struct dynbuf *b)
{
  b->len = 0;
  b->failed = false;
  if(b->buf)
    b->buf[0] = '\0';
}

void dynbuf_fail(struct dynbuf *b)
{
  b->failed = true;
}

bool dynbuf_reserve(struct dynbuf *b, size_t n)
{
  size_t need, cap;
  char *p;

  if(b->failed)
    return false;
  if(n > b->max - b->len) {
    b->failed = true;
    return false;
  }
  need = b->len + n + 1;
  if(need <= b->cap)
    return true;
  cap = b->cap ? b->cap : DYNBUF_FIRST;
  while(cap < need)
    cap *= 2;
  if(cap > b->max + 1)
    cap = b->max + 1;
  p = realloc(b->buf, cap);
  if(!p) {
    b->failed = true;
    return false;
  }
  b->buf = p;
  b->cap = cap;
  return true;
}

char *dynbuf_tail(struct dynbuf *b)
{
  return b->buf + b->len;
}

void dynbuf_commit(struct dynbuf *b, size_t n)
{
  b->len += n;
  b->buf[b->len] = '\0';
}

bool dynbuf_add(struct dynbuf *b, const void *p, size_t n)
{
  if(!dynbuf_reserve(b, n))
    return false;
  if(n)
    memcpy(b->buf + b->len, p, n);
  dynbuf_commit(b, n);
  return true;
}

bool dynbuf_addstr(struct dynbuf *b, const char *s)
{
  return dynbuf_add(b, s, strlen(s));
}

bool dynbuf_addc(struct dynbuf *b, char c)
{
  return dynbuf_add(b, &c, 1);
}

/* Formats straight into the free space; when that is too small, grows by
 * what vsnprintf said it needs and formats once more (from a copy of ap,
 * since the first pass used it up). */
bool dynbuf_vprintf(struct dynbuf *b, const char *fmt, va_list ap)
{
  va_list again;
  size_t room;
  int n;

  if(!dynbuf_reserve(b, 0))
    return false;
  room = b->cap - b->len;
  va_copy(again, ap);
  n = vsnprintf(b->buf + b->len, room, fmt, ap);
  if(n < 0) {
    b->buf[b->len] = '\0';
    b->failed = true;
    va_end(again);
    return false;
  }
  if((size_t)n >= room) {
    b->buf[b->len] = '\0';
    if(!dynbuf_reserve(b, (size_t)n)) {
      va_end(again);
      return false;
    }
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, again);
  }
  va_end(again);
  dynbuf_commit(b, (size_t)n);
  return true;
}

bool dynbuf_printf(struct dynbuf *b, const char *fmt, ...)
{
  va_list ap;
  bool ok;

  va_start(ap, fmt);
  ok = dynbuf_vprintf(b, fmt, ap);
  va_end(ap);
  return ok;
}

const char *dynbuf_ptr(const struct dynbuf *b)
{
  if(b->failed)
    return NULL;
  return b->buf ? b->buf : "";
}

size_t dynbuf_len(const struct dynbuf *b)
{
  return b->len;
}

char *dynbuf_take(struct dynbuf *b, size_t *len)
{
  char *rc = NULL;

  if(!b->failed)
    rc = b->buf ? b->buf : strdup("");
  else
    free(b->buf);
  if(len)
    *len = rc ? b->len : 0;
  b->buf = NULL;
  b->len = b->cap = 0;
  b->failed = false;
  return rc;
}
