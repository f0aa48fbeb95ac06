/*
 * test_clock.c - the two clocks (common/clock.c): wall_ms is the calendar,
 * clock_ms never goes back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "clock.h"

static void wall_is_the_calendar(void **state)
{
  int64_t before = (int64_t)time(NULL) * 1000;
  int64_t ms = wall_ms();
  int64_t after = (int64_t)time(NULL) * 1000 + 1000;
  (void)state;
  assert_true(ms >= before && ms < after);
}

static void monotonic_never_goes_back(void **state)
{
  const struct timespec pause = {0, 20 * 1000000L};
  int64_t last = clock_ms(), start = last;
  (void)state;
  for(int i = 0; i < 1000; i++) {
    int64_t t = clock_ms();
    assert_true(t >= last);
    last = t;
  }
  nanosleep(&pause, NULL);
  assert_true(clock_ms() - start >= 20);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(wall_is_the_calendar),
    cmocka_unit_test(monotonic_never_goes_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
