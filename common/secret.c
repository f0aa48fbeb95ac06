/*
 * secret.c - random tokens and their digests; see secret.h.
 */
#include "secret.h"
#include "base64.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

int secret_token(char *out)
{
  unsigned char raw[SECRET_TOKEN_BYTES];
  long n;

  if(RAND_bytes(raw, sizeof(raw)) != 1)
    return -1;
  n = base64url_encode(raw, sizeof(raw), out, SECRET_TOKEN_LEN - 1);
  explicit_bzero(raw, sizeof(raw));
  if(n < 0)
    return -1;
  out[n] = '\0';
  return 0;
}

int secret_digest(const char *s, size_t len,
                  unsigned char digest[SECRET_DIGEST_LEN])
{
  unsigned int outlen = 0;
  if(EVP_Digest(s, len, digest, &outlen, EVP_sha256(), NULL) != 1 ||
     outlen != SECRET_DIGEST_LEN)
    return -1;
  return 0;
}

void secret_hex(const unsigned char digest[SECRET_DIGEST_LEN], char *out)
{
  hex_encode(digest, SECRET_DIGEST_LEN, out);
}
