/*
 * test_stats.c - the monitor's metrics text (monitor/stats.c): histogram
 * buckets, the outbox gauges only when read, and a buffer too small.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "expect_text.h"

/* The text of s in a buffer capped at cap, or NULL when it does not fit
 * (and then stats_render said so). */
static char *render(struct stats *s, size_t cap)
{
  struct dynbuf out;
  char *text;
  int rc;

  dynbuf_init(&out, cap);
  rc = stats_render(s, &out);
  text = dynbuf_take(&out, NULL);
  dynbuf_free(&out);
  assert_int_equal(rc, text ? 0 : -1);
  return text;
}

static void test_counts_and_buckets(void **state)
{
  struct stats *s = malloc(sizeof(*s));
  char *text;

  (void)state;
  assert_non_null(s);
  stats_init(s);
  stats_observe(&s->duration, 20);
  stats_observe(&s->duration, 50);          /* on the bound */
  stats_observe(&s->duration, 120000);      /* past the last */
  stats_observe(&s->lag, -5);               /* counted as 0 */
  atomic_store(&s->checks_up, 2);
  atomic_store(&s->checks_down, 1);
  atomic_store(&s->claims, 7);
  text = render(s, 16384);
  assert_non_null(text);
  expect_line(text, "trackly_monitor_checks_total{result=\"up\"} 2");
  expect_line(text, "trackly_monitor_checks_total{result=\"down\"} 1");
  expect_line(text, "trackly_monitor_check_duration_seconds_bucket"
              "{le=\"0.05\"} 2");
  expect_line(text, "trackly_monitor_check_duration_seconds_bucket"
              "{le=\"60\"} 2");
  expect_line(text, "trackly_monitor_check_duration_seconds_bucket"
              "{le=\"+Inf\"} 3");
  expect_line(text, "trackly_monitor_check_duration_seconds_sum 120.070");
  expect_line(text, "trackly_monitor_schedule_lag_seconds_sum 0.000");
  expect_line(text, "trackly_monitor_claims_total 7");
  expect_line(text, "trackly_monitor_mail_sent_total 0");
  assert_null(strstr(text, "trackly_monitor_outbox"));
  free(text);

  s->outbox_pending = 3;
  s->outbox_oldest_s = 42;
  text = render(s, 16384);
  assert_non_null(text);
  expect_line(text, "trackly_monitor_outbox_pending 3");
  expect_line(text, "trackly_monitor_outbox_oldest_seconds 42");
  free(text);
  assert_null(render(s, 200));
  free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_counts_and_buckets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
