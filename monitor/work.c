/*
 * work.c - what trackly-monitor's check loop does each turn (main.c runs
 * the loop): claim due projects fairly and start them, take the finished
 * checks and hand them in batches to the writer thread, and say when the
 * check slots are too few.  See daemon.h.
 */
#include "clock.h"
#include "daemon.h"
#include "fairshare.h"
#include "log.h"
#include "scheduler.h"

#include <stdatomic.h>

#define CLAIM_BATCH 400          /* projects claimed per statement */
#define RESCAN_MS 5000           /* look for due work at least this often */
#define HELD_BACK_MS 500         /* ... this often when some waits its turn */
#define CLAIM_REST_MS 50         /* after a claim that took all that was due */

/* Hands the finished checks to the writer thread (writer.h), which
 * writes them in batches on its own connection: the loop never waits on
 * the database for them. */
void work_write_results(struct daemon *d)
{
  if(!d->unwritten)
    return;
  writer_push(&d->writer, d->unwritten, d->unwritten_count);
  d->unwritten = d->unwritten_tail = NULL;
  d->unwritten_count = 0;
}

void work_take_finished(struct daemon *d)
{
  struct check *list = prober_take_done(&d->prober);

  if(!list)
    return;
  if(!d->unwritten)
    d->unwritten_since = clock_ms();
  if(d->unwritten_tail)
    d->unwritten_tail->next = list;
  else
    d->unwritten = list;
  for(; list; list = list->next) {
    d->unwritten_count++;
    d->unwritten_tail = list;
    atomic_fetch_add(list->ok ? &d->stats.checks_up : &d->stats.checks_down,
                     1);
    stats_observe(&d->stats.duration, list->latency_ms);
  }
}

/* The user with the most checks in flight here, and how many (*most);
 * -1 when none.  Only for a warning, at most once a minute. */
static int64_t busiest_user(const struct prober *p, int *most)
{
  struct fairshare_users u;
  int64_t best = -1;

  *most = 0;
  if(fairshare_count(p->flying, p->in_flight, &u))
    return -1;
  for(int i = 0; i < u.count; i++)
    if(u.busy[i] > *most) {
      *most = u.busy[i];
      best = u.ids[i];
    }
  fairshare_users_free(&u);
  return best;
}

/* Says, at most once a minute, that due checks have been left waiting for
 * 10 s without a break: only the reserve is free, or the users they belong
 * to come after others in the round (their own slow or hanging checks hold
 * slots), so they start late - the fairness working.  If it is every
 * user, the cure is the one of warn_full. */
static void warn_held(struct daemon *d, int64_t now)
{
  int64_t user;
  int most;

  if(!d->held_since)
    d->held_since = now;
  if(now - d->held_since < 10000 || now < d->next_held_warning)
    return;
  d->next_held_warning = now + 60000;
  user = busiest_user(&d->prober, &most);
  log_warn("due checks have waited for their turn at the %d check slots "
           "for %lld s (%d in flight; user %lld has the most, %d); they "
           "start late", d->prober.max_in_flight,
           (long long)(now - d->held_since) / 1000, d->prober.in_flight,
           (long long)user, most);
}

/* The loop's connection holds the claim in flight (db_send): one truth,
 * not a flag beside it. */
bool work_claiming(const struct daemon *d)
{
  return d->db.pending != NULL;
}

/* Sends a claim for as much due work as there is room for, fairly
 * between users (fairshare.h).  The loop goes on driving the checks in
 * flight while PostgreSQL picks (work_claim_done takes the answer): a
 * claim at 300,000 projects takes 15 ms, a quarter of the loop's time
 * when it waited for each.  The room cannot shrink meanwhile, since only
 * a claim starts checks.  A one-pass run takes everything due at its
 * start, so it keeps no reserve. */
void work_claim(struct daemon *d)
{
  int64_t now = clock_ms();
  int room = d->prober.max_in_flight - d->prober.in_flight;
  int want = room < CLAIM_BATCH ? room : CLAIM_BATCH;
  struct fairshare_slots slots = {
    .total = d->prober.max_in_flight,
    .reserve = d->once ? 0 : fairshare_reserve(d->prober.max_in_flight),
    .free = room,
  };
  int64_t wait;

  if(work_claiming(d) || d->stopping || now < d->next_claim || want <= 0)
    return;
  /* The last claim took everything that was due: what falls due next
   * trickles in (a project every 0.3 ms at 216,000 a minute), and a claim
   * for each trickle costs PostgreSQL the walk past every leased project
   * at the head of the due index.  What falls due meanwhile starts at
   * most CLAIM_REST_MS late, in one claim; wake-ups wait for it too. */
  if(now < d->claim_rest_until) {
    d->next_claim = d->claim_rest_until;
    return;
  }
  /* Fewer, larger claims; not for the reserve (fairshare.h). */
  wait = fairshare_claim_wait(&slots, now - d->last_claim);
  if(wait > 0) {
    d->next_claim = now + wait;
    return;
  }
  /* The writer is behind (a slow or absent database): more checks would
   * only wait in memory.  It wakes us after each batch it writes. */
  if(writer_backlog(&d->writer) > WRITER_BACKLOG) {
    d->next_claim = now + DB_RETRY_MS;
    return;
  }
  d->last_claim = now;
  d->claim_asked = wall_ms();
  if(scheduler_claim_send(&d->db, d->owner, want, &slots, d->prober.flying,
                          d->prober.in_flight)) {
    d->next_claim = now + DB_RETRY_MS;
    return;
  }
  d->claim_want = want;
  atomic_fetch_add(&d->stats.claims, 1);
  /* Set by the answer; a wake-up meanwhile (a batch written, a NOTIFY)
   * sets it to 0, and then the answer is followed by another claim. */
  d->next_claim = INT64_MAX;
}

/* When to claim again after a claim that took n of what it asked for. */
static int64_t after_claim(struct daemon *d, int n, int64_t now, int64_t wall)
{
  int64_t due;

  if(n < 0)
    return now + DB_RETRY_MS;
  if(n == d->claim_want)
    return now;                   /* there may be more */
  due = scheduler_next_due(&d->db);
  if(due >= 0 && due < d->claim_asked) {
    /* Due work the claim saw and left: its owners wait for their turn
     * (or another monitor is claiming it).  A finished check makes room
     * and wakes us (write_results); until then look again now and then,
     * not in a spin, for other users' work falling due.  (Work that fell
     * due during the claim is claimed at once, below.) */
    warn_held(d, now);
    return now + HELD_BACK_MS;
  }
  d->held_since = 0;
  /* due is calendar time (the database's); next_claim is ours. */
  return due < 0 || due > wall + RESCAN_MS ? now + RESCAN_MS :
         now + (due - wall);
}

void work_claim_done(struct daemon *d)
{
  struct check *list = NULL;
  int taken_over = 0, n;
  bool woken = d->next_claim == 0, took_all_due;
  int64_t now, wall;

  if(!work_claiming(d) || !db_result_ready(&d->db))
    return;
  n = scheduler_claim_take(&d->db, &list, &taken_over);
  now = clock_ms();
  wall = wall_ms();
  if(taken_over)
    log_warn("took over %d expired leases", taken_over);
  if(n > 0) {
    atomic_fetch_add(&d->stats.leases_claimed, (uint64_t)n);
    atomic_fetch_add(&d->stats.leases_expired, (uint64_t)taken_over);
  }
  /* Started even when told to stop meanwhile: they are leased to us. */
  while(list) {
    struct check *c = list;
    list = list->next;
    stats_observe(&d->stats.lag, wall - c->scheduled_ms);
    prober_start(&d->prober, c);
  }
  /* Less than it asked for: nothing due was left (or it waits its turn). */
  took_all_due = n >= 0 && n < d->claim_want;
  if(d->once && took_all_due) {
    d->stopping = true;           /* everything due at start is claimed */
    return;
  }
  d->claim_rest_until = took_all_due ? now + CLAIM_REST_MS : 0;
  d->next_claim = after_claim(d, n, now, wall);
  if(woken && d->next_claim > now)
    d->next_claim = now;
}

/* Says, at most once a minute, that every check slot has been busy for
 * 10 s without a break: due checks are then starting late, and the cure is
 * a higher MONITOR_CONCURRENCY (it must exceed checks per second times the
 * mean check time) or another monitor. */
void work_warn_full(struct daemon *d, int64_t now)
{
  if(!d->full_since)
    d->full_since = now;
  if(now - d->full_since < 10000 || now < d->next_full_warning)
    return;
  d->next_full_warning = now + 60000;
  log_warn("all %d check slots have been busy for %lld s: checks start "
           "late; raise MONITOR_CONCURRENCY or start another monitor",
           d->prober.max_in_flight, (long long)(now - d->full_since) / 1000);
}

/* A monitor restarted after SIGKILL (systemd's Restart=on-failure) finds
 * the leases of its previous run still on the projects it was checking;
 * waiting for them to expire (timeout + 30 s) would make those checks late
 * by more than an interval, so it takes them back at once. */
void work_take_back_leases(struct daemon *d)
{
  int n, mails;

  if(d->stopping)
    return;
  n = scheduler_take_back(&d->db, d->name, d->owner, &mails);
  if(n > 0 || (n == 0 && mails > 0))
    log_warn("took back %d leases and %d mail claims left by an earlier "
             "run of %s", n, mails, d->name);
  else if(n < 0)
    log_warn("could not take back the leases of an earlier run; they "
             "expire on their own");
}
