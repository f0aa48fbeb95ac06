/*
 * test_pgjson.c - JSON from a PGresult's plain columns (common/pgjson.c).
 * libpq builds the results without a server (PQmakeEmptyPGresult,
 * PQsetResultAttrs, PQsetvalue), with the text PostgreSQL 15 sends for
 * each type.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pgjson.h"

#define T_BOOL 16
#define T_INT8 20
#define T_INT2 21
#define T_INT4 23
#define T_TEXT 25
#define T_JSON 114
#define T_FLOAT4 700
#define T_FLOAT8 701
#define T_VARCHAR 1043
#define T_TIMESTAMP 1114
#define T_TIMESTAMPTZ 1184
#define T_NUMERIC 1700
#define T_JSONB 3802

/* A result of ncols columns named and typed as given, no rows yet. */
static PGresult *result(int ncols, const char *const *names,
                        const unsigned *types)
{
  PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  PGresAttDesc attrs[16];
  int i;

  assert_non_null(res);
  assert_true(ncols <= 16);
  memset(attrs, 0, sizeof(attrs));
  /* libpq copies what it is given, from buffers that are not const. */
  for(i = 0; i < ncols; i++) {
    attrs[i].name = strdup(names[i]);
    assert_non_null(attrs[i].name);
    attrs[i].typid = types[i];
    attrs[i].typlen = -1;
    attrs[i].atttypmod = -1;
  }
  assert_true(PQsetResultAttrs(res, ncols, attrs));
  for(i = 0; i < ncols; i++)
    free(attrs[i].name);
  return res;
}

/* Sets row, col to text (NULL: SQL NULL). */
static void set(PGresult *res, int row, int col, const char *text)
{
  char *copy = text ? strdup(text) : NULL;

  assert_true(!text || copy);
  assert_true(PQsetvalue(res, row, col, copy,
                         text ? (int)strlen(text) : -1));
  free(copy);
}

/* One column of type, one row holding text: the value written. */
static char *value_of(unsigned type, const char *text)
{
  const char *names[] = {"v"};
  PGresult *res = result(1, names, &type);
  struct dynbuf b;
  char *out;

  set(res, 0, 0, text);
  dynbuf_init(&b, PGJSON_MAX);
  pgjson_value(&b, res, 0, 0);
  out = dynbuf_take(&b, NULL);
  PQclear(res);
  return out;
}

static void check_value(unsigned type, const char *text, const char *json)
{
  char *out = value_of(type, text);

  assert_non_null(out);
  assert_string_equal(out, json);
  free(out);
}

static void numbers_and_bools(void **state)
{
  (void)state;
  check_value(T_INT2, "-7", "-7");
  check_value(T_INT4, "2147483647", "2147483647");
  check_value(T_INT8, "-9223372036854775808", "-9223372036854775808");
  check_value(T_NUMERIC, "99.50", "99.50");
  check_value(T_NUMERIC, "0.001", "0.001");
  check_value(T_FLOAT8, "1e+300", "1e+300");
  check_value(T_FLOAT4, "-1.5e-07", "-1.5e-07");
  /* No JSON number for these: strings, as row_to_json writes them. */
  check_value(T_NUMERIC, "NaN", "\"NaN\"");
  check_value(T_NUMERIC, "Infinity", "\"Infinity\"");
  check_value(T_FLOAT8, "-Infinity", "\"-Infinity\"");
  check_value(T_BOOL, "t", "true");
  check_value(T_BOOL, "f", "false");
}

static void nulls_whatever_the_type(void **state)
{
  static const unsigned types[] = {T_BOOL, T_INT8, T_TEXT, T_JSON,
                                   T_TIMESTAMPTZ, T_NUMERIC};
  size_t i;

  (void)state;
  for(i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    check_value(types[i], NULL, "null");
}

static void json_passes_through(void **state)
{
  (void)state;
  check_value(T_JSON, "[[1,1,200,35],[2,0,null,null,\"x\"]]",
               "[[1,1,200,35],[2,0,null,null,\"x\"]]");
  check_value(T_JSONB, "{\"a\": [1, 2]}", "{\"a\": [1, 2]}");
}

/* The escapes of PostgreSQL's escape_json, and nothing else: UTF-8 and
 * DEL pass byte for byte. */
static void strings_escaped_as_postgres_does(void **state)
{
  (void)state;
  check_value(T_TEXT, "", "\"\"");
  check_value(T_TEXT, "plain", "\"plain\"");
  check_value(T_TEXT, "say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\"");
  check_value(T_VARCHAR, "\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
  check_value(T_TEXT, "\x01-\x1f-\x7f", "\"\\u0001-\\u001f-\x7f\"");
  check_value(T_TEXT, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 </script>",
               "\"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 </script>\"");
  /* A type pgjson has no rule for is a string too (uuid). */
  check_value(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
               "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
}

static void timestamps_as_rfc3339_utc(void **state)
{
  (void)state;
  check_value(T_TIMESTAMPTZ, "2024-05-01 12:00:00+00",
               "\"2024-05-01T12:00:00Z\"");
  /* The fraction is dropped, not rounded, as to_char's SS did. */
  check_value(T_TIMESTAMPTZ, "2024-05-01 12:00:59.999999+00",
               "\"2024-05-01T12:00:59Z\"");
  check_value(T_TIMESTAMP, "2024-05-01 12:00:00.5",
               "\"2024-05-01T12:00:00Z\"");
  /* Another session time zone still gives UTC. */
  check_value(T_TIMESTAMPTZ, "2024-05-01 02:30:00+05:30",
               "\"2024-04-30T21:00:00Z\"");
  check_value(T_TIMESTAMPTZ, "2023-12-31 20:00:00.25-04",
               "\"2024-01-01T00:00:00Z\"");
  check_value(T_TIMESTAMPTZ, "2024-02-29 23:59:59-00:00:30",
               "\"2024-03-01T00:00:29Z\"");
  /* Odd values: valid JSON, never a guess. */
  check_value(T_TIMESTAMPTZ, "infinity", "null");
  check_value(T_TIMESTAMPTZ, "-infinity", "null");
  check_value(T_TIMESTAMP, "infinity", "null");
  check_value(T_TIMESTAMPTZ, "0044-03-15 12:00:00+00 BC", "null");
  check_value(T_TIMESTAMPTZ, "0001-01-01 00:30:00+01", "null");
  check_value(T_TIMESTAMPTZ, "10000-01-01 00:00:00.5+00",
               "\"10000-01-01T00:00:00Z\"");
  check_value(T_TIMESTAMPTZ, "294276-12-31 23:59:59.999999+00",
               "\"294276-12-31T23:59:59Z\"");
}

/* Another DateStyle's text fails the buffer rather than being guessed. */
static void other_datestyles_fail(void **state)
{
  static const char *const bad[] = {
    "Wed May 01 12:00:00 2024 UTC",      /* Postgres */
    "05/01/2024 12:00:00 UTC",           /* SQL, MDY */
    "2024-05-01T12:00:00Z",
    "2024-05-01 12:00+00",
    "2024-05-01 12:00:00.+00",
    "2024-05-01 12:00:00+0",
    "2024-13-01 12:00:00+00",
    "",
  };
  size_t i;

  (void)state;
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_null(value_of(T_TIMESTAMPTZ, bad[i]));
}

static const char *const cols[] = {"id", "name", "ok", "at", "recent"};
static const unsigned types[] = {T_INT8, T_TEXT, T_BOOL, T_TIMESTAMPTZ,
                                 T_JSON};

static void rows_as_array_of_objects(void **state)
{
  PGresult *res = result(5, cols, types);
  struct dynbuf b;
  char *out;

  (void)state;
  set(res, 0, 0, "1");
  set(res, 0, 1, "a\"b");
  set(res, 0, 2, "t");
  set(res, 0, 3, "2024-05-01 12:00:00+00");
  set(res, 0, 4, "[]");
  set(res, 1, 0, "2");
  set(res, 1, 1, NULL);
  set(res, 1, 2, "f");
  set(res, 1, 3, NULL);
  set(res, 1, 4, "[[1]]");
  dynbuf_init(&b, PGJSON_MAX);
  assert_true(pgjson_array(&b, res, 0, 0));
  out = dynbuf_take(&b, NULL);
  assert_string_equal(out,
    "[{\"id\":1,\"name\":\"a\\\"b\",\"ok\":true,"
    "\"at\":\"2024-05-01T12:00:00Z\",\"recent\":[]},"
    "{\"id\":2,\"name\":null,\"ok\":false,\"at\":null,\"recent\":[[1]]}]");
  free(out);

  /* From the second row and the second column (a page's total first). */
  assert_true(pgjson_array(&b, res, 1, 1));
  out = dynbuf_take(&b, NULL);
  assert_string_equal(out, "[{\"name\":null,\"ok\":false,\"at\":null,"
                      "\"recent\":[[1]]}]");
  free(out);

  assert_true(pgjson_object(&b, res, 0, 3));
  out = dynbuf_take(&b, NULL);
  assert_string_equal(out, "{\"at\":\"2024-05-01T12:00:00Z\","
                      "\"recent\":[]}");
  free(out);
  dynbuf_free(&b);
  PQclear(res);
}

static void zero_rows_is_empty_array(void **state)
{
  PGresult *res = result(5, cols, types);
  struct dynbuf b;
  char *out;

  (void)state;
  dynbuf_init(&b, PGJSON_MAX);
  assert_true(pgjson_array(&b, res, 0, 0));
  out = dynbuf_take(&b, NULL);
  assert_string_equal(out, "[]");
  free(out);
  /* Past the last row: none either. */
  set(res, 0, 0, "1");
  assert_true(pgjson_array(&b, res, 1, 0));
  out = dynbuf_take(&b, NULL);
  assert_string_equal(out, "[]");
  free(out);
  dynbuf_free(&b);
  PQclear(res);
}

/* An answer past the buffer's cap fails it (the caller answers 500). */
static void the_cap_holds(void **state)
{
  static const char *const one[] = {"name"};
  static const unsigned text[] = {T_TEXT};
  PGresult *res = result(1, one, text);
  struct dynbuf b;
  char big[200];
  char *out;
  int row;

  (void)state;
  memset(big, '\n', sizeof(big) - 1);       /* 2 bytes each, escaped */
  big[sizeof(big) - 1] = '\0';
  for(row = 0; row < 10; row++)
    set(res, row, 0, big);
  /* Each row: {"name":"..."} = 398 + 11 bytes; 10 rows and 11 more. */
  dynbuf_init(&b, 4101);
  assert_true(pgjson_array(&b, res, 0, 0));
  assert_int_equal(dynbuf_len(&b), 4101);
  dynbuf_free(&b);
  dynbuf_init(&b, 4100);
  assert_false(pgjson_array(&b, res, 0, 0));
  out = dynbuf_take(&b, NULL);
  assert_null(out);
  dynbuf_free(&b);
  PQclear(res);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(numbers_and_bools),
    cmocka_unit_test(nulls_whatever_the_type),
    cmocka_unit_test(json_passes_through),
    cmocka_unit_test(strings_escaped_as_postgres_does),
    cmocka_unit_test(timestamps_as_rfc3339_utc),
    cmocka_unit_test(other_datestyles_fail),
    cmocka_unit_test(rows_as_array_of_objects),
    cmocka_unit_test(zero_rows_is_empty_array),
    cmocka_unit_test(the_cap_holds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
