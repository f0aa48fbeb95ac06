/*
 * test_auth.c - what api/auth.c reads from request headers: the bearer
 * token of an Authorization header, the session cookie of a Cookie header,
 * the CSRF marks, and the user id of a token's claims.
 *
 * Headers are copied to the heap at their exact length (plus the NUL), so
 * a read past the end shows under valgrind and ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth.h"

static void bearer(void **state)
{
  size_t len = 99;

  (void)state;
  assert_null(auth_bearer(NULL, &len));
  assert_int_equal(len, 0);
  assert_null(auth_bearer("", &len));
  assert_null(auth_bearer("Bearer", &len));
  assert_null(auth_bearer("Bearer ", &len));
  assert_null(auth_bearer("Bearer    ", &len));
  assert_null(auth_bearer("Basic dXNlcjpwYXNz", &len));
  assert_null(auth_bearer("Bearerabc", &len));
  assert_string_equal(auth_bearer("Bearer abc.def.ghi", &len), "abc.def.ghi");
  assert_int_equal(len, 11);
  assert_string_equal(auth_bearer("bEARER   x y", &len), "x y");
  assert_int_equal(len, 3);
}

static void claims_user(void **state)
{
  struct jwt_claims c = {.sub = "42", .has_ver = true};
  int64_t uid = 0;

  (void)state;
  assert_true(auth_claims_user(&c, &uid));
  assert_int_equal(uid, 42);
  c.has_ver = false;
  assert_false(auth_claims_user(&c, &uid));
  c.has_ver = true;
  memcpy(c.sub, "042", 4);
  assert_false(auth_claims_user(&c, &uid));
  c.sub[0] = '\0';
  assert_false(auth_claims_user(&c, &uid));
}

/* Looks the session cookie up in a heap copy of header; returns the
 * verdict, with the value (or "") in out. */
static enum auth_cookie cookie(const char *header, char *out, size_t cap)
{
  char *h = header ? strdup(header) : NULL;
  const char *value = (const char *)1;
  size_t len = 99;
  enum auth_cookie rc;

  if(header)
    assert_non_null(h);
  rc = auth_cookie_find(h, AUTH_COOKIE, &value, &len);
  if(rc == AUTH_COOKIE_FOUND) {
    assert_non_null(value);
    assert_true(len > 0 && len < cap);
    assert_true(value >= h && value + len <= h + strlen(h));
    memcpy(out, value, len);
    out[len] = '\0';
  }
  else {
    assert_null(value);
    assert_int_equal(len, 0);
    out[0] = '\0';
  }
  free(h);
  return rc;
}

static void expect_cookie(const char *header, const char *want)
{
  char got[64];

  if(cookie(header, got, sizeof(got)) != AUTH_COOKIE_FOUND)
    fail_msg("no session cookie in %s", header);
  assert_string_equal(got, want);
}

static void expect_no_cookie(const char *header, enum auth_cookie want)
{
  char got[64];
  enum auth_cookie rc = cookie(header, got, sizeof(got));

  if(rc != want)
    fail_msg("%s: %d, expected %d", header ? header : "(null)", rc, want);
}

static void cookie_found(void **state)
{
  (void)state;
  expect_cookie("trackly_session=a.b.c", "a.b.c");
  expect_cookie("theme=dark; trackly_session=a.b-c_d; lang=en", "a.b-c_d");
  expect_cookie("a=1;trackly_session=x", "x");
  expect_cookie("a=1;   trackly_session=x", "x");
  expect_cookie(" trackly_session=x;", "x");
  expect_cookie("flag; trackly_session=x", "x");
  expect_cookie("x_trackly_session=no; trackly_session=yes", "yes");
  expect_cookie("a=b=c; trackly_session=v=w", "v=w");
  /* The first occurrence counts. */
  expect_cookie("trackly_session=one; trackly_session=two", "one");
}

static void cookie_absent(void **state)
{
  (void)state;
  expect_no_cookie(NULL, AUTH_COOKIE_ABSENT);
  expect_no_cookie("", AUTH_COOKIE_ABSENT);
  expect_no_cookie(";;;", AUTH_COOKIE_ABSENT);
  expect_no_cookie("other=1", AUTH_COOKIE_ABSENT);
  expect_no_cookie("Trackly_Session=x", AUTH_COOKIE_ABSENT);
  expect_no_cookie("xtrackly_session=x", AUTH_COOKIE_ABSENT);
  expect_no_cookie("trackly_sessionx=x", AUTH_COOKIE_ABSENT);
  expect_no_cookie("trackly_session =x", AUTH_COOKIE_ABSENT);
  expect_no_cookie("trackly_session", AUTH_COOKIE_ABSENT);
  expect_no_cookie("trackly_session=", AUTH_COOKIE_ABSENT);
  expect_no_cookie("trackly_session=; trackly_session=x", AUTH_COOKIE_ABSENT);
  expect_no_cookie("a=1; b=2;", AUTH_COOKIE_ABSENT);
}

static void cookie_invalid(void **state)
{
  char *big = malloc(JWT_MAX_TOKEN + 32);

  (void)state;
  expect_no_cookie("trackly_session=\"quoted\"", AUTH_COOKIE_INVALID);
  expect_no_cookie("trackly_session=a b", AUTH_COOKIE_INVALID);
  expect_no_cookie("trackly_session=x ; a=1", AUTH_COOKIE_INVALID);
  expect_no_cookie("trackly_session=a,b", AUTH_COOKIE_INVALID);
  expect_no_cookie("trackly_session=a\\b", AUTH_COOKIE_INVALID);
  expect_no_cookie("trackly_session=a\tb", AUTH_COOKIE_INVALID);
  expect_no_cookie("trackly_session=\xc3\xa9", AUTH_COOKIE_INVALID);
  expect_no_cookie("trackly_session=a\x7f", AUTH_COOKIE_INVALID);

  /* JWT_MAX_TOKEN bytes is a value; one more is not. */
  assert_non_null(big);
  memcpy(big, "trackly_session=", 16);
  memset(big + 16, 'A', JWT_MAX_TOKEN);
  big[16 + JWT_MAX_TOKEN] = '\0';
  {
    const char *value;
    size_t len;
    assert_int_equal(auth_cookie_find(big, AUTH_COOKIE, &value, &len),
                     AUTH_COOKIE_FOUND);
    assert_int_equal(len, JWT_MAX_TOKEN);
  }
  big[16 + JWT_MAX_TOKEN] = 'A';
  big[17 + JWT_MAX_TOKEN] = '\0';
  expect_no_cookie(big, AUTH_COOKIE_INVALID);
  free(big);
}

static void csrf_marks(void **state)
{
  (void)state;
  assert_true(auth_same_origin("trackly", NULL));
  assert_true(auth_same_origin("trackly", "same-origin"));
  assert_false(auth_same_origin(NULL, NULL));
  assert_false(auth_same_origin(NULL, "same-origin"));
  assert_false(auth_same_origin("", NULL));
  assert_false(auth_same_origin("Trackly", NULL));
  assert_false(auth_same_origin("trackly ", NULL));
  assert_false(auth_same_origin("XMLHttpRequest", NULL));
  assert_false(auth_same_origin("trackly", "cross-site"));
  assert_false(auth_same_origin("trackly", "same-site"));
  assert_false(auth_same_origin("trackly", "none"));
  assert_false(auth_same_origin("trackly", ""));
  assert_false(auth_same_origin("trackly", "Same-Origin"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(bearer),
    cmocka_unit_test(claims_user),
    cmocka_unit_test(cookie_found),
    cmocka_unit_test(cookie_absent),
    cmocka_unit_test(cookie_invalid),
    cmocka_unit_test(csrf_marks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
