/*
 * test_prober.c - how the prober judges a finished transfer
 * (prober_judge in monitor/prober.c): the expected status ranges, the
 * keyword, and the short reason a user sees for each libcurl failure.
 * No network: each test fills in what collect() would have read from
 * libcurl and calls the judge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prober.h"

/* A check expecting ranges, with keyword (or NULL), as the scheduler
 * makes it. */
static struct check *make(const char *ranges, const char *keyword)
{
  struct check *c = check_new("http://example.test/", keyword);

  assert_non_null(c);
  assert_true(status_ranges_parse(ranges, strlen(ranges), &c->expect));
  return c;
}

/* Gives c a body as the write callback would have kept it. */
static void give_body(struct check *c, const char *body)
{
  c->body = strdup(body);
  assert_non_null(c->body);
  c->body_len = strlen(body);
}

/* Judges a failed transfer of a fresh check and compares the reason. */
static void assert_reason(struct check *c, CURLcode rc, const char *reason)
{
  prober_judge(c, rc);
  assert_false(c->ok);
  assert_string_equal(c->error, reason);
}

static void status_in_range_is_ok(void **state)
{
  struct check *c = make("200-399", NULL);
  (void)state;
  c->status_code = 301;
  prober_judge(c, CURLE_OK);
  assert_true(c->ok);
  assert_string_equal(c->error, "");
  check_free(c);
}

static void status_out_of_range_names_it(void **state)
{
  struct check *c = make("200-399", NULL);
  (void)state;
  c->status_code = 503;
  prober_judge(c, CURLE_OK);
  assert_false(c->ok);
  assert_string_equal(c->error, "status 503");
  c->status_code = 199;
  prober_judge(c, CURLE_OK);
  assert_string_equal(c->error, "status 199");
  check_free(c);
}

static void expected_ranges_decide(void **state)
{
  struct check *c = make("503", NULL);
  (void)state;
  c->status_code = 503;
  prober_judge(c, CURLE_OK);
  assert_true(c->ok);
  c->status_code = 200;
  prober_judge(c, CURLE_OK);
  assert_false(c->ok);
  assert_string_equal(c->error, "status 200");
  check_free(c);
}

static void keyword_found_is_ok(void **state)
{
  struct check *c = make("200-399", "healthy");
  (void)state;
  c->status_code = 200;
  give_body(c, "<p>all systems healthy</p>");
  prober_judge(c, CURLE_OK);
  assert_true(c->ok);
  check_free(c);
}

static void keyword_missing_or_no_body(void **state)
{
  struct check *c = make("200-399", "healthy");
  (void)state;
  c->status_code = 200;
  prober_judge(c, CURLE_OK);            /* no body at all */
  assert_false(c->ok);
  assert_string_equal(c->error, "keyword not found");
  give_body(c, "<p>all systems HEALTHY</p>");   /* case matters */
  prober_judge(c, CURLE_OK);
  assert_string_equal(c->error, "keyword not found");
  check_free(c);
}

/* The status is judged before the keyword: a 500 page that happens to
 * contain the keyword is still down, and says why. */
static void status_before_keyword(void **state)
{
  struct check *c = make("200-399", "healthy");
  (void)state;
  c->status_code = 500;
  give_body(c, "healthy");
  prober_judge(c, CURLE_OK);
  assert_string_equal(c->error, "status 500");
  check_free(c);
}

/* Stopping at CHECK_BODY_MAX is the prober's doing: the transfer counts as
 * finished, and the keyword is looked for in what was read. */
static void body_cap_is_not_a_failure(void **state)
{
  struct check *c = make("200-399", "healthy");
  (void)state;
  c->status_code = 200;
  give_body(c, "healthy");
  c->body_capped = true;
  prober_judge(c, CURLE_WRITE_ERROR);
  assert_true(c->ok);
  c->body_capped = false;
  prober_judge(c, CURLE_WRITE_ERROR);
  assert_false(c->ok);
  assert_string_equal(c->error, curl_easy_strerror(CURLE_WRITE_ERROR));
  check_free(c);
}

static void timeout(void **state)
{
  struct check *c = make("200-399", NULL);
  (void)state;
  assert_reason(c, CURLE_OPERATION_TIMEDOUT, "timeout");
  check_free(c);
}

static void connect_failures_by_errno(void **state)
{
  struct check *c = make("200-399", NULL);
  (void)state;
  c->os_errno = ECONNREFUSED;
  assert_reason(c, CURLE_COULDNT_CONNECT, "connection refused");
  c->os_errno = ENETUNREACH;
  assert_reason(c, CURLE_COULDNT_CONNECT, "network unreachable");
  c->os_errno = EHOSTUNREACH;
  assert_reason(c, CURLE_COULDNT_CONNECT, "network unreachable");
  c->os_errno = 0;
  assert_reason(c, CURLE_COULDNT_CONNECT, "could not connect");
  check_free(c);
}

/* A connection the address guard refused: an address in the link is
 * named as blocked; a name gets the same answer as a name that does not
 * resolve (prober.h, docs/security.md). */
static void blocked_address_and_name(void **state)
{
  struct check *c = make("200-399", NULL);
  (void)state;
  c->blocked = true;
  c->guarded = true;
  c->os_errno = ECONNREFUSED;           /* the guard wins over errno */
  assert_reason(c, CURLE_COULDNT_CONNECT, "blocked address");
  c->host_is_name = true;
  assert_reason(c, CURLE_COULDNT_CONNECT, PROBER_NAME_REFUSED);
  assert_string_equal(PROBER_NAME_REFUSED, "unknown or blocked host");
  check_free(c);
}

static void unresolved_name(void **state)
{
  struct check *c = make("200-399", NULL);
  (void)state;
  c->host_is_name = true;
  c->guarded = true;
  assert_reason(c, CURLE_COULDNT_RESOLVE_HOST, "unknown or blocked host");
  /* With private targets allowed nothing is hidden. */
  c->guarded = false;
  assert_reason(c, CURLE_COULDNT_RESOLVE_HOST, "could not resolve host");
  check_free(c);
}

static void other_curl_errors(void **state)
{
  struct check *c = make("200-399", NULL);
  (void)state;
  assert_reason(c, CURLE_TOO_MANY_REDIRECTS, "too many redirects");
  assert_reason(c, CURLE_UNSUPPORTED_PROTOCOL,
                "redirect to an unsupported scheme");
  assert_reason(c, CURLE_URL_MALFORMAT, "invalid link");
  assert_reason(c, CURLE_PEER_FAILED_VERIFICATION, "tls error");
  assert_reason(c, CURLE_SSL_CONNECT_ERROR, "tls error");
  assert_reason(c, CURLE_SSL_CACERT_BADFILE, "tls error");
  assert_reason(c, CURLE_GOT_NOTHING, "empty reply");
  assert_reason(c, CURLE_RECV_ERROR, "connection reset");
  assert_reason(c, CURLE_SEND_ERROR, "connection reset");
  assert_reason(c, CURLE_FAILED_INIT, curl_easy_strerror(CURLE_FAILED_INIT));
  check_free(c);
}

/* A failure wins over a status that would be fine, and a later success
 * clears the reason. */
static void failure_then_success(void **state)
{
  struct check *c = make("200-399", NULL);
  (void)state;
  c->status_code = 200;
  assert_reason(c, CURLE_OPERATION_TIMEDOUT, "timeout");
  prober_judge(c, CURLE_OK);
  assert_true(c->ok);
  assert_string_equal(c->error, "");
  check_free(c);
}

static void check_new_owns_its_strings(void **state)
{
  char link[] = "http://example.test/", keyword[] = "up";
  struct check *c = check_new(link, keyword);
  (void)state;
  assert_non_null(c);
  link[0] = keyword[0] = 'X';
  assert_string_equal(c->link, "http://example.test/");
  assert_string_equal(c->keyword, "up");
  assert_false(c->ok);
  assert_int_equal(c->status_code, 0);
  check_free(c);

  c = check_new(link, "");              /* "" is no keyword */
  assert_non_null(c);
  assert_null(c->keyword);
  check_free(c);
  c = check_new(link, NULL);
  assert_non_null(c);
  assert_null(c->keyword);
  check_free(c);
  check_free(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(status_in_range_is_ok),
    cmocka_unit_test(status_out_of_range_names_it),
    cmocka_unit_test(expected_ranges_decide),
    cmocka_unit_test(keyword_found_is_ok),
    cmocka_unit_test(keyword_missing_or_no_body),
    cmocka_unit_test(status_before_keyword),
    cmocka_unit_test(body_cap_is_not_a_failure),
    cmocka_unit_test(timeout),
    cmocka_unit_test(connect_failures_by_errno),
    cmocka_unit_test(blocked_address_and_name),
    cmocka_unit_test(unresolved_name),
    cmocka_unit_test(other_curl_errors),
    cmocka_unit_test(failure_then_success),
    cmocka_unit_test(check_new_owns_its_strings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
