/*
 * fuzz_body.c - request bodies, parsed and validated as the API does.
 *
 * The first byte picks the route (and, for projects, the configured
 * minimum interval); the rest is the body.  It goes through
 * json_parse_object (UTF-8, NUL, depth, duplicate-key rules) and then that
 * route's validator from api/input.c.  Checked:
 *   - a refused body has a short, non-empty reason;
 *   - a refused field has a message "field '...' ...", NUL-terminated,
 *     valid UTF-8 (it goes into a JSON reply), the same however small the
 *     buffer it is cut into, and the same verdict on a second run;
 *   - an accepted body satisfies every rule of DESIGN §2 on its own.
 */
#include "fuzz.h"

#include "input.h"
#include "json.h"
#include "validate.h"

enum route {
  ROUTE_REGISTER,
  ROUTE_LOGIN,
  ROUTE_PASSWORD,
  ROUTE_DELETE,
  ROUTE_CREATE,
  ROUTE_UPDATE,
  ROUTE_VERIFY,
  ROUTE_COUNT,
};

static const int64_t min_intervals[] = {60, 1, 30, 600};

/* Runs route's validator on body with err[errcap]; returns its result. */
static int validate(enum route route, const cJSON *body, int64_t min_interval,
                    char *err, size_t errcap)
{
  struct credentials_input cred;
  struct password_change_input change;
  struct project_input project;
  const char *pw;
  size_t len;

  switch(route) {
  case ROUTE_VERIFY:
    return input_verify(body, &pw, &len, err, errcap);
  case ROUTE_REGISTER:
    return input_register(body, &cred, err, errcap);
  case ROUTE_LOGIN:
    return input_login(body, &cred, err, errcap);
  case ROUTE_PASSWORD:
    return input_change_password(body, &change, err, errcap);
  case ROUTE_DELETE:
    return input_confirm_password(body, &pw, &len, err, errcap);
  case ROUTE_CREATE:
    return input_project(body, true, min_interval, &project, err, errcap);
  default:
    return input_project(body, false, min_interval, &project, err, errcap);
  }
}

static void check_email(const char *email, bool format)
{
  size_t len = strlen(email);
  size_t trimmed = len;

  FUZZ_CHECK(len <= EMAIL_MAX);
  FUZZ_CHECK(trim_space(email, &trimmed) == email && trimmed == len);
  if(format)
    FUZZ_CHECK(email_valid(email, len));
}

static void check_string(const char *s, size_t len)
{
  FUZZ_CHECK(s);
  FUZZ_CHECK(strlen(s) == len);
  FUZZ_CHECK(utf8_valid(s, len));
}

static void check_project(const struct project_input *in, bool create,
                          int64_t min_interval)
{
  struct status_ranges ranges;
  char again[STATUS_RANGES_TEXT_MAX];
  size_t len;

  if(create) {
    FUZZ_CHECK(in->name && in->link && in->description);
    FUZZ_CHECK(in->timeout < in->interval * 1000);
  }
  if(in->name)
    FUZZ_CHECK(name_valid(in->name, strlen(in->name)));
  if(in->link)
    FUZZ_CHECK(link_valid(in->link, strlen(in->link)));
  if(in->description)
    FUZZ_CHECK(utf8_chars(in->description, strlen(in->description)) <=
               DESCRIPTION_MAX_CHARS);
  if(in->keyword) {
    len = strlen(in->keyword);
    FUZZ_CHECK(in->has_keyword && len >= 1 && len <= KEYWORD_MAX);
  }
  if(in->has_interval || create)
    FUZZ_CHECK(in->interval >= min_interval &&
               in->interval <= INPUT_MAX_INTERVAL);
  if(in->has_timeout)
    FUZZ_CHECK(in->timeout >= INPUT_MIN_TIMEOUT_MS &&
               in->timeout <= INPUT_MAX_TIMEOUT_MS);
  if(create)
    FUZZ_CHECK(in->timeout >= 1);
  if(in->has_failure || create)
    FUZZ_CHECK(in->failure >= 1 && in->failure <= 10);
  if(in->has_recovery || create)
    FUZZ_CHECK(in->recovery >= 1 && in->recovery <= 10);
  if(in->has_expected_status || create) {
    /* Stored in canonical form: it parses, and formats to itself. */
    len = strlen(in->expected_status);
    FUZZ_CHECK(len < sizeof(in->expected_status));
    FUZZ_CHECK(status_ranges_parse(in->expected_status, len, &ranges));
    status_ranges_format(&ranges, again, sizeof(again));
    FUZZ_CHECK(!strcmp(again, in->expected_status));
  }
}

/* Checks an accepted body's result, running the validator once more with
 * the struct in view. */
static void check_accepted(enum route route, const cJSON *body,
                           int64_t min_interval)
{
  struct credentials_input cred;
  struct password_change_input change;
  struct project_input project;
  char err[INPUT_ERR_MAX];
  const char *pw;
  size_t len;

  switch(route) {
  case ROUTE_REGISTER:
    FUZZ_CHECK(!input_register(body, &cred, err, sizeof(err)));
    check_email(cred.email, true);
    check_string(cred.password, cred.password_len);
    FUZZ_CHECK(password_length_valid(cred.password_len));
    break;
  case ROUTE_LOGIN:
    FUZZ_CHECK(!input_login(body, &cred, err, sizeof(err)));
    check_email(cred.email, false);
    check_string(cred.password, cred.password_len);
    break;
  case ROUTE_PASSWORD:
    FUZZ_CHECK(!input_change_password(body, &change, err, sizeof(err)));
    check_string(change.new_password, change.new_len);
    check_string(change.current_password, change.current_len);
    FUZZ_CHECK(password_length_valid(change.new_len));
    break;
  case ROUTE_DELETE:
    FUZZ_CHECK(!input_confirm_password(body, &pw, &len, err, sizeof(err)));
    check_string(pw, len);
    break;
  case ROUTE_VERIFY:
    FUZZ_CHECK(!input_verify(body, &pw, &len, err, sizeof(err)));
    check_string(pw, len);
    /* A token that passes the shape check is safe in a header. */
    if(input_link_token_valid(pw, len))
      FUZZ_CHECK(len >= 1 && len <= INPUT_LINK_TOKEN_MAX &&
                 strspn(pw, "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == len);
    break;
  default:
    FUZZ_CHECK(!input_project(body, route == ROUTE_CREATE, min_interval,
                              &project, err, sizeof(err)));
    check_project(&project, route == ROUTE_CREATE, min_interval);
    break;
  }
}

/* The message of a refused field, and the same message cut to smaller
 * buffers (each exactly that big, so ASan sees an overflow): one byte, a
 * few, one short of the message and just enough for it. */
static void check_refused(enum route route, const cJSON *body,
                          int64_t min_interval, const char *err)
{
  size_t len = strnlen(err, INPUT_ERR_MAX);
  const size_t caps[] = {1, 8, len, len + 1};

  FUZZ_CHECK(len > 0 && len < INPUT_ERR_MAX);
  FUZZ_CHECK(!strncmp(err, "field '", 7));
  FUZZ_CHECK(utf8_valid(err, len));
  for(size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
    size_t cap = caps[i];
    char *small = malloc(cap);
    FUZZ_CHECK(small);
    FUZZ_CHECK(validate(route, body, min_interval, small, cap) == -1);
    FUZZ_CHECK(memchr(small, '\0', cap));
    FUZZ_CHECK(!strncmp(small, err, cap - 1));
    free(small);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[INPUT_ERR_MAX];
  enum route route;
  int64_t min_interval;
  const char *why = NULL;
  char *text;
  cJSON *body;
  int rc;

  if(!size)
    return 0;
  route = (enum route)(data[0] % ROUTE_COUNT);
  min_interval = min_intervals[data[0] / ROUTE_COUNT % 4];
  text = fuzz_memdup(data + 1, size - 1);
  body = json_parse_object(text, size - 1, &why);
  if(!body) {
    FUZZ_CHECK(why && why[0] && strlen(why) < 64);
    goto out;
  }
  FUZZ_CHECK(!why && cJSON_IsObject(body));

  memset(err, 'x', sizeof(err));
  rc = validate(route, body, min_interval, err, sizeof(err));
  FUZZ_CHECK(rc == 0 || rc == -1);
  if(rc)
    check_refused(route, body, min_interval, err);
  else
    check_accepted(route, body, min_interval);
out:
  cJSON_Delete(body);
  free(text);
  return 0;
}
