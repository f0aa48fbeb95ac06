/*
 * test_jwt.c - HS256 tokens and strict base64url.
 *
 * Tokens with odd headers and payloads are built here by hand (base64url
 * plus OpenSSL's HMAC) and properly signed, so each test shows that the
 * verifier refuses the content itself, not merely an unsigned forgery.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"
#include "base64.h"

#define ISS "trackly"
#define LEEWAY 30
#define NOW INT64_C(1700000000)

static const unsigned char key_a_bytes[] =
  "0123456789abcdef0123456789abcdef-current";
static const unsigned char key_b_bytes[] =
  "fedcba9876543210fedcba9876543210-previous";
static const struct jwt_key key_a = { .data = key_a_bytes,
                                      .len = sizeof(key_a_bytes) - 1 };
static const struct jwt_key key_b = { .data = key_b_bytes,
                                      .len = sizeof(key_b_bytes) - 1 };

/* base64url of a NUL-terminated string, NUL-terminated. */
static void b64(const char *s, char *out, size_t cap)
{
  long n = base64url_encode((const unsigned char *)s, strlen(s), out, cap - 1);
  assert_true(n >= 0);
  out[n] = '\0';
}

/* Appends "." and the HMAC of tok (under md and key) to tok. */
static void append_mac(const EVP_MD *md, const struct jwt_key *key,
                       char *tok, size_t cap)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  size_t pos = strlen(tok);
  long n;

  assert_non_null(HMAC(md, key->data, (int)key->len,
                       (const unsigned char *)tok, pos, mac, &maclen));
  assert_true(pos + 1 < cap);
  tok[pos++] = '.';
  n = base64url_encode(mac, maclen, tok + pos, cap - pos - 1);
  assert_true(n >= 0);
  tok[pos + (size_t)n] = '\0';
}

/* header.payload from raw parts (already base64url), signed with key. */
static void sign_parts(const struct jwt_key *key, const char *h_b64,
                       const char *p_b64, char *tok, size_t cap)
{
  int n = snprintf(tok, cap, "%s.%s", h_b64, p_b64);
  assert_true(n > 0 && (size_t)n < cap);
  append_mac(EVP_sha256(), key, tok, cap);
}

/* A token with the given JSON header and payload, HS256-signed with key. */
static void make_token(const struct jwt_key *key, const char *header,
                       const char *payload, char *tok, size_t cap)
{
  char h[JWT_MAX_TOKEN], p[JWT_MAX_TOKEN];

  b64(header, h, sizeof(h));
  b64(payload, p, sizeof(p));
  sign_parts(key, h, p, tok, cap);
}

static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* A payload valid at NOW, with extra members spliced in after the first. */
static void good_payload(char *out, size_t cap, const char *extra)
{
  int n = snprintf(out, cap,
                   "{\"sub\":\"42\"%s,\"iat\":%" PRId64 ",\"exp\":%" PRId64
                   ",\"iss\":\"" ISS "\",\"ver\":3}",
                   extra, NOW, NOW + 3600);
  assert_true(n > 0 && (size_t)n < cap);
}

/* A valid payload in payload[512] and its token signed with key. */
static void good_token(const struct jwt_key *key, char *payload, char *tok)
{
  good_payload(payload, 512, "");
  make_token(key, hs256, payload, tok, JWT_MAX_TOKEN);
}

static enum jwt_result verify_at(const char *tok, int64_t now)
{
  struct jwt_claims c;
  const struct jwt_key keys[] = { key_a };

  return jwt_verify(tok, strlen(tok), keys, 1, ISS, now, LEEWAY, &c);
}

static enum jwt_result verify(const char *tok)
{
  return verify_at(tok, NOW);
}

/* Verifies a token made from header and payload JSON, signed with key_a. */
static enum jwt_result verify_json(const char *header, const char *payload)
{
  char tok[JWT_MAX_TOKEN * 2];

  make_token(&key_a, header, payload, tok, sizeof(tok));
  return verify(tok);
}

/* ---- RFC 7515 Appendix A.1 --------------------------------------------- */

static void test_rfc7515_a1(void **state)
{
  static const char k[] = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS"
                          "0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
  static const char tok[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
    "LmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  unsigned char kbuf[64];
  struct jwt_claims c;
  struct jwt_key key = { .data = NULL };
  long n;

  (void)state;
  n = base64url_decode(k, strlen(k), kbuf, sizeof(kbuf));
  assert_int_equal(n, 64);
  key.data = kbuf;
  key.len = (size_t)n;

  assert_int_equal(jwt_verify(tok, strlen(tok), &key, 1, "joe",
                              1300819000, 30, &c), JWT_OK);
  assert_int_equal(c.exp, 1300819380);
  assert_string_equal(c.sub, "");
  assert_int_equal(c.nbf, 0);
  assert_false(c.has_ver);

  assert_int_equal(jwt_verify(tok, strlen(tok), &key, 1, "joe",
                              1300819380 + 30, 30, &c), JWT_OK);
  assert_int_equal(jwt_verify(tok, strlen(tok), &key, 1, "joe",
                              1300819380 + 31, 30, &c), JWT_EXPIRED);
  assert_int_equal(jwt_verify(tok, strlen(tok), &key, 1, "bob",
                              1300819000, 30, &c), JWT_BAD_ISSUER);

  /* The same with the key prepared once. */
  assert_int_equal(jwt_key_init(&key), 0);
  assert_int_equal(jwt_verify(tok, strlen(tok), &key, 1, "joe",
                              1300819000, 30, &c), JWT_OK);
  jwt_key_cleanup(&key);
}

/* ---- signing ------------------------------------------------------------ */

static void test_round_trip(void **state)
{
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 86400, .ver = 7,
                           .has_ver = true };
  struct jwt_claims out;
  char tok[JWT_MAX_TOKEN];

  (void)state;
  memcpy(in.sub, "12345", 6);
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok, sizeof(tok)), JWT_OK);
  assert_int_equal(jwt_verify(tok, strlen(tok), &key_a, 1, ISS, NOW, LEEWAY,
                              &out), JWT_OK);
  assert_string_equal(out.sub, "12345");
  assert_int_equal(out.iat, NOW);
  assert_int_equal(out.exp, NOW + 86400);
  assert_int_equal(out.nbf, 0);
  assert_true(out.has_ver);
  assert_int_equal(out.ver, 7);

  /* nbf round-trips, and the token is refused before it. */
  in.nbf = NOW + 600;
  in.has_ver = false;
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok, sizeof(tok)), JWT_OK);
  assert_int_equal(jwt_verify(tok, strlen(tok), &key_a, 1, ISS, NOW + 600,
                              LEEWAY, &out), JWT_OK);
  assert_int_equal(out.nbf, NOW + 600);
  assert_false(out.has_ver);
  assert_int_equal(verify(tok), JWT_NOT_YET_VALID);
}

/* The verifier takes UTF-8 only, so the signer refuses to make a token with
 * a sub that is not (found by fuzz_jwt's round trip once the verifier
 * became strict). */
static void test_sign_refuses_what_verify_would(void **state)
{
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 60 };
  char tok[JWT_MAX_TOKEN];

  (void)state;
  memcpy(in.sub, "\x01\"\\\n\x7f\xff", 7);
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok, sizeof(tok)),
                   JWT_MALFORMED);
  assert_int_equal(jwt_sign(&key_a, "iss\xc0\x80", &in, tok, sizeof(tok)),
                   JWT_MALFORMED);
  /* Control characters are UTF-8: escaped by the signer, read back. */
  memcpy(in.sub, "\x01\"\\\n\x7f", 6);
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok, sizeof(tok)), JWT_OK);
  assert_int_equal(verify(tok), JWT_OK);
}

/* The exact bytes jwt_sign produces: our header and compact JSON. */
static void test_sign_format(void **state)
{
  struct jwt_claims in = { .iat = 1000, .exp = 2000, .nbf = 1500,
                           .ver = 0, .has_ver = true };
  char tok[JWT_MAX_TOKEN], h[128], p[256], want_p[256];
  const char *dot1, *dot2;
  long n;

  (void)state;
  memcpy(in.sub, "7", 2);
  assert_int_equal(jwt_sign(&key_a, "a\"b", &in, tok, sizeof(tok)), JWT_OK);
  dot1 = strchr(tok, '.');
  assert_non_null(dot1);
  dot2 = strchr(dot1 + 1, '.');
  assert_non_null(dot2);
  assert_null(strchr(dot2 + 1, '.'));

  b64(hs256, h, sizeof(h));
  assert_int_equal(dot1 - tok, strlen(h));
  assert_memory_equal(tok, h, strlen(h));

  n = base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1),
                       (unsigned char *)p, sizeof(p) - 1);
  assert_true(n > 0);
  p[n] = '\0';
  snprintf(want_p, sizeof(want_p), "{\"sub\":\"7\",\"iat\":1000,\"exp\":2000,"
           "\"nbf\":1500,\"iss\":\"a\\\"b\",\"ver\":0}");
  assert_string_equal(p, want_p);
  assert_int_equal(strlen(dot2 + 1), 43);
}

static void test_sign_small_buffer(void **state)
{
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 60 };
  char tok[JWT_MAX_TOKEN];
  size_t len;

  (void)state;
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok, sizeof(tok)), JWT_OK);
  len = strlen(tok);
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok, len + 1), JWT_OK);
  assert_int_equal(strlen(tok), len);
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok, len), JWT_TOO_LONG);
  assert_string_equal(tok, "");
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok, 10), JWT_TOO_LONG);
}

/* An issuer so long that the token would exceed JWT_MAX_TOKEN is refused
 * even when the caller's buffer could hold it. */
static void test_sign_over_max(void **state)
{
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 60 };
  char tok[JWT_MAX_TOKEN * 2], iss[3200];

  (void)state;
  memset(iss, 'i', sizeof(iss) - 1);
  iss[sizeof(iss) - 1] = '\0';
  assert_int_equal(jwt_sign(&key_a, iss, &in, tok, sizeof(tok)),
                   JWT_TOO_LONG);
  iss[2000] = '\0';
  assert_int_equal(jwt_sign(&key_a, iss, &in, tok, sizeof(tok)), JWT_OK);
  assert_int_equal(jwt_verify(tok, strlen(tok), &key_a, 1, iss, NOW, LEEWAY,
                              &in), JWT_OK);
}

static void test_sign_short_key(void **state)
{
  static const unsigned char shortk[] = "only sixteen byt";
  const struct jwt_key k = { .data = shortk, .len = 16 };
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 60 };
  char tok[JWT_MAX_TOKEN];

  (void)state;
  assert_int_equal(jwt_sign(&k, ISS, &in, tok, sizeof(tok)), JWT_INTERNAL);
}

/* ---- signatures and keys ------------------------------------------------ */

static void test_tampered_signature(void **state)
{
  char tok[JWT_MAX_TOKEN], payload[512];
  char *sig;

  (void)state;
  good_token(&key_a, payload, tok);
  assert_int_equal(verify(tok), JWT_OK);

  sig = strrchr(tok, '.') + 1;
  sig[0] = sig[0] == 'A' ? 'B' : 'A';
  assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);

  /* A truncated signature, and a missing one. */
  make_token(&key_a, hs256, payload, tok, sizeof(tok));
  tok[strlen(tok) - 3] = '\0';
  assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
  sig = strrchr(tok, '.') + 1;
  *sig = '\0';
  assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
}

static void test_tampered_payload(void **state)
{
  char tok[JWT_MAX_TOKEN], forged[JWT_MAX_TOKEN], payload[512];
  char h[128], p[1024];
  const char *sig;

  (void)state;
  good_token(&key_a, payload, tok);
  assert_int_equal(verify(tok), JWT_OK);
  sig = strrchr(tok, '.');

  /* The same signature on a payload that now names user 1. */
  *strstr(payload, "\"42\"") = '\0';
  snprintf(payload + strlen(payload), sizeof(payload) - strlen(payload),
           "\"1\",\"iat\":0,\"exp\":9999999999,\"iss\":\"" ISS "\"}");
  b64(hs256, h, sizeof(h));
  b64(payload, p, sizeof(p));
  snprintf(forged, sizeof(forged), "%s.%s%s", h, p, sig);
  assert_int_equal(verify(forged), JWT_BAD_SIGNATURE);
}

static void test_wrong_key(void **state)
{
  char tok[JWT_MAX_TOKEN], payload[512];

  (void)state;
  good_token(&key_b, payload, tok);
  assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
}

static void test_key_rotation(void **state)
{
  const struct jwt_key both[] = { key_a, key_b };
  const struct jwt_key reversed[] = { key_b, key_a };
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 60 };
  struct jwt_claims out;
  char tok[JWT_MAX_TOKEN];
  size_t len;

  (void)state;
  memcpy(in.sub, "9", 2);
  assert_int_equal(jwt_sign(&key_b, ISS, &in, tok, sizeof(tok)), JWT_OK);
  len = strlen(tok);
  assert_int_equal(jwt_verify(tok, len, both, 2, ISS, NOW, LEEWAY, &out),
                   JWT_OK);
  assert_string_equal(out.sub, "9");
  assert_int_equal(jwt_verify(tok, len, reversed, 2, ISS, NOW, LEEWAY, &out),
                   JWT_OK);
  assert_int_equal(jwt_verify(tok, len, both, 1, ISS, NOW, LEEWAY, &out),
                   JWT_BAD_SIGNATURE);
  assert_int_equal(jwt_verify(tok, len, both, 0, ISS, NOW, LEEWAY, &out),
                   JWT_BAD_SIGNATURE);
}

/* An unset previous key passed as {NULL, 0} (or any key under JWT_MIN_KEY)
 * must never validate anything, even a token HMAC'd with that key. */
static void test_short_keys_ignored(void **state)
{
  static const unsigned char empty[1] = { 0 };
  static const unsigned char shortk[] = "only sixteen byt";
  const struct jwt_key keys[] = { { .data = NULL }, { .data = empty },
                                  { .data = shortk, .len = 16 } };
  char tok[JWT_MAX_TOKEN], payload[512];
  struct jwt_claims c;
  size_t i;

  (void)state;
  good_payload(payload, sizeof(payload), "");
  for(i = 1; i < 3; i++) {
    make_token(&keys[i], hs256, payload, tok, sizeof(tok));
    assert_int_equal(jwt_verify(tok, strlen(tok), keys, 3, ISS, NOW, LEEWAY,
                                &c), JWT_BAD_SIGNATURE);
  }
}

/* ---- prepared keys (jwt_key_init) -------------------------------------- */

/* Copies of key_a and key_b with their HMAC prepared; keys[2] is the pair
 * in the API's order, current then previous. */
static void prepare(struct jwt_key keys[2])
{
  keys[0] = (struct jwt_key){ .data = key_a.data, .len = key_a.len };
  keys[1] = (struct jwt_key){ .data = key_b.data, .len = key_b.len };
  assert_int_equal(jwt_key_init(&keys[0]), 0);
  assert_int_equal(jwt_key_init(&keys[1]), 0);
  assert_non_null(keys[0].mac);
  assert_non_null(keys[1].mac);
}

static void unprepare(struct jwt_key keys[2])
{
  jwt_key_cleanup(&keys[0]);
  jwt_key_cleanup(&keys[1]);
  assert_null(keys[0].mac);
  assert_null(keys[1].mac);
}

/* A prepared key signs byte for byte what the key bytes sign, token after
 * token (the context is reused), and each verifies the other's tokens. */
static void test_prepared_same_signatures(void **state)
{
  struct jwt_key prepared[2];
  const struct jwt_key *plain[2] = { &key_a, &key_b };
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 3600, .ver = 2,
                           .has_ver = true };
  struct jwt_claims out;
  char tok[JWT_MAX_TOKEN], want[JWT_MAX_TOKEN];
  int i, k;

  (void)state;
  prepare(prepared);
  for(i = 0; i < 20; i++) {
    for(k = 0; k < 2; k++) {
      snprintf(in.sub, sizeof(in.sub), "%d", 1000 + i);
      assert_int_equal(jwt_sign(plain[k], ISS, &in, want, sizeof(want)),
                       JWT_OK);
      assert_int_equal(jwt_sign(&prepared[k], ISS, &in, tok, sizeof(tok)),
                       JWT_OK);
      assert_string_equal(tok, want);
      assert_int_equal(jwt_verify(want, strlen(want), &prepared[k], 1, ISS,
                                  NOW, LEEWAY, &out), JWT_OK);
      assert_string_equal(out.sub, in.sub);
      assert_int_equal(jwt_verify(tok, strlen(tok), plain[k], 1, ISS,
                                  NOW, LEEWAY, &out), JWT_OK);
    }
  }
  unprepare(prepared);
}

/* Rotation as the API does it: prepared current and previous keys take
 * tokens of either, in either order; the current key alone refuses the
 * previous key's tokens; a prepared key next to an unprepared one works. */
static void test_prepared_rotation(void **state)
{
  struct jwt_key keys[2], reversed[2], mixed[2];
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 60 };
  struct jwt_claims out;
  char tok_a[JWT_MAX_TOKEN], tok_b[JWT_MAX_TOKEN];

  (void)state;
  prepare(keys);
  reversed[0] = keys[1];        /* the same contexts, shared */
  reversed[1] = keys[0];
  mixed[0] = key_a;
  mixed[1] = keys[1];
  memcpy(in.sub, "9", 2);
  assert_int_equal(jwt_sign(&key_a, ISS, &in, tok_a, sizeof(tok_a)), JWT_OK);
  assert_int_equal(jwt_sign(&key_b, ISS, &in, tok_b, sizeof(tok_b)), JWT_OK);

  assert_int_equal(jwt_verify(tok_a, strlen(tok_a), keys, 2, ISS, NOW,
                              LEEWAY, &out), JWT_OK);
  assert_int_equal(jwt_verify(tok_b, strlen(tok_b), keys, 2, ISS, NOW,
                              LEEWAY, &out), JWT_OK);
  assert_string_equal(out.sub, "9");
  assert_int_equal(jwt_verify(tok_a, strlen(tok_a), reversed, 2, ISS, NOW,
                              LEEWAY, &out), JWT_OK);
  assert_int_equal(jwt_verify(tok_b, strlen(tok_b), mixed, 2, ISS, NOW,
                              LEEWAY, &out), JWT_OK);
  assert_int_equal(jwt_verify(tok_b, strlen(tok_b), keys, 1, ISS, NOW,
                              LEEWAY, &out), JWT_BAD_SIGNATURE);
  assert_int_equal(jwt_verify(tok_a, strlen(tok_a), reversed, 1, ISS, NOW,
                              LEEWAY, &out), JWT_BAD_SIGNATURE);
  /* And once more after those failures: the context is still good. */
  assert_int_equal(jwt_verify(tok_a, strlen(tok_a), keys, 1, ISS, NOW,
                              LEEWAY, &out), JWT_OK);
  unprepare(keys);
}

/* Prepared keys refuse what the key bytes refuse: another key's token, a
 * tampered signature or payload, a token of the right key but expired. */
static void test_prepared_refusals(void **state)
{
  static const unsigned char other_bytes[] =
    "an-unrelated-key-neither-current-nor-previous";
  const struct jwt_key other = { .data = other_bytes,
                                 .len = sizeof(other_bytes) - 1 };
  struct jwt_key keys[2];
  struct jwt_claims c;
  char tok[JWT_MAX_TOKEN], payload[512], *sig;
  size_t len;

  (void)state;
  prepare(keys);
  good_token(&other, payload, tok);
  assert_int_equal(jwt_verify(tok, strlen(tok), keys, 2, ISS, NOW, LEEWAY,
                              &c), JWT_BAD_SIGNATURE);

  good_token(&key_a, payload, tok);
  len = strlen(tok);
  assert_int_equal(jwt_verify(tok, len, keys, 2, ISS, NOW, LEEWAY, &c),
                   JWT_OK);
  assert_int_equal(jwt_verify(tok, len, keys, 2, ISS, NOW + 3600 + LEEWAY + 1,
                              LEEWAY, &c), JWT_EXPIRED);
  sig = strrchr(tok, '.') + 1;
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  assert_int_equal(jwt_verify(tok, len, keys, 2, ISS, NOW, LEEWAY, &c),
                   JWT_BAD_SIGNATURE);
  sig[40] = '\0';               /* a truncated signature */
  assert_int_equal(jwt_verify(tok, strlen(tok), keys, 2, ISS, NOW, LEEWAY,
                              &c), JWT_BAD_SIGNATURE);

  /* One byte of the signed part changed (the payload's last character). */
  good_token(&key_a, payload, tok);
  len = strlen(tok);
  sig = strrchr(tok, '.');
  sig[-1] = sig[-1] == 'Q' ? 'R' : 'Q';
  assert_int_equal(jwt_verify(tok, len, keys, 2, ISS, NOW, LEEWAY, &c),
                   JWT_BAD_SIGNATURE);
  unprepare(keys);
}

/* jwt_key_init refuses what jwt_sign would refuse and leaves the key
 * usable unprepared; init twice does not leak (valgrind), cleanup is safe
 * on a key never prepared, twice, and on NULL. */
static void test_prepare_refused_and_cleanup(void **state)
{
  static const unsigned char shortk[] = "only sixteen byt";
  struct jwt_key none = { .data = NULL };
  struct jwt_key k = { .data = shortk, .len = 16 };
  struct jwt_key a = { .data = key_a.data, .len = key_a.len };
  struct jwt_claims in = { .iat = NOW, .exp = NOW + 60 };
  char tok[JWT_MAX_TOKEN];

  (void)state;
  assert_int_equal(jwt_key_init(&none), -1);
  assert_null(none.mac);
  assert_int_equal(jwt_key_init(&k), -1);
  assert_null(k.mac);
  assert_int_equal(jwt_sign(&k, ISS, &in, tok, sizeof(tok)), JWT_INTERNAL);

  assert_int_equal(jwt_key_init(&a), 0);
  assert_int_equal(jwt_key_init(&a), 0);
  assert_non_null(a.mac);
  assert_int_equal(jwt_sign(&a, ISS, &in, tok, sizeof(tok)), JWT_OK);
  assert_int_equal(verify(tok), JWT_OK);
  jwt_key_cleanup(&a);
  jwt_key_cleanup(&a);
  assert_null(a.mac);
  assert_int_equal(jwt_sign(&a, ISS, &in, tok, sizeof(tok)), JWT_OK);
  assert_int_equal(verify(tok), JWT_OK);
  jwt_key_cleanup(&none);
  jwt_key_cleanup(NULL);
}

/* ---- header ------------------------------------------------------------- */

static void test_alg_none(void **state)
{
  char tok[JWT_MAX_TOKEN], payload[512], h[128], p[512];
  int n;

  (void)state;
  good_payload(payload, sizeof(payload), "");
  b64("{\"alg\":\"none\",\"typ\":\"JWT\"}", h, sizeof(h));
  b64(payload, p, sizeof(p));

  n = snprintf(tok, sizeof(tok), "%s.%s.", h, p);
  assert_true(n > 0);
  assert_int_equal(verify(tok), JWT_BAD_ALG);

  /* Even with a signature a key really produced. */
  sign_parts(&key_a, h, p, tok, sizeof(tok));
  assert_int_equal(verify(tok), JWT_BAD_ALG);

  /* And with no dot at all after the payload. */
  n = snprintf(tok, sizeof(tok), "%s.%s", h, p);
  assert_true(n > 0);
  assert_int_equal(verify(tok), JWT_MALFORMED);
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A header (as JSON) over a good payload, and what verifying must say. */
struct header_case {
  const char *header;
  enum jwt_result want;
};

static void check_headers(const struct header_case *c, size_t n,
                          const char *payload)
{
  for(size_t i = 0; i < n; i++) {
    if(verify_json(c[i].header, payload) != c[i].want)
      fail_msg("header %s: want %d", c[i].header, (int)c[i].want);
  }
}

static const struct header_case other_alg_headers[] = {
  {"{\"alg\":\"HS512\"}", JWT_BAD_ALG},
  {"{\"alg\":\"hs256\"}", JWT_BAD_ALG},
  {"{\"alg\":\"HS256 \"}", JWT_BAD_ALG},
  {"{\"alg\":\"RS256\"}", JWT_BAD_ALG},
  {"{\"typ\":\"JWT\"}", JWT_BAD_ALG},
  {"{\"ALG\":\"HS256\"}", JWT_BAD_ALG},
  {"{\"alg\":[\"HS256\"]}", JWT_BAD_ALG},
  {"{\"alg\":null}", JWT_BAD_ALG},
  /* Two algs: parsers differ on which wins, so neither does. */
  {"{\"alg\":\"HS256\",\"alg\":\"none\"}", JWT_MALFORMED},
};

static void test_other_algs(void **state)
{
  char tok[JWT_MAX_TOKEN], payload[512], h[128], p[512];

  (void)state;
  good_payload(payload, sizeof(payload), "");

  /* A genuine HS512 token under the right key is still refused. */
  b64("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", h, sizeof(h));
  b64(payload, p, sizeof(p));
  snprintf(tok, sizeof(tok), "%s.%s", h, p);
  append_mac(EVP_sha512(), &key_a, tok, sizeof(tok));
  assert_int_equal(verify(tok), JWT_BAD_ALG);

  check_headers(other_alg_headers, ARRAY_LEN(other_alg_headers), payload);
}

static const struct header_case shaped_headers[] = {
  {"{\"alg\":\"HS256\"}", JWT_OK},
  {" {\"typ\":\"jwt\", \"alg\":\"HS256\"} ", JWT_OK},
  {"{\"alg\":\"HS256\",\"kid\":\"x\"}", JWT_OK},
  {"{\"alg\":\"HS256\",\"typ\":\"JOSE\"}", JWT_MALFORMED},
  {"{\"alg\":\"HS256\",\"typ\":1}", JWT_MALFORMED},
  {"[\"HS256\"]", JWT_MALFORMED},
  {"\"HS256\"", JWT_MALFORMED},
  {"null", JWT_MALFORMED},
  {"{\"alg\":\"HS256\"", JWT_MALFORMED},
  {"{\"alg\":\"HS256\"}x", JWT_MALFORMED},
  {"{\"alg\":\"HS256\"}{}", JWT_MALFORMED},
  {"", JWT_MALFORMED},
};

static void test_header_shape(void **state)
{
  char payload[512];

  (void)state;
  good_payload(payload, sizeof(payload), "");
  check_headers(shaped_headers, ARRAY_LEN(shaped_headers), payload);
}

static void test_crit(void **state)
{
  char payload[512];

  (void)state;
  good_payload(payload, sizeof(payload), "");
  assert_int_equal(verify_json("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
                               payload), JWT_BAD_ALG);
  assert_int_equal(verify_json("{\"alg\":\"HS256\",\"crit\":[]}", payload),
                   JWT_BAD_ALG);
  assert_int_equal(verify_json("{\"crit\":null,\"alg\":\"HS256\"}",
                               payload), JWT_BAD_ALG);
}

/* ---- claims ------------------------------------------------------------- */

static void test_exp(void **state)
{
  char p[512];

  (void)state;
  assert_int_equal(verify_json(hs256, "{\"iss\":\"" ISS "\"}"),
                   JWT_MISSING_CLAIM);
  assert_int_equal(verify_json(hs256, "{\"iss\":\"" ISS "\",\"exp\":\"9\"}"),
                   JWT_MISSING_CLAIM);
  assert_int_equal(verify_json(hs256, "{\"iss\":\"" ISS "\",\"exp\":null}"),
                   JWT_MISSING_CLAIM);
  assert_int_equal(verify_json(hs256,
                               "{\"iss\":\"" ISS "\",\"exp\":1e300}"),
                   JWT_MISSING_CLAIM);

  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"exp\":%" PRId64 ".5}",
           NOW + 100);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);

  /* Past, beyond the leeway and within it. */
  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"exp\":%" PRId64 "}",
           NOW - LEEWAY - 1);
  assert_int_equal(verify_json(hs256, p), JWT_EXPIRED);
  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"exp\":%" PRId64 "}",
           NOW - 3600);
  assert_int_equal(verify_json(hs256, p), JWT_EXPIRED);
  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"exp\":%" PRId64 "}",
           NOW - LEEWAY);
  assert_int_equal(verify_json(hs256, p), JWT_OK);
  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"exp\":%" PRId64 "}",
           NOW - 1);
  assert_int_equal(verify_json(hs256, p), JWT_OK);
  /* exp written as 1.7e9 is still an integer. */
  assert_int_equal(verify_json(hs256,
                               "{\"iss\":\"" ISS "\",\"exp\":1.7e9}"),
                   JWT_OK);
  /* Extremes do not overflow. */
  assert_int_equal(verify_json(hs256, "{\"iss\":\"" ISS
                               "\",\"exp\":-9223372036854775808}"),
                   JWT_EXPIRED);
  assert_int_equal(verify_json(hs256, "{\"iss\":\"" ISS
                               "\",\"exp\":9223372036854775807}"),
                   JWT_MISSING_CLAIM);
}

static void test_nbf_iat(void **state)
{
  char p[512], extra[64];

  (void)state;
  snprintf(extra, sizeof(extra), ",\"nbf\":%" PRId64, NOW + LEEWAY + 1);
  good_payload(p, sizeof(p), extra);
  assert_int_equal(verify_json(hs256, p), JWT_NOT_YET_VALID);

  snprintf(extra, sizeof(extra), ",\"nbf\":%" PRId64, NOW + LEEWAY);
  good_payload(p, sizeof(p), extra);
  assert_int_equal(verify_json(hs256, p), JWT_OK);

  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"iat\":%" PRId64
           ",\"exp\":%" PRId64 "}", NOW + LEEWAY + 1, NOW + 3600);
  assert_int_equal(verify_json(hs256, p), JWT_NOT_YET_VALID);
  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"iat\":%" PRId64
           ",\"exp\":%" PRId64 "}", NOW + LEEWAY, NOW + 3600);
  assert_int_equal(verify_json(hs256, p), JWT_OK);

  good_payload(p, sizeof(p), ",\"nbf\":\"0\"");
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);
  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"iat\":true,\"exp\":%"
           PRId64 "}", NOW + 3600);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);
}

static void test_iss(void **state)
{
  char p[512];

  (void)state;
  snprintf(p, sizeof(p), "{\"iss\":\"evil\",\"exp\":%" PRId64 "}", NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_BAD_ISSUER);
  snprintf(p, sizeof(p), "{\"iss\":\"Trackly\",\"exp\":%" PRId64 "}",
           NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_BAD_ISSUER);
  snprintf(p, sizeof(p), "{\"iss\":\"" ISS "x\",\"exp\":%" PRId64 "}",
           NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_BAD_ISSUER);
  snprintf(p, sizeof(p), "{\"exp\":%" PRId64 "}", NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);
  snprintf(p, sizeof(p), "{\"iss\":1,\"exp\":%" PRId64 "}", NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);
  snprintf(p, sizeof(p), "{\"ISS\":\"" ISS "\",\"exp\":%" PRId64 "}",
           NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);
}

static void test_sub_ver(void **state)
{
  char p[512], extra[128];

  (void)state;
  snprintf(p, sizeof(p), "{\"sub\":42,\"iss\":\"" ISS "\",\"exp\":%" PRId64
           "}", NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);
  /* 31 characters fit claims.sub, 32 do not. */
  snprintf(p, sizeof(p), "{\"sub\":\"%031d\",\"iss\":\"" ISS "\",\"exp\":%"
           PRId64 "}", 1, NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_OK);
  snprintf(p, sizeof(p), "{\"sub\":\"%032d\",\"iss\":\"" ISS "\",\"exp\":%"
           PRId64 "}", 1, NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);

  snprintf(p, sizeof(p), "{\"ver\":\"3\",\"iss\":\"" ISS "\",\"exp\":%"
           PRId64 "}", NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);
  snprintf(p, sizeof(p), "{\"ver\":3.5,\"iss\":\"" ISS "\",\"exp\":%"
           PRId64 "}", NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MISSING_CLAIM);
  snprintf(extra, sizeof(extra), ",\"sub\":\"43\"");
  good_payload(p, sizeof(p), extra);
  assert_int_equal(verify_json(hs256, p), JWT_MALFORMED);
}

static void test_payload_shape(void **state)
{
  char p[512];

  (void)state;
  assert_int_equal(verify_json(hs256, "[]"), JWT_MALFORMED);
  assert_int_equal(verify_json(hs256, "42"), JWT_MALFORMED);
  assert_int_equal(verify_json(hs256, "not json"), JWT_MALFORMED);
  good_payload(p, sizeof(p), "");
  snprintf(p + strlen(p), sizeof(p) - strlen(p), "x");
  assert_int_equal(verify_json(hs256, p), JWT_MALFORMED);
}

/* A "\u0000" escape used to become a NUL inside cJSON's string, cutting
 * "HS256\u0000x" to "HS256" and "42\u0000x" to the id 42; text that is not
 * UTF-8 was accepted too.  Both parts now follow the request-body rules. */
static void test_nul_escapes_and_bad_utf8(void **state)
{
  char p[512];

  (void)state;
  good_payload(p, sizeof(p), "");
  assert_int_equal(verify_json(hs256, p), JWT_OK);
  assert_int_equal(verify_json("{\"alg\":\"HS256\\u0000x\"}", p),
                   JWT_MALFORMED);
  assert_int_equal(verify_json("{\"alg\":\"HS256\",\"x\":\"\xff\"}", p),
                   JWT_MALFORMED);
  good_payload(p, sizeof(p), ",\"x\":\"\xc0\x80\"");
  assert_int_equal(verify_json(hs256, p), JWT_MALFORMED);
  snprintf(p, sizeof(p), "{\"sub\":\"42\\u0000x\",\"iss\":\"" ISS "\","
           "\"exp\":%" PRId64 "}", NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MALFORMED);
  snprintf(p, sizeof(p), "{\"sub\":\"42\",\"iss\":\"" ISS "\\u0000x\","
           "\"exp\":%" PRId64 "}", NOW + 60);
  assert_int_equal(verify_json(hs256, p), JWT_MALFORMED);
}

/* ---- token syntax ------------------------------------------------------- */

/* Signs "h.p" where p is the given (possibly invalid) base64url text. */
static enum jwt_result verify_raw_payload(const char *p_b64)
{
  char tok[JWT_MAX_TOKEN], h[128];

  b64(hs256, h, sizeof(h));
  sign_parts(&key_a, h, p_b64, tok, sizeof(tok));
  return verify(tok);
}

static void test_bad_base64url(void **state)
{
  char tok[JWT_MAX_TOKEN], payload[512], p[1024], bad[2048], h[128];
  size_t plen;

  (void)state;
  good_payload(payload, sizeof(payload), "");
  b64(payload, p, sizeof(p));
  plen = strlen(p);
  assert_int_equal(verify_raw_payload(p), JWT_OK);

  /* Padding, the standard alphabet, whitespace: all signed, all refused. */
  snprintf(bad, sizeof(bad), "%s=", p);
  assert_int_equal(verify_raw_payload(bad), JWT_MALFORMED);
  snprintf(bad, sizeof(bad), "%s", p);
  bad[5] = '+';
  assert_int_equal(verify_raw_payload(bad), JWT_MALFORMED);
  bad[5] = '/';
  assert_int_equal(verify_raw_payload(bad), JWT_MALFORMED);
  bad[5] = ' ';
  assert_int_equal(verify_raw_payload(bad), JWT_MALFORMED);
  snprintf(bad, sizeof(bad), "%.*s\n%s", 8, p, p + 8);
  assert_int_equal(verify_raw_payload(bad), JWT_MALFORMED);

  /* "e30" is "{}"; "e31" decodes the same in a lax decoder. */
  b64(hs256, h, sizeof(h));
  sign_parts(&key_a, h, "e31", tok, sizeof(tok));
  assert_int_equal(verify(tok), JWT_MALFORMED);

  /* length % 4 == 1 */
  snprintf(bad, sizeof(bad), "%.*s", (int)(plen - (plen + 3) % 4), p);
  assert_int_equal(strlen(bad) % 4, 1);
  assert_int_equal(verify_raw_payload(bad), JWT_MALFORMED);

  /* The header and signature are held to the same rules. */
  make_token(&key_a, hs256, payload, tok, sizeof(tok));
  memmove(tok + 1, tok, strlen(tok) + 1);
  tok[0] = '=';
  assert_int_equal(verify(tok), JWT_MALFORMED);
  make_token(&key_a, hs256, payload, tok, sizeof(tok));
  snprintf(tok + strlen(tok), sizeof(tok) - strlen(tok), "=");
  assert_int_equal(verify(tok), JWT_MALFORMED);
  make_token(&key_a, hs256, payload, tok, sizeof(tok));
  tok[strlen(tok) - 1] = '+';
  assert_int_equal(verify(tok), JWT_MALFORMED);
}

/* A 32-byte signature is 43 characters whose last one carries two unused
 * bits; setting them must not yield a second valid spelling. */
static void test_signature_trailing_bits(void **state)
{
  char tok[JWT_MAX_TOKEN], payload[512];
  char *last;

  (void)state;
  good_token(&key_a, payload, tok);
  last = tok + strlen(tok) - 1;
  assert_true(strchr("AEIMQUYcgkosw048", *last) != NULL);
  *last = (char)(*last + 1);
  assert_int_equal(verify(tok), JWT_MALFORMED);
}

static void test_dots(void **state)
{
  char tok[JWT_MAX_TOKEN], bad[JWT_MAX_TOKEN * 2], payload[512];
  const char *d1, *d2;
  struct jwt_claims c;

  (void)state;
  good_token(&key_a, payload, tok);
  d1 = strchr(tok, '.');
  d2 = strchr(d1 + 1, '.');

  snprintf(bad, sizeof(bad), "%s.", tok);
  assert_int_equal(verify(bad), JWT_MALFORMED);
  snprintf(bad, sizeof(bad), "%s.%s", tok, d2 + 1);
  assert_int_equal(verify(bad), JWT_MALFORMED);
  snprintf(bad, sizeof(bad), "%.*s", (int)(d2 - tok), tok);
  assert_int_equal(verify(bad), JWT_MALFORMED);
  snprintf(bad, sizeof(bad), "%.*s", (int)(d1 - tok), tok);
  assert_int_equal(verify(bad), JWT_MALFORMED);
  snprintf(bad, sizeof(bad), "%s", d1);           /* empty header */
  assert_int_equal(verify(bad), JWT_MALFORMED);
  snprintf(bad, sizeof(bad), "%.*s%s", (int)(d1 - tok + 1), tok, d2);
  assert_int_equal(verify(bad), JWT_MALFORMED);   /* empty payload */
  assert_int_equal(verify(""), JWT_MALFORMED);
  assert_int_equal(verify(".."), JWT_MALFORMED);
  assert_int_equal(verify("..."), JWT_MALFORMED);

  /* len bounds the token: bytes after it are ignored, a NUL inside it is
   * not a terminator. */
  snprintf(bad, sizeof(bad), "%sgarbage", tok);
  assert_int_equal(jwt_verify(bad, strlen(tok), &key_a, 1, ISS, NOW, LEEWAY,
                              &c), JWT_OK);
  assert_int_equal(jwt_verify(tok, strlen(tok) + 1, &key_a, 1, ISS, NOW,
                              LEEWAY, &c), JWT_MALFORMED);
}

/* Pads the payload until the token is exactly JWT_MAX_TOKEN long: that one
 * verifies, one byte more is refused before parsing. */
static void test_max_length(void **state)
{
  char tok[JWT_MAX_TOKEN * 2], payload[JWT_MAX_TOKEN], pad[JWT_MAX_TOKEN];
  char extra[JWT_MAX_TOKEN + 16];
  size_t n;
  bool hit = false;

  (void)state;
  for(n = 2900; n < 3000 && !hit; n++) {
    memset(pad, 'x', n);
    pad[n] = '\0';
    snprintf(extra, sizeof(extra), ",\"pad\":\"%s\"", pad);
    good_payload(payload, sizeof(payload), extra);
    make_token(&key_a, hs256, payload, tok, sizeof(tok));
    assert_true(strlen(tok) <= JWT_MAX_TOKEN);
    hit = strlen(tok) == JWT_MAX_TOKEN;
  }
  assert_true(hit);
  assert_int_equal(verify(tok), JWT_OK);

  /* n is already one past the padding that hit the limit. */
  memset(pad, 'x', n);
  pad[n] = '\0';
  snprintf(extra, sizeof(extra), ",\"pad\":\"%s\"", pad);
  good_payload(payload, sizeof(payload), extra);
  make_token(&key_a, hs256, payload, tok, sizeof(tok));
  assert_true(strlen(tok) > JWT_MAX_TOKEN);
  assert_int_equal(verify(tok), JWT_TOO_LONG);

  memset(tok, 'A', JWT_MAX_TOKEN + 1);
  tok[JWT_MAX_TOKEN + 1] = '\0';
  assert_int_equal(verify(tok), JWT_TOO_LONG);
}

static void test_strerror(void **state)
{
  int r;

  (void)state;
  for(r = JWT_OK; r <= JWT_INTERNAL; r++) {
    const char *s = jwt_strerror((enum jwt_result)r);
    assert_non_null(s);
    assert_true(strlen(s) > 0);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rfc7515_a1),
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_sign_refuses_what_verify_would),
    cmocka_unit_test(test_sign_format),
    cmocka_unit_test(test_sign_small_buffer),
    cmocka_unit_test(test_sign_over_max),
    cmocka_unit_test(test_sign_short_key),
    cmocka_unit_test(test_tampered_signature),
    cmocka_unit_test(test_tampered_payload),
    cmocka_unit_test(test_wrong_key),
    cmocka_unit_test(test_key_rotation),
    cmocka_unit_test(test_short_keys_ignored),
    cmocka_unit_test(test_prepared_same_signatures),
    cmocka_unit_test(test_prepared_rotation),
    cmocka_unit_test(test_prepared_refusals),
    cmocka_unit_test(test_prepare_refused_and_cleanup),
    cmocka_unit_test(test_alg_none),
    cmocka_unit_test(test_other_algs),
    cmocka_unit_test(test_header_shape),
    cmocka_unit_test(test_crit),
    cmocka_unit_test(test_exp),
    cmocka_unit_test(test_nbf_iat),
    cmocka_unit_test(test_iss),
    cmocka_unit_test(test_sub_ver),
    cmocka_unit_test(test_payload_shape),
    cmocka_unit_test(test_nul_escapes_and_bad_utf8),
    cmocka_unit_test(test_bad_base64url),
    cmocka_unit_test(test_signature_trailing_bits),
    cmocka_unit_test(test_dots),
    cmocka_unit_test(test_max_length),
    cmocka_unit_test(test_strerror),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
