/*
 * jwt.c - HS256 JSON Web Tokens: signing and strict verification (base64url
 * is common/base64.c).
 *
 * Trackly only ever verifies tokens it signed itself, so the verifier is
 * deliberately narrow: one algorithm, one header shape, a fixed set of
 * claims.  Everything is done in fixed-size stack buffers bounded by
 * JWT_MAX_TOKEN; the only heap memory is cJSON's, freed before returning,
 * and a prepared key's HMAC context (jwt_key_init), the caller's to free.
 */
#include "jwt.h"
#include "base64.h"
#include "json.h"

#include <string.h>
#include <strings.h>
#include <limits.h>

#include <cJSON.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#define SHA256_LEN 32

/* The header every token we sign carries, and the only "alg" we accept. */
static const char signed_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* One dot-separated part of a compact token. */
struct part {
  const char *p;
  size_t len;
};

/*
 * HMAC-SHA256 from scratch costs a fetch of the algorithm from OpenSSL's
 * provider store, a new context and the key schedule (hashing the key's
 * inner and outer pads) before the token itself is hashed.  A prepared
 * key keeps an EVP_MAC_CTX initialised with the key once; each signature
 * re-initialises it with no key, which restores the hashed pads, a
 * copy of two digest states.  That was measured faster than duplicating
 * the context (bench/jwt_bench.c, bench/results-api.md), and needs no
 * allocation of a context per request, but it mutates the context: one
 * thread at a time per key, as the API's single-threaded workers are.
 */
int jwt_key_init(struct jwt_key *key)
{
  static char digest[] = "SHA256";
  OSSL_PARAM params[2];
  EVP_MAC *hmac = NULL;
  EVP_MAC_CTX *ctx = NULL;
  int rc = -1;

  jwt_key_cleanup(key);
  if(!key->data || key->len < JWT_MIN_KEY || key->len > INT_MAX)
    return -1;
  hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if(!hmac)
    goto out;
  ctx = EVP_MAC_CTX_new(hmac);
  if(!ctx)
    goto out;
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                               digest, 0);
  params[1] = OSSL_PARAM_construct_end();
  if(!EVP_MAC_init(ctx, key->data, key->len, params) ||
     EVP_MAC_CTX_get_mac_size(ctx) != SHA256_LEN)
    goto out;
  key->mac = ctx;
  ctx = NULL;           /* the key owns it now */
  rc = 0;
out:
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);   /* the context holds its own reference */
  return rc;
}

void jwt_key_cleanup(struct jwt_key *key)
{
  if(!key)
    return;
  EVP_MAC_CTX_free(key->mac);
  key->mac = NULL;
}

/* The HMAC-SHA256 of data under key into mac (SHA256_LEN bytes): with the
 * prepared context when there is one, else, or should it fail, from the
 * key bytes.  The caller has checked the key's length.  false when OpenSSL
 * fails. */
static bool hmac_sha256(const struct jwt_key *key, const unsigned char *data,
                        size_t len, unsigned char mac[EVP_MAX_MD_SIZE])
{
  EVP_MAC_CTX *ctx = key->mac;
  unsigned int maclen = 0;
  size_t outlen = 0;

  if(ctx && EVP_MAC_init(ctx, NULL, 0, NULL) &&
     EVP_MAC_update(ctx, data, len) &&
     EVP_MAC_final(ctx, mac, &outlen, EVP_MAX_MD_SIZE) &&
     outlen == SHA256_LEN)
    return true;
  return HMAC(EVP_sha256(), key->data, (int)key->len, data, len, mac,
              &maclen) && maclen == SHA256_LEN;
}

/* Appends the base64url form of data at out[*pos], leaving room for the
 * final NUL.  0, or -1 when it does not fit. */
static int append_b64url(char *out, size_t cap, size_t *pos,
                         const void *data, size_t len)
{
  long n;

  if(*pos >= cap)
    return -1;
  n = base64url_encode(data, len, out + *pos, cap - *pos - 1);
  if(n < 0)
    return -1;
  *pos += (size_t)n;
  return 0;
}

/* Builds the compact payload JSON into buf.  The numbers go through cJSON's
 * doubles, which is exact for any time or version below 2^53. */
static enum jwt_result build_payload(const char *iss,
                                     const struct jwt_claims *claims,
                                     char *buf, size_t cap)
{
  enum jwt_result rc = JWT_INTERNAL;
  cJSON *obj = cJSON_CreateObject();

  if(!obj ||
     !cJSON_AddStringToObject(obj, "sub", claims->sub) ||
     !cJSON_AddNumberToObject(obj, "iat", (double)claims->iat) ||
     !cJSON_AddNumberToObject(obj, "exp", (double)claims->exp) ||
     (claims->nbf &&
      !cJSON_AddNumberToObject(obj, "nbf", (double)claims->nbf)) ||
     !cJSON_AddStringToObject(obj, "iss", iss) ||
     (claims->has_ver &&
      !cJSON_AddNumberToObject(obj, "ver", (double)claims->ver)))
    goto out;

  /* cJSON asks for a few bytes of slack beyond what it prints. */
  if(!cJSON_PrintPreallocated(obj, buf, (int)cap - 5, 0)) {
    rc = JWT_TOO_LONG;
    goto out;
  }
  rc = JWT_OK;
out:
  cJSON_Delete(obj);
  return rc;
}

/*
 * The token is written straight into out: base64url(header) "."
 * base64url(payload), then the HMAC of exactly those bytes is appended.
 * A key shorter than JWT_MIN_KEY is a configuration error the program
 * should have stopped on, so it is refused here rather than used.
 */
enum jwt_result jwt_sign(const struct jwt_key *key, const char *iss,
                         const struct jwt_claims *claims,
                         char *out, size_t cap)
{
  char payload[JWT_MAX_TOKEN];
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t pos = 0;
  enum jwt_result rc;

  if(!key || !key->data || key->len < JWT_MIN_KEY || key->len > INT_MAX ||
     !iss || !claims || !memchr(claims->sub, '\0', sizeof(claims->sub)) ||
     !out || !cap)
    return JWT_INTERNAL;
  out[0] = '\0';
  /* Never make a token the verifier would refuse as not UTF-8. */
  if(!utf8_valid(claims->sub, strlen(claims->sub)) ||
     !utf8_valid(iss, strlen(iss)))
    return JWT_MALFORMED;

  rc = build_payload(iss, claims, payload, sizeof(payload));
  if(rc != JWT_OK)
    goto out;

  rc = JWT_TOO_LONG;
  if(append_b64url(out, cap, &pos, signed_header, strlen(signed_header)) < 0)
    goto out;
  if(pos + 1 >= cap)
    goto out;
  out[pos++] = '.';
  if(append_b64url(out, cap, &pos, payload, strlen(payload)) < 0)
    goto out;

  rc = JWT_INTERNAL;
  if(!hmac_sha256(key, (const unsigned char *)out, pos, mac))
    goto out;

  rc = JWT_TOO_LONG;
  if(pos + 1 >= cap)
    goto out;
  out[pos++] = '.';
  /* A token jwt_verify would refuse is no use to anyone. */
  if(append_b64url(out, cap, &pos, mac, SHA256_LEN) < 0 ||
     pos > JWT_MAX_TOKEN)
    goto out;
  out[pos] = '\0';
  rc = JWT_OK;
out:
  if(rc != JWT_OK)
    out[0] = '\0';
  return rc;
}

/* Splits token at its dots: exactly two, and non-empty header and payload.
 * The signature may be empty here; an empty one simply never matches. */
static bool split(const char *token, size_t len, struct part parts[3])
{
  const char *end = token + len;
  const char *p = token;
  int i;

  for(i = 0; i < 3; i++) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    if((i < 2) != (dot != NULL))
      return false;
    if(!dot)
      dot = end;
    parts[i].p = p;
    parts[i].len = (size_t)(dot - p);
    p = dot + 1;
  }
  return parts[0].len && parts[1].len;
}

/* Decodes a base64url part and parses it as one JSON object, with nothing
 * but whitespace after it.  Returns NULL when it is anything else.  The
 * request-body rules apply (json_parse_object): UTF-8 only, and no
 * "\u0000", which cJSON would decode into a NUL that ends the string early,
 * so "HS256\u0000x" would have compared equal to "HS256" and
 * "1\u0000junk" parsed as the id 1. */
static cJSON *decode_object(const struct part *part)
{
  char buf[JWT_MAX_TOKEN + 1];
  long n;

  n = base64url_decode(part->p, part->len, (unsigned char *)buf,
                       sizeof(buf) - 1);
  if(n <= 0)
    return NULL;
  return json_parse_object(buf, (size_t)n, NULL);
}

/* Finds member name (case-sensitive, unlike cJSON_GetObjectItem) in obj.
 * Sets *item to it, or to NULL when absent; returns false when the name
 * occurs twice, since parsers disagree on which one wins. */
static bool member(const cJSON *obj, const char *name, const cJSON **item)
{
  const cJSON *child;

  *item = NULL;
  cJSON_ArrayForEach(child, obj) {
    if(child->string && !strcmp(child->string, name)) {
      if(*item)
        return false;
      *item = child;
    }
  }
  return true;
}

/* Accepts exactly alg "HS256", an optional typ "JWT", and no crit. */
static enum jwt_result check_header(const cJSON *hdr)
{
  const cJSON *alg, *typ, *crit;

  if(!member(hdr, "alg", &alg) || !member(hdr, "typ", &typ) ||
     !member(hdr, "crit", &crit))
    return JWT_MALFORMED;
  if(!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") || crit)
    return JWT_BAD_ALG;
  if(typ && (!cJSON_IsString(typ) || strcasecmp(typ->valuestring, "JWT")))
    return JWT_MALFORMED;
  return JWT_OK;
}

/*
 * Checks the signature part against the HMAC-SHA256 of header "." payload
 * under each key.  Keys shorter than JWT_MIN_KEY are skipped, so an unset
 * previous key passed as {NULL, 0} can never validate a forged token.
 */
static enum jwt_result check_signature(const char *token,
                                       const struct part *sig,
                                       const struct jwt_key *keys,
                                       size_t nkeys)
{
  unsigned char want[JWT_MAX_TOKEN / 4 * 3];
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t signed_len = (size_t)(sig->p - 1 - token);
  long n;
  size_t i;

  n = base64url_decode(sig->p, sig->len, want, sizeof(want));
  if(n < 0)
    return JWT_MALFORMED;
  if(n != SHA256_LEN)
    return JWT_BAD_SIGNATURE;

  for(i = 0; i < nkeys; i++) {
    if(!keys[i].data || keys[i].len < JWT_MIN_KEY || keys[i].len > INT_MAX)
      continue;
    if(!hmac_sha256(&keys[i], (const unsigned char *)token, signed_len, mac))
      return JWT_INTERNAL;
    if(!CRYPTO_memcmp(mac, want, SHA256_LEN))
      return JWT_OK;
  }
  return JWT_BAD_SIGNATURE;
}

/* Reads an integral numeric claim into *out.  Absent leaves *out alone and
 * is an error only when required; any other type, a fraction or a value
 * outside int64_t is JWT_MISSING_CLAIM. */
static enum jwt_result int_claim(const cJSON *payload, const char *name,
                                 bool required, int64_t *out, bool *present)
{
  const cJSON *item;
  double v;

  if(!member(payload, name, &item))
    return JWT_MALFORMED;
  if(present)
    *present = item != NULL;
  if(!item)
    return required ? JWT_MISSING_CLAIM : JWT_OK;
  if(!cJSON_IsNumber(item))
    return JWT_MISSING_CLAIM;
  v = item->valuedouble;
  /* The range test is false for NaN too. */
  if(!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) ||
     (double)(int64_t)v != v)
    return JWT_MISSING_CLAIM;
  *out = (int64_t)v;
  return JWT_OK;
}

/* Fills *out from the payload and checks iss; time checks come after. */
static enum jwt_result read_claims(const cJSON *payload, const char *iss,
                                   struct jwt_claims *out)
{
  const cJSON *item;
  enum jwt_result rc;

  memset(out, 0, sizeof(*out));
  if((rc = int_claim(payload, "exp", true, &out->exp, NULL)) ||
     (rc = int_claim(payload, "nbf", false, &out->nbf, NULL)) ||
     (rc = int_claim(payload, "iat", false, &out->iat, NULL)) ||
     (rc = int_claim(payload, "ver", false, &out->ver, &out->has_ver)))
    return rc;

  if(!member(payload, "sub", &item))
    return JWT_MALFORMED;
  if(item) {
    if(!cJSON_IsString(item) || strlen(item->valuestring) >= sizeof(out->sub))
      return JWT_MISSING_CLAIM;
    memcpy(out->sub, item->valuestring, strlen(item->valuestring) + 1);
  }

  if(!member(payload, "iss", &item))
    return JWT_MALFORMED;
  if(!cJSON_IsString(item))
    return JWT_MISSING_CLAIM;
  if(strcmp(item->valuestring, iss))
    return JWT_BAD_ISSUER;
  return JWT_OK;
}

/*
 * Order matters: the header is read only to learn that it asks for HS256,
 * then the signature is checked, and only a payload that one of our keys
 * signed is parsed.  Time comparisons are written so that the values from
 * the token are never added to, which could overflow.
 */
enum jwt_result jwt_verify(const char *token, size_t len,
                           const struct jwt_key *keys, size_t nkeys,
                           const char *iss, int64_t now, int64_t leeway,
                           struct jwt_claims *out)
{
  struct part parts[3];
  cJSON *header = NULL;
  cJSON *payload = NULL;
  enum jwt_result rc;

  if(len > JWT_MAX_TOKEN)
    return JWT_TOO_LONG;
  rc = JWT_MALFORMED;
  if(!token || !iss || !out || !split(token, len, parts))
    goto out;

  header = decode_object(&parts[0]);
  if(!header)
    goto out;
  rc = check_header(header);
  if(rc != JWT_OK)
    goto out;

  rc = check_signature(token, &parts[2], keys, nkeys);
  if(rc != JWT_OK)
    goto out;

  rc = JWT_MALFORMED;
  payload = decode_object(&parts[1]);
  if(!payload)
    goto out;
  rc = read_claims(payload, iss, out);
  if(rc != JWT_OK)
    goto out;

  if(out->exp < now - leeway)
    rc = JWT_EXPIRED;
  else if(out->nbf > now + leeway || out->iat > now + leeway)
    rc = JWT_NOT_YET_VALID;
out:
  cJSON_Delete(header);
  cJSON_Delete(payload);
  return rc;
}

const char *jwt_strerror(enum jwt_result rc)
{
  switch(rc) {
  case JWT_OK:            return "ok";
  case JWT_MALFORMED:     return "malformed token";
  case JWT_BAD_ALG:       return "unsupported algorithm or critical header";
  case JWT_BAD_SIGNATURE: return "bad signature";
  case JWT_EXPIRED:       return "token expired";
  case JWT_NOT_YET_VALID: return "token not yet valid";
  case JWT_BAD_ISSUER:    return "wrong issuer";
  case JWT_MISSING_CLAIM: return "missing or mistyped claim";
  case JWT_TOO_LONG:      return "token too long";
  case JWT_INTERNAL:      return "internal error";
  }
  return "unknown error";
}
