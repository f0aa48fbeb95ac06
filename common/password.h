/*
 * password.h - Argon2id password hashing (libargon2), as DESIGN §3 says.
 *
 * Hashes are PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash").
 * The cost in force is the OWASP recommendation; password_needs_rehash tells
 * the login handler when a stored hash was made with weaker parameters, so
 * it can be upgraded while the plaintext is at hand.
 */
#ifndef TRACKLY_PASSWORD_H
#define TRACKLY_PASSWORD_H

#include <stddef.h>
#include <stdbool.h>

#define PASSWORD_T_COST 2
#define PASSWORD_M_COST_KIB 19456   /* 19 MiB */
#define PASSWORD_PARALLELISM 1
#define PASSWORD_SALT_LEN 16
#define PASSWORD_HASH_LEN 32
/* Big enough for any PHC string password_hash produces. */
#define PASSWORD_ENCODED_MAX 128

/* Hashes pw (len bytes, may contain any byte) with a fresh random salt into
 * out.  Returns 0, or -1 when hashing fails (out of memory, RNG failure). */
int password_hash(const char *pw, size_t len, char *out, size_t cap);

/* Returns 1 when pw matches encoded, 0 when it does not, and -1 when encoded
 * is not an Argon2id PHC string this library can check. */
int password_verify(const char *encoded, const char *pw, size_t len);

/* True when encoded used a lower memory, time or parallelism cost than the
 * parameters above (or is unparsable), so it should be re-hashed. */
bool password_needs_rehash(const char *encoded);

/* Burns about the same time and memory as password_verify on a wrong
 * password, for logins with an unknown email, so timing does not reveal
 * which addresses have accounts. */
void password_dummy_verify(const char *pw, size_t len);

#endif
