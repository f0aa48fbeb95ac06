/*
 * password.c - Argon2id password hashes as PHC strings (libargon2).
 *
 * libargon2 does the hashing, encoding and constant-time comparison; this
 * file picks the cost, supplies the salt from OpenSSL's RNG, and reads the
 * cost back out of stored hashes so that weaker ones get upgraded.
 */
#include "password.h"

#include <stdint.h>
#include <string.h>

#include <argon2.h>
#include <openssl/rand.h>

int password_hash(const char *pw, size_t len, char *out, size_t cap)
{
  unsigned char salt[PASSWORD_SALT_LEN];
  int rc = -1;

  if(!out || !cap)
    return -1;
  out[0] = '\0';
  if(RAND_bytes(salt, sizeof(salt)) != 1)
    goto out;
  if(argon2id_hash_encoded(PASSWORD_T_COST, PASSWORD_M_COST_KIB,
                           PASSWORD_PARALLELISM, pw, len,
                           salt, sizeof(salt), PASSWORD_HASH_LEN,
                           out, cap) != ARGON2_OK)
    goto out;
  rc = 0;
out:
  if(rc)
    out[0] = '\0';
  return rc;
}

/* libargon2 rejects anything that is not "$argon2id$..." with a decoding
 * error, which is how an argon2i or bcrypt hash ends up as -1 here. */
int password_verify(const char *encoded, const char *pw, size_t len)
{
  int rc;

  if(!encoded)
    return -1;
  rc = argon2id_verify(encoded, pw, len);
  if(rc == ARGON2_OK)
    return 1;
  if(rc == ARGON2_VERIFY_MISMATCH)
    return 0;
  return -1;
}

/* Consumes prefix at *s.  Returns false when *s does not start with it. */
static bool skip(const char **s, const char *prefix)
{
  size_t n = strlen(prefix);

  if(strncmp(*s, prefix, n))
    return false;
  *s += n;
  return true;
}

/* Reads a decimal uint32_t at *s: digits only, no leading zero, no
 * overflow.  Advances *s past it. */
static bool decimal(const char **s, uint32_t *out)
{
  const char *p = *s;
  uint64_t v = 0;

  if(*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
    return false;
  for(; *p >= '0' && *p <= '9'; p++) {
    v = v * 10 + (uint64_t)(*p - '0');
    if(v > UINT32_MAX)
      return false;
  }
  *out = (uint32_t)v;
  *s = p;
  return true;
}

/* Skips a non-empty run of unpadded standard base64, as PHC uses. */
static bool b64_field(const char **s)
{
  size_t n = strspn(*s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "abcdefghijklmnopqrstuvwxyz0123456789+/");

  *s += n;
  return n > 0;
}

/*
 * Only the exact shape password_hash writes counts as parsable:
 * "$argon2id$v=19$m=M,t=T,p=P$salt$hash".  Anything else (another Argon2
 * variant or version, another scheme, a damaged string) is reported as
 * needing a re-hash, which is the safe answer: the caller re-hashes only
 * after password_verify has accepted the password.
 */
bool password_needs_rehash(const char *encoded)
{
  uint32_t m, t, p;
  const char *s = encoded;

  if(!s)
    return true;
  if(!skip(&s, "$argon2id$v=19$m=") || !decimal(&s, &m) ||
     !skip(&s, ",t=") || !decimal(&s, &t) ||
     !skip(&s, ",p=") || !decimal(&s, &p) ||
     !skip(&s, "$") || !b64_field(&s) ||
     !skip(&s, "$") || !b64_field(&s) || *s)
    return true;
  return m < PASSWORD_M_COST_KIB || t < PASSWORD_T_COST ||
         p < PASSWORD_PARALLELISM;
}

/*
 * The reference hash is made on first use, at the cost in force, so the
 * work matches a real verify even after the constants change.  The static
 * buffer is the only state in this module; the programs that use it are
 * single-threaded.  The first call pays for one extra hash.
 */
void password_dummy_verify(const char *pw, size_t len)
{
  static char dummy[PASSWORD_ENCODED_MAX];
  static const char fixed[] = "trackly dummy password";

  if(!dummy[0])
    (void)password_hash(fixed, sizeof(fixed) - 1, dummy, sizeof(dummy));
  (void)password_verify(dummy, pw, len);
}
