/*
 * fuzz.h - what every harness in tests/fuzz shares.
 *
 * Each harness is one LLVMFuzzerTestOneInput built with
 * -fsanitize=fuzzer,address,undefined (meson -Dfuzz=true; ./dev fuzz).  A
 * crash, a leak or a sanitizer report is a finding; so is a broken
 * invariant, which FUZZ_CHECK turns into an abort with the condition and
 * line, so libFuzzer saves the input like any crash.
 */
#ifndef TRACKLY_FUZZ_H
#define TRACKLY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                  \
  do {                                                                    \
    if(!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,          \
              __LINE__, #cond);                                           \
      abort();                                                            \
    }                                                                     \
  } while(0)

/* A heap copy of data[0..size) with a NUL after it and nothing more, so
 * ASan sees a read one byte past the string.  Never NULL. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);

  if(!s)
    abort();
  if(size)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* A heap copy of exactly size bytes, no terminator (for functions that
 * take a length).  Never NULL. */
static inline char *fuzz_memdup(const uint8_t *data, size_t size)
{
  char *s = malloc(size ? size : 1);

  if(!s)
    abort();
  if(size)
    memcpy(s, data, size);
  return s;
}

/* Splits the input at the first occurrence of byte sep: *rest and *restlen
 * get what follows it.  Returns the length of what precedes it (the whole
 * input, with *restlen 0, when sep does not occur). */
static inline size_t fuzz_split(const uint8_t *data, size_t size, uint8_t sep,
                                const uint8_t **rest, size_t *restlen)
{
  const uint8_t *p = size ? memchr(data, sep, size) : NULL;

  if(!p) {
    *rest = data + size;
    *restlen = 0;
    return size;
  }
  *rest = p + 1;
  *restlen = size - (size_t)(p - data) - 1;
  return (size_t)(p - data);
}

#endif
