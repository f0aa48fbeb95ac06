/*
 * jwt_bench.c - the cost of verifying one session token (common/jwt.c),
 * with the HMAC key set up per token (an unprepared struct jwt_key) and
 * prepared once (jwt_key_init), as an API worker does per request.
 *
 *   build/bench/jwt_bench [ITERATIONS [REPEATS]]
 *
 * The token is what trackly-api signs at login (sub, iat, exp, iss, ver)
 * under a 64-byte key like `openssl rand -hex 32` makes, verified with a
 * previous key configured as during a rotation: the current key matches
 * first; the "previous key's token" cases are signed with the previous
 * one, which costs a second HMAC.  Each case runs ITERATIONS (default
 * 100000) times per repeat; the best of REPEATS (default 5) is printed in
 * µs per operation, since on a shared machine the fastest repeat is the
 * least disturbed.  The cases alternate within each repeat so that both
 * see the same noise.
 *
 * Besides jwt_verify, the HMAC alone is timed three ways, to choose how a
 * prepared context is reused: OpenSSL's one-shot HMAC(), re-initialising
 * the prepared EVP_MAC_CTX with no key (what jwt.c does), and
 * duplicating it (EVP_MAC_CTX_dup) per token.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"

#define ISS "trackly"
#define MAX_ITERATIONS 10000000L
#define MAX_REPEATS 50

static const unsigned char current[] =
  "3f1c9a7e5b2d4c6a8e0f1b3d5a7c9e2f4b6d8a0c2e4f6b8d0a2c4e6f8b0d2a4c";
static const unsigned char previous[] =
  "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";

struct bench_ctx {
  const char *token;
  size_t len;
  size_t signed_len;            /* header "." payload */
  struct jwt_key keys[2];
  int64_t now;
};

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
  fprintf(stderr, "jwt_bench: %s failed\n", what);
  exit(1);
}

static void verify_once(struct bench_ctx *b)
{
  struct jwt_claims claims;

  if(jwt_verify(b->token, b->len, b->keys, 2, ISS, b->now, 30, &claims) !=
     JWT_OK)
    die("jwt_verify");
}

static void hmac_oneshot(struct bench_ctx *b)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;

  if(!HMAC(EVP_sha256(), b->keys[0].data, (int)b->keys[0].len,
           (const unsigned char *)b->token, b->signed_len, mac, &maclen))
    die("HMAC");
}

static void hmac_reinit(struct bench_ctx *b)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t maclen = 0;
  EVP_MAC_CTX *ctx = b->keys[0].mac;

  if(!EVP_MAC_init(ctx, NULL, 0, NULL) ||
     !EVP_MAC_update(ctx, (const unsigned char *)b->token, b->signed_len) ||
     !EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)))
    die("EVP_MAC re-init");
}

static void hmac_dup(struct bench_ctx *b)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t maclen = 0;
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(b->keys[0].mac);

  if(!ctx ||
     !EVP_MAC_update(ctx, (const unsigned char *)b->token, b->signed_len) ||
     !EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)))
    die("EVP_MAC_CTX_dup");
  EVP_MAC_CTX_free(ctx);
}

struct bench_case {
  const char *name;
  void (*run)(struct bench_ctx *);
  bool prepared;
  bool old_token;               /* the token signed with the previous key */
  double best;
};

int main(int argc, char **argv)
{
  struct bench_case cases[] = {
    {"jwt_verify, keys unprepared", verify_once, false, false, 0},
    {"jwt_verify, keys prepared", verify_once, true, false, 0},
    {"previous key's token, unprepared", verify_once, false, true, 0},
    {"previous key's token, prepared", verify_once, true, true, 0},
    {"HMAC-SHA256 one-shot HMAC()", hmac_oneshot, false, false, 0},
    {"HMAC-SHA256 prepared, re-init", hmac_reinit, true, false, 0},
    {"HMAC-SHA256 prepared, dup", hmac_dup, true, false, 0},
  };
  const size_t ncases = sizeof(cases) / sizeof(cases[0]);
  struct jwt_key plain[2] = {
    {.data = current, .len = sizeof(current) - 1},
    {.data = previous, .len = sizeof(previous) - 1},
  };
  struct jwt_key prepared[2];
  struct jwt_claims claims = {.sub = "1234", .has_ver = true, .ver = 3};
  struct bench_ctx b;
  char token[JWT_MAX_TOKEN + 1], old_token[JWT_MAX_TOKEN + 1];
  long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
  long repeats = argc > 2 ? strtol(argv[2], NULL, 10) : 5;

  if(iterations < 1 || iterations > MAX_ITERATIONS || repeats < 1 ||
     repeats > MAX_REPEATS) {
    fprintf(stderr, "usage: jwt_bench [ITERATIONS (1..%ld) [REPEATS "
            "(1..%d)]]\n", MAX_ITERATIONS, MAX_REPEATS);
    return 2;
  }
  memcpy(prepared, plain, sizeof(prepared));
  if(jwt_key_init(&prepared[0]) || jwt_key_init(&prepared[1]))
    die("jwt_key_init");

  memset(&b, 0, sizeof(b));
  b.now = (int64_t)time(NULL);
  claims.iat = b.now;
  claims.exp = b.now + 86400;
  if(jwt_sign(&plain[0], ISS, &claims, token, sizeof(token)) != JWT_OK ||
     jwt_sign(&plain[1], ISS, &claims, old_token, sizeof(old_token)) !=
     JWT_OK)
    die("jwt_sign");

  for(long r = 0; r < repeats; r++) {
    for(size_t c = 0; c < ncases; c++) {
      double t0, us;

      memcpy(b.keys, cases[c].prepared ? prepared : plain, sizeof(b.keys));
      b.token = cases[c].old_token ? old_token : token;
      b.len = strlen(b.token);
      b.signed_len = (size_t)(strrchr(b.token, '.') - b.token);
      t0 = now_s();
      for(long i = 0; i < iterations; i++)
        cases[c].run(&b);
      us = (now_s() - t0) * 1e6 / (double)iterations;
      if(!r || us < cases[c].best)
        cases[c].best = us;
    }
  }

  printf("token %zu bytes, %ld iterations, best of %ld repeats\n",
         strlen(token), iterations, repeats);
  for(size_t c = 0; c < ncases; c++)
    printf("%-32s %8.3f us/op\n", cases[c].name, cases[c].best);
  printf("jwt_verify prepared / unprepared: %.2f (previous key's token "
         "%.2f)\n", cases[1].best / cases[0].best,
         cases[3].best / cases[2].best);
  jwt_key_cleanup(&prepared[0]);
  jwt_key_cleanup(&prepared[1]);
  return 0;
}
