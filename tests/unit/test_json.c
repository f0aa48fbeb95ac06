/*
 * test_json.c - request body checks and typed field getters.
 *
 * Every body is copied into a heap buffer of exactly its length before it
 * is parsed, so a read past the end (a request body is not NUL-terminated)
 * shows up under valgrind and AddressSanitizer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"


/* String literals may hold NUL bytes, so lengths come from sizeof. */
#define REJECT(lit, msg) expect_reject(lit, sizeof(lit) - 1, msg)

static char *exact_copy(const char *s, size_t len)
{
  char *p = malloc(len ? len : 1);

  assert_non_null(p);
  if(len)
    memcpy(p, s, len);
  return p;
}

/* Parses a copy of s[0..len) and returns the tree (NULL on failure). */
static cJSON *parse_exact(const char *s, size_t len, const char **why)
{
  char *buf = exact_copy(s, len);
  const char *msg = "not set";
  cJSON *root = json_parse_object(buf, len, &msg);

  free(buf);
  if(why)
    *why = msg;
  return root;
}

static void expect_accept(const char *s, size_t len)
{
  const char *why = "not set";
  cJSON *root = parse_exact(s, len, &why);

  if(!root)
    fail_msg("rejected %s: %s", s, why);
  assert_null(why);
  cJSON_Delete(root);
}

static void expect_reject(const char *s, size_t len, const char *msg)
{
  const char *why = NULL;
  cJSON *root = parse_exact(s, len, &why);

  if(root) {
    cJSON_Delete(root);
    fail_msg("accepted %s, wanted \"%s\"", s, msg);
  }
  assert_non_null(why);
  assert_string_equal(why, msg);
}

#define OK(lit) expect_accept(lit, sizeof(lit) - 1)

/* A body of depth levels of '[' (after an opening object) and back. */
static char *nested(size_t depth, size_t *len)
{
  /* {"a": + depth '[' + depth ']' + } */
  size_t n = 5 + 2 * depth + 1;
  char *s = malloc(n);
  size_t i;

  assert_non_null(s);
  memcpy(s, "{\"a\":", 5);
  for(i = 0; i < depth; i++) {
    s[5 + i] = '[';
    s[5 + depth + i] = ']';
  }
  s[n - 1] = '}';
  *len = n;
  return s;
}

/* ---- json_parse_object ---- */

static void test_parse_accepts_objects(void **state)
{
  (void)state;
  OK("{}");
  OK("{\"a\":1}");
  OK(" \t\r\n{ \"name\" : \"x\" , \"n\" : [1, 2, {\"b\": null}] } \n");
  OK("{\"s\":\"caf\xC3\xA9 \xF0\x9F\x98\x80 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D\"}");
  OK("{\"u\":\"\\u00e9\\ud83d\\ude00\\u0041\"}");
  OK("{\"u\":\"\\u00E9\\uD83D\\uDE00\\uFFFF\"}");
  OK("{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}");
  OK("{\"t\":true,\"f\":false,\"z\":null}");
  OK("{\"a\":\"[[[[{{{{\"}");                      /* brackets in a string */
  OK("\xEF\xBB\xBF{}");                            /* cJSON skips a BOM */
}

static void test_parse_returns_tree(void **state)
{
  const char body[] = "{\"name\":\"site\",\"n\":3}";
  char *buf;
  const char *why = "not set";
  cJSON *root;

  (void)state;
  /* No NUL after the body and a length that ends before the '}' of a
   * longer buffer: only len bytes count. */
  buf = exact_copy(body, sizeof(body) - 1);
  root = json_parse_object(buf, sizeof(body) - 1, &why);
  assert_non_null(root);
  assert_null(why);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "name")->valuestring,
                      "site");
  cJSON_Delete(root);

  root = json_parse_object(buf, sizeof(body) - 2, &why);
  assert_null(root);
  assert_string_equal(why, JSON_MSG_SYNTAX);
  free(buf);

  /* why may be NULL. */
  root = json_parse_object("{}", 2, NULL);
  assert_non_null(root);
  cJSON_Delete(root);
  assert_null(json_parse_object("", 0, NULL));
}

static void test_parse_empty(void **state)
{
  const char *why = NULL;

  (void)state;
  REJECT("", JSON_MSG_EMPTY);
  assert_null(json_parse_object(NULL, 0, &why));
  assert_string_equal(why, JSON_MSG_EMPTY);
  assert_null(json_parse_object(NULL, 5, &why));
  assert_string_equal(why, JSON_MSG_EMPTY);
  /* Whitespace is a body, just not JSON. */
  REJECT(" \n", JSON_MSG_SYNTAX);
}

static void test_parse_invalid_utf8(void **state)
{
  (void)state;
  REJECT("{\"a\":\"\xC0\x80\"}", JSON_MSG_UTF8);
  REJECT("{\"a\":\"\xED\xA0\x80\"}", JSON_MSG_UTF8);
  REJECT("{\"a\":\"\xF4\x90\x80\x80\"}", JSON_MSG_UTF8);
  REJECT("{\"\xFF\":1}", JSON_MSG_UTF8);
  REJECT("{\"a\":1}\xC3", JSON_MSG_UTF8);
  REJECT("{\"a\":\"x\xE2\x82", JSON_MSG_UTF8);
}

static void test_parse_nul(void **state)
{
  (void)state;
  /* A raw NUL byte anywhere. */
  REJECT("{\"a\":\"x\0y\"}", JSON_MSG_NUL);
  REJECT("{}\0", JSON_MSG_NUL);
  /* The escape, in a value or a key, alone or among other text. */
  REJECT("{\"a\":\"\\u0000\"}", JSON_MSG_NUL);
  REJECT("{\"a\":\"abc\\u0000def\"}", JSON_MSG_NUL);
  REJECT("{\"\\u0000\":1}", JSON_MSG_NUL);
  REJECT("{\"a\":[\"ok\",\"\\u0000\"]}", JSON_MSG_NUL);
  /* An escaped backslash then a real escape is still a NUL. */
  REJECT("{\"a\":\"\\\\\\u0000\"}", JSON_MSG_NUL);
  /* An escaped backslash followed by text is just text. */
  OK("{\"a\":\"\\\\u0000\"}");
  OK("{\"a\":\"\\\\\\\\u0000\"}");
  OK("{\"a\":\"\\u0001\\u0010\\u0100\"}");
}

static void test_parse_escaped_backslash_value(void **state)
{
  const char *why = NULL;
  cJSON *root;
  const cJSON *a;

  (void)state;
  static const char body[] = "{\"a\":\"\\\\u0000\"}";

  root = parse_exact(body, sizeof(body) - 1, &why);
  assert_non_null(root);
  a = cJSON_GetObjectItemCaseSensitive(root, "a");
  assert_string_equal(a->valuestring, "\\u0000");
  cJSON_Delete(root);
}

static void test_parse_depth(void **state)
{
  size_t len;
  char *s;
  const char *why = NULL;
  cJSON *root;

  (void)state;
  /* The object counts as one level. */
  s = nested(JSON_MAX_DEPTH - 1, &len);
  root = json_parse_object(s, len, &why);
  assert_non_null(root);
  cJSON_Delete(root);
  free(s);

  s = nested(JSON_MAX_DEPTH, &len);
  assert_null(json_parse_object(s, len, &why));
  assert_string_equal(why, JSON_MSG_DEEP);
  free(s);

  /* Depth is nesting, not the number of brackets. */
  OK("{\"a\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],"
     "\"b\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}");
  /* Brackets inside strings are text. */
  OK("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}");
}

static void test_parse_deep_garbage(void **state)
{
  const size_t len = 64 * 1024;
  char *s = malloc(len);
  const char *why = NULL;

  (void)state;
  assert_non_null(s);
  memset(s, '[', len);
  assert_null(json_parse_object(s, len, &why));
  assert_string_equal(why, JSON_MSG_DEEP);
  memset(s, '{', len);
  assert_null(json_parse_object(s, len, &why));
  assert_string_equal(why, JSON_MSG_DEEP);
  free(s);
}

static void test_parse_syntax(void **state)
{
  (void)state;
  REJECT("{", JSON_MSG_SYNTAX);
  REJECT("}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1,}", JSON_MSG_SYNTAX);
  REJECT("{\"a\" 1}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":}", JSON_MSG_SYNTAX);
  REJECT("{a:1}", JSON_MSG_SYNTAX);
  REJECT("{'a':1}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"unterminated}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"x\\", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"\\x41\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"\\uZZZZ\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"\\u12\"}", JSON_MSG_SYNTAX);
  /* cJSON 1.7.15 decodes these to U+0000 and cuts the string. */
  REJECT("{\"a\":\"\\uZZZZtail\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"\\u00G0tail\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"x\\u 123y\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"\\u", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"\\u004", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"\\ud800\"}", JSON_MSG_SYNTAX);        /* lone surrogate */
  REJECT("{\"a\":\"\\udc00\\ud800\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":NaN}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":Infinity}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":-Infinity}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":tru}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":[1 2]}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1]", JSON_MSG_SYNTAX);
}

static void test_parse_trailing(void **state)
{
  (void)state;
  REJECT("{} x", JSON_MSG_SYNTAX);
  REJECT("{}{}", JSON_MSG_SYNTAX);
  REJECT("{}]", JSON_MSG_SYNTAX);
  REJECT("{},", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1}}", JSON_MSG_SYNTAX);
  REJECT("{}\x01", JSON_MSG_SYNTAX);
  OK("{}  \t\r\n");
}

static void test_parse_control_characters(void **state)
{
  (void)state;
  /* cJSON takes any byte <= 0x20 for whitespace and lets raw control
   * characters into strings; JSON does neither. */
  REJECT("\x01{}", JSON_MSG_SYNTAX);
  REJECT("{\x0b\"a\":1}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"x\x01y\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"tab\there\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":\"line\nbreak\"}", JSON_MSG_SYNTAX);
  REJECT("{\"a\x1f\":1}", JSON_MSG_SYNTAX);
  OK("{\"a\":\"tab\\there\",\"d\":\"\x7f\"}");
}

static void test_parse_numbers(void **state)
{
  (void)state;
  OK("{\"a\":0}");
  OK("{\"a\":-0}");
  OK("{\"a\":10}");
  OK("{\"a\":-12.5}");
  OK("{\"a\":0.001}");
  OK("{\"a\":1e5}");
  OK("{\"a\":1E+5}");
  OK("{\"a\":2.5e-3}");
  OK("{\"a\":[1,-2,3.0]}");
  OK("{\"a\":1 }");
  /* cJSON hands these to strtod and accepts them. */
  REJECT("{\"a\":01}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":-01}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":00}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1.}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":-01.e5}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1e}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1e+}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1.5.5}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1-2}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":-}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":--1}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":.5}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":+1}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":0x10}", JSON_MSG_SYNTAX);
  REJECT("{\"a\":1", JSON_MSG_SYNTAX);
  /* Numbers in strings are text. */
  OK("{\"a\":\"01\",\"b\":\"1.\"}");
}

static void test_parse_not_object(void **state)
{
  (void)state;
  REJECT("[]", JSON_MSG_NOT_OBJ);
  REJECT("[{\"a\":1}]", JSON_MSG_NOT_OBJ);
  REJECT("1", JSON_MSG_NOT_OBJ);
  REJECT("\"text\"", JSON_MSG_NOT_OBJ);
  REJECT("null", JSON_MSG_NOT_OBJ);
  REJECT("true", JSON_MSG_NOT_OBJ);
  REJECT(" false ", JSON_MSG_NOT_OBJ);
}

static void test_parse_duplicates(void **state)
{
  (void)state;
  REJECT("{\"a\":1,\"a\":2}", JSON_MSG_DUPLICATE);
  REJECT("{\"a\":1,\"b\":2,\"c\":3,\"b\":null}", JSON_MSG_DUPLICATE);
  REJECT("{\"role\":\"user\",\"x\":[],\"role\":\"admin\"}", JSON_MSG_DUPLICATE);
  /* The same name spelled with an escape. */
  REJECT("{\"a\":1,\"\\u0061\":2}", JSON_MSG_DUPLICATE);
  /* Case matters, prefixes are different names, nested objects are free. */
  OK("{\"a\":1,\"A\":2}");
  OK("{\"a\":1,\"ab\":2,\"\":3}");
  OK("{\"o\":{\"a\":1,\"a\":2},\"p\":{\"a\":3}}");
}

/* {"k0":0,"k1":1,...} with the last key renamed to k0 when dup is set. */
static char *many_keys(size_t keys, bool dup, size_t *len)
{
  size_t cap = keys * 16 + 16, n = 0, i;
  char *s = malloc(cap);

  assert_non_null(s);
  s[n++] = '{';
  for(i = 0; i < keys; i++) {
    size_t key = dup && i == keys - 1 ? 0 : i;
    int w = snprintf(s + n, cap - n, "%s\"k%zu\":%zu", i ? "," : "", key, i);
    assert_true(w > 0 && (size_t)w < cap - n);
    n += (size_t)w;
  }
  s[n++] = '}';
  *len = n;
  return s;
}

static void test_parse_many_keys(void **state)
{
  const size_t keys = 6000;
  const char *why = NULL;
  size_t len;
  char *s;
  cJSON *root;

  (void)state;
  s = many_keys(keys, false, &len);
  root = json_parse_object(s, len, &why);
  assert_non_null(root);
  assert_int_equal(cJSON_GetArraySize(root), keys);
  cJSON_Delete(root);
  free(s);

  s = many_keys(keys, true, &len);
  assert_null(json_parse_object(s, len, &why));
  assert_string_equal(why, JSON_MSG_DUPLICATE);
  free(s);
}

/* {"x":[v,v,v,...]} of exactly len bytes, v being the one-byte value. */
static char *array_body(size_t len, char v)
{
  char *s = malloc(len);
  size_t n;

  assert_non_null(s);
  assert_true(len >= 9 && len % 2 == 1);
  memcpy(s, "{\"x\":[", 6);
  for(n = 6; n < len - 3; n += 2) {
    s[n] = v;
    s[n + 1] = ',';
  }
  s[len - 3] = v;           /* no comma before the bracket */
  memcpy(s + len - 2, "]}", 2);
  return s;
}

/* With json_memory_init in effect (main), a 60 KiB body of tiny values
 * would take several MiB as a tree; it is refused as too big, and every
 * byte it took is given back.  A body of the same size in one string takes
 * little and passes. */
static void test_parse_memory_cap(void **state)
{
  const size_t len = 60 * 1024 + 1;
  const char *why = NULL;
  cJSON *root;
  char *s;

  (void)state;
  assert_int_equal(json_memory_used(), 0);
  s = array_body(len, '0');
  assert_null(json_parse_object(s, len, &why));
  assert_string_equal(why, JSON_TOO_BIG);
  assert_int_equal(json_memory_used(), 0);
  free(s);

  s = malloc(len);
  assert_non_null(s);
  memset(s, 'a', len);
  memcpy(s, "{\"x\":\"", 6);
  memcpy(s + len - 2, "\"}", 2);
  root = json_parse_object(s, len, &why);
  assert_non_null(root);
  assert_true(json_memory_used() > len);
  assert_true(json_memory_used() < JSON_PARSE_MEMORY_MAX);
  cJSON_Delete(root);
  assert_int_equal(json_memory_used(), 0);
  free(s);

  /* A few thousand values are fine. */
  s = array_body(4001, '1');
  root = json_parse_object(s, 4001, &why);
  assert_non_null(root);
  cJSON_Delete(root);
  free(s);
}

/* ---- getters ---- */

static cJSON *parse_ok(const char *body)
{
  const char *why = NULL;
  cJSON *root = parse_exact(body, strlen(body), &why);

  if(!root)
    fail_msg("rejected %s: %s", body, why);
  return root;
}

static void test_get_string(void **state)
{
  cJSON *root = parse_ok("{\"email\":\"a@b.c\",\"name\":\"caf\xC3\xA9\","
                         "\"empty\":\"\",\"n\":5,\"z\":null,\"o\":{},"
                         "\"l\":[\"x\"],\"t\":true}");
  const char *s = "untouched";
  size_t len = 99;
  char err[128];

  (void)state;
  assert_int_equal(json_get_string(root, "email", &s, &len, err, sizeof(err)),
                   JSON_FIELD_OK);
  assert_string_equal(s, "a@b.c");
  assert_int_equal(len, 5);

  /* Length is in bytes. */
  assert_int_equal(json_get_string(root, "name", &s, &len, err, sizeof(err)),
                   JSON_FIELD_OK);
  assert_int_equal(len, 5);
  assert_int_equal(utf8_chars(s, len), 4);

  assert_int_equal(json_get_string(root, "empty", &s, NULL, err, sizeof(err)),
                   JSON_FIELD_OK);
  assert_string_equal(s, "");

  /* Missing and null leave the outputs alone. */
  s = "untouched";
  len = 99;
  assert_int_equal(json_get_string(root, "missing", &s, &len, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_int_equal(json_get_string(root, "z", &s, &len, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  /* Lookups are case-sensitive. */
  assert_int_equal(json_get_string(root, "EMAIL", &s, &len, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_string_equal(s, "untouched");
  assert_int_equal(len, 99);

  static const char *const wrong[] = { "n", "o", "l", "t" };
  for(size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
    char want[64];
    snprintf(want, sizeof(want), "field '%s' must be a string", wrong[i]);
    err[0] = '\0';
    assert_int_equal(json_get_string(root, wrong[i], &s, &len, err,
                                     sizeof(err)), JSON_FIELD_INVALID);
    assert_string_equal(err, want);
  }
  assert_string_equal(s, "untouched");
  assert_int_equal(len, 99);
  cJSON_Delete(root);
}

static void expect_int(const cJSON *root, const char *name, int64_t min,
                       int64_t max, int64_t want)
{
  int64_t v = -12345;
  char err[128] = "";

  assert_int_equal(json_get_int(root, name, min, max, &v, err, sizeof(err)),
                   JSON_FIELD_OK);
  assert_int_equal(v, want);
  assert_string_equal(err, "");
}

static void expect_bad_int(const cJSON *root, const char *name, int64_t min,
                           int64_t max, const char *msg)
{
  int64_t v = -12345;
  char err[128] = "";

  assert_int_equal(json_get_int(root, name, min, max, &v, err, sizeof(err)),
                   JSON_FIELD_INVALID);
  assert_int_equal(v, -12345);
  assert_string_equal(err, msg);
}

static void test_get_int(void **state)
{
  cJSON *root = parse_ok("{\"n\":42,\"neg\":-7,\"k\":1e3,\"z\":-0,"
                         "\"half\":1.5,\"tiny\":1e-300,\"s\":\"5\",\"t\":true,"
                         "\"l\":[1],\"nil\":null,\"big\":1e30,\"inf\":1e999,"
                         "\"max\":9223372036854775807,"
                         "\"min\":-9223372036854775808,"
                         "\"p53\":9007199254740992,\"five\":5.0,"
                         "\"exp\":25e-1}");
  int64_t v = -12345;
  char err[128];

  (void)state;
  expect_int(root, "n", INT64_MIN, INT64_MAX, 42);
  expect_int(root, "neg", -10, 10, -7);
  expect_int(root, "k", 0, 100000, 1000);
  expect_int(root, "z", 0, 0, 0);
  expect_int(root, "five", 1, 10, 5);
  expect_int(root, "p53", 0, INT64_MAX, 9007199254740992LL);
  /* -2^63 is exactly representable and in range. */
  expect_int(root, "min", INT64_MIN, 0, INT64_MIN);

  /* Bounds are inclusive. */
  expect_int(root, "n", 42, 42, 42);
  expect_bad_int(root, "n", 43, 100, "field 'n' must be between 43 and 100");
  expect_bad_int(root, "n", 1, 41, "field 'n' must be between 1 and 41");
  expect_bad_int(root, "neg", 0, 10, "field 'neg' must be between 0 and 10");

  expect_bad_int(root, "half", 0, 10, "field 'half' must be an integer");
  expect_bad_int(root, "tiny", 0, 10, "field 'tiny' must be an integer");
  expect_bad_int(root, "exp", 0, 10, "field 'exp' must be an integer");
  expect_bad_int(root, "s", 0, 10, "field 's' must be an integer");
  expect_bad_int(root, "t", 0, 10, "field 't' must be an integer");
  expect_bad_int(root, "l", 0, 10, "field 'l' must be an integer");
  expect_bad_int(root, "inf", 0, 10, "field 'inf' must be an integer");
  /* Integral but beyond int64_t: converting would be undefined. */
  expect_bad_int(root, "big", INT64_MIN, INT64_MAX,
                 "field 'big' must be between -9223372036854775808 and "
                 "9223372036854775807");
  /* 9223372036854775807 becomes the double 2^63, one past INT64_MAX. */
  expect_bad_int(root, "max", 0, INT64_MAX,
                 "field 'max' must be between 0 and 9223372036854775807");

  assert_int_equal(json_get_int(root, "nil", 0, 10, &v, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_int_equal(json_get_int(root, "missing", 0, 10, &v, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_int_equal(v, -12345);
  cJSON_Delete(root);
}

static void test_get_int_nan(void **state)
{
  /* Not reachable from a parsed body, but a tree built in code can hold
   * them. */
  cJSON *root = cJSON_CreateObject();
  char err[128];
  int64_t v = 1;

  (void)state;
  assert_non_null(root);
  assert_non_null(cJSON_AddNumberToObject(root, "nan", NAN));
  assert_non_null(cJSON_AddNumberToObject(root, "inf", -INFINITY));
  assert_int_equal(json_get_int(root, "nan", 0, 10, &v, err, sizeof(err)),
                   JSON_FIELD_INVALID);
  assert_string_equal(err, "field 'nan' must be an integer");
  assert_int_equal(json_get_int(root, "inf", INT64_MIN, INT64_MAX, &v, err,
                                sizeof(err)), JSON_FIELD_INVALID);
  assert_string_equal(err, "field 'inf' must be an integer");
  assert_int_equal(v, 1);
  cJSON_Delete(root);
}

static void test_get_bool(void **state)
{
  cJSON *root = parse_ok("{\"yes\":true,\"no\":false,\"one\":1,"
                         "\"str\":\"true\",\"nil\":null}");
  bool b = true;
  char err[128];

  (void)state;
  assert_int_equal(json_get_bool(root, "yes", &b, err, sizeof(err)),
                   JSON_FIELD_OK);
  assert_true(b);
  assert_int_equal(json_get_bool(root, "no", &b, err, sizeof(err)),
                   JSON_FIELD_OK);
  assert_false(b);

  b = true;
  assert_int_equal(json_get_bool(root, "one", &b, err, sizeof(err)),
                   JSON_FIELD_INVALID);
  assert_string_equal(err, "field 'one' must be a boolean");
  assert_int_equal(json_get_bool(root, "str", &b, err, sizeof(err)),
                   JSON_FIELD_INVALID);
  assert_string_equal(err, "field 'str' must be a boolean");
  assert_int_equal(json_get_bool(root, "nil", &b, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_int_equal(json_get_bool(root, "missing", &b, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_true(b);
  cJSON_Delete(root);
}

static void test_get_not_an_object(void **state)
{
  cJSON *arr = cJSON_CreateArray();
  const char *s = NULL;
  int64_t v = 0;
  bool b = false;
  char err[64];

  (void)state;
  assert_non_null(arr);
  cJSON_AddItemToArray(arr, cJSON_CreateString("name"));
  assert_int_equal(json_get_string(NULL, "a", &s, NULL, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_int_equal(json_get_string(arr, "name", &s, NULL, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_int_equal(json_get_int(arr, "name", 0, 1, &v, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  assert_int_equal(json_get_bool(NULL, "b", &b, err, sizeof(err)),
                   JSON_FIELD_ABSENT);
  cJSON_Delete(arr);
}

static void test_error_truncation(void **state)
{
  cJSON *root = parse_ok("{\"n\":\"x\"}");
  char small[8];
  char err[256];
  char name[201];
  char want[128];
  int64_t v;
  cJSON *obj;

  (void)state;
  /* Truncated to the buffer and still terminated. */
  memset(small, 'Z', sizeof(small));
  assert_int_equal(json_get_int(root, "n", 0, 1, &v, small, sizeof(small)),
                   JSON_FIELD_INVALID);
  assert_string_equal(small, "field '");

  small[0] = 'Z';
  assert_int_equal(json_get_int(root, "n", 0, 1, &v, small, 1),
                   JSON_FIELD_INVALID);
  assert_int_equal(small[0], '\0');

  /* No buffer at all is allowed. */
  assert_int_equal(json_get_int(root, "n", 0, 1, &v, NULL, 0),
                   JSON_FIELD_INVALID);
  assert_int_equal(json_get_bool(root, "n", NULL, small, 0),
                   JSON_FIELD_INVALID);
  cJSON_Delete(root);

  /* A long name is quoted only in part, so the reason survives. */
  memset(name, 'a', 200);
  name[200] = '\0';
  obj = cJSON_CreateObject();
  assert_non_null(obj);
  assert_non_null(cJSON_AddNumberToObject(obj, name, 1));
  assert_int_equal(json_get_bool(obj, name, NULL, err, sizeof(err)),
                   JSON_FIELD_INVALID);
  snprintf(want, sizeof(want), "field '%.64s' must be a boolean", name);
  assert_string_equal(err, want);
  cJSON_Delete(obj);

  /* And it is not cut inside a UTF-8 sequence: 63 ASCII bytes, then a
   * two-byte character across the 64-byte mark. */
  memset(name, 'b', 63);
  memcpy(name + 63, "\xC3\xA9tail", 7);
  obj = cJSON_CreateObject();
  assert_non_null(obj);
  assert_non_null(cJSON_AddNumberToObject(obj, name, 1));
  assert_int_equal(json_get_string(obj, name, NULL, NULL, err, sizeof(err)),
                   JSON_FIELD_INVALID);
  snprintf(want, sizeof(want), "field '%.63s' must be a string", name);
  assert_string_equal(err, want);
  assert_true(utf8_valid(err, strlen(err)));
  cJSON_Delete(obj);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_accepts_objects),
    cmocka_unit_test(test_parse_returns_tree),
    cmocka_unit_test(test_parse_empty),
    cmocka_unit_test(test_parse_invalid_utf8),
    cmocka_unit_test(test_parse_nul),
    cmocka_unit_test(test_parse_escaped_backslash_value),
    cmocka_unit_test(test_parse_depth),
    cmocka_unit_test(test_parse_deep_garbage),
    cmocka_unit_test(test_parse_syntax),
    cmocka_unit_test(test_parse_trailing),
    cmocka_unit_test(test_parse_control_characters),
    cmocka_unit_test(test_parse_numbers),
    cmocka_unit_test(test_parse_not_object),
    cmocka_unit_test(test_parse_duplicates),
    cmocka_unit_test(test_parse_many_keys),
    cmocka_unit_test(test_parse_memory_cap),
    cmocka_unit_test(test_get_string),
    cmocka_unit_test(test_get_int),
    cmocka_unit_test(test_get_int_nan),
    cmocka_unit_test(test_get_bool),
    cmocka_unit_test(test_get_not_an_object),
    cmocka_unit_test(test_error_truncation),
  };

  json_memory_init();     /* as the API workers do */
  return cmocka_run_group_tests(tests, NULL, NULL);
}
