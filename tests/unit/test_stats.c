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

static void expect_line(const char *text, const char *line)
{
  const char *p = text;
  size_t len = strlen(line);

  for(; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if(!strncmp(p, line, len) && p[len] == '\n')
      return;
  fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void test_counts_and_buckets(void **state)
{
  struct stats *s = calloc(1, sizeof(*s));
  char text[16384];

  (void)state;
  assert_non_null(s);
  s->outbox_pending = s->outbox_oldest_s = -1;
  stats_observe(&s->duration, 20);
  stats_observe(&s->duration, 50);          /* on the bound */
  stats_observe(&s->duration, 120000);      /* past the last */
  stats_observe(&s->lag, -5);               /* counted as 0 */
  atomic_store(&s->checks_up, 2);
  atomic_store(&s->checks_down, 1);
  assert_true(stats_render(s, text, sizeof(text)) > 0);
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
  expect_line(text, "trackly_monitor_mail_sent_total 0");
  assert_null(strstr(text, "trackly_monitor_outbox"));

  s->outbox_pending = 3;
  s->outbox_oldest_s = 42;
  assert_true(stats_render(s, text, sizeof(text)) > 0);
  expect_line(text, "trackly_monitor_outbox_pending 3");
  expect_line(text, "trackly_monitor_outbox_oldest_seconds 42");
  assert_int_equal(stats_render(s, text, 200), 0);
  free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_counts_and_buckets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
