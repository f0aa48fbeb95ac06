/*
 * input.h - what each route accepts in its request body (DESIGN §2).
 *
 * The checks a handler makes on its parsed body before it touches the
 * database, as pure functions: they take the cJSON object that
 * json_parse_object returned (plus what configuration they need) and either
 * fill a struct or write the exact message the API sends with its 400
 * ("field 'email' is required").  Keeping them out of the handlers lets the
 * unit tests and the fuzzer (tests/fuzz/fuzz_body.c) reach every rule
 * without a request, a socket or a database.
 *
 * Every function returns 0, or -1 with a NUL-terminated message in err
 * (errcap bytes; INPUT_ERR_MAX is always enough).  Fields are checked in a
 * fixed order and the first problem is the one reported.
 *
 * Memory: string pointers in the structs point into the cJSON tree, which
 * must outlive them; nothing here allocates.
 */
#ifndef TRACKLY_INPUT_H
#define TRACKLY_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "validate.h"

/* Room for any message written here (reply_error's buffer is larger). */
#define INPUT_ERR_MAX 256

/* Project limits that are not in validate.h. */
#define INPUT_DEFAULT_INTERVAL 300
#define INPUT_DEFAULT_TIMEOUT_MS 10000
#define INPUT_MIN_TIMEOUT_MS 100
#define INPUT_MAX_TIMEOUT_MS 120000
#define INPUT_MAX_INTERVAL 86400

/* POST /user/register and POST /user/login. */
struct credentials_input {
  char email[EMAIL_MAX + 1];    /* trimmed of surrounding whitespace */
  const char *password;
  size_t password_len;
};

/* {email, password} for POST /user/register: a valid address and a
 * password of PASSWORD_MIN to PASSWORD_MAX bytes. */
int input_register(const cJSON *body, struct credentials_input *in,
                   char *err, size_t errcap);

/* {email, password} for POST /user/login: only types and the email's
 * length are checked, so a login never says which rule a stored account
 * would break. */
int input_login(const cJSON *body, struct credentials_input *in,
                char *err, size_t errcap);

/* PUT /user/password: {current_password, new_password}; the new one must
 * meet the length rule (it is checked first). */
struct password_change_input {
  const char *current_password, *new_password;
  size_t current_len, new_len;
};

int input_change_password(const cJSON *body, struct password_change_input *in,
                          char *err, size_t errcap);

/* DELETE /user: {password}, the caller's password as confirmation. */
int input_confirm_password(const cJSON *body, const char **password,
                           size_t *len, char *err, size_t errcap);

/*
 * POST /project and PUT /project/{id}.  Text fields point into the parsed
 * JSON; the has_* flags say what the body gave.  For an update, absent
 * fields keep their stored value (NULL text, has_* false).  For a create,
 * name and link are required and everything else gets its default here:
 * description "", interval max(300, minimum), timeout 10 s or half the
 * interval when that is shorter, expected_status "200-399", thresholds 2
 * and 1, not paused.
 */
struct project_input {
  const char *name, *description, *link, *keyword;  /* keyword NULL: none */
  char expected_status[STATUS_RANGES_TEXT_MAX];     /* canonical form */
  bool has_expected_status, has_keyword;
  bool has_interval, has_timeout, has_failure, has_recovery, has_paused;
  bool has_muted;
  int64_t interval, timeout, failure, recovery;
  bool paused, muted;
};

/* Parses and checks every field of body into *in.  min_interval is
 * MONITOR_MIN_INTERVAL.  A create also checks its timeout against its
 * interval; an update must call input_project_timeout once it knows the
 * values the project will end up with. */
int input_project(const cJSON *body, bool create, int64_t min_interval,
                  struct project_input *in, char *err, size_t errcap);

/* The timeout must end before the next check is due: timeout (ms) below
 * interval (s). */
int input_project_timeout(int64_t interval, int64_t timeout, char *err,
                          size_t errcap);

/* A body that is one string field (DELETE /user's password, POST
 * /user/verify's token) for request_body_or_reply: input_string_check runs
 * check (input_confirm_password, input_verify) and leaves the string in s,
 * len. */
struct input_string {
  int (*check)(const cJSON *body, const char **s, size_t *len, char *err,
               size_t errcap);
  const char *s;
  size_t len;
};

int input_string_check(const cJSON *body, void *in, char *err,
                       size_t errcap);

/* The longest token a mail link may carry; Trackly's are 43 (verification)
 * or 64 (mute) characters. */
#define INPUT_LINK_TOKEN_MAX 128

/* True when s[0..len) has the shape of a mail link's token: 1 to
 * INPUT_LINK_TOKEN_MAX ASCII letters, digits, '-' or '_'.  Anything else is
 * not a token Trackly made, and is safe neither in a header nor, being any
 * bytes, as a text parameter to Postgres. */
bool input_link_token_valid(const char *s, size_t len);

/* The token parameter of a mail link's query (/project/mute?token=...,
 * /user/verify?token=...), percent-decoded into out, when it has the shape
 * above and fits in cap - 1 bytes.  Returns its length, or -1 (out is then
 * "") when the query has no such token. */
long input_link_token(const char *query, char *out, size_t cap);

/* POST /user/verify: {token}, a string.  Whether it is a token Trackly
 * sent is for input_link_token_valid and then the database to say. */
int input_verify(const cJSON *body, const char **token, size_t *len,
                 char *err, size_t errcap);

#endif
