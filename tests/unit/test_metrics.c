/*
 * test_metrics.c - the API's counters and their Prometheus text
 * (api/metrics.c): what is counted where, cumulative buckets, and a
 * buffer too small for the text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "expect_text.h"

static const struct route routes[] = {
  {"GET", "/healthcheck", false, NULL},
  {"GET", "/project/{id}", true, NULL},
};

/* The text of m in a buffer capped at cap, or NULL when it does not fit
 * (and then metrics_render said so). */
static char *render(struct metrics *m, size_t cap)
{
  struct dynbuf out;
  char *text;
  size_t len;
  int rc;

  dynbuf_init(&out, cap);
  rc = metrics_render(m, routes, 2, &out);
  text = dynbuf_take(&out, &len);
  dynbuf_free(&out);
  assert_int_equal(rc, text ? 0 : -1);
  if(text)
    assert_int_equal(strlen(text), len);
  return text;
}

static void test_empty_has_every_family(void **state)
{
  struct metrics *m = calloc(1, sizeof(*m));
  char *text;

  (void)state;
  assert_non_null(m);
  text = render(m, 65536);
  assert_non_null(text);
  assert_null(strstr(text, "trackly_http_requests_total{"));
  expect_line(text, "# TYPE trackly_http_requests_total counter");
  expect_line(text, "# TYPE trackly_http_request_duration_seconds histogram");
  expect_line(text, "trackly_http_request_duration_seconds_bucket{le=\"+Inf\"} 0");
  expect_line(text, "trackly_http_request_duration_seconds_sum 0.000000");
  expect_line(text, "trackly_db_errors_total{kind=\"unavailable\"} 0");
  expect_line(text, "trackly_db_errors_total{kind=\"error\"} 0");
  expect_line(text, "trackly_api_workers_restarted_total 0");
  expect_line(text, "trackly_api_workers 0");
  assert_int_equal(text[strlen(text) - 1], '\n');
  free(text);
  free(m);
}

static void test_requests_by_route_and_status(void **state)
{
  struct metrics *m = calloc(1, sizeof(*m));
  char *text;

  (void)state;
  assert_non_null(m);
  metrics_request(m, 2, 200, 3000);         /* 3 ms */
  metrics_request(m, 2, 200, 5000);         /* exactly on a bound */
  metrics_request(m, 2, 404, 70000);        /* 70 ms */
  metrics_request(m, 1, 418, 20000000);     /* 20 s, an unlisted status */
  metrics_request(m, 0, 404, 1);            /* no route */
  metrics_request(m, 99, 200, 1);           /* out of range: "no route" */
  metrics_db_error(m, METRICS_DB_UNAVAILABLE);
  metrics_db_error(m, METRICS_DB_ERROR);
  metrics_db_error(m, METRICS_DB_ERROR);
  metrics_request(NULL, 1, 200, 1);         /* no shared block: ignored */
  metrics_db_error(NULL, METRICS_DB_ERROR);
  text = render(m, 65536);
  assert_non_null(text);

  expect_line(text, "trackly_http_requests_total{method=\"GET\","
              "route=\"/project/{id}\",status=\"200\"} 2");
  expect_line(text, "trackly_http_requests_total{method=\"GET\","
              "route=\"/project/{id}\",status=\"404\"} 1");
  expect_line(text, "trackly_http_requests_total{method=\"GET\","
              "route=\"/healthcheck\",status=\"other\"} 1");
  expect_line(text, "trackly_http_requests_total{method=\"-\","
              "route=\"-\",status=\"404\"} 1");
  expect_line(text, "trackly_http_requests_total{method=\"-\","
              "route=\"-\",status=\"200\"} 1");
  /* Cumulative: 1 µs x2, 3 ms, 5 ms in le=0.005; 70 ms by 0.1; 20 s only
   * in +Inf. */
  expect_line(text, "trackly_http_request_duration_seconds_bucket"
              "{le=\"0.005\"} 4");
  expect_line(text, "trackly_http_request_duration_seconds_bucket"
              "{le=\"0.05\"} 4");
  expect_line(text, "trackly_http_request_duration_seconds_bucket"
              "{le=\"0.1\"} 5");
  expect_line(text, "trackly_http_request_duration_seconds_bucket"
              "{le=\"10\"} 5");
  expect_line(text, "trackly_http_request_duration_seconds_bucket"
              "{le=\"+Inf\"} 6");
  expect_line(text, "trackly_http_request_duration_seconds_count 6");
  expect_line(text, "trackly_http_request_duration_seconds_sum 20.078002");
  expect_line(text, "trackly_db_errors_total{kind=\"unavailable\"} 1");
  expect_line(text, "trackly_db_errors_total{kind=\"error\"} 2");
  free(text);
  free(m);
}

static void test_too_small_a_buffer_gives_nothing(void **state)
{
  struct metrics *m = calloc(1, sizeof(*m));
  char *text;

  (void)state;
  assert_non_null(m);
  metrics_request(m, 1, 200, 1);
  assert_null(render(m, 100));
  assert_null(render(m, 0));
  text = render(m, 65536);
  assert_non_null(text);
  free(text);
  free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_empty_has_every_family),
    cmocka_unit_test(test_requests_by_route_and_status),
    cmocka_unit_test(test_too_small_a_buffer_gives_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
