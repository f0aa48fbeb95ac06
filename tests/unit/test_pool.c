/*
 * test_pool.c - the workers' shared state (api/pool.c) in one process:
 * the default number of hashing slots, taking and giving back slots,
 * freeing the slots of a reaped worker, the busy stamps and the
 * registration window.  Across processes it is tested over HTTP
 * (tests/integration/test_hostile_workers.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "clock.h"
#include "pool.h"

static int map_pool(void **state)
{
  (void)state;
  if(!pool_shared)
    assert_int_equal(pool_init(), 0);
  return 0;
}

static void test_default_slots_leave_one_worker(void **state)
{
  (void)state;
  assert_int_equal(pool_hash_slots_for(1, 0), 1);
  assert_int_equal(pool_hash_slots_for(2, 0), 1);
  assert_int_equal(pool_hash_slots_for(8, 0), 7);
  assert_int_equal(pool_hash_slots_for(8, 3), 3);
  assert_int_equal(pool_hash_slots_for(300, 0), POOL_HASH_SLOTS_MAX);
}

static void test_slots_are_taken_and_given_back(void **state)
{
  (void)state;
  atomic_store(&pool_shared->hash_slots, 1);
  assert_int_equal(pool_hash_acquire(0), 0);
  /* The one slot is ours; no other worker is idle, so no waiting. */
  assert_int_equal(pool_hash_acquire(250), -1);
  pool_hash_release();
  assert_int_equal(pool_hash_acquire(0), 0);
  pool_hash_release();
  pool_hash_release();                  /* twice is harmless */
  assert_int_equal(atomic_load(&pool_shared->hash_holder[0]), 0);
}

static void test_a_reaped_worker_leaks_no_slot(void **state)
{
  (void)state;
  atomic_store(&pool_shared->hash_slots, 2);
  pool_worker_started(3, 4242);
  atomic_store(&pool_shared->hash_holder[1], 4242);   /* it was hashing */
  assert_int_equal(pool_hash_acquire(0), 0);          /* slot 0 */
  assert_int_equal(pool_hash_acquire(0), -1);
  pool_worker_gone(3, 4242);
  assert_int_equal(atomic_load(&pool_shared->hash_holder[1]), 0);
  assert_int_equal(atomic_load(&pool_shared->hash_holder[0]), getpid());
  pool_hash_release();
}

static void test_busy_stamps(void **state)
{
  long now;
  (void)state;
  pool_worker_started(5, 777);
  assert_int_equal(pool_worker_busy_ms(5, clock_ms()), 0);
  pool_request_begin(5);
  now = clock_ms();
  assert_true(pool_worker_busy_ms(5, now + 31000) >= 31000);
  pool_request_end(5);
  assert_int_equal(pool_worker_busy_ms(5, now + 31000), 0);
  assert_int_equal(pool_worker_busy_ms(POOL_WORKERS_MAX, now), 0);
  pool_worker_gone(5, 777);
}

static void test_registration_window(void **state)
{
  long t = 600000L * 7 + 1000;          /* one second into a minute */
  int wait = 0;
  (void)state;
  for(int i = 0; i < 3; i++)
    assert_true(pool_register_allow(3, t + i, &wait));
  assert_false(pool_register_allow(3, t + 5, &wait));
  assert_int_equal(wait, 59);
  assert_true(pool_register_allow(3, t + 60000, &wait));  /* next minute */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_default_slots_leave_one_worker),
    cmocka_unit_test_setup(test_slots_are_taken_and_given_back, map_pool),
    cmocka_unit_test_setup(test_a_reaped_worker_leaks_no_slot, map_pool),
    cmocka_unit_test_setup(test_busy_stamps, map_pool),
    cmocka_unit_test_setup(test_registration_window, map_pool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
