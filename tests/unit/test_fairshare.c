/*
 * test_fairshare.c - sharing check slots between users
 * (monitor/fairshare.c): the reserve, the per-user counts of the checks
 * in flight, and which users a claim can leave out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fairshare.h"

static void reserve_is_one_slot_in_sixteen(void **state)
{
  (void)state;
  assert_int_equal(fairshare_reserve(1), 0);
  assert_int_equal(fairshare_reserve(2), 1);
  assert_int_equal(fairshare_reserve(16), 1);
  assert_int_equal(fairshare_reserve(17), 2);
  assert_int_equal(fairshare_reserve(256), 16);
  assert_int_equal(fairshare_reserve(10000), 625);
}

/* Fewer, larger claims: wait for an eighth of the slots, at most 100 ms
 * after the last claim, never with nothing in flight or only the reserve
 * free. */
static void claim_wait(void **state)
{
  struct fairshare_slots s = {.total = 256, .reserve = 16, .free = 256};

  (void)state;
  assert_int_equal(fairshare_claim_wait(&s, 0), 0);     /* none in flight */
  s.free = 32;                                           /* an eighth */
  assert_int_equal(fairshare_claim_wait(&s, 0), 0);
  s.free = 31;
  assert_int_equal(fairshare_claim_wait(&s, 0), 20);
  assert_int_equal(fairshare_claim_wait(&s, 50), 20);
  assert_int_equal(fairshare_claim_wait(&s, 90), 10);
  assert_int_equal(fairshare_claim_wait(&s, 100), 0);   /* waited enough */
  assert_int_equal(fairshare_claim_wait(&s, 60000), 0);
  s.free = 17;
  assert_int_equal(fairshare_claim_wait(&s, 0), 20);
  s.free = 16;                                           /* the reserve */
  assert_int_equal(fairshare_claim_wait(&s, 0), 0);
  s.free = 1;
  assert_int_equal(fairshare_claim_wait(&s, 0), 0);
  /* One slot: nothing to wait for. */
  s = (struct fairshare_slots){.total = 1, .reserve = 0, .free = 1};
  assert_int_equal(fairshare_claim_wait(&s, 0), 0);
  /* --once keeps no reserve: it still waits for an eighth. */
  s = (struct fairshare_slots){.total = 1024, .reserve = 0, .free = 100};
  assert_int_equal(fairshare_claim_wait(&s, 0), 20);
}

/* A fly_next list of checks owned by users. */
static struct check *flying(struct check *c, const int64_t *users, int n)
{
  for(int i = 0; i < n; i++) {
    c[i].user_id = users[i];
    c[i].fly_next = i + 1 < n ? &c[i + 1] : NULL;
  }
  return n ? c : NULL;
}

static void counts_per_user_sorted(void **state)
{
  static const int64_t users[] = {7, 3, 7, 9, 3, 7};
  struct check c[6] = {0};
  struct fairshare_users u;
  (void)state;
  assert_int_equal(fairshare_count(flying(c, users, 6), 6, &u), 0);
  assert_int_equal(u.count, 3);
  assert_int_equal(u.ids[0], 3);
  assert_int_equal(u.busy[0], 2);
  assert_int_equal(u.ids[1], 7);
  assert_int_equal(u.busy[1], 3);
  assert_int_equal(u.ids[2], 9);
  assert_int_equal(u.busy[2], 1);
  fairshare_users_free(&u);
  /* No more than max are read, and nothing in flight is no user. */
  assert_int_equal(fairshare_count(flying(c, users, 6), 2, &u), 0);
  assert_int_equal(u.count, 2);
  fairshare_users_free(&u);
  assert_int_equal(fairshare_count(NULL, 0, &u), 0);
  assert_int_equal(u.count, 0);
  fairshare_users_free(&u);
}

/* The attack: 8 accounts hold 30 of 256 slots each, 16 free. */
static void users_in_flight_are_left_out_when_only_the_reserve_is_free(
  void **state)
{
  int64_t users[240];
  struct check c[240] = {0};
  struct fairshare_slots s = {256, 16, 16};
  struct fairshare_users u;
  (void)state;
  for(int i = 0; i < 240; i++)
    users[i] = 1 + i % 8;
  assert_int_equal(fairshare_count(flying(c, users, 240), 240, &u), 0);
  assert_int_equal(u.count, 8);
  for(int i = 0; i < u.count; i++) {
    assert_int_equal(u.busy[i], 30);
    assert_true(fairshare_skip(&s, &u, i));
  }
  s.free = 17;                   /* one slot beyond the reserve */
  for(int i = 0; i < u.count; i++)
    assert_false(fairshare_skip(&s, &u, i));
  fairshare_users_free(&u);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(reserve_is_one_slot_in_sixteen),
    cmocka_unit_test(claim_wait),
    cmocka_unit_test(counts_per_user_sorted),
    cmocka_unit_test(
      users_in_flight_are_left_out_when_only_the_reserve_is_free),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
