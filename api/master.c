/*
 * master.c - worker supervision; see master.h and DESIGN §1.
 *
 * The master does no request work.  It blocks the signals it cares about
 * and takes them synchronously with sigtimedwait, so there are no signal
 * handlers and no races between a handler and the loop: every 200 ms at
 * most it reaps dead workers, starts missing ones, moves a reload one step
 * along, and enforces the stop deadline.
 *
 * A reload starts a new generation: one fresh worker is started, then one
 * old worker is asked to stop and waited for, and so on, so capacity never
 * drops and never exceeds N + 1.  A worker that dies within a second of
 * starting is restarted with a growing delay (up to 5 s), so a worker that
 * cannot start does not make the master spin.  Only a worker that died by
 * its own doing counts: one killed with SIGKILL (an operator, the OOM
 * killer) or stopped on request (exit status 0) is replaced at once, or a
 * few kills in a row would leave the pool short for seconds.
 *
 * A worker can also hang without dying: stopped (SIGSTOP, a debugger), or
 * stuck in a loop or a system call.  Each worker stamps in the shared pool
 * (pool.h) when it takes a request; a worker whose stamp is older than
 * API_HUNG_WORKER_SECONDS is killed with SIGKILL and so replaced at once.
 * The default, 30 s, is nginx's fastcgi_read_timeout: by then nginx has
 * answered the client (its 503 JSON) and the request is worth nothing,
 * while every legitimate request ends long before (statements time out
 * after 5 s, lock waits after 2 s).  Killing the worker also closes its database
 * connection, so the server ends its transaction and releases its locks.
 */
#include "master.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "worker.h"
#include "trackly_build.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS POOL_WORKERS_MAX
#define STOP_GRACE_MS 9500       /* SIGKILL what is left after this */
#define RETIRE_GRACE_MS 10000
#define QUICK_DEATH_MS 1000
#define MAX_BACKOFF_MS 5000
#define TICK_MS 200

struct slot {
  pid_t pid;                /* 0: free */
  unsigned gen;
  bool retiring;
  long started;             /* monotonic ms */
  long deadline;            /* when retiring: SIGKILL after this */
  bool hung;                /* killed for hanging; waiting to be reaped */
};

struct master {
  const struct master_options *opt;
  struct config *cfg;
  struct slot slots[MAX_SLOTS];
  unsigned gen;
  int target;
  bool stopping;
  long stop_deadline;
  int quick_deaths;
  long next_spawn;          /* no spawning before this (crash backoff) */
};

static int target_workers(const struct master *m)
{
  return m->opt->workers ? m->opt->workers : m->cfg->api_workers;
}

static void spawn(struct master *m)
{
  pid_t self = getpid(), pid;
  struct slot *s = NULL;

  for(int i = 0; i < MAX_SLOTS && !s; i++)
    if(!m->slots[i].pid)
      s = &m->slots[i];
  if(!s)
    return;
  pid = fork();
  if(pid < 0) {
    log_error("cannot start a worker: %s", strerror(errno));
    m->next_spawn = clock_ms() + 1000;
    return;
  }
  if(pid == 0)
    worker_run(m->opt->listen_fd, m->cfg, self, (int)(s - m->slots));
  s->pid = pid;
  s->gen = m->gen;
  s->retiring = false;
  s->hung = false;
  s->started = clock_ms();
  pool_worker_started((int)(s - m->slots), pid);
}

static void describe_exit(int status, char *out, size_t cap)
{
  if(WIFSIGNALED(status))
    snprintf(out, cap, "killed by signal %d", WTERMSIG(status));
  else
    snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
}

/* True when a worker did not end by its own doing: SIGKILL from outside,
 * or a clean exit after a stop request.  Such a death says nothing about
 * whether the next worker can start. */
static bool ended_from_outside(int status)
{
  if(WIFSIGNALED(status))
    return WTERMSIG(status) == SIGKILL;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A worker died unasked and will be replaced. */
static void metrics_restarted(void)
{
  if(metrics_shared)
    atomic_fetch_add(&metrics_shared->workers_restarted, 1);
}

static void reap(struct master *m)
{
  int status;
  pid_t pid;

  while((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for(int i = 0; i < MAX_SLOTS; i++) {
      struct slot *s = &m->slots[i];
      char how[64];
      long now, lived;

      if(s->pid != pid)
        continue;
      s->pid = 0;
      pool_worker_gone(i, pid);   /* its hashing slot, if it held one */
      if(s->retiring || m->stopping)
        break;
      now = clock_ms();
      lived = now - s->started;
      describe_exit(status, how, sizeof(how));
      if(lived >= QUICK_DEATH_MS)
        m->quick_deaths = 0;
      if(lived < QUICK_DEATH_MS && !ended_from_outside(status)) {
        long delay = 100L << (m->quick_deaths < 6 ? m->quick_deaths : 6);
        if(delay > MAX_BACKOFF_MS)
          delay = MAX_BACKOFF_MS;
        m->quick_deaths++;
        m->next_spawn = now + delay;
        log_error("worker %ld %s %ld ms after starting; next start in %ld ms",
                  (long)pid, how, lived, delay);
      }
      else
        log_warn("worker %ld %s; starting a new one", (long)pid, how);
      metrics_restarted();
      break;
    }
  }
}

/* Kills every worker that has been in one request for longer than the
 * configured bound; reap() then replaces it like any killed worker. */
static void kill_hung(struct master *m)
{
  long bound = m->cfg->api_hung_worker_seconds * 1000L, now = clock_ms();

  for(int i = 0; i < MAX_SLOTS; i++) {
    struct slot *s = &m->slots[i];
    long busy;

    if(!s->pid || s->hung)
      continue;
    busy = pool_worker_busy_ms(i, now);
    if(busy <= bound)
      continue;
    log_error("worker %ld has been in one request for %ld ms (bound %ld "
              "ms): killing it", (long)s->pid, busy, bound);
    kill(s->pid, SIGKILL);
    s->hung = true;
    if(pool_shared)
      atomic_fetch_add(&pool_shared->workers_hung, 1);
  }
}

/* Publishes how many workers may hash at once, for the current target. */
static void set_hash_slots(const struct master *m)
{
  if(pool_shared)
    atomic_store(&pool_shared->hash_slots,
                 pool_hash_slots_for(m->target, m->cfg->api_hashing_slots));
}

static void retire(struct slot *s)
{
  kill(s->pid, SIGTERM);
  s->retiring = true;
  s->deadline = clock_ms() + RETIRE_GRACE_MS;
}

/* One step towards "target workers of the current generation". */
static void maintain(struct master *m)
{
  struct slot *old = NULL, *extra = NULL;
  int current = 0, retiring = 0;
  long now = clock_ms();

  for(int i = 0; i < MAX_SLOTS; i++) {
    struct slot *s = &m->slots[i];
    if(!s->pid)
      continue;
    if(s->retiring) {
      retiring++;
      if(now > s->deadline) {
        log_warn("worker %ld did not stop in time; killing it",
                 (long)s->pid);
        kill(s->pid, SIGKILL);
        s->deadline = now + RETIRE_GRACE_MS;
      }
    }
    else if(s->gen != m->gen)
      old = s;
    else {
      current++;
      extra = s;
    }
  }
  if(now < m->next_spawn)
    return;
  if(old) {
    if(retiring)
      return;               /* one at a time */
    if(current < m->target)
      spawn(m);
    retire(old);
    return;
  }
  for(; current < m->target; current++)
    spawn(m);
  if(current > m->target && !retiring && extra)
    retire(extra);
}

static void begin_stop(struct master *m, int sig)
{
  if(m->stopping)
    return;
  log_info("%s: stopping; waiting for requests in flight",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
  m->stopping = true;
  m->stop_deadline = clock_ms() + STOP_GRACE_MS;
  for(int i = 0; i < MAX_SLOTS; i++)
    if(m->slots[i].pid)
      kill(m->slots[i].pid, SIGTERM);
}

/* SIGHUP: a fresh configuration and a new generation of workers.  A bad
 * configuration is reported and the running one kept. */
static void reload(struct master *m)
{
  struct config fresh;
  char err[CONFIG_ERR_MAX];

  if(config_load_with_env(&fresh, m->opt->env_file,
                          CONFIG_NEED_DB | CONFIG_NEED_JWT, err,
                          sizeof(err))) {
    log_error("reload: %s; keeping the running configuration", err);
    return;
  }
  config_cleanup(m->cfg);
  *m->cfg = fresh;
  log_init("trackly-api", m->cfg->log_format);
  m->gen++;
  m->target = target_workers(m);
  set_hash_slots(m);
  m->quick_deaths = 0;
  m->next_spawn = 0;
  log_info("SIGHUP: configuration reloaded; replacing workers one at a "
           "time (%d)", m->target);
}

static int live_workers(const struct master *m)
{
  int n = 0;
  for(int i = 0; i < MAX_SLOTS; i++)
    n += m->slots[i].pid != 0;
  return n;
}

int master_run(const struct master_options *opt, struct config *cfg)
{
  static struct master m;
  sigset_t set;

  memset(&m, 0, sizeof(m));
  m.opt = opt;
  m.cfg = cfg;
  m.target = target_workers(&m);

  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* Before the first fork, so that every worker shares the counters. */
  if(metrics_init())
    log_warn("no shared memory for metrics (%s); /metrics shows zeros",
             strerror(errno));
  if(pool_init())
    log_warn("no shared memory for the worker pool (%s); password hashing "
             "is not bounded and hung workers are not noticed",
             strerror(errno));
  set_hash_slots(&m);
  log_info("trackly-api %s ready: %d workers, %d hashing at once",
           TRACKLY_VERSION, m.target,
           pool_hash_slots_for(m.target, cfg->api_hashing_slots));
  for(;;) {
    struct timespec tick = {0, TICK_MS * 1000000L};
    int sig;

    reap(&m);
    if(m.stopping) {
      if(!live_workers(&m))
        break;
      if(clock_ms() > m.stop_deadline) {
        log_warn("workers still busy after %d ms; killing them",
                 STOP_GRACE_MS);
        for(int i = 0; i < MAX_SLOTS; i++)
          if(m.slots[i].pid)
            kill(m.slots[i].pid, SIGKILL);
        m.stop_deadline = clock_ms() + 1000;
      }
    }
    else {
      kill_hung(&m);
      maintain(&m);
    }
    if(metrics_shared)
      atomic_store(&metrics_shared->workers_alive, live_workers(&m));

    sig = sigtimedwait(&set, NULL, &tick);
    if(sig == SIGTERM || sig == SIGINT)
      begin_stop(&m, sig);
    else if(sig == SIGHUP && !m.stopping)
      reload(&m);
  }
  log_info("stopped");
  return 0;
}
