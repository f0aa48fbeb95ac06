/*
 * daemon.h - the state of trackly-monitor's check thread, shared by
 * main.c (the loop, signals, systemd, the metrics file) and work.c (what
 * the loop does each turn: claim due projects, take finished checks and
 * hand them to the writer thread, writer.h, which writes them and prunes).
 *
 * Memory: main() owns the one struct daemon; nothing here frees it.
 */
#ifndef TRACKLY_DAEMON_H
#define TRACKLY_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "mailer.h"
#include "prober.h"
#include "results.h"
#include "stats.h"
#include "writer.h"

#define DB_RETRY_MS 1000         /* the database away: try again after */

struct daemon {
  struct config cfg;
  struct db db;                  /* claims, LISTEN, the metrics' outbox */
  struct prober prober;
  struct writer writer;          /* writes results, prunes: own thread */
  struct mailer mailer;
  struct results_options results;
  char name[64];                 /* MONITOR_ID, or the host name */
  char owner[128];               /* name:pid, on each lease we take */
  bool once, stopping, ready, failed;
  int signal_fd;
  struct check *unwritten;       /* finished, not yet handed to writer */
  struct check *unwritten_tail;
  int unwritten_count;
  /* Moments below are clock_ms() (monotonic): they measure time in this
   * process.  Only instants that meet the database (a check's slot, when
   * work falls due) are wall_ms(). */
  int64_t unwritten_since;
  int64_t next_claim;            /* when to look for due work again */
  int64_t last_claim;            /* when the last claim was sent */
  int64_t claim_rest_until;      /* none before (it took all that was due) */
  /* The claim in flight (db.pending says there is one): */
  int claim_want;                /* asked for this many */
  int64_t claim_asked;           /* at this wall_ms() */
  int64_t full_since;            /* every slot busy since (0: not) */
  int64_t next_full_warning;
  int64_t held_since;            /* due work waiting its turn since (0) */
  int64_t next_held_warning;
  uint64_t watchdog_usec;
  int64_t last_watchdog;
  struct stats stats;            /* shared with the mailer; see stats.h */
  const char *stats_file;        /* MONITOR_METRICS_FILE, or NULL */
  int64_t next_stats;
  bool stats_failing;            /* said so already */
};

/* Whether a claim has been sent and its answer not yet taken. */
bool work_claiming(const struct daemon *d);

/* Sends a claim for as much due work as there is room for, when it is
 * time and none is in flight; the loop keeps probing meanwhile. */
void work_claim(struct daemon *d);
/* Takes the answer to the claim in flight, once the database has sent it
 * (db_result_ready), and starts the checks it claimed. */
void work_claim_done(struct daemon *d);
/* Moves finished checks to the unwritten list, counting them. */
void work_take_finished(struct daemon *d);
/* Hands the unwritten checks to the writer thread. */
void work_write_results(struct daemon *d);
/* Warns, at most once a minute, when every slot stays busy. */
void work_warn_full(struct daemon *d, int64_t now);
/* Takes back the leases an earlier run of this monitor left. */
void work_take_back_leases(struct daemon *d);

#endif
