/*
 * main.c - trackly-monitor: the loop that claims due projects, probes
 * them, and writes the results, with the mailer on its own thread.
 *
 * One thread does the checks: it claims work from Postgres (scheduler.c),
 * hands it to libcurl's multi interface (prober.c), and passes finished
 * checks in batches to the writer thread (writer.c), which writes them
 * (results.c) and prunes old rows on a connection of its own.  The loop
 * sleeps in curl_multi_poll, which also watches a signalfd (SIGTERM,
 * SIGINT), the database socket (LISTEN trackly_wakeup) and the writer's
 * eventfd, so a stop request, a change made through the API, a finished
 * transfer and a written batch all wake it at once.  The database calls it
 * makes itself (the claims) are short, bounded by a statement timeout, and
 * never made while waiting on the network.  This file runs the loop (and
 * signals, systemd and the metrics file); work.c is what each turn does.
 */
#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "retention.h"
#include "scheduler.h"
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

#define WRITE_BATCH 100          /* results handed to the writer at once */
#define WRITE_DELAY_MS 100       /* longest a finished check waits for it */
#define STATEMENT_TIMEOUT_MS 15000
#define ONCE_DB_WAIT_MS 30000
#define STATS_EVERY_MS 5000       /* MONITOR_METRICS_FILE rewritten */

static const struct db_statement *const statement_lists[] = {
  scheduler_statements,
  stats_statements,
  NULL,
};
/* The writer thread's connection: results, prune, lease release. */
static const struct db_statement *const writer_lists[] = {
  scheduler_statements,
  results_statements,
  retention_statements,
  NULL,
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

/* Rewrites MONITOR_METRICS_FILE every STATS_EVERY_MS, and at the end
 * (force).  A failure is logged once until a write succeeds again. */
static void write_stats(struct daemon *d, bool force)
{
  int64_t now = clock_ms();

  if(!d->stats_file || (!force && now < d->next_stats))
    return;
  d->next_stats = now + STATS_EVERY_MS;
  /* While a claim is in flight the last figures stand until next time. */
  if(!work_claiming(d)) {
    if(d->db.conn && PQstatus(d->db.conn) == CONNECTION_OK)
      stats_read_outbox(&d->stats, &d->db);
    else
      d->stats.outbox_pending = d->stats.outbox_oldest_s = -1;
  }
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
  work_take_back_leases(d);
  /* Only now: the mailer's claims carry this run's owner, and a claim made
   * before take_back_leases would look like an earlier run's to it (the
   * same pid, as in a fresh container) and be released while in hand. */
  if(d->cfg.email_host && !d->once && !d->stopping &&
     mailer_start(&d->mailer, &d->cfg, d->owner, &d->stats, false))
    log_error("cannot start the mailer thread");
  if(!d->stopping &&
     writer_start(&d->writer, &d->cfg, &d->results, &d->stats, writer_lists,
                  STATEMENT_TIMEOUT_MS, !d->once)) {
    log_error("cannot start the writer thread: %s", strerror(errno));
    d->stopping = d->failed = true;
  }
  while(!d->stopping || d->prober.in_flight || d->unwritten ||
        work_claiming(d)) {
    struct pollfd extra[3];
    int db_poll = -1, writer_poll = -1;
    int nextra = 0, timeout;
    int64_t now;

    work_claim(d);
    now = clock_ms();
    if(d->stopping)
      timeout = 100;
    else if(d->prober.in_flight >= d->prober.max_in_flight) {
      /* Every slot is busy: nothing to claim until a transfer ends, and a
       * transfer ending wakes curl_multi_poll anyway. */
      timeout = 1000;
      work_warn_full(d, now);
    }
    else {
      d->full_since = 0;
      /* A claim in flight wakes us through the database's socket. */
      timeout = work_claiming(d) ? 1000 :
                (int)(d->next_claim - now < 0 ? 0 :
                      d->next_claim - now > 1000 ? 1000 :
                      d->next_claim - now);
    }
    /* Wake in time to tell systemd's watchdog we are alive. */
    if(d->watchdog_usec && timeout > (int)(d->watchdog_usec / 2000))
      timeout = (int)(d->watchdog_usec / 2000);
    extra[nextra++] = (struct pollfd){.fd = d->signal_fd, .events = POLLIN};
    if(d->db.conn && PQsocket(d->db.conn) >= 0) {
      db_poll = nextra;
      extra[nextra++] = (struct pollfd){.fd = PQsocket(d->db.conn),
                                        .events = POLLIN};
    }
    if(writer_fd(&d->writer) >= 0) {
      writer_poll = nextra;
      extra[nextra++] = (struct pollfd){.fd = writer_fd(&d->writer),
                                        .events = POLLIN};
    }
    prober_wait(&d->prober, extra, nextra, timeout);
    if(extra[0].revents)
      read_signals(d);
    if(db_poll >= 0 && extra[db_poll].revents) {
      read_notifications(d);
      work_claim_done(d);
    }
    /* A batch written: those projects have new slots, look again. */
    if(writer_poll >= 0 && extra[writer_poll].revents &&
       writer_written(&d->writer))
      d->next_claim = 0;

    work_take_finished(d);
    now = clock_ms();
    if(d->unwritten &&
       (d->unwritten_count >= WRITE_BATCH || !d->prober.in_flight ||
        now - d->unwritten_since >= WRITE_DELAY_MS))
      work_write_results(d);
    write_stats(d, false);
    watchdog(d);
  }
  /* The writer writes what it holds (one try each) and gives back the
   * leases of what it cannot write, instead of letting them expire. */
  work_write_results(d);
  writer_stop(&d->writer);
  write_stats(d, true);
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

