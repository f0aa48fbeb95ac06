/*
 * pool.h - what the API's worker processes share to keep each other
 * available: a "busy since" stamp per worker, the password-hashing slots
 * and the registration rate window.
 *
 * Like the metrics, it is one block of shared memory that the master maps
 * before the first fork (pool_init), so every worker and the master see
 * the same words and change them with atomics.
 *
 * - Busy stamps: a worker writes the monotonic time when it takes a
 *   request and clears it when the answer is out.  The master reads them
 *   and kills a worker that has been in one request for longer than
 *   API_HUNG_WORKER_SECONDS (stopped, wedged, looping), then starts a
 *   fresh one.  CLOCK_MONOTONIC is the same clock in every process.
 * - Hashing slots: Argon2id takes a worker for tens of milliseconds and
 *   19 MiB, and a flood of logins from many addresses passes nginx's
 *   per-address limits.  At most pool->hash_slots workers hash at once
 *   (default API_WORKERS - 1, at least 1), so the others stay free for
 *   every other route.  A slot holds its holder's pid; the master gives
 *   back the slots of a worker it reaps, so a worker killed mid-hash
 *   leaks nothing.
 * - Registrations: a one-minute window counted for the whole host.
 *
 * Everything here does nothing while pool_shared is NULL (unit tests,
 * fuzzers): pool_hash_acquire then always succeeds.
 */
#ifndef TRACKLY_POOL_H
#define TRACKLY_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Worker slots: the master's table, N workers plus one during a reload. */
#define POOL_WORKERS_MAX 520
/* API_HASHING_SLOTS may not exceed this. */
#define POOL_HASH_SLOTS_MAX 256

struct pool_worker {
  atomic_int pid;                  /* 0: no worker in this slot */
  atomic_long busy_since;          /* monotonic ms; 0 while idle */
};

struct pool {
  struct pool_worker workers[POOL_WORKERS_MAX];
  atomic_int hash_holder[POOL_HASH_SLOTS_MAX];   /* pid, or 0: free */
  atomic_int hash_slots;           /* how many of hash_holder are in use */
  atomic_long register_minute;     /* the window register_count counts */
  atomic_int register_count;
  atomic_uint_fast64_t hash_refused;      /* 429: no hashing slot */
  atomic_uint_fast64_t register_refused;  /* 429: registration rate */
  atomic_uint_fast64_t workers_hung;      /* killed after the hung bound */
};

extern struct pool *pool_shared;

/* Maps the shared block; the master calls it before forking.  Returns 0,
 * or -1 with errno set. */
int pool_init(void);

/* The hashing slots for n workers when API_HASHING_SLOTS is configured
 * (0: automatic, n - 1 and at least 1). */
int pool_hash_slots_for(int workers, int configured);

/* Master side. */
void pool_worker_started(int slot, pid_t pid);
/* Forgets the worker in slot and frees every hashing slot pid held. */
void pool_worker_gone(int slot, pid_t pid);
/* How long (ms) the worker in slot has been in its request; 0 when idle. */
long pool_worker_busy_ms(int slot, long now);

/* Worker side: the request in hand starts or ends. */
void pool_request_begin(int slot);
void pool_request_end(int slot);

/* Takes a hashing slot for the calling process.  While none is free it
 * waits, up to wait_ms, but only as long as another worker is idle:
 * waiting while every other worker is busy would take the last worker
 * away from the other routes.  Returns 0 with a slot held, -1 without. */
int pool_hash_acquire(int wait_ms);
/* Gives back the slot the calling process holds, if any. */
void pool_hash_release(void);

/* Counts one registration against per_minute for this minute.  Returns
 * true when it is allowed; otherwise false with *retry_after the seconds
 * until the next window. */
bool pool_register_allow(int per_minute, long now, int *retry_after);

/* Appends the pool's gauges and counters in the Prometheus text format. */
struct dynbuf;
void pool_render(struct dynbuf *o);

#endif
