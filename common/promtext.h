/*
 * promtext.h - writing the Prometheus text exposition format (0.0.4) into
 * a capped struct dynbuf.  Shared by the API's /metrics and the monitor's
 * metrics file.
 *
 *     struct dynbuf o;
 *     dynbuf_init(&o, 64 * 1024);
 *     promtext_counter(&o, "x_total", "Things done.", n);
 *     text = dynbuf_take(&o, &len);       (NULL if it did not fit)
 *
 * Like every dynbuf writer these append freely: the first failure (out of
 * memory, or past the cap) sticks, so the caller checks once at the end.
 */
#ifndef TRACKLY_PROMTEXT_H
#define TRACKLY_PROMTEXT_H

#include <stdint.h>

#include "dynbuf.h"

/* Appends printf-style text. */
void promtext_put(struct dynbuf *o, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* The "# HELP" and "# TYPE" lines of a metric family. */
void promtext_family(struct dynbuf *o, const char *name, const char *type,
                     const char *help);

/* A whole family of one unlabelled sample: its HELP, TYPE and value. */
void promtext_counter(struct dynbuf *o, const char *name, const char *help,
                      uint64_t value);
void promtext_gauge(struct dynbuf *o, const char *name, const char *help,
                    int64_t value);

#endif
