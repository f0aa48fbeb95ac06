/*
 * test_dynbuf.c - the capped growable buffer (common/dynbuf.c): appends,
 * growth past the first allocation, the cap, sticky failure, take/reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"

static void appends_and_takes(void **state)
{
  struct dynbuf b;
  size_t len;
  char *s;
  (void)state;

  dynbuf_init(&b, 1024);
  assert_string_equal(dynbuf_ptr(&b), "");
  assert_true(dynbuf_addstr(&b, "ab"));
  assert_true(dynbuf_addc(&b, 'c'));
  assert_true(dynbuf_add(&b, "def", 2));
  assert_true(dynbuf_printf(&b, "-%d-%s", 42, "x"));
  assert_string_equal(dynbuf_ptr(&b), "abcde-42-x");
  assert_int_equal(dynbuf_len(&b), 10);
  s = dynbuf_take(&b, &len);
  assert_string_equal(s, "abcde-42-x");
  assert_int_equal(len, 10);
  free(s);
  /* Empty again, and usable. */
  assert_int_equal(dynbuf_len(&b), 0);
  s = dynbuf_take(&b, &len);
  assert_string_equal(s, "");
  assert_int_equal(len, 0);
  free(s);
  dynbuf_free(&b);
}

static void grows_past_the_first_block(void **state)
{
  struct dynbuf b;
  char big[5000];
  (void)state;

  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  dynbuf_init(&b, 100000);
  for(int i = 0; i < 10; i++)
    assert_true(dynbuf_addstr(&b, big));
  /* A printf longer than the free space is formatted a second time. */
  assert_true(dynbuf_printf(&b, "%s|", big));
  assert_int_equal(dynbuf_len(&b), 11 * 4999 + 1);
  assert_int_equal(dynbuf_ptr(&b)[11 * 4999], '|');
  assert_int_equal(strlen(dynbuf_ptr(&b)), dynbuf_len(&b));
  dynbuf_free(&b);
}

static void the_cap_holds_and_failure_sticks(void **state)
{
  struct dynbuf b;
  size_t len = 99;
  (void)state;

  dynbuf_init(&b, 10);
  assert_true(dynbuf_addstr(&b, "0123456789"));   /* exactly max */
  assert_false(dynbuf_addc(&b, 'x'));
  assert_null(dynbuf_ptr(&b));
  assert_false(dynbuf_addstr(&b, ""));             /* sticks */
  assert_null(dynbuf_take(&b, &len));
  assert_int_equal(len, 0);
  /* take() cleared the failure: the buffer starts over. */
  assert_true(dynbuf_addstr(&b, "ok"));
  assert_string_equal(dynbuf_ptr(&b), "ok");

  assert_false(dynbuf_printf(&b, "%s", "far more than ten bytes"));
  assert_null(dynbuf_ptr(&b));
  dynbuf_reset(&b);
  assert_string_equal(dynbuf_ptr(&b), "");
  assert_true(dynbuf_printf(&b, "%d", 12345));
  assert_string_equal(dynbuf_ptr(&b), "12345");

  /* A writer's own verdict sticks the same way. */
  dynbuf_fail(&b);
  assert_false(dynbuf_addc(&b, 'x'));
  assert_null(dynbuf_take(&b, NULL));
  dynbuf_free(&b);
}

static void reserve_tail_commit(void **state)
{
  struct dynbuf b;
  (void)state;

  dynbuf_init(&b, 64);
  assert_true(dynbuf_reserve(&b, 3));
  memcpy(dynbuf_tail(&b), "abc", 3);
  dynbuf_commit(&b, 3);
  assert_string_equal(dynbuf_ptr(&b), "abc");
  assert_false(dynbuf_reserve(&b, 62));
  dynbuf_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(appends_and_takes),
    cmocka_unit_test(grows_past_the_first_block),
    cmocka_unit_test(the_cap_holds_and_failure_sticks),
    cmocka_unit_test(reserve_tail_commit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
