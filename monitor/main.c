/*
 * main.c - trackly-monitor: the loop that claims due projects, probes
 * them, and writes the results, with the mailer on its own thread.
 *
 * One thread does the checks: it claims work from Postgres (scheduler.c),
 * hands it to libcurl's multi interface (prober.c), and writes finished
 * checks in batches (results.c).  It sleeps in curl_multi_poll, which also
 * watches a signalfd (SIGTERM, SIGINT) and the database socket (LISTEN
 * trackly_wakeup), so a stop request, a change made through the API and a
 * finished transfer all wake it at once.  The database calls it makes are
 * short, bounded by a statement timeout, and never made while waiting on
 * the network.
 */
#include "clock.h"
#include "config.h"
#include "db.h"
#include "fairshare.h"
#include "log.h"
#include "mailer.h"
#include "prober.h"
#include "results.h"
#include "scheduler.h"
#include "stats.h"
#include "trackly_build.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define CLAIM_BATCH 100          /* projects claimed per statement */
#define WRITE_BATCH 100          /* results written per statement */
#define WRITE_DELAY_MS 100       /* longest a finished check waits */
#define RESCAN_MS 5000           /* look for due work at least this often */
#define HELD_BACK_MS 500         /* ... this often when some waits its turn */
#define DB_RETRY_MS 1000
#define PRUNE_EVERY_MS 60000
#define PRUNE_BATCH 5000
#define PURGE_ACCOUNTS_BATCH 50  /* unverified accounts deleted per minute */
#define MAX_UNWRITTEN 50000      /* results kept while the database is away */
#define STATEMENT_TIMEOUT_MS 15000
#define ONCE_DB_WAIT_MS 30000
#define STATS_EVERY_MS 5000       /* MONITOR_METRICS_FILE rewritten */

static const struct db_statement *const statement_lists[] = {
  scheduler_statements,
  results_statements,
  stats_statements,
  NULL,
};

struct daemon {
  struct config cfg;
  struct db db;
  struct prober prober;
  struct mailer mailer;
  struct results_options results;
  char name[64];                 /* MONITOR_ID, or the host name */
  char owner[128];               /* name:pid, on each lease we take */
  bool once, stopping, ready, failed;
  int signal_fd;
  struct check *unwritten;       /* finished, waiting to be written */
  struct check *unwritten_tail;
  int unwritten_count;
  /* Moments below are clock_ms() (monotonic): they measure time in this
   * process.  Only instants that meet the database (a check's slot, when
   * work falls due) are wall_ms(). */
  int64_t unwritten_since;
  int64_t next_claim;            /* when to look for due work again */
  int64_t next_prune;
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

static void usage(FILE *out)
{
  fputs(
"Usage: trackly-monitor [OPTION]...\n"
"Trackly's monitor: probes every project on its schedule, records each\n"
"check, keeps the UP/DOWN state, and sends alert mail from the outbox.\n"
"\n"
"  -e, --env-file FILE   read NAME=value settings from FILE first\n"
"  -1, --once            check what is due now, send due mail, and exit\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"Configuration is read from the environment: DB_URL is required;\n"
"EMAIL_HOST (and EMAIL_PORT, EMAIL_USER, EMAIL_PASS, EMAIL_FROM, EMAIL_TLS)\n"
"enables mail; see trackly-monitor(8) or README.md for the rest.\n"
"Several monitors may share one database; each check is done once.\n"
"\n"
"Under systemd (Type=notify) it reports READY=1 once the database is\n"
"reachable, WATCHDOG=1 from its main loop, and STOPPING=1 on SIGTERM, after\n"
"which it lets checks in flight finish, writes them, and exits.\n",
    out);
}

/* Writes the finished checks.  On a database failure they are kept for
 * the next try (a bounded number; their leases expire meanwhile and the
 * projects are simply checked again). */
static void write_results(struct daemon *d)
{
  int mails, n;

  if(!d->unwritten)
    return;
  n = results_write(&d->db, &d->results, d->unwritten, &mails);
  if(n >= 0) {
    if(n < d->unwritten_count)
      log_warn("%d results dropped: their leases had passed to another "
               "monitor", d->unwritten_count - n);
    if(mails)
      log_info("%d alert mails queued", mails);
    atomic_fetch_add(&d->stats.mail_queued, (uint64_t)mails);
    /* These projects have new slots (maybe a second away): look again.
     * Once per written batch, so never a spin. */
    d->next_claim = 0;
    check_free_list(d->unwritten);
    d->unwritten = d->unwritten_tail = NULL;
    d->unwritten_count = 0;
    return;
  }
  if(d->unwritten_count > MAX_UNWRITTEN) {
    log_error("database unavailable: dropping %d unwritten results",
              d->unwritten_count);
    check_free_list(d->unwritten);
    d->unwritten = d->unwritten_tail = NULL;
    d->unwritten_count = 0;
  }
}

static void take_finished(struct daemon *d)
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

/* Claims as much due work as there is room for, fairly between users
 * (fairshare.h).  A one-pass run takes everything due at its start, so it
 * keeps no reserve. */
static void claim(struct daemon *d)
{
  int64_t now = clock_ms(), wall = wall_ms();

  while(!d->stopping && now >= d->next_claim) {
    int room = d->prober.max_in_flight - d->prober.in_flight;
    int want = room < CLAIM_BATCH ? room : CLAIM_BATCH;
    struct fairshare_slots slots = {
      .total = d->prober.max_in_flight,
      .reserve = d->once ? 0 : fairshare_reserve(d->prober.max_in_flight),
      .free = room,
    };
    struct check *list = NULL;
    int taken_over = 0, n;
    int64_t due, asked = wall_ms();

    if(want <= 0)
      return;
    n = scheduler_claim(&d->db, d->owner, want, &slots, d->prober.flying,
                        d->prober.in_flight, &list, &taken_over);
    if(n < 0) {
      d->next_claim = now + DB_RETRY_MS;
      return;
    }
    if(taken_over)
      log_warn("took over %d expired leases", taken_over);
    atomic_fetch_add(&d->stats.leases_claimed, (uint64_t)n);
    atomic_fetch_add(&d->stats.leases_expired, (uint64_t)taken_over);
    while(list) {
      struct check *c = list;
      list = list->next;
      stats_observe(&d->stats.lag, wall - c->scheduled_ms);
      prober_start(&d->prober, c);
    }
    if(n == want)
      continue;                 /* there may be more */
    if(d->once) {
      d->stopping = true;       /* everything due at start is claimed */
      return;
    }
    due = scheduler_next_due(&d->db);
    if(due >= 0 && due < asked) {
      /* Due work the claim saw and left: its owners wait for their turn
       * (or another monitor is claiming it).  A finished check makes room
       * and wakes us (write_results); until then look again now and then,
       * not in a spin, for other users' work falling due.  (Work that fell
       * due during the claim is claimed at once, below.) */
      d->next_claim = now + HELD_BACK_MS;
      warn_held(d, now);
      return;
    }
    d->held_since = 0;
    /* due is calendar time (the database's); next_claim is ours. */
    d->next_claim = due < 0 || due > wall + RESCAN_MS ? now + RESCAN_MS :
                    now + (due - wall);
    return;
  }
}

static void prune(struct daemon *d)
{
  int64_t now = clock_ms();
  int64_t n, total = 0;

  if(now < d->next_prune)
    return;
  d->next_prune = now + PRUNE_EVERY_MS;
  /* Small batches, a bounded number per minute: never a long lock. */
  for(int i = 0; i < 10; i++) {
    n = scheduler_prune(&d->db, d->cfg.check_retention_days, PRUNE_BATCH);
    if(n <= 0)
      break;
    total += n;
    if(n < PRUNE_BATCH)
      break;
  }
  if(total)
    log_info("deleted %lld checks older than %lld days", (long long)total,
             (long long)d->cfg.check_retention_days);
  /* One small batch a minute: each account may take its projects' checks
   * with it. */
  n = scheduler_purge_unverified(&d->db, d->cfg.unverified_account_days,
                                 PURGE_ACCOUNTS_BATCH);
  if(n > 0)
    log_info("deleted %lld accounts still unverified after %lld days",
             (long long)n, (long long)d->cfg.unverified_account_days);
}

/* Reads pending signals; SIGTERM and SIGINT start the stop. */
static void read_signals(struct daemon *d)
{
  struct signalfd_siginfo si;

  while(read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
    if(si.ssi_signo == SIGHUP) {
      log_info("SIGHUP ignored: restart the monitor to change settings");
      continue;
    }
    if(!d->stopping) {
      log_info("%s: stopping; %d checks in flight",
               si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM",
               d->prober.in_flight);
      sd_notify(0, "STOPPING=1");
    }
    d->stopping = true;
  }
}

/* Drains LISTEN notifications: any of them means "look for work now". */
static void read_notifications(struct daemon *d)
{
  PGnotify *n;
  bool any = false;

  if(!d->db.conn || !PQconsumeInput(d->db.conn))
    return;
  while((n = PQnotifies(d->db.conn))) {
    any = true;
    PQfreemem(n);
  }
  if(any)
    d->next_claim = 0;
}

static void watchdog(struct daemon *d)
{
  int64_t now = clock_ms();

  if(d->watchdog_usec &&
     (now - d->last_watchdog) * 2000 >= (int64_t)d->watchdog_usec) {
    sd_notify(0, "WATCHDOG=1");
    d->last_watchdog = now;
  }
}

/* Waits until the database answers (or a stop is asked for), then tells
 * systemd we are ready. */
static void wait_for_database(struct daemon *d)
{
  int64_t start = clock_ms();
  bool warned = false;

  while(!d->stopping && db_ensure(&d->db) != DB_OK) {
    struct pollfd pfd = {.fd = d->signal_fd, .events = POLLIN};
    if(!warned)
      log_warn("waiting for the database");
    warned = true;
    /* A one-pass run from cron should fail, not wait forever. */
    if(d->once && clock_ms() - start > ONCE_DB_WAIT_MS) {
      log_error("the database did not answer within %d s",
                ONCE_DB_WAIT_MS / 1000);
      d->stopping = d->failed = true;
      return;
    }
    watchdog(d);
    if(poll(&pfd, 1, DB_RETRY_MS) > 0)
      read_signals(d);
  }
  if(!d->stopping) {
    sd_notify(0, "READY=1\nSTATUS=checking");
    d->ready = true;
  }
}

/* Says, at most once a minute, that every check slot has been busy for
 * 10 s without a break: due checks are then starting late, and the cure is
 * a higher MONITOR_CONCURRENCY (it must exceed checks per second times the
 * mean check time) or another monitor. */
static void warn_full(struct daemon *d, int64_t now)
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
static void take_back_leases(struct daemon *d)
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

/* Rewrites MONITOR_METRICS_FILE every STATS_EVERY_MS, and at the end
 * (force).  A failure is logged once until a write succeeds again. */
static void write_stats(struct daemon *d, bool force)
{
  int64_t now = clock_ms();

  if(!d->stats_file || (!force && now < d->next_stats))
    return;
  d->next_stats = now + STATS_EVERY_MS;
  if(d->db.conn && PQstatus(d->db.conn) == CONNECTION_OK)
    stats_read_outbox(&d->stats, &d->db);
  else
    d->stats.outbox_pending = d->stats.outbox_oldest_s = -1;
  if(stats_write_file(&d->stats, d->stats_file)) {
    if(!d->stats_failing)
      log_warn("cannot write %s: %s", d->stats_file, strerror(errno));
    d->stats_failing = true;
  }
  else
    d->stats_failing = false;
}

static void run(struct daemon *d)
{
  wait_for_database(d);
  take_back_leases(d);
  /* Only now: the mailer's claims carry this run's owner, and a claim made
   * before take_back_leases would look like an earlier run's to it (the
   * same pid, as in a fresh container) and be released while in hand. */
  if(d->cfg.email_host && !d->once && !d->stopping &&
     mailer_start(&d->mailer, &d->cfg, d->owner, &d->stats, false))
    log_error("cannot start the mailer thread");
  while(!d->stopping || d->prober.in_flight || d->unwritten) {
    struct pollfd extra[2];
    int nextra = 0, timeout;
    int64_t now;

    claim(d);
    now = clock_ms();
    if(d->stopping)
      timeout = 100;
    else if(d->prober.in_flight >= d->prober.max_in_flight) {
      /* Every slot is busy: nothing to claim until a transfer ends, and a
       * transfer ending wakes curl_multi_poll anyway. */
      timeout = 1000;
      warn_full(d, now);
    }
    else {
      d->full_since = 0;
      timeout = (int)(d->next_claim - now < 0 ? 0 :
                      d->next_claim - now > 1000 ? 1000 :
                      d->next_claim - now);
    }
    /* Wake in time to tell systemd's watchdog we are alive. */
    if(d->watchdog_usec && timeout > (int)(d->watchdog_usec / 2000))
      timeout = (int)(d->watchdog_usec / 2000);
    extra[nextra++] = (struct pollfd){.fd = d->signal_fd, .events = POLLIN};
    if(d->db.conn && PQsocket(d->db.conn) >= 0)
      extra[nextra++] = (struct pollfd){.fd = PQsocket(d->db.conn),
                                        .events = POLLIN};
    prober_wait(&d->prober, extra, nextra, timeout);
    if(extra[0].revents)
      read_signals(d);
    if(nextra > 1 && extra[1].revents)
      read_notifications(d);

    take_finished(d);
    now = clock_ms();
    if(d->unwritten &&
       (d->unwritten_count >= WRITE_BATCH || !d->prober.in_flight ||
        now - d->unwritten_since >= WRITE_DELAY_MS)) {
      write_results(d);
      if(d->unwritten && d->stopping && !d->prober.in_flight)
        break;                  /* the database is away: give up */
    }
    if(!d->once)
      prune(d);
    write_stats(d, false);
    watchdog(d);
  }
  write_stats(d, true);
  /* Whatever could not be written goes back to the pool at once instead of
   * waiting for its lease to expire. */
  scheduler_release(&d->db, d->owner, d->unwritten);
  check_free_list(d->unwritten);
  d->unwritten = NULL;
}

/* The monitor's name in its leases: MONITOR_ID, or the host name.  It
 * must stay the same across restarts (so a restarted monitor knows its own
 * leases) and differ between monitors on different hosts. */
static int monitor_name(char *out, size_t cap, char *err, size_t errcap)
{
  const char *id = getenv("MONITOR_ID");
  size_t len;

  if(!id || !*id) {
    if(gethostname(out, cap))
      snprintf(out, cap, "monitor");
    out[cap - 1] = '\0';
    return 0;
  }
  len = strlen(id);
  if(len >= cap || strspn(id, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len) {
    snprintf(err, errcap, "MONITOR_ID: up to %zu letters, digits, '.', "
             "'_' or '-'", cap - 1);
    return -1;
  }
  memcpy(out, id, len + 1);
  return 0;
}

static int setup_signals(struct daemon *d)
{
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  /* Blocked before any thread starts, so only the signalfd sees them. */
  if(pthread_sigmask(SIG_BLOCK, &set, NULL))
    return -1;
  signal(SIGPIPE, SIG_IGN);     /* SMTP servers hang up */
  d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  return d->signal_fd < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"env-file", required_argument, NULL, 'e'},
    {"once", no_argument, NULL, '1'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
  };
  static struct daemon d;
  const char *env_file = NULL;
  char err[CONFIG_ERR_MAX];
  int c;

  while((c = getopt_long(argc, argv, "e:1hV", longopts, NULL)) != -1) {
    switch(c) {
    case 'e':
      env_file = optarg;
      break;
    case '1':
      d.once = true;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      config_print_version("trackly-monitor");
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if(optind < argc) {
    fprintf(stderr, "trackly-monitor: unexpected argument '%s'\n",
            argv[optind]);
    return 2;
  }
  if(config_startup(&d.cfg, "trackly-monitor", env_file,
                    CONFIG_NEED_DB | CONFIG_NO_JWT))
    return 1;
  if(db_startup_check("trackly-monitor", d.cfg.db_url, "will keep trying")) {
    config_cleanup(&d.cfg);
    return 1;
  }

  if(setup_signals(&d) || curl_global_init(CURL_GLOBAL_DEFAULT) ||
     prober_init(&d.prober, d.cfg.monitor_concurrency,
                 d.cfg.allow_private_targets, d.cfg.allowed_networks,
                 d.cfg.allowed_count, d.cfg.public_url)) {
    fprintf(stderr, "trackly-monitor: cannot initialise: %s\n",
            strerror(errno));
    return 1;
  }
  if(monitor_name(d.name, sizeof(d.name), err, sizeof(err))) {
    fprintf(stderr, "trackly-monitor: %s\n", err);
    return 1;
  }
  snprintf(d.owner, sizeof(d.owner), "%s:%ld", d.name, (long)getpid());
  stats_init(&d.stats);
  d.stats_file = getenv("MONITOR_METRICS_FILE");
  if(d.stats_file && !*d.stats_file)
    d.stats_file = NULL;
  d.results.owner = d.owner;
  d.results.reminder_ms = d.cfg.alert_reminder_minutes * 60000;
  d.results.flap_transitions = d.cfg.alert_flap_transitions;
  d.results.flap_quiet_s = d.cfg.alert_flap_quiet_minutes * 60;
  db_init(&d.db, d.cfg.db_url, "trackly-monitor", STATEMENT_TIMEOUT_MS,
          statement_lists);
  d.db.on_connect = "LISTEN trackly_wakeup";
  if(sd_watchdog_enabled(0, &d.watchdog_usec) <= 0)
    d.watchdog_usec = 0;

  if(!d.cfg.email_host)
    log_warn("EMAIL_HOST is not set: mail stays in the outbox");

  log_info("trackly-monitor %s started as %s: up to %d checks at once%s%s",
           TRACKLY_VERSION, d.owner, d.cfg.monitor_concurrency,
           d.cfg.allow_private_targets ? ", private targets allowed" : "",
           d.once ? ", one pass" : "");
  run(&d);

  /* In --once mode the mail of this pass goes out after its checks. */
  if(d.once && d.cfg.email_host &&
     !mailer_start(&d.mailer, &d.cfg, d.owner, &d.stats, true))
    mailer_join(&d.mailer);
  else
    mailer_stop(&d.mailer);
  prober_cleanup(&d.prober);
  db_close(&d.db);
  curl_global_cleanup();
  config_cleanup(&d.cfg);
  log_info("stopped");
  return d.failed ? 1 : 0;
}
