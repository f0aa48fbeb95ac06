/*
 * promtext.h - writing the Prometheus text exposition format into a fixed
 * buffer.  Shared by the API's /metrics and the monitor's metrics file.
 *
 *     struct promtext o = {buf, 0, cap, cap == 0};
 *     promtext_family(&o, "x_total", "counter", "Things done.");
 *     promtext_put(&o, "x_total %llu\n", n);
 *     return o.full ? 0 : o.len;
 */
#ifndef TRACKLY_PROMTEXT_H
#define TRACKLY_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>

struct promtext {
  char *buf;
  size_t len, cap;
  bool full;        /* something did not fit; the text is unusable */
};

/* Appends printf-style text; sets full instead of truncating. */
void promtext_put(struct promtext *o, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* The "# HELP" and "# TYPE" lines of a metric family. */
void promtext_family(struct promtext *o, const char *name, const char *type,
                     const char *help);

#endif
