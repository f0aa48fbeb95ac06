/*
 * promtext.c - the Prometheus text format into a fixed buffer; see
 * promtext.h.
 */
#include "promtext.h"

#include <stdarg.h>
#include <stdio.h>

void promtext_put(struct promtext *o, const char *fmt, ...)
{
  va_list ap;
  int n;

  if(o->full)
    return;
  va_start(ap, fmt);
  n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if(n < 0 || (size_t)n >= o->cap - o->len)
    o->full = true;
  else
    o->len += (size_t)n;
}

void promtext_family(struct promtext *o, const char *name, const char *type,
                     const char *help)
{
  promtext_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
