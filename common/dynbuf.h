/*
 * dynbuf.h - a growable byte buffer with a hard size cap (curl's dynbuf is
 * the model).
 *
 * Every buffer is created with the largest size it may ever reach, so
 * input cannot make it grow without bound.  The first failure - out of
 * memory, or an append that would pass the cap - sticks: later appends do
 * nothing, and dynbuf_take() returns NULL.  Writers therefore append freely
 * and check once at the end.  The content is always NUL-terminated once
 * anything was added.
 *
 *     struct dynbuf b;
 *     dynbuf_init(&b, 64 * 1024);
 *     dynbuf_addstr(&b, "hello, ");
 *     dynbuf_printf(&b, "%s\n", name);
 *     char *text = dynbuf_take(&b, &len);     (NULL if anything failed)
 *
 * Memory: the caller owns struct dynbuf and frees it with dynbuf_free();
 * dynbuf_take() hands the bytes to the caller (free() them) and leaves the
 * buffer empty and usable.
 */
#ifndef TRACKLY_DYNBUF_H
#define TRACKLY_DYNBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct dynbuf {
  char *buf;
  size_t len;       /* bytes held, without the NUL */
  size_t cap;       /* bytes allocated */
  size_t max;       /* the most len may ever be */
  bool failed;      /* out of memory or over max; sticks until reset */
};

void dynbuf_init(struct dynbuf *b, size_t max);
void dynbuf_free(struct dynbuf *b);

/* Empties the buffer (keeping its memory) and clears a failure. */
void dynbuf_reset(struct dynbuf *b);

/* Marks the buffer failed, as an append past the cap would: for a writer
 * that finds its input unusable, so the caller's one check at the end
 * (dynbuf_take() returning NULL) covers that too. */
void dynbuf_fail(struct dynbuf *b);

/* Each returns false once the buffer has failed (now or before). */
bool dynbuf_add(struct dynbuf *b, const void *p, size_t n);
bool dynbuf_addstr(struct dynbuf *b, const char *s);
bool dynbuf_addc(struct dynbuf *b, char c);
bool dynbuf_printf(struct dynbuf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
bool dynbuf_vprintf(struct dynbuf *b, const char *fmt, va_list ap)
  __attribute__((format(printf, 2, 0)));

/* Makes room for n more bytes (and the NUL) so a writer may fill
 * dynbuf_tail() directly and then dynbuf_commit() what it wrote. */
bool dynbuf_reserve(struct dynbuf *b, size_t n);
char *dynbuf_tail(struct dynbuf *b);
void dynbuf_commit(struct dynbuf *b, size_t n);

/* The content ("" when empty), owned by b; NULL after a failure. */
const char *dynbuf_ptr(const struct dynbuf *b);
size_t dynbuf_len(const struct dynbuf *b);

/* Hands the content to the caller ("" when empty, malloc'd) and empties
 * b, or frees it and returns NULL when anything failed.  len may be NULL. */
char *dynbuf_take(struct dynbuf *b, size_t *len);

#endif
