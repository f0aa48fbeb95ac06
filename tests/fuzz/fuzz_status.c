/*
 * fuzz_status.c - the expected_status range parser (common/validate.c).
 *
 * Checked on every input that parses:
 *   - at most STATUS_RANGES_MAX ranges, each 100 <= lo <= hi <= 599;
 *   - the canonical form fits STATUS_RANGES_TEXT_MAX, parses again to the
 *     very same ranges, and formats to itself;
 *   - status_ranges_match agrees with the ranges for every code from 0 to
 *     999 (and says no outside 100-599);
 *   - a format into a smaller buffer is a NUL-terminated prefix.
 * Inputs that do not parse leave nothing behind but n == 0 or a partial
 * list the caller must ignore; they only need not crash.
 */
#include "fuzz.h"

#include "validate.h"

static bool in_ranges(const struct status_ranges *r, int code)
{
  for(int i = 0; i < r->n; i++)
    if(code >= r->r[i].lo && code <= r->r[i].hi)
      return true;
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct status_ranges r, again;
  char text[STATUS_RANGES_TEXT_MAX], text2[STATUS_RANGES_TEXT_MAX];
  char *exact = fuzz_memdup(data, size);
  size_t len, cap;

  if(!status_ranges_parse(exact, size, &r))
    goto out;

  FUZZ_CHECK(r.n >= 1 && r.n <= STATUS_RANGES_MAX);
  for(int i = 0; i < r.n; i++)
    FUZZ_CHECK(r.r[i].lo >= 100 && r.r[i].lo <= r.r[i].hi &&
               r.r[i].hi <= 599);

  memset(text, 'x', sizeof(text));
  status_ranges_format(&r, text, sizeof(text));
  len = strnlen(text, sizeof(text));
  FUZZ_CHECK(len < sizeof(text));
  FUZZ_CHECK(status_ranges_parse(text, len, &again));
  FUZZ_CHECK(again.n == r.n);
  for(int i = 0; i < r.n; i++)
    FUZZ_CHECK(again.r[i].lo == r.r[i].lo && again.r[i].hi == r.r[i].hi);
  status_ranges_format(&again, text2, sizeof(text2));
  FUZZ_CHECK(!strcmp(text, text2));

  for(int code = 0; code < 1000; code++) {
    bool m = status_ranges_match(&r, code);
    FUZZ_CHECK(m == in_ranges(&r, code));
    if(code < 100 || code > 599)
      FUZZ_CHECK(!m);
  }

  /* Cut short: a prefix, still terminated inside the buffer. */
  cap = size ? 1 + data[0] % sizeof(text) : 1;
  {
    char *small = malloc(cap);
    FUZZ_CHECK(small);
    status_ranges_format(&r, small, cap);
    FUZZ_CHECK(memchr(small, '\0', cap));
    FUZZ_CHECK(!strncmp(small, text, strlen(small)));
    free(small);
  }
out:
  free(exact);
  return 0;
}
