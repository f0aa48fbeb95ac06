/*
 * pgarray.h - building PostgreSQL array literals ("{1,NULL,\"a b\"}") to
 * pass a whole batch as one text parameter.
 *
 * The monitor writes a batch of results with one statement that unnests
 * arrays; the values still travel as parameters, never as SQL, and text
 * elements are quoted and backslash-escaped as the array input syntax
 * wants.
 *
 * Memory: the caller owns struct pgarray (pgarray_init/pgarray_free).
 */
#ifndef TRACKLY_PGARRAY_H
#define TRACKLY_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pgarray {
  char *buf;
  size_t len, cap;
  int count;
  bool failed;          /* out of memory; pgarray_text returns NULL */
};

void pgarray_init(struct pgarray *a);
void pgarray_free(struct pgarray *a);

void pgarray_int(struct pgarray *a, int64_t v);
void pgarray_double(struct pgarray *a, double v);
void pgarray_bool(struct pgarray *a, bool v);
void pgarray_null(struct pgarray *a);
/* s may be NULL (an SQL NULL element). */
void pgarray_string(struct pgarray *a, const char *s);

/* The finished literal ("{}" when empty), owned by a; NULL after an
 * allocation failure. */
const char *pgarray_text(struct pgarray *a);

#endif
