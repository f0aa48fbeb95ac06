/*
 * test_state.c - the monitor's state machine and scheduling grid
 * (monitor/state.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "state.h"

static void pending_to_up_is_quiet(void **state)
{
  struct project_state s = {STATUS_PENDING, 0, 0};
  (void)state;
  assert_int_equal(state_apply(&s, true, 2, 1), TRANSITION_UP);
  assert_int_equal(s.status, STATUS_UP);
  assert_int_equal(state_apply(&s, true, 2, 1), TRANSITION_NONE);
  assert_int_equal(s.successes, 2);
}

static void down_after_exactly_threshold(void **state)
{
  struct project_state s = {STATUS_UP, 0, 5};
  (void)state;
  assert_int_equal(state_apply(&s, false, 3, 1), TRANSITION_NONE);
  assert_int_equal(state_apply(&s, false, 3, 1), TRANSITION_NONE);
  assert_int_equal(s.status, STATUS_UP);
  assert_int_equal(state_apply(&s, false, 3, 1), TRANSITION_DOWN);
  assert_int_equal(s.status, STATUS_DOWN);
  /* Staying down says nothing more. */
  for(int i = 0; i < 10; i++)
    assert_int_equal(state_apply(&s, false, 3, 1), TRANSITION_NONE);
  assert_int_equal(s.failures, 13);
}

static void pending_goes_down_too(void **state)
{
  struct project_state s = {STATUS_PENDING, 0, 0};
  (void)state;
  assert_int_equal(state_apply(&s, false, 2, 1), TRANSITION_NONE);
  assert_int_equal(s.status, STATUS_PENDING);
  assert_int_equal(state_apply(&s, false, 2, 1), TRANSITION_DOWN);
}

static void blip_below_threshold_sends_nothing(void **state)
{
  struct project_state s = {STATUS_UP, 0, 3};
  (void)state;
  assert_int_equal(state_apply(&s, false, 2, 1), TRANSITION_NONE);
  assert_int_equal(state_apply(&s, true, 2, 1), TRANSITION_NONE);
  assert_int_equal(state_apply(&s, false, 2, 1), TRANSITION_NONE);
  assert_int_equal(s.status, STATUS_UP);
  assert_int_equal(s.failures, 1);
}

static void recovery_threshold(void **state)
{
  struct project_state s = {STATUS_DOWN, 4, 0};
  (void)state;
  assert_int_equal(state_apply(&s, true, 2, 3), TRANSITION_NONE);
  assert_int_equal(state_apply(&s, true, 2, 3), TRANSITION_NONE);
  /* A failure in between starts the count again. */
  assert_int_equal(state_apply(&s, false, 2, 3), TRANSITION_NONE);
  assert_int_equal(s.status, STATUS_DOWN);
  assert_int_equal(state_apply(&s, true, 2, 3), TRANSITION_NONE);
  assert_int_equal(state_apply(&s, true, 2, 3), TRANSITION_NONE);
  assert_int_equal(state_apply(&s, true, 2, 3), TRANSITION_RECOVERED);
  assert_int_equal(s.status, STATUS_UP);
}

static void threshold_one(void **state)
{
  struct project_state s = {STATUS_UP, 0, 0};
  (void)state;
  assert_int_equal(state_apply(&s, false, 1, 1), TRANSITION_DOWN);
  assert_int_equal(state_apply(&s, true, 1, 1), TRANSITION_RECOVERED);
}

static void names_round_trip(void **state)
{
  enum project_status st;
  (void)state;
  for(int i = 0; i < 3; i++) {
    assert_true(state_parse_status(state_status_name((enum project_status)i),
                                   &st));
    assert_int_equal(st, i);
  }
  assert_false(state_parse_status("PAUSED", &st));
  assert_false(state_parse_status("up", &st));
}

static void grid_without_drift(void **state)
{
  (void)state;
  /* On time, or a little late: the next slot is scheduled + interval, not
   * now + interval. */
  assert_int_equal(state_next_slot(1000, 60000, 1000), 61000);
  assert_int_equal(state_next_slot(1000, 60000, 1950), 61000);
  assert_int_equal(state_next_slot(1000, 60000, 60999), 61000);
}

static void grid_skips_missed_slots_once(void **state)
{
  (void)state;
  /* Exactly on the next slot: that slot has started, take the one after. */
  assert_int_equal(state_next_slot(1000, 60000, 61000), 121000);
  /* Two and a half intervals late: one check now, then back on the grid. */
  assert_int_equal(state_next_slot(1000, 60000, 151000), 181000);
  assert_int_equal(state_next_slot(0, 1000, 10500), 11000);
  /* The result is always on the grid and after now. */
  for(int64_t now = 0; now < 10000; now += 37) {
    int64_t n = state_next_slot(500, 1000, now);
    assert_true(n > now);
    assert_int_equal((n - 500) % 1000, 0);
    assert_true(n - now <= 1000 || n == 1500);
  }
}

static void reminders(void **state)
{
  (void)state;
  assert_false(state_reminder_due(0, 0, 1000000));       /* off */
  assert_false(state_reminder_due(1000, 60000, 60999));
  assert_true(state_reminder_due(1000, 60000, 61000));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(pending_to_up_is_quiet),
    cmocka_unit_test(down_after_exactly_threshold),
    cmocka_unit_test(pending_goes_down_too),
    cmocka_unit_test(blip_below_threshold_sends_nothing),
    cmocka_unit_test(recovery_threshold),
    cmocka_unit_test(threshold_one),
    cmocka_unit_test(names_round_trip),
    cmocka_unit_test(grid_without_drift),
    cmocka_unit_test(grid_skips_missed_slots_once),
    cmocka_unit_test(reminders),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
