/*
 * test_input.c - the request-body rules of each route (api/input.c).
 *
 * Messages are compared word for word: they are what clients see in the
 * 400 reply.  Bodies go through json_parse_object first, as in the API.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "json.h"

static cJSON *parse(const char *text)
{
  const char *why = NULL;
  cJSON *body = json_parse_object(text, strlen(text), &why);

  if(!body)
    fail_msg("body %s refused: %s", text, why);
  return body;
}

/* --- Accounts ------------------------------------------------------------- */

static void register_accepts(void **state)
{
  struct credentials_input in;
  char err[INPUT_ERR_MAX] = "";
  cJSON *b = parse("{\"email\":\"  User@Example.Test\\t\","
                   "\"password\":\"12345678\",\"extra\":[1]}");

  (void)state;
  assert_int_equal(input_register(b, &in, err, sizeof(err)), 0);
  assert_string_equal(in.email, "User@Example.Test");
  assert_int_equal(in.password_len, 8);
  assert_memory_equal(in.password, "12345678", 8);
  cJSON_Delete(b);
}

static void expect_register_error(const char *text, const char *msg)
{
  struct credentials_input in;
  char err[INPUT_ERR_MAX] = "";
  cJSON *b = parse(text);

  if(input_register(b, &in, err, sizeof(err)) != -1)
    fail_msg("%s accepted", text);
  assert_string_equal(err, msg);
  cJSON_Delete(b);
}

static void register_rejects(void **state)
{
  char big[PASSWORD_MAX + 64];

  (void)state;
  expect_register_error("{}", "field 'email' is required");
  expect_register_error("{\"email\":null,\"password\":\"12345678\"}",
                        "field 'email' is required");
  expect_register_error("{\"email\":5}", "field 'email' must be a string");
  expect_register_error("{\"email\":\"nope\",\"password\":\"12345678\"}",
                        "field 'email' must be a valid email address");
  /* The email is checked before the password. */
  expect_register_error("{\"email\":\"a@.b\",\"password\":1}",
                        "field 'email' must be a valid email address");
  expect_register_error("{\"email\":\"a@example.test\"}",
                        "field 'password' is required");
  expect_register_error("{\"email\":\"a@example.test\",\"password\":[]}",
                        "field 'password' must be a string");
  expect_register_error("{\"email\":\"a@example.test\","
                        "\"password\":\"1234567\"}",
                        "field 'password' must be 8 to 1024 bytes long");
  snprintf(big, sizeof(big), "{\"email\":\"a@example.test\","
           "\"password\":\"%0*d\"}", PASSWORD_MAX + 1, 0);
  expect_register_error(big, "field 'password' must be 8 to 1024 bytes "
                        "long");
}

static void login_checks_only_types(void **state)
{
  struct credentials_input in;
  char err[INPUT_ERR_MAX] = "";
  char body[EMAIL_MAX + 64];
  cJSON *b;

  (void)state;
  /* Any address and any password length: login never says which rule a
   * stored account would break. */
  b = parse("{\"email\":\" not-an-address \",\"password\":\"x\"}");
  assert_int_equal(input_login(b, &in, err, sizeof(err)), 0);
  assert_string_equal(in.email, "not-an-address");
  assert_int_equal(in.password_len, 1);
  cJSON_Delete(b);

  b = parse("{\"email\":\"a@example.test\",\"password\":false}");
  assert_int_equal(input_login(b, &in, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'password' must be a string");
  cJSON_Delete(b);

  snprintf(body, sizeof(body), "{\"email\":\"%0*d\",\"password\":\"x\"}",
           EMAIL_MAX + 1, 0);
  b = parse(body);
  assert_int_equal(input_login(b, &in, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'email' is too long");
  cJSON_Delete(b);
}

static void change_password_order(void **state)
{
  struct password_change_input in;
  char err[INPUT_ERR_MAX] = "";
  cJSON *b;

  (void)state;
  b = parse("{\"current_password\":\"old\",\"new_password\":\"new-password\"}");
  assert_int_equal(input_change_password(b, &in, err, sizeof(err)), 0);
  assert_string_equal(in.current_password, "old");
  assert_int_equal(in.current_len, 3);
  assert_string_equal(in.new_password, "new-password");
  assert_int_equal(in.new_len, 12);
  cJSON_Delete(b);

  /* The new password's rule is reported before a missing current one. */
  b = parse("{\"new_password\":\"short\"}");
  assert_int_equal(input_change_password(b, &in, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'new_password' must be 8 to 1024 bytes "
                      "long");
  cJSON_Delete(b);

  b = parse("{\"new_password\":\"long-enough\"}");
  assert_int_equal(input_change_password(b, &in, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'current_password' is required");
  cJSON_Delete(b);
}

static void confirm_password(void **state)
{
  char err[INPUT_ERR_MAX] = "";
  const char *pw;
  size_t len;
  cJSON *b;

  (void)state;
  b = parse("{\"password\":\"secret\"}");
  assert_int_equal(input_confirm_password(b, &pw, &len, err, sizeof(err)), 0);
  assert_string_equal(pw, "secret");
  assert_int_equal(len, 6);
  cJSON_Delete(b);

  b = parse("{\"Password\":\"secret\"}");
  assert_int_equal(input_confirm_password(b, &pw, &len, err, sizeof(err)),
                   -1);
  assert_string_equal(err, "field 'password' is required");
  assert_null(pw);
  cJSON_Delete(b);
}

static void verify_body(void **state)
{
  char err[INPUT_ERR_MAX] = "";
  const char *tok;
  size_t len;
  cJSON *b;

  (void)state;
  b = parse("{\"token\":\"abc-DEF_1\",\"x\":1}");
  assert_int_equal(input_verify(b, &tok, &len, err, sizeof(err)), 0);
  assert_string_equal(tok, "abc-DEF_1");
  assert_int_equal(len, 9);
  cJSON_Delete(b);

  /* Any string passes the body rule; its shape is checked apart. */
  b = parse("{\"token\":\"a b\"}");
  assert_int_equal(input_verify(b, &tok, &len, err, sizeof(err)), 0);
  cJSON_Delete(b);

  b = parse("{\"token\":null}");
  assert_int_equal(input_verify(b, &tok, &len, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'token' is required");
  assert_null(tok);
  cJSON_Delete(b);

  b = parse("{\"token\":42}");
  assert_int_equal(input_verify(b, &tok, &len, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'token' must be a string");
  cJSON_Delete(b);
}

/* --- Projects ------------------------------------------------------------- */

static void create_defaults(void **state)
{
  struct project_input in;
  char err[INPUT_ERR_MAX] = "";
  cJSON *b = parse("{\"name\":\"My Site\","
                   "\"link\":\"https://example.com/health\"}");

  (void)state;
  assert_int_equal(input_project(b, true, 60, &in, err, sizeof(err)), 0);
  assert_string_equal(in.name, "My Site");
  assert_string_equal(in.link, "https://example.com/health");
  assert_string_equal(in.description, "");
  assert_int_equal(in.interval, 300);
  assert_int_equal(in.timeout, 10000);
  assert_string_equal(in.expected_status, "200-399");
  assert_int_equal(in.failure, 2);
  assert_int_equal(in.recovery, 1);
  assert_false(in.paused);
  assert_null(in.keyword);
  assert_false(in.has_keyword || in.has_interval || in.has_timeout ||
               in.has_expected_status || in.has_paused || in.has_muted);

  /* A larger minimum interval is the default; the timeout follows a short
   * interval down to half of it. */
  assert_int_equal(input_project(b, true, 900, &in, err, sizeof(err)), 0);
  assert_int_equal(in.interval, 900);
  cJSON_Delete(b);
  b = parse("{\"name\":\"x\",\"link\":\"https://a.example\","
            "\"interval_seconds\":10}");
  assert_int_equal(input_project(b, true, 1, &in, err, sizeof(err)), 0);
  assert_int_equal(in.interval, 10);
  assert_int_equal(in.timeout, 5000);
  cJSON_Delete(b);
}

static void create_full(void **state)
{
  struct project_input in;
  char err[INPUT_ERR_MAX] = "";
  cJSON *b = parse(
    "{\"name\":\"Shop\",\"description\":\"the shop\","
    "\"link\":\"http://shop.example:8080/x\",\"interval_seconds\":120,"
    "\"timeout_ms\":5000,\"expected_status\":\" 200 - 299 ,301,418\","
    "\"keyword\":\"OK\",\"failure_threshold\":3,\"recovery_threshold\":2,"
    "\"paused\":true,\"alerts_muted\":false}");

  (void)state;
  assert_int_equal(input_project(b, true, 60, &in, err, sizeof(err)), 0);
  assert_string_equal(in.description, "the shop");
  assert_int_equal(in.interval, 120);
  assert_int_equal(in.timeout, 5000);
  assert_string_equal(in.expected_status, "200-299,301,418");
  assert_string_equal(in.keyword, "OK");
  assert_int_equal(in.failure, 3);
  assert_int_equal(in.recovery, 2);
  assert_true(in.paused && in.has_paused);
  assert_true(in.has_muted && !in.muted);
  cJSON_Delete(b);
}

static void expect_project_error(const char *text, bool create,
                                 const char *msg)
{
  struct project_input in;
  char err[INPUT_ERR_MAX] = "";
  cJSON *b = parse(text);

  if(input_project(b, create, 60, &in, err, sizeof(err)) != -1)
    fail_msg("%s accepted", text);
  assert_string_equal(err, msg);
  cJSON_Delete(b);
}

#define LINK_RULE "field 'link' must be an absolute http:// or https:// " \
  "URL with a host (at most 2048 bytes, no spaces, no user:password@)"

static void project_rejects(void **state)
{
  (void)state;
  expect_project_error("{\"link\":\"https://a.example\"}", true,
                       "field 'name' is required");
  expect_project_error("{\"name\":\"   \"}", false,
                       "field 'name' must be 1 to 200 characters, not all "
                       "spaces");
  expect_project_error("{\"name\":7}", false,
                       "field 'name' must be a string");
  expect_project_error("{\"name\":\"x\"}", true, "field 'link' is required");
  expect_project_error("{\"link\":\"https://u:p@a.example/\"}", false,
                       LINK_RULE);
  expect_project_error("{\"link\":\"ftp://a.example/\"}", false, LINK_RULE);
  expect_project_error("{\"interval_seconds\":59}", false,
                       "field 'interval_seconds' must be between 60 and "
                       "86400");
  expect_project_error("{\"interval_seconds\":60.5}", false,
                       "field 'interval_seconds' must be an integer");
  expect_project_error("{\"timeout_ms\":99}", false,
                       "field 'timeout_ms' must be between 100 and 120000");
  expect_project_error("{\"failure_threshold\":11}", false,
                       "field 'failure_threshold' must be between 1 and 10");
  expect_project_error("{\"recovery_threshold\":\"2\"}", false,
                       "field 'recovery_threshold' must be an integer");
  expect_project_error("{\"expected_status\":\"200-600\"}", false,
                       "field 'expected_status' must be status codes or "
                       "ranges from 100 to 599, like \"200-399\" or "
                       "\"200,301-302\" (at most 16)");
  expect_project_error("{\"keyword\":5}", false,
                       "field 'keyword' must be a string");
  expect_project_error("{\"paused\":\"yes\"}", false,
                       "field 'paused' must be a boolean");
  expect_project_error("{\"alerts_muted\":1}", false,
                       "field 'alerts_muted' must be a boolean");
  /* The interval/timeout cross-check comes last, and only on create. */
  expect_project_error("{\"name\":\"x\",\"link\":\"https://a.example\","
                       "\"interval_seconds\":60,\"timeout_ms\":60000}", true,
                       "field 'timeout_ms' must be less than "
                       "interval_seconds (60 s)");
  expect_project_error("{\"name\":\"x\",\"link\":\"https://a.example\","
                       "\"interval_seconds\":60,\"timeout_ms\":60000,"
                       "\"paused\":1}", true,
                       "field 'paused' must be a boolean");
}

static void project_long_text(void **state)
{
  char *body = malloc(4200);
  struct project_input in;
  char err[INPUT_ERR_MAX] = "";
  cJSON *b;

  (void)state;
  assert_non_null(body);
  /* 2000 characters of description are fine, 2001 are not. */
  snprintf(body, 4200, "{\"description\":\"%0*d\"}", 2000, 0);
  b = parse(body);
  assert_int_equal(input_project(b, false, 60, &in, err, sizeof(err)), 0);
  cJSON_Delete(b);
  snprintf(body, 4200, "{\"description\":\"%0*d\"}", 2001, 0);
  b = parse(body);
  assert_int_equal(input_project(b, false, 60, &in, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'description' must be at most 2000 "
                      "characters");
  cJSON_Delete(b);
  snprintf(body, 4200, "{\"keyword\":\"%0*d\"}", KEYWORD_MAX + 1, 0);
  b = parse(body);
  assert_int_equal(input_project(b, false, 60, &in, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'keyword' must be at most 1024 bytes");
  cJSON_Delete(b);
  free(body);
}

static void update_is_partial(void **state)
{
  struct project_input in;
  char err[INPUT_ERR_MAX] = "";
  cJSON *b = parse("{\"interval_seconds\":600}");

  (void)state;
  assert_int_equal(input_project(b, false, 60, &in, err, sizeof(err)), 0);
  assert_true(in.has_interval);
  assert_int_equal(in.interval, 600);
  assert_null(in.name);
  assert_null(in.link);
  assert_null(in.description);
  assert_false(in.has_timeout || in.has_keyword || in.has_expected_status);
  cJSON_Delete(b);

  /* keyword: null and "" both clear it; a string sets it. */
  b = parse("{\"keyword\":null}");
  assert_int_equal(input_project(b, false, 60, &in, err, sizeof(err)), 0);
  assert_true(in.has_keyword);
  assert_null(in.keyword);
  cJSON_Delete(b);
  b = parse("{\"keyword\":\"\"}");
  assert_int_equal(input_project(b, false, 60, &in, err, sizeof(err)), 0);
  assert_true(in.has_keyword);
  assert_null(in.keyword);
  cJSON_Delete(b);
}

static void timeout_rule(void **state)
{
  char err[INPUT_ERR_MAX] = "";

  (void)state;
  assert_int_equal(input_project_timeout(60, 59999, err, sizeof(err)), 0);
  assert_int_equal(input_project_timeout(60, 60000, err, sizeof(err)), -1);
  assert_string_equal(err, "field 'timeout_ms' must be less than "
                      "interval_seconds (60 s)");
}

/* A message cut to a small buffer is still terminated inside it. */
static void small_error_buffer(void **state)
{
  struct credentials_input in;
  cJSON *b = parse("{}");
  char *err = malloc(5);

  (void)state;
  assert_non_null(err);
  assert_int_equal(input_register(b, &in, err, 5), -1);
  assert_string_equal(err, "fiel");
  assert_int_equal(input_register(b, &in, NULL, 0), -1);
  free(err);
  cJSON_Delete(b);
}

static void link_token_shape(void **state)
{
  char max[INPUT_LINK_TOKEN_MAX + 2];

  (void)state;
  memset(max, 'A', sizeof(max));
  assert_true(input_link_token_valid(max, INPUT_LINK_TOKEN_MAX));
  assert_false(input_link_token_valid(max, INPUT_LINK_TOKEN_MAX + 1));
  assert_false(input_link_token_valid(max, 0));
  assert_true(input_link_token_valid("_", 1));
  assert_true(input_link_token_valid("-", 1));
  assert_false(input_link_token_valid("a.b", 3));
  assert_false(input_link_token_valid("a+b", 3));
  assert_false(input_link_token_valid("a\r\nb", 4));
  assert_false(input_link_token_valid("\xc3\xa9", 2));
  /* The length given counts, not the NUL. */
  assert_false(input_link_token_valid("ab\0c", 4));
}

/* Regression: "?token=%FF" reached Postgres as a text parameter that is
 * not UTF-8, and the API answered 500 instead of 400 (found while writing
 * tests/fuzz/fuzz_fcgi.c). */
static void link_token(void **state)
{
  char tok[INPUT_LINK_TOKEN_MAX + 1];

  (void)state;
  assert_int_equal(input_link_token("token=0123abcdef", tok, sizeof(tok)),
                   10);
  assert_string_equal(tok, "0123abcdef");
  assert_int_equal(input_link_token("x=1&token=A-b_9", tok, sizeof(tok)), 5);
  assert_string_equal(tok, "A-b_9");
  assert_int_equal(input_link_token("token=%FF", tok, sizeof(tok)), -1);
  assert_string_equal(tok, "");
  assert_int_equal(input_link_token("token=%C0%AF", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("token=a%20b", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("token=a'b", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("token=%00", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("token=", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("tok=x", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("token=abc", tok, 3), -1);
  assert_int_equal(input_link_token("token=a.b", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("token=a+b", tok, sizeof(tok)), -1);
  assert_int_equal(input_link_token("token=first&token=x", tok, sizeof(tok)),
                   5);
  assert_string_equal(tok, "first");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(register_accepts),
    cmocka_unit_test(register_rejects),
    cmocka_unit_test(login_checks_only_types),
    cmocka_unit_test(change_password_order),
    cmocka_unit_test(confirm_password),
    cmocka_unit_test(verify_body),
    cmocka_unit_test(create_defaults),
    cmocka_unit_test(create_full),
    cmocka_unit_test(project_rejects),
    cmocka_unit_test(project_long_text),
    cmocka_unit_test(update_is_partial),
    cmocka_unit_test(timeout_rule),
    cmocka_unit_test(small_error_buffer),
    cmocka_unit_test(link_token_shape),
    cmocka_unit_test(link_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
