/*
 * pgarray.c - PostgreSQL array literals; see pgarray.h.
 *
 * The buffer holds "{" and the elements; pgarray_text adds the closing
 * "}" once.
 */
#include "pgarray.h"
#include "parse.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void pgarray_init(struct pgarray *a)
{
  memset(a, 0, sizeof(*a));
  dynbuf_init(&a->buf, PGARRAY_MAX);
}

void pgarray_free(struct pgarray *a)
{
  dynbuf_free(&a->buf);
  memset(a, 0, sizeof(*a));
}

/* Starts a new element: "{" before the first, "," before the others.  An
 * element after pgarray_text closed the literal makes it fail. */
static void begin(struct pgarray *a)
{
  if(a->done)
    dynbuf_fail(&a->buf);
  dynbuf_addc(&a->buf, a->count++ ? ',' : '{');
}

static void append_raw(struct pgarray *a, const char *s, size_t n)
{
  begin(a);
  dynbuf_add(&a->buf, s, n);
}

void pgarray_int(struct pgarray *a, int64_t v)
{
  char num[INT_TEXT_MAX];
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

/* Quoted, with '"' and '\' backslash-escaped, one run of plain bytes at a
 * time. */
void pgarray_string(struct pgarray *a, const char *s)
{
  if(!s) {
    pgarray_null(a);
    return;
  }
  begin(a);
  dynbuf_addc(&a->buf, '"');
  while(*s) {
    size_t n = strcspn(s, "\"\\");
    dynbuf_add(&a->buf, s, n);
    s += n;
    if(*s) {
      dynbuf_addc(&a->buf, '\\');
      dynbuf_addc(&a->buf, *s++);
    }
  }
  dynbuf_addc(&a->buf, '"');
}

const char *pgarray_text(struct pgarray *a)
{
  if(!a->count)
    return "{}";
  if(!a->done) {
    dynbuf_addc(&a->buf, '}');
    a->done = true;
  }
  return dynbuf_ptr(&a->buf);
}
