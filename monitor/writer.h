/*
 * writer.h - writing finished checks, and pruning, on a thread of its own.
 *
 * The check loop (main.c) must never wait on PostgreSQL while transfers
 * could be starting or ending: a batch of results costs the database
 * several milliseconds, and one connection serialises the claims, the
 * writes and the housekeeping on one backend.  So the writer owns a second
 * connection: the loop hands it finished checks (writer_push, which never
 * blocks) and goes back to probing; the writer writes them in batches of
 * up to WRITER_BATCH (results.c: one statement, one transaction each) and,
 * once a minute, keeps the history to its bounds (retention.h) and
 * deletes long-unverified accounts.  After
 * each batch written it wakes the loop through an eventfd (writer_fd), so
 * the projects' new slots are claimed without delay.
 *
 * A finished check keeps its project's lease until it is written, so no
 * other claim can take the project meanwhile; the lease is what makes the
 * hand-over safe between threads and between monitors.  When the database
 * is away the writer keeps the checks and tries again every second,
 * up to WRITER_MAX_QUEUED (then it drops the oldest, and their projects
 * are checked again when their leases expire).  The loop stops claiming
 * while more than WRITER_BACKLOG checks wait (writer_backlog), so a slow
 * database slows the probing instead of filling memory.
 *
 * Memory: the caller owns struct writer; every check pushed becomes the
 * writer's, which frees it once written or dropped.
 */
#ifndef TRACKLY_WRITER_H
#define TRACKLY_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "config.h"
#include "db.h"
#include "results.h"
#include "stats.h"

#define WRITER_BATCH 500         /* results written per statement, at most */
#define WRITER_BACKLOG 2000      /* the loop claims nothing above this */
#define WRITER_MAX_QUEUED 50000  /* kept while the database is away */

struct writer {
  struct db db;                          /* the writer's own connection */
  const struct config *cfg;              /* borrowed */
  const struct results_options *results; /* borrowed */
  struct stats *stats;                   /* mail_queued; borrowed */
  bool prune;                            /* delete old rows once a minute */
  pthread_t thread;
  int wake_fd;          /* eventfd: the writer wrote a batch (loop polls) */
  bool running;
  pthread_mutex_t lock;
  pthread_cond_t cond;                   /* checks pushed, or stop */
  struct check *queue, *queue_tail;      /* under lock */
  bool stop;                             /* under lock */
  atomic_int backlog;   /* queued plus the batch in hand */
  /* Thread only: */
  int64_t next_prune;
  int64_t next_roll_up;                  /* check_days, once an hour */
  int64_t roll_up_after;                 /* the roll-up's place: project id */
  bool rolling;                          /* a roll-up sweep is under way */
  int64_t totals_after;                  /* the pruning's place: project id */
};

/* Opens (lazily) the writer's connection to cfg's database, preparing
 * lists, and starts its thread.  prune: drop old checks, totals and
 * unverified accounts once a minute (not in a one-pass run; the days'
 * partitions are made either way).  cfg, results and stats
 * must outlive the thread.  Returns 0, or -1 (nothing started). */
int writer_start(struct writer *w, const struct config *cfg,
                 const struct results_options *results, struct stats *stats,
                 const struct db_statement *const *lists,
                 int statement_timeout_ms, bool prune);

/* Hands a list of finished checks (linked by next, count of them) to the
 * writer.  Never blocks on the database. */
void writer_push(struct writer *w, struct check *list, int count);

/* Checks pushed and not yet written. */
int writer_backlog(struct writer *w);

/* The eventfd the loop polls: readable after a batch was written. */
int writer_fd(const struct writer *w);

/* Reads writer_fd dry; true when a batch was written since the last call. */
bool writer_written(struct writer *w);

/* Writes what is queued (one try per batch), gives back the leases of
 * what could not be written, stops the thread and closes its connection.
 * Safe on a writer never started. */
void writer_stop(struct writer *w);

#endif
