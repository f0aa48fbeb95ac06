/*
 * promtext.c - the Prometheus text format into a capped dynbuf; see
 * promtext.h.
 */
#include "promtext.h"

#include <stdarg.h>

void promtext_put(struct dynbuf *o, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  dynbuf_vprintf(o, fmt, ap);
  va_end(ap);
}

void promtext_family(struct dynbuf *o, const char *name, const char *type,
                     const char *help)
{
  promtext_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void promtext_counter(struct dynbuf *o, const char *name, const char *help,
                      uint64_t value)
{
  promtext_family(o, name, "counter", help);
  promtext_put(o, "%s %llu\n", name, (unsigned long long)value);
}

void promtext_gauge(struct dynbuf *o, const char *name, const char *help,
                    int64_t value)
{
  promtext_family(o, name, "gauge", help);
  promtext_put(o, "%s %lld\n", name, (long long)value);
}
