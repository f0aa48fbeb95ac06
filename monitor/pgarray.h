/*
 * pgarray.h - building PostgreSQL array literals ("{1,NULL,\"a b\"}") to
 * pass a whole batch as one text parameter.
 *
 * The monitor writes a batch of results with one statement that unnests
 * arrays; the values still travel as parameters, never as SQL, and text
 * elements are quoted and backslash-escaped as the array input syntax
 * wants.
 *
 * A literal is at most PGARRAY_MAX bytes: a batch element is a number or
 * a short text (a check's error is under CHECK_ERROR_MAX bytes, at most
 * doubled by escaping), so even thousands of results per batch stay far
 * below it.  An element that would pass the cap, like running out of
 * memory, makes the array fail: pgarray_text returns NULL.
 *
 * Memory: the caller owns struct pgarray (pgarray_init/pgarray_free).
 */
#ifndef TRACKLY_PGARRAY_H
#define TRACKLY_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

/* Bytes in one literal, with its closing "}". */
#define PGARRAY_MAX (16 * 1024 * 1024)

struct pgarray {
  struct dynbuf buf;    /* the literal so far */
  int count;
  bool done;            /* pgarray_text added the "}" */
};

void pgarray_init(struct pgarray *a);
void pgarray_free(struct pgarray *a);

void pgarray_int(struct pgarray *a, int64_t v);
void pgarray_double(struct pgarray *a, double v);
void pgarray_bool(struct pgarray *a, bool v);
void pgarray_null(struct pgarray *a);
/* s may be NULL (an SQL NULL element). */
void pgarray_string(struct pgarray *a, const char *s);

/* Closes and returns the literal ("{}" when empty), owned by a; NULL
 * after an allocation failure or past PGARRAY_MAX.  It may be called
 * again; an element added after it makes the array fail. */
const char *pgarray_text(struct pgarray *a);

#endif
