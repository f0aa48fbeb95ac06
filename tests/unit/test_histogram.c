/*
 * test_histogram.c - the shared latency histogram (common/histogram.c):
 * which bucket a value lands in, cumulative text, the sum in seconds for
 * both units the programs use, and a capped buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "expect_text.h"

static const struct histogram_bounds ms = {
  .per_second = 1000,
  .le = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000},
};

static const struct histogram_bounds us = {
  .per_second = 1000000,
  .le = {5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
         2500000, 5000000, 10000000},
};

/* The text of h, or NULL when it does not fit in cap. */
static char *render(struct histogram *h, const struct histogram_bounds *b,
                    size_t cap)
{
  struct dynbuf out;
  char *text;

  dynbuf_init(&out, cap);
  histogram_render(&out, "x_seconds", "How long x took.", h, b);
  text = dynbuf_take(&out, NULL);
  dynbuf_free(&out);
  return text;
}

static void test_buckets_are_upper_bounds(void **state)
{
  struct histogram *h = calloc(1, sizeof(*h));

  (void)state;
  assert_non_null(h);
  histogram_observe(h, &ms, 0);
  histogram_observe(h, &ms, 1);         /* on a bound: in it */
  histogram_observe(h, &ms, 2);
  histogram_observe(h, &ms, 3);
  histogram_observe(h, &ms, 2001);      /* past the last: +Inf only */
  assert_int_equal(atomic_load(&h->buckets[0]), 2);
  assert_int_equal(atomic_load(&h->buckets[1]), 1);
  assert_int_equal(atomic_load(&h->buckets[2]), 1);
  assert_int_equal(atomic_load(&h->buckets[HISTOGRAM_BUCKETS]), 1);
  assert_int_equal(atomic_load(&h->sum), 2007);
  free(h);
}

static void test_text_is_cumulative_in_seconds(void **state)
{
  struct histogram *h = calloc(1, sizeof(*h));
  char *text;

  (void)state;
  assert_non_null(h);
  histogram_observe(h, &ms, 1);
  histogram_observe(h, &ms, 7);
  histogram_observe(h, &ms, 5000);
  text = render(h, &ms, 4096);
  assert_non_null(text);
  expect_line(text, "# HELP x_seconds How long x took.");
  expect_line(text, "# TYPE x_seconds histogram");
  expect_line(text, "x_seconds_bucket{le=\"0.001\"} 1");
  expect_line(text, "x_seconds_bucket{le=\"0.005\"} 1");
  expect_line(text, "x_seconds_bucket{le=\"0.01\"} 2");
  expect_line(text, "x_seconds_bucket{le=\"2\"} 2");
  expect_line(text, "x_seconds_bucket{le=\"+Inf\"} 3");
  expect_line(text, "x_seconds_sum 5.008");
  expect_line(text, "x_seconds_count 3");
  free(text);
  free(h);
}

static void test_microseconds_sum_has_six_decimals(void **state)
{
  struct histogram *h = calloc(1, sizeof(*h));
  char *text;

  (void)state;
  assert_non_null(h);
  text = render(h, &us, 4096);
  assert_non_null(text);
  expect_line(text, "x_seconds_sum 0.000000");
  expect_line(text, "x_seconds_bucket{le=\"0.005\"} 0");
  free(text);
  histogram_observe(h, &us, 20078002);
  text = render(h, &us, 4096);
  assert_non_null(text);
  expect_line(text, "x_seconds_sum 20.078002");
  expect_line(text, "x_seconds_bucket{le=\"10\"} 0");
  free(text);
  free(h);
}

static void test_over_the_cap_gives_nothing(void **state)
{
  struct histogram *h = calloc(1, sizeof(*h));

  (void)state;
  assert_non_null(h);
  assert_null(render(h, &ms, 100));
  free(h);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_buckets_are_upper_bounds),
    cmocka_unit_test(test_text_is_cumulative_in_seconds),
    cmocka_unit_test(test_microseconds_sum_has_six_decimals),
    cmocka_unit_test(test_over_the_cap_gives_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
