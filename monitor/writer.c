/*
 * writer.c - the thread that writes finished checks and prunes; see
 * writer.h.
 */
#include "writer.h"
#include "clock.h"
#include "log.h"
#include "retention.h"
#include "scheduler.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MS 1000            /* the database away: try again after */
#define PRUNE_EVERY_MS 60000
#define PRUNE_BATCH 5000
#define PRUNE_ROUNDS 10          /* batches per minute, at most */
#define PRUNE_PROJECTS 1000      /* projects whose old totals go per batch */
#define ROLL_UP_EVERY_MS 3600000 /* the daily totals from the hourly ones */
#define PURGE_ACCOUNTS_BATCH 50  /* unverified accounts deleted per minute */

/* Keeps the history to its bounds (retention.h) and deletes
 * long-unverified accounts: small batches, a bounded number per minute,
 * never a long lock.  The days ahead are made even by a monitor that
 * prunes nothing (--once), so its checks have a partition to go to. */
static void prune(struct writer *w)
{
  int64_t n, total = 0, now = clock_ms();
  int64_t days = w->cfg->check_retention_days;

  if(now < w->next_prune)
    return;
  w->next_prune = now + PRUNE_EVERY_MS;
  if(retention_add_days(&w->db) > 0)
    log_info("made the checks' partitions of the days ahead");
  if(!w->prune)
    return;
  n = retention_drop_days(&w->db, days);
  if(n > 0)
    log_info("dropped %lld days of checks older than %lld days",
             (long long)n, (long long)days);
  /* Up to PRUNE_ROUNDS batches of projects a minute, ending with a sweep
   * (100,000 projects: once every ten minutes). */
  for(int i = 0; i < PRUNE_ROUNDS; i++) {
    n = retention_prune_totals(&w->db, &w->totals_after, PRUNE_PROJECTS);
    if(n < 0)
      break;
    total += n;
    if(!w->totals_after)
      break;
  }
  if(total)
    log_info("deleted %lld hourly and daily totals past their age",
             (long long)total);
  /* The daily totals: a sweep of the projects every hour, up to
   * PRUNE_ROUNDS batches a minute, so that a large one never holds the
   * results back for long. */
  if(w->rolling || now >= w->next_roll_up) {
    w->rolling = true;
    for(int i = 0; i < PRUNE_ROUNDS; i++) {
      if(retention_roll_up(&w->db, &w->roll_up_after, PRUNE_PROJECTS) < 0)
        break;
      if(!w->roll_up_after) {
        w->rolling = false;
        w->next_roll_up = now + ROLL_UP_EVERY_MS;
        break;
      }
    }
  }
  scheduler_prune(&w->db, days, PRUNE_BATCH);
  /* One small batch a minute: each account may take its projects' checks
   * with it. */
  n = scheduler_purge_unverified(&w->db, w->cfg->unverified_account_days,
                                 PURGE_ACCOUNTS_BATCH);
  if(n > 0)
    log_info("deleted %lld accounts still unverified after %lld days",
             (long long)n, (long long)w->cfg->unverified_account_days);
}

/* Takes up to WRITER_BATCH checks off the head of the queue (lock held);
 * *count says how many. */
static struct check *take_batch(struct writer *w, int *count)
{
  struct check *head = w->queue, *last = head;
  int n = 1;

  if(!head) {
    *count = 0;
    return NULL;
  }
  while(n < WRITER_BATCH && last->next) {
    last = last->next;
    n++;
  }
  w->queue = last->next;
  if(!w->queue)
    w->queue_tail = NULL;
  last->next = NULL;
  *count = n;
  return head;
}

/* Puts a batch that could not be written back at the head of the queue
 * (lock held), dropping the oldest checks beyond WRITER_MAX_QUEUED. */
static void put_back(struct writer *w, struct check *batch)
{
  struct check *last = batch, *drop;
  int over, dropped = 0;

  while(last->next)
    last = last->next;
  last->next = w->queue;
  if(!w->queue)
    w->queue_tail = last;
  w->queue = batch;
  /* Nothing is in hand now: the backlog is what is queued. */
  over = atomic_load(&w->backlog) - WRITER_MAX_QUEUED;
  while(over-- > 0 && w->queue) {
    drop = w->queue;
    w->queue = drop->next;
    drop->next = NULL;
    check_free_list(drop);
    dropped++;
  }
  if(!w->queue)
    w->queue_tail = NULL;
  if(dropped) {
    atomic_fetch_sub(&w->backlog, dropped);
    log_error("database unavailable: dropped %d unwritten results (more "
              "than %d waiting); their projects are checked again when "
              "their leases expire", dropped, WRITER_MAX_QUEUED);
  }
}

/* Writes one batch.  Returns 0, or -1 when the database failed (the batch
 * is untouched). */
static int write_batch(struct writer *w, struct check *batch, int count)
{
  uint64_t one = 1;
  int mails, n = results_write(&w->db, w->results, batch, &mails);

  if(n < 0) {
    /* A day without its partition fails the whole batch: make it now
     * rather than at the next minute (harmless when that was not it). */
    retention_add_days(&w->db);
    return -1;
  }
  if(n < count)
    log_warn("%d results dropped: their leases had passed to another "
             "monitor", count - n);
  if(mails)
    log_info("%d alert mails queued", mails);
  atomic_fetch_add(&w->stats->mail_queued, (uint64_t)mails);
  check_free_list(batch);
  atomic_fetch_sub(&w->backlog, count);
  /* These projects have new slots (maybe a second away): the loop looks
   * again.  Once per batch written, so never a spin. */
  if(write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
    log_warn("cannot wake the check loop: %s", strerror(errno));
  return 0;
}

/* At the stop: what could not be written goes back to the pool at once
 * instead of waiting for its lease to expire. */
static void give_up(struct writer *w, struct check *batch, int count)
{
  scheduler_release(&w->db, w->results->owner, batch);
  check_free_list(batch);
  atomic_fetch_sub(&w->backlog, count);
}

/* Waits on the condition until deadline (clock_ms()), or a push or stop. */
static void wait_until(struct writer *w, int64_t deadline)
{
  struct timespec ts;
  int64_t ms = deadline - clock_ms();

  if(ms <= 0)
    return;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if(ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_cond_timedwait(&w->cond, &w->lock, &ts);
}

static void *run(void *arg)
{
  struct writer *w = arg;
  bool failing = false;         /* the stop: the database failed once */

  pthread_mutex_lock(&w->lock);
  for(;;) {
    struct check *batch;
    bool stop = w->stop;
    int count;

    /* Between batches too: a monitor that is never idle still prunes. */
    if(!stop && clock_ms() >= w->next_prune) {
      pthread_mutex_unlock(&w->lock);
      prune(w);
      pthread_mutex_lock(&w->lock);
      continue;
    }
    if(!w->queue) {
      if(stop)
        break;
      wait_until(w, w->next_prune);
      continue;
    }
    batch = take_batch(w, &count);
    pthread_mutex_unlock(&w->lock);
    if(failing)
      give_up(w, batch, count);
    else if(write_batch(w, batch, count)) {
      if(stop) {
        /* One try each at the stop: the database is away. */
        failing = true;
        give_up(w, batch, count);
      }
      else {
        pthread_mutex_lock(&w->lock);
        put_back(w, batch);
        wait_until(w, clock_ms() + RETRY_MS);
        continue;
      }
    }
    pthread_mutex_lock(&w->lock);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

int writer_start(struct writer *w, const struct config *cfg,
                 const struct results_options *results, struct stats *stats,
                 const struct db_statement *const *lists,
                 int statement_timeout_ms, bool prune_old)
{
  pthread_condattr_t attr;

  memset(w, 0, sizeof(*w));
  w->cfg = cfg;
  w->results = results;
  w->stats = stats;
  w->prune = prune_old;
  atomic_init(&w->backlog, 0);
  db_init(&w->db, cfg->db_url, "trackly-monitor-writer", statement_timeout_ms,
          lists);
  w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if(w->wake_fd < 0)
    return -1;
  if(pthread_condattr_init(&attr)) {
    close(w->wake_fd);
    return -1;
  }
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if(pthread_cond_init(&w->cond, &attr)) {
    pthread_condattr_destroy(&attr);
    close(w->wake_fd);
    return -1;
  }
  pthread_condattr_destroy(&attr);
  pthread_mutex_init(&w->lock, NULL);
  if(pthread_create(&w->thread, NULL, run, w)) {
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    close(w->wake_fd);
    return -1;
  }
  w->running = true;
  return 0;
}

void writer_push(struct writer *w, struct check *list, int count)
{
  struct check *last = list;

  if(!list)
    return;
  while(last->next)
    last = last->next;
  pthread_mutex_lock(&w->lock);
  atomic_fetch_add(&w->backlog, count);   /* under the lock: see put_back */
  if(w->queue_tail)
    w->queue_tail->next = list;
  else
    w->queue = list;
  w->queue_tail = last;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

int writer_backlog(struct writer *w)
{
  return atomic_load(&w->backlog);
}

int writer_fd(const struct writer *w)
{
  return w->running ? w->wake_fd : -1;
}

bool writer_written(struct writer *w)
{
  uint64_t n;

  return w->running && read(w->wake_fd, &n, sizeof(n)) == sizeof(n);
}

void writer_stop(struct writer *w)
{
  if(!w->running)
    return;
  pthread_mutex_lock(&w->lock);
  w->stop = true;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  w->running = false;
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
  close(w->wake_fd);
  db_close(&w->db);
}
