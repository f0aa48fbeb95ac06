/*
 * test_base64.c - common/base64: standard base64 and base64url against
 * RFC 4648's vectors and OpenSSL, their strictness, and hex.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "base64.h"

/* ---- standard base64 ---------------------------------------------------- */

static void test_std_vectors(void **state)
{
  static const char *const vec[][2] = {
    { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" }, { "\xfb\xff", "+/8=" },
  };
  char enc[16];
  unsigned char dec[16];
  long n;

  (void)state;
  for(size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
    n = base64_encode((const unsigned char *)vec[i][0], strlen(vec[i][0]),
                      enc, sizeof(enc));
    assert_int_equal(n, strlen(vec[i][1]));
    assert_int_equal(base64_encoded_len(strlen(vec[i][0])), (size_t)n);
    assert_memory_equal(enc, vec[i][1], (size_t)n);
    n = base64_decode(vec[i][1], strlen(vec[i][1]), dec, sizeof(dec));
    assert_int_equal(n, strlen(vec[i][0]));
    assert_memory_equal(dec, vec[i][0], (size_t)n);
  }

  /* Padding exactly where it belongs, and nothing else. */
  {
    static const char *const bad[] = {
      "Zg", "Zg=", "Zh==", "Z===", "Zm=v", "-_8=", "Zm9v\r\n",
    };
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
      assert_int_equal(base64_decode(bad[i], strlen(bad[i]), dec,
                                     sizeof(dec)), -1);
  }

  /* Output buffers exactly big enough, and one byte short. */
  assert_int_equal(base64_encode((const unsigned char *)"f", 1, enc, 4), 4);
  assert_int_equal(base64_encode((const unsigned char *)"f", 1, enc, 3), -1);
  assert_int_equal(base64_decode("Zm9vYg==", 8, dec, 4), 4);
  assert_int_equal(base64_decode("Zm9vYg==", 8, dec, 3), -1);
}

/* Every length 0..70, checked against OpenSSL. */
static void test_std_round_trip(void **state)
{
  unsigned char in[70], dec[70], ref[100];
  char enc[100];
  long n;

  (void)state;
  for(size_t i = 0; i < sizeof(in); i++)
    in[i] = (unsigned char)(i * 37 + 11 + (i >> 2) * 200);
  for(size_t len = 0; len <= sizeof(in); len++) {
    n = base64_encode(in, len, enc, sizeof(enc));
    assert_int_equal(n, EVP_EncodeBlock(ref, in, (int)len));
    assert_memory_equal(enc, ref, (size_t)n);
    assert_int_equal(base64_decode(enc, (size_t)n, dec, len), (long)len);
    assert_memory_equal(dec, in, len);
  }
}

/* ---- base64url ---------------------------------------------------------- */

static void test_url_vectors(void **state)
{
  static const char *const vec[][2] = {
    { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
    { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
    { "\xfb\xff", "-_8" },
  };
  char enc[16];
  unsigned char dec[16];
  size_t i;
  long n;

  (void)state;
  for(i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
    n = base64url_encode((const unsigned char *)vec[i][0], strlen(vec[i][0]),
                         enc, sizeof(enc));
    assert_int_equal(n, strlen(vec[i][1]));
    assert_memory_equal(enc, vec[i][1], (size_t)n);
    n = base64url_decode(vec[i][1], strlen(vec[i][1]), dec, sizeof(dec));
    assert_int_equal(n, strlen(vec[i][0]));
    assert_memory_equal(dec, vec[i][0], (size_t)n);
  }

  /* Non-zero trailing bits, a lone last character, padding, NUL, space
   * and the standard alphabet's two characters. */
  assert_int_equal(base64url_decode("QQ", 2, dec, sizeof(dec)), 1);
  assert_int_equal(base64url_decode("QUI", 3, dec, sizeof(dec)), 2);
  {
    static const struct {
      const char *s;
      size_t len;
    } bad[] = {
      {"QR", 2}, {"QUJ", 3}, {"QUJDR", 5}, {"QQ==", 4}, {"Zm9v\0", 5},
      {"Zm 9v", 5}, {"+/+/", 4},
    };
    for(size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
      assert_int_equal(base64url_decode(bad[j].s, bad[j].len, dec,
                                        sizeof(dec)), -1);
  }

  /* Output buffers exactly big enough, and one byte short. */
  assert_int_equal(base64url_encode((const unsigned char *)"foo", 3, enc, 4),
                   4);
  assert_int_equal(base64url_encode((const unsigned char *)"foo", 3, enc, 3),
                   -1);
  assert_int_equal(base64url_decode("Zm9vYg", 6, dec, 4), 4);
  assert_int_equal(base64url_decode("Zm9vYg", 6, dec, 3), -1);
}

/* Every length 0..70, checked against OpenSSL's standard base64 with the
 * alphabet swapped and the padding dropped. */
static void test_url_round_trip(void **state)
{
  unsigned char in[70], dec[70];
  unsigned char ref[100];
  char enc[100];
  size_t len, i;
  long n;
  int rn;

  (void)state;
  for(i = 0; i < sizeof(in); i++)
    in[i] = (unsigned char)(i * 37 + 11 + (i >> 2) * 200);

  for(len = 0; len <= sizeof(in); len++) {
    n = base64url_encode(in, len, enc, sizeof(enc));
    assert_int_equal(n, (len * 4 + 2) / 3);

    rn = EVP_EncodeBlock(ref, in, (int)len);
    while(rn > 0 && ref[rn - 1] == '=')
      rn--;
    for(i = 0; i < (size_t)rn; i++)
      ref[i] = ref[i] == '+' ? '-' : ref[i] == '/' ? '_' : ref[i];
    assert_int_equal(n, rn);
    assert_memory_equal(enc, ref, (size_t)rn);

    memset(dec, 0xaa, sizeof(dec));
    assert_int_equal(base64url_decode(enc, (size_t)n, dec, len), (long)len);
    assert_memory_equal(dec, in, len);
    if(len)
      assert_int_equal(base64url_decode(enc, (size_t)n, dec, len - 1), -1);
  }
}

/* ---- hex ---------------------------------------------------------------- */

static void test_hex(void **state)
{
  char out[9];

  (void)state;
  hex_encode((const unsigned char *)"\x00\x9f\xa0\xff", 4, out);
  assert_string_equal(out, "009fa0ff");
  hex_encode((const unsigned char *)"", 0, out);
  assert_string_equal(out, "");
  assert_int_equal(hex_digit('0'), 0);
  assert_int_equal(hex_digit('9'), 9);
  assert_int_equal(hex_digit('a'), 10);
  assert_int_equal(hex_digit('F'), 15);
  assert_int_equal(hex_digit('g'), -1);
  assert_int_equal(hex_digit('/'), -1);
  assert_int_equal(hex_digit('\0'), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_std_vectors),
    cmocka_unit_test(test_std_round_trip),
    cmocka_unit_test(test_url_vectors),
    cmocka_unit_test(test_url_round_trip),
    cmocka_unit_test(test_hex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
