/*
 * test_password.c - Argon2id hashing, verification and re-hash decisions.
 *
 * Each hash costs tens of milliseconds at the real parameters, so the
 * tests make only as many as they need.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <argon2.h>

#include "password.h"

#define PW "correct horse battery staple"

static const unsigned char fixed_salt[PASSWORD_SALT_LEN] = "0123456789abcdef";

/* An Argon2 hash at other parameters, as an older release might have
 * stored it. */
static void hash_with(argon2_type type, argon2_version version, uint32_t t,
                      uint32_t m, uint32_t p, char *out, size_t cap)
{
  int rc = argon2_hash(t, m, p, PW, strlen(PW), fixed_salt,
                       sizeof(fixed_salt), NULL, PASSWORD_HASH_LEN,
                       out, cap, type, version);
  assert_int_equal(rc, ARGON2_OK);
}

static void test_hash_verify(void **state)
{
  char h[PASSWORD_ENCODED_MAX];
  char want[64];

  (void)state;
  assert_int_equal(password_hash(PW, strlen(PW), h, sizeof(h)), 0);
  snprintf(want, sizeof(want), "$argon2id$v=19$m=%d,t=%d,p=%d$",
           PASSWORD_M_COST_KIB, PASSWORD_T_COST, PASSWORD_PARALLELISM);
  assert_memory_equal(h, want, strlen(want));

  assert_int_equal(password_verify(h, PW, strlen(PW)), 1);
  assert_int_equal(password_verify(h, "correct horse battery stapler",
                                   strlen(PW) + 1), 0);
  assert_int_equal(password_verify(h, PW, strlen(PW) - 1), 0);
  assert_int_equal(password_verify(h, "", 0), 0);
  assert_false(password_needs_rehash(h));
}

static void test_salted(void **state)
{
  char a[PASSWORD_ENCODED_MAX], b[PASSWORD_ENCODED_MAX];

  (void)state;
  assert_int_equal(password_hash(PW, strlen(PW), a, sizeof(a)), 0);
  assert_int_equal(password_hash(PW, strlen(PW), b, sizeof(b)), 0);
  assert_string_not_equal(a, b);
  assert_int_equal(password_verify(b, PW, strlen(PW)), 1);
}

static void test_small_buffer(void **state)
{
  char h[40];

  (void)state;
  assert_int_equal(password_hash(PW, strlen(PW), h, sizeof(h)), -1);
  assert_string_equal(h, "");
}

/* Any byte is part of the password: NULs do not end it early. */
static void test_binary_and_long(void **state)
{
  static const char with_nul[] = "abc\0def";
  char h[PASSWORD_ENCODED_MAX];
  char long_pw[1024];

  (void)state;
  assert_int_equal(password_hash(with_nul, 7, h, sizeof(h)), 0);
  assert_int_equal(password_verify(h, with_nul, 7), 1);
  assert_int_equal(password_verify(h, "abc", 3), 0);
  assert_int_equal(password_verify(h, "abc\0deg", 7), 0);

  memset(long_pw, 'p', sizeof(long_pw));
  long_pw[1023] = 'q';
  assert_int_equal(password_hash(long_pw, sizeof(long_pw), h, sizeof(h)), 0);
  assert_int_equal(password_verify(h, long_pw, sizeof(long_pw)), 1);
  long_pw[1023] = 'p';
  assert_int_equal(password_verify(h, long_pw, sizeof(long_pw)), 0);
  assert_int_equal(password_verify(h, long_pw, 1023), 0);
}

/* Weaker stored hashes still let the user in, and are flagged for upgrade;
 * stronger ones are left alone. */
static void test_needs_rehash_cost(void **state)
{
  char h[PASSWORD_ENCODED_MAX];

  (void)state;
  hash_with(Argon2_id, ARGON2_VERSION_13, 1, 4096, 1, h, sizeof(h));
  assert_int_equal(password_verify(h, PW, strlen(PW)), 1);
  assert_true(password_needs_rehash(h));

  hash_with(Argon2_id, ARGON2_VERSION_13, PASSWORD_T_COST, 4096, 1,
            h, sizeof(h));
  assert_true(password_needs_rehash(h));

  hash_with(Argon2_id, ARGON2_VERSION_13, 1, PASSWORD_M_COST_KIB, 1,
            h, sizeof(h));
  assert_true(password_needs_rehash(h));

  hash_with(Argon2_id, ARGON2_VERSION_13, PASSWORD_T_COST + 1,
            PASSWORD_M_COST_KIB, 1, h, sizeof(h));
  assert_int_equal(password_verify(h, PW, strlen(PW)), 1);
  assert_false(password_needs_rehash(h));

  /* The pre-1.3 Argon2 version is upgraded too. */
  hash_with(Argon2_id, ARGON2_VERSION_10, PASSWORD_T_COST,
            PASSWORD_M_COST_KIB, 1, h, sizeof(h));
  assert_true(password_needs_rehash(h));
}

/* Another Argon2 variant is neither checkable nor kept. */
static void test_argon2i(void **state)
{
  char h[PASSWORD_ENCODED_MAX];

  (void)state;
  hash_with(Argon2_i, ARGON2_VERSION_13, PASSWORD_T_COST,
            PASSWORD_M_COST_KIB, 1, h, sizeof(h));
  assert_memory_equal(h, "$argon2i$", 9);
  assert_int_equal(password_verify(h, PW, strlen(PW)), -1);
  assert_true(password_needs_rehash(h));
}

static void test_garbage(void **state)
{
  static const char *const bad[] = {
    "",
    "password",
    "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
    "$argon2id$",
    "$argon2id$v=19$m=19456,t=2,p=1",
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$",
    "$argon2id$v=19$m=19456,t=2,p=1$$aGFzaA",
    "$argon2id$v=19$m=,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
    "$argon2id$v=19$m=019456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
    "$argon2id$v=19$m=-19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
    "$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
    "$argon2id$v=19$m=19456,t=2,p=1,x=3$c2FsdHNhbHRzYWx0$aGFzaA",
    "$argon2id$v=19$t=2,m=19456,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA==",
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA$",
    "$ARGON2ID$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
  };
  size_t i;

  (void)state;
  assert_true(password_needs_rehash(NULL));
  assert_int_equal(password_verify(NULL, PW, strlen(PW)), -1);
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_true(password_needs_rehash(bad[i]));
    assert_int_equal(password_verify(bad[i], PW, strlen(PW)), -1);
  }
  /* Parsable and strong enough; whether the hash matches is verify's job. */
  assert_false(password_needs_rehash(
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaA"));
}

static double seconds(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An unknown user costs about what a wrong password does.  The bound is
 * loose so that a busy machine does not fail the test. */
static void test_dummy_verify(void **state)
{
  char h[PASSWORD_ENCODED_MAX];
  double t0, real, dummy;

  (void)state;
  assert_int_equal(password_hash(PW, strlen(PW), h, sizeof(h)), 0);
  password_dummy_verify("warm up", 7);

  t0 = seconds();
  assert_int_equal(password_verify(h, "wrong", 5), 0);
  real = seconds() - t0;
  t0 = seconds();
  password_dummy_verify("wrong", 5);
  dummy = seconds() - t0;

  assert_true(dummy > real / 4);
  assert_true(dummy < real * 4);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hash_verify),
    cmocka_unit_test(test_salted),
    cmocka_unit_test(test_small_buffer),
    cmocka_unit_test(test_binary_and_long),
    cmocka_unit_test(test_needs_rehash_cost),
    cmocka_unit_test(test_argon2i),
    cmocka_unit_test(test_garbage),
    cmocka_unit_test(test_dummy_verify),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
