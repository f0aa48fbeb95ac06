/*
 * input.c - request-body rules of each route; see input.h.
 *
 * The messages are part of the API: clients and the integration suite see
 * them word for word, so they are written here exactly as the handlers
 * wrote them before these checks moved out of users.c and projects.c.
 */
#include "input.h"
#include "json.h"
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errcap, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errcap, const char *fmt, ...)
{
  va_list ap;

  if(err && errcap) {
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* A required string field. */
static int required_string(const cJSON *body, const char *name,
                           const char **out, size_t *len, char *err,
                           size_t errcap)
{
  switch(json_get_string(body, name, out, len, err, errcap)) {
  case JSON_FIELD_OK:
    return 0;
  case JSON_FIELD_ABSENT:
    return fail(err, errcap, "field '%s' is required", name);
  default:
    return -1;
  }
}

/* A required string field holding a new password. */
static int new_password(const cJSON *body, const char *name,
                        const char **pw, size_t *len, char *err,
                        size_t errcap)
{
  if(required_string(body, name, pw, len, err, errcap))
    return -1;
  if(!password_length_valid(*len))
    return fail(err, errcap, "field '%s' must be %d to %d bytes long", name,
                PASSWORD_MIN, PASSWORD_MAX);
  return 0;
}

/* Copies the trimmed email field into out, checking its format when asked
 * (registration) and its length always (no account can have a longer
 * one). */
static int email(const cJSON *body, char out[EMAIL_MAX + 1],
                 bool check_format, char *err, size_t errcap)
{
  const char *s;
  size_t len;

  if(required_string(body, "email", &s, &len, err, errcap))
    return -1;
  s = trim_space(s, &len);
  if(check_format && !email_valid(s, len))
    return fail(err, errcap, "field 'email' must be a valid email address");
  if(len > EMAIL_MAX)
    return fail(err, errcap, "field 'email' is too long");
  memcpy(out, s, len);
  out[len] = '\0';
  return 0;
}

int input_register(const cJSON *body, struct credentials_input *in,
                   char *err, size_t errcap)
{
  memset(in, 0, sizeof(*in));
  if(email(body, in->email, true, err, errcap) ||
     new_password(body, "password", &in->password, &in->password_len, err,
                  errcap))
    return -1;
  return 0;
}

int input_login(const cJSON *body, struct credentials_input *in,
                char *err, size_t errcap)
{
  memset(in, 0, sizeof(*in));
  if(email(body, in->email, false, err, errcap) ||
     required_string(body, "password", &in->password, &in->password_len, err,
                     errcap))
    return -1;
  return 0;
}

int input_change_password(const cJSON *body, struct password_change_input *in,
                          char *err, size_t errcap)
{
  memset(in, 0, sizeof(*in));
  if(new_password(body, "new_password", &in->new_password, &in->new_len, err,
                  errcap) ||
     required_string(body, "current_password", &in->current_password,
                     &in->current_len, err, errcap))
    return -1;
  return 0;
}

int input_confirm_password(const cJSON *body, const char **password,
                           size_t *len, char *err, size_t errcap)
{
  *password = NULL;
  *len = 0;
  return required_string(body, "password", password, len, err, errcap);
}

static int invalid(char *err, size_t errcap, const char *field,
                   const char *rule)
{
  return fail(err, errcap, "field '%s' %s", field, rule);
}

/* An optional string field: *out stays NULL when it is absent. */
static int text_field(const cJSON *body, const char *name, const char **out,
                      size_t *len, char *err, size_t errcap)
{
  *out = NULL;
  *len = 0;
  if(json_get_string(body, name, out, len, err, errcap) ==
     JSON_FIELD_INVALID)
    return -1;
  return 0;
}

static int int_field(const cJSON *body, const char *name, int64_t min,
                     int64_t max, bool *present, int64_t *out, char *err,
                     size_t errcap)
{
  enum json_field f = json_get_int(body, name, min, max, out, err, errcap);
  if(f == JSON_FIELD_INVALID)
    return -1;
  *present = f == JSON_FIELD_OK;
  return 0;
}

static int bool_field(const cJSON *body, const char *name, bool *present,
                      bool *out, char *err, size_t errcap)
{
  enum json_field f = json_get_bool(body, name, out, err, errcap);
  if(f == JSON_FIELD_INVALID)
    return -1;
  *present = f == JSON_FIELD_OK;
  return 0;
}

/* name, description and link. */
static int project_text(const cJSON *body, bool create,
                        struct project_input *in, char *err, size_t errcap)
{
  size_t len;

  if(text_field(body, "name", &in->name, &len, err, errcap))
    return -1;
  if(in->name && !name_valid(in->name, len))
    return invalid(err, errcap, "name", "must be 1 to 200 characters, not "
                   "all spaces");
  if(create && !in->name)
    return invalid(err, errcap, "name", "is required");

  if(text_field(body, "description", &in->description, &len, err, errcap))
    return -1;
  if(in->description && utf8_chars(in->description, len) >
     DESCRIPTION_MAX_CHARS)
    return invalid(err, errcap, "description", "must be at most 2000 "
                   "characters");

  if(text_field(body, "link", &in->link, &len, err, errcap))
    return -1;
  if(in->link && !link_valid(in->link, len))
    return invalid(err, errcap, "link", "must be an absolute http:// or "
                   "https:// URL with a host (at most 2048 bytes, no "
                   "spaces, no user:password@)");
  if(create && !in->link)
    return invalid(err, errcap, "link", "is required");
  return 0;
}

/* expected_status, stored in its canonical form. */
static int project_status(const cJSON *body, struct project_input *in,
                          char *err, size_t errcap)
{
  struct status_ranges ranges;
  const char *s;
  size_t len;

  if(text_field(body, "expected_status", &s, &len, err, errcap))
    return -1;
  if(!s)
    return 0;
  if(!status_ranges_parse(s, len, &ranges))
    return invalid(err, errcap, "expected_status", "must be status codes "
                   "or ranges from 100 to 599, like \"200-399\" or "
                   "\"200,301-302\" (at most 16)");
  status_ranges_format(&ranges, in->expected_status,
                       sizeof(in->expected_status));
  in->has_expected_status = true;
  return 0;
}

/* keyword: a string, or null (or "") for none. */
static int project_keyword(const cJSON *body, struct project_input *in,
                           char *err, size_t errcap)
{
  size_t len;

  if(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "keyword"))) {
    in->has_keyword = true;
    return 0;
  }
  if(text_field(body, "keyword", &in->keyword, &len, err, errcap))
    return -1;
  if(in->keyword) {
    if(len > KEYWORD_MAX)
      return invalid(err, errcap, "keyword", "must be at most 1024 bytes");
    in->has_keyword = true;
    if(!len)
      in->keyword = NULL;
  }
  return 0;
}

/* What a new project gets for the fields its body left out. */
static void project_defaults(struct project_input *in, int64_t min_interval)
{
  if(!in->description)
    in->description = "";
  if(!in->has_interval)
    in->interval = min_interval > INPUT_DEFAULT_INTERVAL ? min_interval :
                   INPUT_DEFAULT_INTERVAL;
  /* 10 s, or half the interval when that is shorter. */
  if(!in->has_timeout)
    in->timeout = in->interval * 500 < INPUT_DEFAULT_TIMEOUT_MS ?
                  in->interval * 500 : INPUT_DEFAULT_TIMEOUT_MS;
  if(!in->has_expected_status)
    memcpy(in->expected_status, "200-399", sizeof("200-399"));
  if(!in->has_failure)
    in->failure = 2;
  if(!in->has_recovery)
    in->recovery = 1;
  if(!in->has_paused)
    in->paused = false;
}

int input_project(const cJSON *body, bool create, int64_t min_interval,
                  struct project_input *in, char *err, size_t errcap)
{
  memset(in, 0, sizeof(*in));
  if(project_text(body, create, in, err, errcap) ||
     int_field(body, "interval_seconds", min_interval, INPUT_MAX_INTERVAL,
               &in->has_interval, &in->interval, err, errcap) ||
     int_field(body, "timeout_ms", INPUT_MIN_TIMEOUT_MS, INPUT_MAX_TIMEOUT_MS,
               &in->has_timeout, &in->timeout, err, errcap) ||
     int_field(body, "failure_threshold", 1, 10, &in->has_failure,
               &in->failure, err, errcap) ||
     int_field(body, "recovery_threshold", 1, 10, &in->has_recovery,
               &in->recovery, err, errcap) ||
     project_status(body, in, err, errcap) ||
     project_keyword(body, in, err, errcap) ||
     bool_field(body, "paused", &in->has_paused, &in->paused, err, errcap) ||
     bool_field(body, "alerts_muted", &in->has_muted, &in->muted, err,
                errcap))
    return -1;
  if(!create)
    return 0;
  project_defaults(in, min_interval);
  return input_project_timeout(in->interval, in->timeout, err, errcap);
}

int input_project_timeout(int64_t interval, int64_t timeout, char *err,
                          size_t errcap)
{
  if(timeout >= interval * 1000)
    return fail(err, errcap, "field 'timeout_ms' must be less than "
                "interval_seconds (%lld s)", (long long)interval);
  return 0;
}

bool input_link_token_valid(const char *s, size_t len)
{
  if(!len || len > INPUT_LINK_TOKEN_MAX)
    return false;
  for(size_t i = 0; i < len; i++) {
    char c = s[i];
    if(!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
      return false;
  }
  return true;
}

/*
 * A percent-decoded query value can be any bytes, and Postgres refuses a
 * text parameter that is not valid UTF-8 with an error the API could only
 * answer with a 500; the verification link's token is also echoed in a
 * Location header.  A token is a fixed alphabet, so anything else is simply
 * not a token.
 */
long input_link_token(const char *query, char *out, size_t cap)
{
  size_t len;

  if(query_param(query, "token", out, cap, &len) != QUERY_OK || !len ||
     !input_link_token_valid(out, len)) {
    if(out && cap)
      out[0] = '\0';
    return -1;
  }
  return (long)len;
}

int input_verify(const cJSON *body, const char **token, size_t *len,
                 char *err, size_t errcap)
{
  *token = NULL;
  *len = 0;
  return required_string(body, "token", token, len, err, errcap);
}

int input_string_check(const cJSON *body, void *in, char *err,
                       size_t errcap)
{
  struct input_string *str = in;
  return str->check(body, &str->s, &str->len, err, errcap);
}
