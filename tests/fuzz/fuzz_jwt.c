/*
 * fuzz_jwt.c - the token verifier and strict base64url (common/jwt.c).
 *
 * The first byte picks a mode; the rest is its input:
 *   0  a raw token for jwt_verify, with a fixed current and previous key
 *      and a fixed clock.  Random bytes never carry a valid HMAC, so this
 *      covers splitting, base64url and the header checks.
 *   1  "header \n payload": two JSON texts the harness encodes and signs
 *      with the current key itself, so jwt_verify gets past the signature
 *      and reads the claims of any payload the fuzzer invents.
 *   2  claims for jwt_sign (sub and four integers from the bytes): a token
 *      we sign must verify, with the same claims, whenever its times are
 *      valid at the clock used.
 *   3  base64url_decode; whatever decodes must encode back to the very
 *      same text (strictness: one text per byte string).
 * In every mode, a verified token must carry an exp that is not past and
 * a sub that fits its buffer.  Bit 2 of the first byte picks the keys:
 * plain, or the same keys prepared once (jwt_key_init, as an API worker
 * has them), which must give the same answers; mode 2 also checks that
 * both sign the very same token.
 */
#include "fuzz.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json.h"
#include "jwt.h"
#include "base64.h"

#define ISSUER "trackly"
#define NOW 1767225600          /* 2026-01-01T00:00:00Z */
#define LEEWAY 30

static const unsigned char key_current[] =
  "fuzz-current-key-0123456789abcdef0123456789";
static const unsigned char key_previous[] =
  "fuzz-previous-key-0123456789abcdef012345678";

static const struct jwt_key plain_keys[2] = {
  {.data = key_current, .len = sizeof(key_current) - 1},
  {.data = key_previous, .len = sizeof(key_previous) - 1},
};

/* The same keys prepared, once for the whole run (freed at exit); keys is
 * whichever set the current input chose. */
static struct jwt_key prepared_keys[2];
static const struct jwt_key *keys = plain_keys;

static void release_prepared(void)
{
  jwt_key_cleanup(&prepared_keys[0]);
  jwt_key_cleanup(&prepared_keys[1]);
}

static void prepare_once(void)
{
  if(prepared_keys[0].mac)
    return;
  memcpy(prepared_keys, plain_keys, sizeof(prepared_keys));
  if(jwt_key_init(&prepared_keys[0]) || jwt_key_init(&prepared_keys[1]))
    abort();
  atexit(release_prepared);
}

static void check_verified(const struct jwt_claims *c)
{
  FUZZ_CHECK(c->exp >= NOW - LEEWAY);
  FUZZ_CHECK(c->nbf <= NOW + LEEWAY);
  FUZZ_CHECK(c->iat <= NOW + LEEWAY);
  FUZZ_CHECK(memchr(c->sub, '\0', sizeof(c->sub)));
}

static void verify(const char *token, size_t len)
{
  struct jwt_claims claims;
  char *copy = fuzz_memdup((const uint8_t *)token, len);
  enum jwt_result rc = jwt_verify(copy, len, keys, 2, ISSUER, NOW, LEEWAY,
                                  &claims);

  FUZZ_CHECK(rc >= JWT_OK && rc <= JWT_INTERNAL);
  FUZZ_CHECK(jwt_strerror(rc)[0]);
  if(rc == JWT_OK)
    check_verified(&claims);
  if(len > JWT_MAX_TOKEN)
    FUZZ_CHECK(rc == JWT_TOO_LONG);
  free(copy);
}

/* Encodes header and payload, signs them with the current key and
 * verifies the result. */
static void sign_raw(const uint8_t *hdr, size_t hlen, const uint8_t *pay,
                     size_t plen)
{
  char token[3 * JWT_MAX_TOKEN];
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  size_t pos = 0;
  long n;

  if(hlen > JWT_MAX_TOKEN / 2 || plen > JWT_MAX_TOKEN)
    return;
  n = base64url_encode(hdr, hlen, token, sizeof(token));
  FUZZ_CHECK(n >= 0);
  pos = (size_t)n;
  token[pos++] = '.';
  n = base64url_encode(pay, plen, token + pos, sizeof(token) - pos);
  FUZZ_CHECK(n >= 0);
  pos += (size_t)n;
  if(!HMAC(EVP_sha256(), key_current, (int)sizeof(key_current) - 1,
           (const unsigned char *)token, pos, mac, &maclen))
    abort();
  token[pos++] = '.';
  n = base64url_encode(mac, maclen, token + pos, sizeof(token) - pos);
  FUZZ_CHECK(n >= 0);
  pos += (size_t)n;
  verify(token, pos);
}

static int64_t take_i64(const uint8_t **p, size_t *n)
{
  uint64_t v = 0;

  for(int i = 0; i < 8 && *n; i++) {
    v = v << 8 | **p;
    (*p)++;
    (*n)--;
  }
  return (int64_t)v;
}

/* Signs fuzzed claims; a token that jwt_sign made must come back intact. */
static void round_trip(const uint8_t *data, size_t size)
{
  struct jwt_claims in = {0}, out;
  char token[JWT_MAX_TOKEN + 1];
  enum jwt_result rc;
  size_t sublen;
  /* Times stay within 2^40 s of NOW, the version within int32: the
   * range a real token has, and exact in cJSON's doubles. */
  in.iat = NOW + take_i64(&data, &size) % (1LL << 40);
  in.exp = NOW + take_i64(&data, &size) % (1LL << 40);
  in.nbf = take_i64(&data, &size) % (1LL << 40);
  in.ver = (int32_t)take_i64(&data, &size);
  in.has_ver = size && (data[0] & 1);
  sublen = size < sizeof(in.sub) - 1 ? size : sizeof(in.sub) - 1;
  memcpy(in.sub, data, sublen);
  in.sub[sublen] = '\0';

  rc = jwt_sign(&keys[0], ISSUER, &in, token, sizeof(token));
  if(!utf8_valid(in.sub, strlen(in.sub))) {
    /* The verifier takes UTF-8 only, so the signer makes no such token. */
    FUZZ_CHECK(rc == JWT_MALFORMED);
    return;
  }
  FUZZ_CHECK(rc == JWT_OK);
  FUZZ_CHECK(strlen(token) <= JWT_MAX_TOKEN);
  /* Prepared or not, a key signs the same bytes. */
  {
    const struct jwt_key *other =
      keys == plain_keys ? prepared_keys : plain_keys;
    char again[JWT_MAX_TOKEN + 1];

    FUZZ_CHECK(jwt_sign(&other[0], ISSUER, &in, again, sizeof(again)) ==
               JWT_OK);
    FUZZ_CHECK(!strcmp(again, token));
  }
  rc = jwt_verify(token, strlen(token), keys, 2, ISSUER, NOW, LEEWAY, &out);
  if(in.exp < NOW - LEEWAY)
    FUZZ_CHECK(rc == JWT_EXPIRED);
  else if(in.nbf > NOW + LEEWAY || in.iat > NOW + LEEWAY)
    FUZZ_CHECK(rc == JWT_NOT_YET_VALID);
  else
    FUZZ_CHECK(rc == JWT_OK);
  if(rc != JWT_OK)
    return;
  check_verified(&out);
  FUZZ_CHECK(out.exp == in.exp);
  FUZZ_CHECK(out.iat == in.iat);
  FUZZ_CHECK(out.nbf == in.nbf);
  FUZZ_CHECK(out.has_ver == in.has_ver);
  if(in.has_ver)
    FUZZ_CHECK(out.ver == in.ver);
  FUZZ_CHECK(!strcmp(out.sub, in.sub));
}

static void base64(const uint8_t *data, size_t size)
{
  unsigned char raw[JWT_MAX_TOKEN];
  char again[JWT_MAX_TOKEN * 2];
  char *in = fuzz_memdup(data, size);
  long n = base64url_decode(in, size, raw, sizeof(raw));
  long m;

  if(n >= 0) {
    m = base64url_encode(raw, (size_t)n, again, sizeof(again));
    FUZZ_CHECK(m >= 0 && (size_t)m == size);
    FUZZ_CHECK(!memcmp(again, in, size));
  }
  free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *rest;
  size_t restlen, hlen;

  if(!size)
    return 0;
  prepare_once();
  keys = data[0] & 4 ? prepared_keys : plain_keys;
  switch(data[0] % 4) {
  case 0:
    verify((const char *)data + 1, size - 1);
    break;
  case 1:
    hlen = fuzz_split(data + 1, size - 1, '\n', &rest, &restlen);
    sign_raw(data + 1, hlen, rest, restlen);
    break;
  case 2:
    round_trip(data + 1, size - 1);
    break;
  default:
    base64(data + 1, size - 1);
    break;
  }
  return 0;
}
