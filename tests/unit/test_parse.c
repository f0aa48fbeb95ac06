/*
 * test_parse.c - path ids, integers and query parameters.
 *
 * Ids are parsed from exact-size heap copies, as they come out of a path
 * with no NUL after them, so an overread shows under valgrind and ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* parse_id on a heap copy of s[0..len) with nothing after it. */
static bool id_exact(const char *s, size_t len, int64_t *out)
{
  char *buf = malloc(len ? len : 1);
  bool ok;

  assert_non_null(buf);
  if(len)
    memcpy(buf, s, len);
  ok = parse_id(buf, len, out);
  free(buf);
  return ok;
}

static void expect_id(const char *s, int64_t want)
{
  int64_t v = -1;

  if(!id_exact(s, strlen(s), &v))
    fail_msg("id \"%s\" rejected", s);
  assert_int_equal(v, want);
}

static void expect_no_id(const char *s, size_t len)
{
  int64_t v = -77;

  if(id_exact(s, len, &v))
    fail_msg("id \"%.*s\" accepted", (int)len, s);
  assert_int_equal(v, -77);
}

#define NO_ID(lit) expect_no_id(lit, sizeof(lit) - 1)

static void test_id_accepts(void **state)
{
  (void)state;
  expect_id("1", 1);
  expect_id("9", 9);
  expect_id("42", 42);
  expect_id("10", 10);
  expect_id("1000000", 1000000);
  expect_id("9223372036854775806", INT64_MAX - 1);
  expect_id("9223372036854775807", INT64_MAX);
}

static void test_id_rejects(void **state)
{
  (void)state;
  NO_ID("");
  NO_ID("0");
  NO_ID("00");
  NO_ID("007");
  NO_ID("01");
  NO_ID("-1");
  NO_ID("-0");
  NO_ID("+5");
  NO_ID("1e3");
  NO_ID("1.0");
  NO_ID("0x1f");
  NO_ID(" 1");
  NO_ID("1 ");
  NO_ID("\t1");
  NO_ID("1\n");
  NO_ID("1a");
  NO_ID("abc");
  NO_ID("1/2");
  NO_ID("1\0");
  NO_ID("\xD9\xA1");                        /* ARABIC-INDIC DIGIT ONE */
  NO_ID("9223372036854775808");             /* INT64_MAX + 1 */
  NO_ID("9999999999999999999");
  NO_ID("10000000000000000000");            /* 20 digits */
  NO_ID("18446744073709551616");            /* 2^64, wraps to 0 */
  NO_ID("18446744073709551617");            /* 2^64 + 1, wraps to 1 */
  NO_ID("99999999999999999999999999999999999999");
  assert_false(parse_id(NULL, 0, NULL));
}

static void test_id_uses_length(void **state)
{
  int64_t v = 0;

  (void)state;
  /* Only len bytes count: "/project/12/checks" gives "12". */
  assert_true(parse_id("12/checks", 2, &v));
  assert_int_equal(v, 12);
  assert_false(parse_id("12/checks", 3, &v));
  assert_false(parse_id("12", 0, &v));
  /* out may be NULL for a plain check. */
  assert_true(parse_id("5", 1, NULL));
}

static void expect_int(const char *s, int64_t min, int64_t max, int64_t want)
{
  int64_t v = -1;

  if(!parse_int(s, min, max, &v))
    fail_msg("int \"%s\" rejected", s);
  assert_int_equal(v, want);
}

static void expect_no_int(const char *s, int64_t min, int64_t max)
{
  int64_t v = -77;

  if(parse_int(s, min, max, &v))
    fail_msg("int \"%s\" accepted", s);
  assert_int_equal(v, -77);
}

static void test_int_accepts(void **state)
{
  (void)state;
  expect_int("0", INT64_MIN, INT64_MAX, 0);
  expect_int("-0", INT64_MIN, INT64_MAX, 0);
  expect_int("42", INT64_MIN, INT64_MAX, 42);
  expect_int("-42", INT64_MIN, INT64_MAX, -42);
  /* Leading zeros are still the same decimal number. */
  expect_int("007", 0, 10, 7);
  expect_int("-007", -10, 0, -7);
  expect_int("9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX);
  expect_int("-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN);
  expect_int("-9223372036854775807", INT64_MIN, INT64_MAX, INT64_MIN + 1);
  /* Bounds are inclusive. */
  expect_int("1", 1, 1000, 1);
  expect_int("1000", 1, 1000, 1000);
  expect_int("60", 60, 86400, 60);
  assert_true(parse_int("5", 0, 10, NULL));
}

static void test_int_rejects(void **state)
{
  (void)state;
  expect_no_int("", INT64_MIN, INT64_MAX);
  expect_no_int("-", INT64_MIN, INT64_MAX);
  expect_no_int("--1", INT64_MIN, INT64_MAX);
  expect_no_int("+1", INT64_MIN, INT64_MAX);
  expect_no_int(" 1", INT64_MIN, INT64_MAX);
  expect_no_int("1 ", INT64_MIN, INT64_MAX);
  expect_no_int("- 1", INT64_MIN, INT64_MAX);
  expect_no_int("1\n", INT64_MIN, INT64_MAX);
  expect_no_int("1x", INT64_MIN, INT64_MAX);
  expect_no_int("1.5", INT64_MIN, INT64_MAX);
  expect_no_int("1.0", INT64_MIN, INT64_MAX);
  expect_no_int("1e3", INT64_MIN, INT64_MAX);
  expect_no_int("0x10", INT64_MIN, INT64_MAX);
  expect_no_int("ten", INT64_MIN, INT64_MAX);
  expect_no_int("9223372036854775808", INT64_MIN, INT64_MAX);
  expect_no_int("-9223372036854775809", INT64_MIN, INT64_MAX);
  expect_no_int("18446744073709551616", INT64_MIN, INT64_MAX);
  expect_no_int("-18446744073709551616", INT64_MIN, INT64_MAX);
  expect_no_int("100000000000000000000", INT64_MIN, INT64_MAX);
  expect_no_int(NULL, INT64_MIN, INT64_MAX);
}

/* A file mode as an operator writes it; nothing strtol would also take. */
static void test_octal(void **state)
{
  int64_t v = -1;

  (void)state;
  assert_true(parse_octal("0660", 0777, &v));
  assert_int_equal(v, 0660);
  assert_true(parse_octal("755", 0777, &v));
  assert_int_equal(v, 0755);
  assert_true(parse_octal("0", 0777, &v));
  assert_int_equal(v, 0);
  assert_false(parse_octal("1000", 0777, &v));     /* over max */
  assert_false(parse_octal("0680", 0777, &v));     /* 8 is no octal digit */
  assert_false(parse_octal("", 0777, &v));
  assert_false(parse_octal(" 660", 0777, &v));
  assert_false(parse_octal("+660", 0777, &v));
  assert_false(parse_octal("-0", 0777, &v));
  assert_false(parse_octal("0x1ff", 0777, &v));
  assert_false(parse_octal(NULL, 0777, &v));
  assert_int_equal(v, 0);                          /* untouched by failures */
}

static void test_int_range(void **state)
{
  (void)state;
  expect_no_int("0", 1, 1000);
  expect_no_int("1001", 1, 1000);
  expect_no_int("-1", 0, 10);
  expect_no_int("59", 60, 86400);
  expect_no_int("86401", 60, 86400);
  expect_no_int("5", 10, 0);                 /* empty range */
}

/* query_param into a buffer of size cap, checking the result and, on
 * success, the length and the decoded text. */
static void expect_param(const char *query, const char *name, size_t cap,
                         enum query_result want, size_t want_len,
                         const char *text)
{
  char out[256];
  enum query_result rc;
  size_t len = 99;

  assert_true(cap <= sizeof(out));
  memset(out, 'Z', sizeof(out));
  rc = query_param(query, name, out, cap, &len);
  if(rc != want || len != want_len)
    fail_msg("query_param(\"%s\", \"%s\", %zu) = %d (length %zu), "
             "wanted %d (length %zu)", query ? query : "(null)",
             name ? name : "(null)", cap, (int)rc, len, (int)want, want_len);
  if(cap)
    assert_string_equal(out, text);
}

#define PARAM(q, n, want, text) expect_param(q, n, 256, QUERY_OK, want, text)
#define PARAM_ABSENT(q, n) expect_param(q, n, 256, QUERY_ABSENT, 0, "")
#define PARAM_INVALID(q, n) expect_param(q, n, 256, QUERY_INVALID, 0, "")

static void test_query_basics(void **state)
{
  (void)state;
  PARAM("a=1&b=2", "a", 1, "1");
  PARAM("a=1&b=2", "b", 1, "2");
  PARAM("limit=50&offset=100", "offset", 3, "100");
  PARAM("token=abc", "token", 3, "abc");
  PARAM("a=b=c", "a", 3, "b=c");
  PARAM("&&a=1&", "a", 1, "1");
  PARAM("a=1&&b=2", "b", 1, "2");
}

static void test_query_absent(void **state)
{
  (void)state;
  /* Absent leaves out holding "". */
  PARAM_ABSENT("a=1&b=2", "c");
  PARAM_ABSENT("", "a");
  PARAM_ABSENT("=1", "a");
  PARAM_ABSENT("a=1", "");
  PARAM_ABSENT("&", "a");
  expect_param(NULL, "a", 256, QUERY_ABSENT, 0, "");
  expect_param("a=1", NULL, 256, QUERY_ABSENT, 0, "");
}

static void test_query_exact_name(void **state)
{
  (void)state;
  PARAM_ABSENT("xtoken=a", "token");
  PARAM_ABSENT("token2=b", "token");
  PARAM_ABSENT("tok=b", "token");
  PARAM_ABSENT("Token=b", "token");
  PARAM("xtoken=a&token2=b&token=c", "token", 1, "c");
  PARAM("a=token=x&token=y", "token", 1, "y");
  PARAM_ABSENT("a=x%26token%3Dy", "token");
  /* Names are compared as sent, not decoded. */
  PARAM_ABSENT("to%6Ben=x", "token");
}

static void test_query_no_value(void **state)
{
  (void)state;
  PARAM("a&b=2", "a", 0, "");
  PARAM("b=2&a", "a", 0, "");
  PARAM("a=&b=2", "a", 0, "");
  PARAM("flag", "flag", 0, "");
}

static void test_query_first_wins(void **state)
{
  (void)state;
  PARAM("a=1&a=2", "a", 1, "1");
  PARAM("a&a=2", "a", 0, "");
  /* The first is the answer even when it is the malformed one. */
  PARAM_INVALID("a=%&a=2", "a");
  PARAM("a=1&a=%", "a", 1, "1");
}

static void test_query_decoding(void **state)
{
  (void)state;
  PARAM("q=%41%62", "q", 2, "Ab");
  PARAM("q=%2f%2F", "q", 2, "//");
  PARAM("q=%aB%Cd", "q", 2, "\xAB\xCD");
  PARAM("q=a+b", "q", 3, "a b");
  PARAM("q=++", "q", 2, "  ");
  PARAM("q=%2B", "q", 1, "+");
  PARAM("q=%25", "q", 1, "%");
  PARAM("q=%2541", "q", 3, "%41");           /* decoded once only */
  PARAM("q=%26%3D", "q", 2, "&=");
  PARAM("q=caf%C3%A9", "q", 5, "caf\xC3\xA9");
  PARAM("q=%F0%9F%98%80", "q", 4, "\xF0\x9F\x98\x80");
  PARAM("q=%20x%20", "q", 3, " x ");
  PARAM("q=%7E", "q", 1, "~");
}

static void test_query_bad_escapes(void **state)
{
  (void)state;
  PARAM_INVALID("q=%", "q");
  PARAM_INVALID("q=%&r=1", "q");
  PARAM_INVALID("q=%0", "q");
  PARAM_INVALID("q=%0&r=1", "q");
  PARAM_INVALID("q=%G1", "q");
  PARAM_INVALID("q=%1G", "q");
  PARAM_INVALID("q=%%41", "q");
  PARAM_INVALID("q=% 1", "q");
  PARAM_INVALID("q=%+1", "q");
  PARAM_INVALID("q=abc%", "q");
  PARAM_INVALID("q=%00", "q");
  PARAM_INVALID("q=abc%00def", "q");
  /* A bad escape elsewhere is not this parameter's problem. */
  PARAM("r=%&q=ok", "q", 2, "ok");
}

static void test_query_capacity(void **state)
{
  char out[4];

  (void)state;
  /* cap includes the NUL. */
  expect_param("q=abc", "q", 4, QUERY_OK, 3, "abc");
  expect_param("q=abc", "q", 3, QUERY_INVALID, 0, "");
  expect_param("q=abcd", "q", 4, QUERY_INVALID, 0, "");
  expect_param("q=", "q", 1, QUERY_OK, 0, "");
  expect_param("q=a", "q", 1, QUERY_INVALID, 0, "");
  /* The decoded length is what counts. */
  expect_param("q=%41%42%43", "q", 4, QUERY_OK, 3, "ABC");
  expect_param("q=%41%42%43%44", "q", 4, QUERY_INVALID, 0, "");
  expect_param("q=a+b+", "q", 4, QUERY_INVALID, 0, "");

  /* No room at all. */
  assert_int_equal(query_param("q=a", "q", NULL, 0, NULL), QUERY_INVALID);
  assert_int_equal(query_param("q=", "q", NULL, 0, NULL), QUERY_INVALID);
  assert_int_equal(query_param("r=a", "q", NULL, 0, NULL), QUERY_ABSENT);
  memset(out, 'Z', sizeof(out));
  assert_int_equal(query_param("q=a", "q", out, 0, NULL), QUERY_INVALID);
  assert_int_equal(out[0], 'Z');
}

static void test_query_long_value(void **state)
{
  size_t n = 10000;
  char *query = malloc(n + 3);
  char *out = malloc(n + 1);
  size_t len = 0;

  (void)state;
  assert_non_null(query);
  assert_non_null(out);
  memcpy(query, "q=", 2);
  memset(query + 2, 'x', n);
  query[n + 2] = '\0';
  assert_int_equal(query_param(query, "q", out, n + 1, &len), QUERY_OK);
  assert_int_equal(len, n);
  assert_int_equal(strlen(out), n);
  assert_int_equal(query_param(query, "q", out, n, &len), QUERY_INVALID);
  assert_string_equal(out, "");
  free(query);
  free(out);
}

/* int_text is parse_int's way back: every int64_t fits INT_TEXT_MAX. */
static void test_int_text(void **state)
{
  char buf[INT_TEXT_MAX];
  int64_t back;
  const int64_t values[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN};
  (void)state;

  for(size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    assert_ptr_equal(int_text(buf, values[i]), buf);
    assert_true(parse_int(buf, INT64_MIN, INT64_MAX, &back));
    assert_true(back == values[i]);
  }
  assert_string_equal(int_text(buf, INT64_MIN), "-9223372036854775808");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_int_text),
    cmocka_unit_test(test_id_accepts),
    cmocka_unit_test(test_id_rejects),
    cmocka_unit_test(test_id_uses_length),
    cmocka_unit_test(test_int_accepts),
    cmocka_unit_test(test_int_rejects),
    cmocka_unit_test(test_octal),
    cmocka_unit_test(test_int_range),
    cmocka_unit_test(test_query_basics),
    cmocka_unit_test(test_query_absent),
    cmocka_unit_test(test_query_exact_name),
    cmocka_unit_test(test_query_no_value),
    cmocka_unit_test(test_query_first_wins),
    cmocka_unit_test(test_query_decoding),
    cmocka_unit_test(test_query_bad_escapes),
    cmocka_unit_test(test_query_capacity),
    cmocka_unit_test(test_query_long_value),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
