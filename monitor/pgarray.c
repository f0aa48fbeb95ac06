/*
 * pgarray.c - PostgreSQL array literals; see pgarray.h.
 */
#include "pgarray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pgarray_init(struct pgarray *a)
{
  memset(a, 0, sizeof(*a));
}

void pgarray_free(struct pgarray *a)
{
  free(a->buf);
  memset(a, 0, sizeof(*a));
}

/* Makes room for n more bytes plus the closing "}" and NUL. */
static bool reserve(struct pgarray *a, size_t n)
{
  size_t need = a->len + n + 3;
  char *p;

  if(a->failed)
    return false;
  if(need <= a->cap)
    return true;
  if(need < 2 * a->cap)
    need = 2 * a->cap;
  if(need < 256)
    need = 256;
  p = realloc(a->buf, need);
  if(!p) {
    a->failed = true;
    return false;
  }
  a->buf = p;
  a->cap = need;
  return true;
}

/* Starts a new element: "{" before the first, "," before the others. */
static bool begin(struct pgarray *a, size_t n)
{
  if(!reserve(a, n + 1))
    return false;
  a->buf[a->len++] = a->count++ ? ',' : '{';
  return true;
}

static void append_raw(struct pgarray *a, const char *s, size_t n)
{
  if(!begin(a, n))
    return;
  memcpy(a->buf + a->len, s, n);
  a->len += n;
}

void pgarray_int(struct pgarray *a, int64_t v)
{
  char num[24];
  int n = snprintf(num, sizeof(num), "%" PRId64, v);
  append_raw(a, num, (size_t)n);
}

void pgarray_double(struct pgarray *a, double v)
{
  char num[40];
  int n = snprintf(num, sizeof(num), "%.6f", v);
  append_raw(a, num, (size_t)n);
}

void pgarray_bool(struct pgarray *a, bool v)
{
  append_raw(a, v ? "t" : "f", 1);
}

void pgarray_null(struct pgarray *a)
{
  append_raw(a, "NULL", 4);
}

void pgarray_string(struct pgarray *a, const char *s)
{
  size_t n;

  if(!s) {
    pgarray_null(a);
    return;
  }
  /* Worst case every byte is escaped, plus the two quotes. */
  n = strlen(s);
  if(!begin(a, 2 * n + 2))
    return;
  a->buf[a->len++] = '"';
  for(; *s; s++) {
    if(*s == '"' || *s == '\\')
      a->buf[a->len++] = '\\';
    a->buf[a->len++] = *s;
  }
  a->buf[a->len++] = '"';
}

const char *pgarray_text(struct pgarray *a)
{
  if(!a->count) {
    if(!reserve(a, 2))
      return NULL;
    memcpy(a->buf, "{}", 3);
    return a->buf;
  }
  if(a->failed)
    return NULL;
  a->buf[a->len] = '}';
  a->buf[a->len + 1] = '\0';
  return a->buf;
}
