/*
 * test_validate.c - input rules (common/validate.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "validate.h"

static bool email(const char *s)
{
  return email_valid(s, strlen(s));
}

static void emails(void **state)
{
  char longest[EMAIL_MAX + 2];
  (void)state;

  assert_true(email("a@b.example"));
  assert_true(email("first.last+tag@sub.example.com"));
  assert_true(email("user@localhost"));
  assert_false(email(""));
  assert_false(email("@"));
  assert_false(email("a@"));
  assert_false(email("@b.example"));
  assert_false(email("no-at.example"));
  assert_false(email("a@@b.example"));
  assert_false(email("a@b@c.example"));
  assert_false(email("a b@c.example"));
  assert_false(email("a@b .example"));
  assert_false(email("a@b..example"));
  assert_false(email("a@.example"));
  assert_false(email("a@example."));
  assert_false(email("a\r\nBcc: x@y.example"));
  assert_false(email("<a@b.example>"));
  assert_false(email("\"a\"@b.example"));
  assert_false(email("a,b@c.example"));
  assert_false(email("us\xc3\xa9r@b.example"));   /* no SMTPUTF8 */

  /* 64-byte local part is the limit. */
  memset(longest, 'a', 64);
  strcpy(longest + 64, "@b.example");
  assert_true(email(longest));
  memset(longest, 'a', 65);
  strcpy(longest + 65, "@b.example");
  assert_false(email(longest));

  /* 254 bytes in all. */
  memset(longest, 'd', sizeof(longest));
  memcpy(longest, "a@", 2);
  longest[EMAIL_MAX] = '\0';
  assert_true(email(longest));
  longest[EMAIL_MAX] = 'd';
  longest[EMAIL_MAX + 1] = '\0';
  assert_false(email(longest));
}

static void trimming(void **state)
{
  size_t len;
  const char *s;
  (void)state;

  len = strlen("  a@b.example\t\n");
  s = trim_space("  a@b.example\t\n", &len);
  assert_int_equal(len, strlen("a@b.example"));
  assert_memory_equal(s, "a@b.example", len);
  len = 3;
  s = trim_space("   ", &len);
  assert_int_equal(len, 0);
  len = 0;
  trim_space("", &len);
  assert_int_equal(len, 0);
}

static void passwords(void **state)
{
  (void)state;
  assert_false(password_length_valid(0));
  assert_false(password_length_valid(7));
  assert_true(password_length_valid(8));
  assert_true(password_length_valid(1024));
  assert_false(password_length_valid(1025));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(emails),
    cmocka_unit_test(trimming),
    cmocka_unit_test(passwords),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
