/*
 * test_utf8.c - common/utf8: what counts as well-formed UTF-8 (RFC 3629),
 * counting code points, and cutting a string without splitting one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "utf8.h"

/* String literals may hold NUL bytes, so lengths come from sizeof. */
#define VALID(lit)       utf8_valid(lit, sizeof(lit) - 1)
#define CHARS(lit)       utf8_chars(lit, sizeof(lit) - 1)

/* ---- utf8_valid ---- */

static void test_utf8_valid_text(void **state)
{
  (void)state;
  assert_true(utf8_valid("", 0));
  assert_true(utf8_valid(NULL, 0));
  assert_true(VALID("hello, world"));
  assert_true(VALID("caf\xC3\xA9"));                     /* café */
  assert_true(VALID("\xE2\x82\xAC 10"));                 /* € 10 */
  assert_true(VALID("up \xF0\x9F\x9F\xA2 down \xF0\x9F\x94\xB4")); /* emoji */
  assert_true(VALID("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D")); /* Hebrew shalom */
  assert_true(VALID("\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7")); /* Arabic */
  assert_true(VALID("\xE2\x80\x8F\xE2\x80\xAE")); /* RLM and RLO marks */
  assert_true(VALID("\xE6\x97\xA5\xE6\x9C\xAC"));      /* CJK */
}

static void test_utf8_valid_boundaries(void **state)
{
  (void)state;
  assert_true(VALID("\x7F"));                 /* U+007F */
  assert_true(VALID("\xC2\x80"));             /* U+0080 */
  assert_true(VALID("\xDF\xBF"));             /* U+07FF */
  assert_true(VALID("\xE0\xA0\x80"));         /* U+0800 */
  assert_true(VALID("\xED\x9F\xBF"));         /* U+D7FF */
  assert_true(VALID("\xEE\x80\x80"));         /* U+E000 */
  assert_true(VALID("\xEF\xBF\xBF"));         /* U+FFFF */
  assert_true(VALID("\xF0\x90\x80\x80"));     /* U+10000 */
  assert_true(VALID("\xF4\x8F\xBF\xBF"));     /* U+10FFFF */
}

static void test_utf8_rejects_overlong(void **state)
{
  (void)state;
  assert_false(VALID("\xC0\x80"));            /* NUL in two bytes */
  assert_false(VALID("\xC0\xAF"));            /* '/' in two bytes */
  assert_false(VALID("\xC1\xBF"));
  assert_false(VALID("\xE0\x80\x80"));
  assert_false(VALID("\xE0\x9F\xBF"));        /* U+07FF in three bytes */
  assert_false(VALID("\xF0\x80\x80\x80"));
  assert_false(VALID("\xF0\x8F\xBF\xBF"));    /* U+FFFF in four bytes */
}

static void test_utf8_rejects_surrogates_and_range(void **state)
{
  (void)state;
  assert_false(VALID("\xED\xA0\x80"));        /* U+D800 */
  assert_false(VALID("\xED\xAF\xBF"));        /* U+DBFF */
  assert_false(VALID("\xED\xB0\x80"));        /* U+DC00 */
  assert_false(VALID("\xED\xBF\xBF"));        /* U+DFFF */
  assert_false(VALID("\xED\xA0\xBD\xED\xB8\x80")); /* CESU-8 pair */
  assert_false(VALID("\xF4\x90\x80\x80"));    /* U+110000 */
  assert_false(VALID("\xF5\x80\x80\x80"));
  assert_false(VALID("\xF7\xBF\xBF\xBF"));
  assert_false(VALID("\xF8\x88\x80\x80\x80"));  /* old five-byte form */
  assert_false(VALID("\xFE"));
  assert_false(VALID("\xFF"));
}

static void test_utf8_rejects_broken_sequences(void **state)
{
  (void)state;
  assert_false(VALID("\x80"));                /* stray continuation */
  assert_false(VALID("a\xBF" "b"));
  assert_false(VALID("\xC3\xA9\xA9"));        /* one continuation too many */
  assert_false(VALID("abc\xC3"));             /* truncated at the end */
  assert_false(VALID("abc\xE2\x82"));
  assert_false(VALID("abc\xF0\x9F\x98"));
  assert_false(VALID("\xE2\x82" "a"));        /* truncated in the middle */
  assert_false(VALID("\xC3" "A"));
  assert_false(VALID("\xF0\x9F\x98\x28"));
}

static void test_utf8_rejects_nul(void **state)
{
  (void)state;
  assert_false(VALID("a\0b"));
  assert_false(VALID("\0"));
  /* The length is honoured: the NUL past it is not looked at. */
  assert_true(utf8_valid("ab\0", 2));
  /* And neither is a truncated sequence past it. */
  assert_true(utf8_valid("ab\xE2\x82", 2));
}

static void test_utf8_chars(void **state)
{
  (void)state;
  assert_int_equal(utf8_chars("", 0), 0);
  assert_int_equal(CHARS("hello"), 5);
  assert_int_equal(CHARS("\xF0\x9F\x98\x80"), 1);                 /* one emoji */
  assert_int_equal(CHARS("a\xF0\x9F\x98\x80\xC3\xA9\xE2\x82\xAC"), 4);
  assert_int_equal(CHARS("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D"), 4);
  assert_int_equal(CHARS("\xF4\x8F\xBF\xBF" "x"), 2);
}

/* ---- utf8_seq and utf8_cut ---- */

static void test_utf8_seq(void **state)
{
  uint32_t cp;
  (void)state;
  assert_int_equal(utf8_seq("a", 1, &cp), 1);
  assert_int_equal(cp, 'a');
  assert_int_equal(utf8_seq("\xC3\xA9", 2, &cp), 2);
  assert_int_equal(cp, 0xE9);
  assert_int_equal(utf8_seq("\xE2\x82\xAC", 3, &cp), 3);
  assert_int_equal(cp, 0x20AC);
  assert_int_equal(utf8_seq("\xF0\x9F\x9A\x80", 4, &cp), 4);
  assert_int_equal(cp, 0x1F680);
  assert_int_equal(utf8_seq("\xF0\x9F\x9A\x80", 3, &cp), 0); /* cut */
  assert_int_equal(utf8_seq("\xC0\x80", 2, &cp), 0);         /* overlong */
  assert_int_equal(utf8_seq("\xED\xA0\x80", 3, &cp), 0);     /* surrogate */
  assert_int_equal(utf8_seq("\x80", 1, &cp), 0);
}

static void test_utf8_cut(void **state)
{
  (void)state;
  assert_int_equal(utf8_cut("abc", 5), 3);
  assert_int_equal(utf8_cut("abc", 2), 2);
  assert_int_equal(utf8_cut("abc", 0), 0);
  assert_int_equal(utf8_cut("caf\xC3\xA9", 4), 3);   /* not inside é */
  assert_int_equal(utf8_cut("caf\xC3\xA9", 5), 5);
  assert_int_equal(utf8_cut("\xF0\x9F\x9A\x80x", 3), 0);
  assert_int_equal(utf8_cut("\xF0\x9F\x9A\x80x", 4), 4);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_utf8_valid_text),
    cmocka_unit_test(test_utf8_valid_boundaries),
    cmocka_unit_test(test_utf8_rejects_overlong),
    cmocka_unit_test(test_utf8_rejects_surrogates_and_range),
    cmocka_unit_test(test_utf8_rejects_broken_sequences),
    cmocka_unit_test(test_utf8_rejects_nul),
    cmocka_unit_test(test_utf8_chars),
    cmocka_unit_test(test_utf8_seq),
    cmocka_unit_test(test_utf8_cut),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
