/*
 * fairshare.h - how a monitor's check slots are shared between users: the
 * arithmetic behind the claim (scheduler.c), kept apart so that it can be
 * unit-tested without a database.
 *
 * Why (issue 12): slots used to go first come, first served, so accounts
 * whose links hang until their timeout (a tarpit) could hold every slot
 * and make everyone else's checks start a whole timeout late.  Now:
 *
 *   - due checks are taken round-robin by user: a user's n-th check in
 *     flight here comes after every other user's (n-1)-th, oldest slot
 *     first within a place.  Over time each of U busy users holds about
 *     (S - R) / U of the S slots, and slots a user does not need go to the
 *     others (max-min fairness; nothing is reserved per user);
 *   - R = fairshare_reserve(S) slots are kept for users with nothing in
 *     flight here: a user's first check starts at once even when every
 *     other slot is held by checks that hang.  To take the reserve as well
 *     an attacker needs more than S - R accounts with work due at once.
 *
 * No check is cut short: a hanging check holds its slot until its own
 * timeout (at most 120 s, below its interval), and while it does it is its
 * owner's place that grows, so the owner's other checks wait.  See
 * docs/decisions.md and docs/security.md.
 */
#ifndef TRACKLY_FAIRSHARE_H
#define TRACKLY_FAIRSHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"

/* One slot in FAIRSHARE_RESERVE_DIVISOR (rounded up) is kept for users
 * with nothing in flight: 16 of 256. */
#define FAIRSHARE_RESERVE_DIVISOR 16

/* The slots' state at the time of a claim. */
struct fairshare_slots {
  int total;                    /* MONITOR_CONCURRENCY */
  int reserve;                  /* kept for users with nothing in flight */
  int free;                     /* total minus checks in flight */
};

/* The checks in flight here, per user: ids[i] has busy[i] of them. */
struct fairshare_users {
  int64_t *ids;
  int *busy;
  int count;
};

/* The reserve for total slots: none with a single slot. */
int fairshare_reserve(int total);

/* How long a claim should wait for more free slots, in ms (0: claim now).
 * A claim costs PostgreSQL about the same for 10 projects as for 400 (it
 * walks past the checks in flight, at the head of the due order), so
 * while checks are in flight it waits until one slot in
 * FAIRSHARE_CLAIM_ROOM_DIVISOR is free, looking again every
 * FAIRSHARE_CLAIM_LOOK_MS - but never more than FAIRSHARE_CLAIM_WAIT_MAX_MS
 * after the last claim (since_last_ms ago; slots held by hanging checks
 * may not free for a minute), and never when only the reserve is free:
 * that is for a newcomer's first check, at once. */
#define FAIRSHARE_CLAIM_ROOM_DIVISOR 8
#define FAIRSHARE_CLAIM_LOOK_MS 20
#define FAIRSHARE_CLAIM_WAIT_MAX_MS 100
int64_t fairshare_claim_wait(const struct fairshare_slots *slots,
                             int64_t since_last_ms);

/* Counts the checks of the list linked by fly_next (at most max of them)
 * per user into out, sorted by user id.  Returns 0, or -1 when out of
 * memory.  Free out with fairshare_users_free. */
int fairshare_count(const struct check *flying, int max,
                    struct fairshare_users *out);
void fairshare_users_free(struct fairshare_users *u);

/* Whether the claim can leave user i of u out altogether: only the
 * reserve is free, and that user has a check in flight already.  (So a
 * claim does not wade through the due work of users who must wait.) */
bool fairshare_skip(const struct fairshare_slots *slots,
                    const struct fairshare_users *u, int i);

#endif
