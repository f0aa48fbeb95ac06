/*
 * base64.c - base64, base64url and hex; see base64.h.
 *
 * The two base64 forms differ only in the last two characters of the
 * alphabet and in padding, so one encoder and one decoder serve both.
 */
#include "base64.h"

#include <limits.h>

static const char std_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t base64_encoded_len(size_t len)
{
  return (len + 2) / 3 * 4;
}

static long encode(const char *alphabet, int pad, const unsigned char *in,
                   size_t len, char *out, size_t cap)
{
  size_t need, i, o = 0;

  if(len > (size_t)LONG_MAX / 4 * 3 - 3)
    return -1;
  need = pad ? base64_encoded_len(len) :
         len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
  if(need > cap)
    return -1;

  for(i = 0; i + 3 <= len; i += 3) {
    unsigned long v = (unsigned long)in[i] << 16 |
                      (unsigned long)in[i + 1] << 8 | in[i + 2];
    out[o++] = alphabet[v >> 18 & 63];
    out[o++] = alphabet[v >> 12 & 63];
    out[o++] = alphabet[v >> 6 & 63];
    out[o++] = alphabet[v & 63];
  }
  if(len - i == 1) {
    out[o++] = alphabet[in[i] >> 2];
    out[o++] = alphabet[(in[i] & 3) << 4];
  }
  else if(len - i == 2) {
    out[o++] = alphabet[in[i] >> 2];
    out[o++] = alphabet[(in[i] & 3) << 4 | in[i + 1] >> 4];
    out[o++] = alphabet[(in[i + 1] & 15) << 2];
  }
  while(pad && o < need)
    out[o++] = '=';
  return (long)o;
}

/* The 6-bit value of c in the alphabet, or -1 for anything else
 * (including '=', whitespace and NUL). */
static int value(const char *alphabet, unsigned char c)
{
  if(c >= 'A' && c <= 'Z')
    return c - 'A';
  if(c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if(c >= '0' && c <= '9')
    return c - '0' + 52;
  if(c && c == (unsigned char)alphabet[62])
    return 62;
  if(c && c == (unsigned char)alphabet[63])
    return 63;
  return -1;
}

/*
 * Strict decoding of len unpadded characters: a length that leaves a
 * single character in the last group cannot encode a whole byte, and the
 * bits a short last group leaves over must be zero.  Otherwise several
 * strings would decode to the same bytes, and a token could be altered
 * without changing what it says.
 */
static long decode(const char *alphabet, const char *in, size_t len,
                   unsigned char *out, size_t cap)
{
  size_t need, i, o = 0;
  unsigned long acc = 0;
  int bits = 0;

  if(len % 4 == 1 || len > (size_t)LONG_MAX)
    return -1;
  need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
  if(need > cap)
    return -1;

  for(i = 0; i < len; i++) {
    int v = value(alphabet, (unsigned char)in[i]);
    if(v < 0)
      return -1;
    acc = (acc << 6 | (unsigned long)v) & 0xffffff;
    bits += 6;
    if(bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits & 0xff);
    }
  }
  if(acc & ((1UL << bits) - 1))
    return -1;              /* non-zero unused trailing bits */
  return (long)o;
}

long base64_encode(const unsigned char *in, size_t len, char *out,
                   size_t cap)
{
  return encode(std_alphabet, 1, in, len, out, cap);
}

/* Padded input: a multiple of 4 characters, of which at most the last two
 * are '=' and make up exactly the missing group. */
long base64_decode(const char *in, size_t len, unsigned char *out,
                   size_t cap)
{
  size_t pad = 0;

  if(len % 4)
    return -1;
  while(pad < 2 && pad < len && in[len - pad - 1] == '=')
    pad++;
  return decode(std_alphabet, in, len - pad, out, cap);
}

long base64url_encode(const unsigned char *in, size_t len, char *out,
                      size_t cap)
{
  return encode(url_alphabet, 0, in, len, out, cap);
}

long base64url_decode(const char *in, size_t len, unsigned char *out,
                      size_t cap)
{
  return decode(url_alphabet, in, len, out, cap);
}

void hex_encode(const unsigned char *in, size_t len, char *out)
{
  static const char hex[] = "0123456789abcdef";

  for(size_t i = 0; i < len; i++) {
    out[2 * i] = hex[in[i] >> 4];
    out[2 * i + 1] = hex[in[i] & 15];
  }
  out[2 * len] = '\0';
}

int hex_digit(char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
