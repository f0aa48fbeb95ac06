/*
 * fairshare.c - sharing check slots between users; see fairshare.h.
 */
#include "fairshare.h"

#include <stdlib.h>

int fairshare_reserve(int total)
{
  if(total <= 1)
    return 0;
  return (total + FAIRSHARE_RESERVE_DIVISOR - 1) / FAIRSHARE_RESERVE_DIVISOR;
}

static int cmp_id(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int fairshare_count(const struct check *flying, int max,
                    struct fairshare_users *out)
{
  int64_t *ids = malloc(sizeof(*ids) * (size_t)(max > 0 ? max : 1));
  int n = 0;

  out->ids = NULL;
  out->busy = NULL;
  out->count = 0;
  if(!ids)
    return -1;
  for(const struct check *c = flying; c && n < max; c = c->fly_next)
    ids[n++] = c->user_id;
  qsort(ids, (size_t)n, sizeof(*ids), cmp_id);
  out->busy = malloc(sizeof(*out->busy) * (size_t)(n > 0 ? n : 1));
  if(!out->busy) {
    free(ids);
    return -1;
  }
  /* Run-length in place: ids[count] is the count-th distinct user. */
  for(int i = 0; i < n; i++) {
    if(out->count && ids[out->count - 1] == ids[i]) {
      out->busy[out->count - 1]++;
      continue;
    }
    ids[out->count] = ids[i];
    out->busy[out->count++] = 1;
  }
  out->ids = ids;
  return 0;
}

void fairshare_users_free(struct fairshare_users *u)
{
  free(u->ids);
  free(u->busy);
  u->ids = NULL;
  u->busy = NULL;
  u->count = 0;
}

bool fairshare_skip(const struct fairshare_slots *slots,
                    const struct fairshare_users *u, int i)
{
  return slots->free <= slots->reserve && u->busy[i] > 0;
}

int64_t fairshare_claim_wait(const struct fairshare_slots *slots,
                             int64_t since_last_ms)
{
  int64_t left = FAIRSHARE_CLAIM_WAIT_MAX_MS - since_last_ms;

  if(slots->free >= slots->total || slots->free <= slots->reserve ||
     slots->free >= slots->total / FAIRSHARE_CLAIM_ROOM_DIVISOR || left <= 0)
    return 0;
  return left < FAIRSHARE_CLAIM_LOOK_MS ? left : FAIRSHARE_CLAIM_LOOK_MS;
}
