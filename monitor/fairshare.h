/*
 * fairshare.h - how a monitor's check slots are shared between users: the
 * arithmetic behind the claim (scheduler.c), kept apart so that it can be
 * unit-tested without a database.
 *
 * Why (issue 12): slots used to go first come, first served, so accounts
 * whose links hang until their timeout (a tarpit) could hold every slot
 * and make everyone else's checks start a whole timeout late.  Now a
 * monitor with S slots keeps R = fairshare_reserve(S) of them for users
 * below their share, and each of the U users with checks due or in flight
 * here has a share of max(1, (S - R) / U) in flight; a user beyond its
 * share gets more only while that leaves R slots free (lending).  See
 * docs/decisions.md.
 */
#ifndef TRACKLY_FAIRSHARE_H
#define TRACKLY_FAIRSHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"

/* One slot in FAIRSHARE_RESERVE_DIVISOR (rounded up) is kept for users
 * below their share: 16 of 256. */
#define FAIRSHARE_RESERVE_DIVISOR 16

/* The slots' state at the time of a claim. */
struct fairshare_slots {
  int total;                    /* MONITOR_CONCURRENCY */
  int reserve;                  /* kept for users below their share */
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

/* The share of each of users users: max(1, (total - reserve) / users). */
int fairshare_share(const struct fairshare_slots *slots, int users);

/* Counts the checks of the list linked by fly_next (at most max of them)
 * per user into out, sorted by user id.  Returns 0, or -1 when out of
 * memory.  Free out with fairshare_users_free. */
int fairshare_count(const struct check *flying, int max,
                    struct fairshare_users *out);
void fairshare_users_free(struct fairshare_users *u);

/* Whether user i of u is certainly at its share, so that the claim need
 * not even look at its due work: when no slot can be lent (free <= reserve)
 * and it already has the share it would have if only the users in flight
 * here were active (more active users only make the share smaller). */
bool fairshare_full(const struct fairshare_slots *slots,
                   const struct fairshare_users *u, int i);

#endif
