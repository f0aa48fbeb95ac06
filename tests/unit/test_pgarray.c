/*
 * test_pgarray.c - PostgreSQL array literals (monitor/pgarray.c).  The
 * integration suite checks that Postgres reads them back; here, the exact
 * text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pgarray.h"

static void empty(void **state)
{
  struct pgarray a;
  (void)state;
  pgarray_init(&a);
  assert_string_equal(pgarray_text(&a), "{}");
  pgarray_free(&a);
}

static void mixed(void **state)
{
  struct pgarray a;
  (void)state;
  pgarray_init(&a);
  pgarray_int(&a, 42);
  pgarray_int(&a, -9223372036854775807LL - 1);
  pgarray_null(&a);
  pgarray_bool(&a, true);
  pgarray_double(&a, 1.5);
  assert_string_equal(pgarray_text(&a),
                      "{42,-9223372036854775808,NULL,t,1.500000}");
  pgarray_free(&a);
}

static void strings_are_quoted(void **state)
{
  struct pgarray a;
  (void)state;
  pgarray_init(&a);
  pgarray_string(&a, "plain");
  pgarray_string(&a, NULL);
  pgarray_string(&a, "NULL");
  pgarray_string(&a, "a \"q\" \\ b,{c}");
  pgarray_string(&a, "");
  assert_string_equal(pgarray_text(&a),
                      "{\"plain\",NULL,\"NULL\",\"a \\\"q\\\" \\\\ b,{c}\",\"\"}");
  pgarray_free(&a);
}

static void grows(void **state)
{
  struct pgarray a;
  const char *t;
  (void)state;
  pgarray_init(&a);
  for(int i = 0; i < 10000; i++)
    pgarray_string(&a, "0123456789");
  t = pgarray_text(&a);
  assert_non_null(t);
  assert_int_equal(strlen(t), 2 + 10000 * 12 + 9999);
  pgarray_free(&a);
}

/* An element that would take the literal past PGARRAY_MAX fails the
 * array instead of growing it. */
static void capped(void **state)
{
  struct pgarray a;
  char *big = malloc(PGARRAY_MAX / 2);
  (void)state;
  assert_non_null(big);
  memset(big, 'x', PGARRAY_MAX / 2 - 1);
  big[PGARRAY_MAX / 2 - 1] = '\0';
  pgarray_init(&a);
  pgarray_string(&a, big);
  assert_non_null(pgarray_text(&a));
  pgarray_free(&a);

  pgarray_init(&a);
  pgarray_string(&a, big);
  pgarray_string(&a, big);
  assert_null(pgarray_text(&a));
  pgarray_free(&a);

  /* Escaping counts: a string of quotes doubles. */
  memset(big, '"', PGARRAY_MAX / 2 - 1);
  pgarray_init(&a);
  pgarray_string(&a, big);
  assert_null(pgarray_text(&a));
  pgarray_free(&a);
  free(big);
}

/* Closing the literal is the last step: calling it again gives the same
 * text, adding after it fails. */
static void text_closes(void **state)
{
  struct pgarray a;
  (void)state;
  pgarray_init(&a);
  pgarray_int(&a, 1);
  assert_string_equal(pgarray_text(&a), "{1}");
  assert_string_equal(pgarray_text(&a), "{1}");
  pgarray_int(&a, 2);
  assert_null(pgarray_text(&a));
  pgarray_free(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(empty),
    cmocka_unit_test(mixed),
    cmocka_unit_test(strings_are_quoted),
    cmocka_unit_test(grows),
    cmocka_unit_test(capped),
    cmocka_unit_test(text_closes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
