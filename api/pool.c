/*
 * pool.c - the workers' shared availability state; see pool.h.
 *
 * Each word has one writer at a time or is changed by compare-and-swap:
 * a busy stamp is written by its worker, its pid by the master; a hashing
 * slot goes from 0 to a pid by CAS in the worker that takes it and back
 * by CAS in that worker or, once the worker is reaped, in the master.  A
 * pid is not reused before the master reaps it, so a slot cannot be
 * freed on behalf of the wrong process.
 */
#include "pool.h"
#include "clock.h"
#include "promtext.h"

#include <stddef.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct pool *pool_shared;

/* Time between two looks for a free hashing slot. */
#define HASH_POLL_MS 2

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)

int pool_init(void)
{
  void *p = mmap(NULL, sizeof(struct pool), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if(p == MAP_FAILED)
    return -1;
  pool_shared = p;                /* zero-filled by the kernel */
  return 0;
}

int pool_hash_slots_for(int workers, int configured)
{
  int n = configured > 0 ? configured : workers - 1;
  if(n < 1)
    n = 1;
  return n > POOL_HASH_SLOTS_MAX ? POOL_HASH_SLOTS_MAX : n;
}

void pool_worker_started(int slot, pid_t pid)
{
  if(!pool_shared || slot < 0 || slot >= POOL_WORKERS_MAX)
    return;
  STORE(pool_shared->workers[slot].pid, pid);
}

void pool_worker_gone(int slot, pid_t pid)
{
  if(!pool_shared)
    return;
  if(slot >= 0 && slot < POOL_WORKERS_MAX) {
    STORE(pool_shared->workers[slot].pid, 0);
    STORE(pool_shared->workers[slot].busy_since, 0);
  }
  for(int i = 0; i < POOL_HASH_SLOTS_MAX; i++) {
    int holder = pid;
    atomic_compare_exchange_strong(&pool_shared->hash_holder[i], &holder, 0);
  }
}

long pool_worker_busy_ms(int slot, long now)
{
  long since;

  if(!pool_shared || slot < 0 || slot >= POOL_WORKERS_MAX)
    return 0;
  since = LOAD(pool_shared->workers[slot].busy_since);
  return since ? now - since : 0;
}

void pool_request_begin(int slot)
{
  if(pool_shared && slot >= 0 && slot < POOL_WORKERS_MAX)
    STORE(pool_shared->workers[slot].busy_since, clock_ms());
}

void pool_request_end(int slot)
{
  if(pool_shared && slot >= 0 && slot < POOL_WORKERS_MAX)
    STORE(pool_shared->workers[slot].busy_since, 0);
}

/* True when some worker other than me is alive and between requests, so
 * it can take whatever arrives while I wait. */
static bool another_worker_idle(pid_t me)
{
  for(int i = 0; i < POOL_WORKERS_MAX; i++) {
    const struct pool_worker *w = &pool_shared->workers[i];
    int pid = LOAD(w->pid);
    if(pid && pid != me && !LOAD(w->busy_since))
      return true;
  }
  return false;
}

static bool take_free_slot(pid_t me)
{
  int n = LOAD(pool_shared->hash_slots);

  for(int i = 0; i < n && i < POOL_HASH_SLOTS_MAX; i++) {
    int expected = 0;
    if(!LOAD(pool_shared->hash_holder[i]) &&
       atomic_compare_exchange_strong(&pool_shared->hash_holder[i],
                                      &expected, me))
      return true;
  }
  return false;
}

int pool_hash_acquire(int wait_ms)
{
  const struct timespec pause = {0, HASH_POLL_MS * 1000000L};
  pid_t me = getpid();
  long start;

  if(!pool_shared)
    return 0;
  start = clock_ms();
  for(;;) {
    if(take_free_slot(me))
      return 0;
    if(clock_ms() - start >= wait_ms || !another_worker_idle(me))
      break;
    nanosleep(&pause, NULL);
  }
  ADD(pool_shared->hash_refused, 1);
  return -1;
}

void pool_hash_release(void)
{
  pid_t me;

  if(!pool_shared)
    return;
  me = getpid();
  for(int i = 0; i < POOL_HASH_SLOTS_MAX; i++) {
    int holder = me;
    if(LOAD(pool_shared->hash_holder[i]) == me)
      atomic_compare_exchange_strong(&pool_shared->hash_holder[i], &holder,
                                     0);
  }
}

/* A fixed window per minute of the monotonic clock.  The first caller of
 * a new minute resets the count; a caller that raced with the reset may
 * be counted in the old window, which errs by a few registrations at a
 * minute's edge, never by more than the workers. */
bool pool_register_allow(int per_minute, long now, int *retry_after)
{
  long minute = now / 60000, seen;

  if(!pool_shared)
    return true;
  seen = LOAD(pool_shared->register_minute);
  if(seen != minute &&
     atomic_compare_exchange_strong(&pool_shared->register_minute, &seen,
                                    minute))
    STORE(pool_shared->register_count, 0);
  if(ADD(pool_shared->register_count, 1) < per_minute)
    return true;
  ADD(pool_shared->register_refused, 1);
  *retry_after = (int)(60 - (now / 1000) % 60);
  return false;
}

void pool_render(struct dynbuf *o)
{
  struct pool empty = {0};
  const struct pool *p = pool_shared ? pool_shared : &empty;
  int hashing = 0, busy = 0;

  for(int i = 0; i < POOL_HASH_SLOTS_MAX; i++)
    hashing += LOAD(p->hash_holder[i]) != 0;
  for(int i = 0; i < POOL_WORKERS_MAX; i++)
    busy += LOAD(p->workers[i].pid) && LOAD(p->workers[i].busy_since);
  promtext_family(o, "trackly_api_hashing_slots", "gauge",
       "Workers that may hash a password at once (API_HASHING_SLOTS).");
  promtext_put(o, "trackly_api_hashing_slots %d\n", LOAD(p->hash_slots));
  promtext_family(o, "trackly_api_hashing", "gauge",
       "Workers hashing a password now.");
  promtext_put(o, "trackly_api_hashing %d\n", hashing);
  promtext_family(o, "trackly_api_hashing_refused_total", "counter",
       "Requests answered 429 because every hashing slot stayed taken.");
  promtext_put(o, "trackly_api_hashing_refused_total %llu\n",
       (unsigned long long)LOAD(p->hash_refused));
  promtext_family(o, "trackly_api_registrations_refused_total", "counter",
       "Registrations answered 429 over API_REGISTRATIONS_PER_MINUTE.");
  promtext_put(o, "trackly_api_registrations_refused_total %llu\n",
       (unsigned long long)LOAD(p->register_refused));
  promtext_family(o, "trackly_api_workers_busy", "gauge",
       "Workers in a request now (this one included).");
  promtext_put(o, "trackly_api_workers_busy %d\n", busy);
  promtext_family(o, "trackly_api_workers_hung_total", "counter",
       "Workers killed for being in one request past "
       "API_HUNG_WORKER_SECONDS.");
  promtext_put(o, "trackly_api_workers_hung_total %llu\n",
       (unsigned long long)LOAD(p->workers_hung));
}
