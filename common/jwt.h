/*
 * jwt.h - JSON Web Tokens, HS256 only (RFC 7519, RFC 7515).
 *
 * Trackly signs its own session tokens and verifies only those: the header
 * must say exactly {"alg":"HS256"} (a "typ" of "JWT" is allowed, "crit" is
 * not), the payload must carry "exp" and the expected "iss", and "nbf"/"iat"
 * when present are checked with a leeway.  Signatures are compared in
 * constant time.  base64url is strict: no padding, no characters outside the
 * URL-safe alphabet, no non-zero trailing bits.
 *
 * Nothing here allocates memory the caller must free, except a prepared
 * key (jwt_key_init), which jwt_key_cleanup frees.
 */
#ifndef TRACKLY_JWT_H
#define TRACKLY_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Tokens longer than this are refused before any parsing. */
#define JWT_MAX_TOKEN 4096
/* Smallest HMAC key accepted, in bytes (DESIGN §3). */
#define JWT_MIN_KEY 32

enum jwt_result {
  JWT_OK = 0,
  JWT_MALFORMED,        /* not three base64url parts of JSON objects */
  JWT_BAD_ALG,          /* alg is not exactly "HS256", or crit present */
  JWT_BAD_SIGNATURE,    /* no key produced this signature */
  JWT_EXPIRED,          /* exp missing counts as JWT_MISSING_CLAIM */
  JWT_NOT_YET_VALID,    /* nbf or iat in the future beyond leeway */
  JWT_BAD_ISSUER,
  JWT_MISSING_CLAIM,    /* exp or iss missing, or a claim of the wrong type */
  JWT_TOO_LONG,         /* over JWT_MAX_TOKEN, or output buffer too small */
  JWT_INTERNAL,         /* OpenSSL failed */
};

/* An HMAC key: data is the caller's and must outlive the key.  mac is
 * NULL (build keys zero-initialised, e.g. {.data = d, .len = n}) unless
 * jwt_key_init has prepared it; a key without it works the same, only
 * slower, as every signature then sets the key up from data again. */
struct jwt_key {
  const unsigned char *data;
  size_t len;
  void *mac;            /* OpenSSL's EVP_MAC_CTX, owned by jwt_key_init */
};

/* The claims Trackly puts in a token.  sub is the user id as a decimal
 * string, as the original service did; ver is the user's token version,
 * bumped by logout and password change to revoke every older token. */
struct jwt_claims {
  char sub[32];         /* NUL-terminated; "" when absent */
  int64_t iat;
  int64_t exp;
  int64_t nbf;          /* 0 when absent */
  int64_t ver;          /* 0 when absent */
  bool has_ver;
};

/* Prepares key for HMAC-SHA256 once (OpenSSL's key schedule: the hashed
 * inner and outer pads), so that each jwt_sign and jwt_verify with it only
 * hashes the token.  Returns 0, or -1 when the key is shorter than
 * JWT_MIN_KEY or OpenSSL fails; key->mac is then NULL and the key still
 * works unprepared.  A prepared key is reused, not copied, by every call:
 * one thread at a time.  jwt_key_cleanup frees what init allocated (safe
 * on a key never prepared) and leaves key->data alone. */
int jwt_key_init(struct jwt_key *key);
void jwt_key_cleanup(struct jwt_key *key);

/* Signs claims (sub, iat, exp, ver; nbf when non-zero) with iss into out,
 * NUL-terminated.  Returns JWT_OK, JWT_TOO_LONG when cap is too small,
 * JWT_MALFORMED when sub or iss is not UTF-8 (jwt_verify would refuse the
 * token), or JWT_INTERNAL. */
enum jwt_result jwt_sign(const struct jwt_key *key, const char *iss,
                         const struct jwt_claims *claims,
                         char *out, size_t cap);

/* Verifies token (len bytes, need not be NUL-terminated) against each of the
 * nkeys keys in turn (current key first, then the previous one during
 * rotation), then checks alg, exp, nbf, iat and iss at time now with leeway
 * seconds.  Fills *out on JWT_OK; *out is unspecified otherwise. */
enum jwt_result jwt_verify(const char *token, size_t len,
                           const struct jwt_key *keys, size_t nkeys,
                           const char *iss, int64_t now, int64_t leeway,
                           struct jwt_claims *out);

/* A short English description of a result, for logs. */
const char *jwt_strerror(enum jwt_result rc);

#endif
