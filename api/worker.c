/*
 * worker.c - the request loop of one API worker; see worker.h.
 *
 * Shutdown without losing a request: the worker never lets a signal
 * interrupt libfcgi.  SIGTERM and SIGINT stay blocked for the worker's
 * whole life and are read from a signalfd, which the worker polls together
 * with the listening socket while it is idle.  The listening socket is
 * non-blocking, so when several idle workers wake for one connection the
 * losers get EAGAIN and go back to poll instead of sleeping in accept.  A
 * request that has been accepted is therefore always answered; a stop
 * request is noticed the moment the worker is idle again.  The master gives
 * in-flight requests 10 seconds (DESIGN §1); API statements time out after
 * API_STATEMENT_TIMEOUT_MS, well within that.
 *
 * Kept connections (nginx's fastcgi_keep_conn with an upstream keepalive
 * pool): libfcgi leaves a connection open after FCGX_Finish_r when nginx
 * asked to keep it, and the next FCGX_Accept_r on that FCGX_Request would
 * read from it, blocking.  A worker must never block on an idle kept
 * connection while connections wait in the listening backlog, so it holds
 * one FCGX_Request per kept connection (up to WORKER_KEPT_MAX) and polls
 * them all with the signalfd and the listening socket, serving whichever
 * has a request.  It closes them itself (plain close: libfcgi's close
 * would wait up to 2 s for nginx to hang up first) when nginx hangs up, when
 * it has no room for another, and when it stops.  Without keep_conn every
 * connection is closed after its request, as before.
 */
#include "worker.h"
#include "app.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "router.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The most FastCGI connections one worker keeps open between requests
 * when nginx asks for it (fastcgi_keep_conn): keep it above nginx's
 * upstream keepalive times its worker processes.  A connection beyond it
 * is served and then closed. */
#define WORKER_KEPT_MAX 64

/* How long a stopping worker goes on answering requests that nginx has
 * already sent on its kept connections before it closes them. */
#define STOP_DRAIN_MS 1000

/* A request slower than this is logged. */
#define SLOW_REQUEST_MS 1000

/* The most data memory (heap and private mappings: RLIMIT_DATA) a worker
 * may hold.  A worker needs about 3 MiB, plus 19 MiB while it hashes a
 * password and at most JSON_PARSE_MEMORY_MAX for a request body; this is a
 * backstop against a bug that allocates without end, far above that. */
#define WORKER_DATA_MAX (128L * 1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const struct db_statement *const statement_lists[] = {
  health_statements,
  auth_statements,
  users_statements,
  guard_statements,
  verify_statements,
  projects_statements,
  mute_statements,
  history_statements,
  NULL,
};

static uint64_t elapsed_us(const struct timespec *start)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)((now.tv_sec - start->tv_sec) * 1000000L +
                    (now.tv_nsec - start->tv_nsec) / 1000L);
}

/*
 * One line per request.  Only what identifies the request without
 * revealing it: the route pattern, never the path's ids, the query string
 * (mute and verification tokens travel there), headers or the body.  A
 * server error or a slow request is a warning; a 503 is not, since it is
 * the database being away, which db.c reports once per outage.
 */
static void log_request(const struct request *req, long ms)
{
  const struct log_field fields[] = {
    {"id", req->id, 0},
    {"method", req->method, 0},
    {"route", req->route, 0},
    {"status", NULL, req->status},
    {"ms", NULL, ms},
  };
  bool warn = (req->status >= 500 && req->status != 503) ||
              ms >= SLOW_REQUEST_MS;

  log_fields(warn ? LOG_WARN : LOG_INFO, "request", fields,
             sizeof(fields) / sizeof(fields[0]));
}

/* Counts a finished request: by route and status, and by the kind of
 * database failure it answered, if any (a conflict is the client's, not
 * the database's).  The one place a request reaches the metrics. */
static void count_request(const struct request *req, uint64_t us)
{
  metrics_request(metrics_shared, req->route_index, req->status, us);
  switch(req->db_error) {
  case DB_OK:
  case DB_CONFLICT:
    break;
  case DB_UNAVAILABLE:
    metrics_db_error(metrics_shared, METRICS_DB_UNAVAILABLE);
    break;
  case DB_BUSY:
    metrics_db_error(metrics_shared, METRICS_DB_BUSY);
    break;
  default:
    metrics_db_error(metrics_shared, METRICS_DB_ERROR);
    break;
  }
}

static void handle(struct app *app, FCGX_Request *fcgx)
{
  struct request req;
  uint64_t us;
  long ms;
  int rc = request_init(&req, app, fcgx);

  if(rc)
    request_finish(&req, rc);
  else
    router_dispatch(&req);
  db_rollback(&app->db);    /* the one owner of rollback: whatever a
                               handler left open (projects.c header) */
  pool_hash_release();      /* a handler that bailed out mid-hash */

  us = elapsed_us(&req.start);
  ms = (long)(us / 1000);
  count_request(&req, us);
  log_request(&req, ms);
}

/*
 * Caps the worker's data memory.  Past the cap malloc returns NULL, which
 * fails that one request (a 5xx JSON answer) instead of the machine
 * swapping or the OOM killer picking a victim.  Not under
 * AddressSanitizer, whose allocator reserves terabytes of address space up
 * front and would fail at once.
 */
static void limit_memory(void)
{
#ifndef UNDER_ASAN
  struct rlimit rl;

  if(getrlimit(RLIMIT_DATA, &rl))
    return;
  if(rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= WORKER_DATA_MAX)
    return;                         /* the administrator's is tighter */
  rl.rlim_cur = WORKER_DATA_MAX;
  if(setrlimit(RLIMIT_DATA, &rl))
    log_warn("cannot limit worker memory: %s", strerror(errno));
#endif
}

/* Blocks the stop signals for good and returns a signalfd that reports
 * them, or -1. */
static int stop_signals(void)
{
  struct sigaction sa;
  sigset_t stop, others;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_IGN;
  sigaction(SIGHUP, &sa, NULL);     /* reloads are the master's business */
  sigaction(SIGPIPE, &sa, NULL);    /* nginx may hang up first */
  sa.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &sa, NULL);

  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, NULL);
  sigemptyset(&others);
  sigaddset(&others, SIGHUP);
  sigaddset(&others, SIGCHLD);
  sigprocmask(SIG_UNBLOCK, &others, NULL);
  return signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void conn_close(FCGX_Request *fcgx)
{
  close(fcgx->ipcFd);
  fcgx->ipcFd = -1;
}

/* Serves one request on fcgx: a kept connection with a request waiting,
 * or a fresh one from the listening socket.  Without keep, a connection
 * nginx asked to keep is closed all the same.  Returns FCGX_Accept_r's
 * result. */
static int serve(struct app *app, FCGX_Request *fcgx, bool keep, int slot)
{
  int rc = FCGX_Accept_r(fcgx);

  if(rc < 0)
    return rc;
  pool_request_begin(slot);
  handle(app, fcgx);
  FCGX_Finish_r(fcgx);
  pool_request_end(slot);
  if(!keep && fcgx->ipcFd >= 0)
    conn_close(fcgx);
  return 0;
}

/* A kept connection polled ready: true if it holds a request, false if
 * nginx hung up (then it is closed) or nothing is there after all. */
static bool conn_has_request(FCGX_Request *fcgx)
{
  char byte;
  ssize_t n = recv(fcgx->ipcFd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

  if(n > 0)
    return true;
  if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return false;
  conn_close(fcgx);
  return false;
}

/* Prepares the HMAC of each token key once for this worker's life (after
 * the fork: an OpenSSL context is not shared between processes), so that a
 * request hashes only its token.  A key that cannot be prepared still
 * works, set up per token as before: say so once, and go on. */
static void prepare_keys(struct app *app)
{
  size_t failed = 0;

  for(size_t i = 0; i < app->nkeys; i++)
    if(jwt_key_init(&app->keys[i]))
      failed++;
  if(failed)
    log_warn("cannot prepare %zu of %zu JWT keys for HMAC; tokens are "
             "verified without (slower)", failed, app->nkeys);
}

static void release_keys(struct app *app)
{
  for(size_t i = 0; i < app->nkeys; i++)
    jwt_key_cleanup(&app->keys[i]);
}

void worker_run(int listen_fd, const struct config *cfg, pid_t master,
                int slot)
{
  /* 64 KiB body buffer and all: static, not on the stack. */
  static struct app app;
  /* conns[i] is a kept connection while its ipcFd is open; spare
   * serves a connection when every one of them is taken. */
  static FCGX_Request conns[WORKER_KEPT_MAX], spare;
  struct pollfd fds[2 + WORKER_KEPT_MAX];
  FCGX_Request *polled[WORKER_KEPT_MAX];
  int stop_fd, failures = 0;
  int64_t stop_by = 0;                 /* stopping: drain until then */

  stop_fd = stop_signals();
  if(stop_fd < 0) {
    log_error("signalfd: %s", strerror(errno));
    _exit(2);
  }
  /* If the master dies, nothing would replace us or stop us: leave too. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if(getppid() != master)
    _exit(0);

  /* Argon2id allocates 19 MiB per hash.  glibc would raise its mmap
   * threshold after the first such block is freed and serve the next one
   * from the heap, which then never shrinks: a fixed threshold keeps each
   * hash's memory in its own mapping, returned to the system at once. */
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  limit_memory();
  json_memory_init();     /* before cJSON allocates anything */

  app.cfg = *cfg;
  app.keys[0].data = cfg->jwt_secret;
  app.keys[0].len = cfg->jwt_secret_len;
  app.nkeys = 1;
  if(cfg->jwt_previous) {
    app.keys[1].data = cfg->jwt_previous;
    app.keys[1].len = cfg->jwt_previous_len;
    app.nkeys = 2;
  }
  prepare_keys(&app);
  db_init(&app.db, cfg->db_url, "trackly-api", API_STATEMENT_TIMEOUT_MS,
          statement_lists);
  db_ensure(&app.db);   /* warm up; a failure is retried per request */

  for(int i = 0; i < WORKER_KEPT_MAX; i++) {
    if(FCGX_InitRequest(&conns[i], listen_fd, 0)) {
      log_error("cannot initialise a FastCGI request");
      _exit(2);
    }
  }
  if(FCGX_InitRequest(&spare, listen_fd, 0)) {
    log_error("cannot initialise a FastCGI request");
    _exit(2);
  }
  fds[0] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
  for(;;) {
    int n = 1, nkept = 0, rc;

    if(!stop_by)
      fds[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    for(int i = 0; i < WORKER_KEPT_MAX; i++) {
      if(conns[i].ipcFd < 0)
        continue;
      polled[nkept++] = &conns[i];
      fds[n++] = (struct pollfd){.fd = conns[i].ipcFd, .events = POLLIN};
    }
    rc = poll(fds, (nfds_t)n, stop_by ? 0 : -1);
    if(rc < 0) {
      if(errno == EINTR)
        continue;
      log_error("poll: %s", strerror(errno));
      _exit(2);
    }
    if(!stop_by && fds[0].revents) {
      /* Asked to stop: no new connections; answer what nginx has already
       * sent on kept ones, then close them and leave. */
      stop_by = clock_ms() + STOP_DRAIN_MS;
      fds[0].fd = -1;               /* poll leaves it out from now on */
      continue;
    }
    if(stop_by && (rc == 0 || clock_ms() >= stop_by)) {
      for(int i = 0; i < WORKER_KEPT_MAX; i++)
        if(conns[i].ipcFd >= 0)
          conn_close(&conns[i]);
      release_keys(&app);
      _exit(0);
    }
    /* Kept connections first: nginx has already sent those requests. */
    for(int i = 0; i < nkept; i++) {
      struct pollfd *p = &fds[n - nkept + i];

      if(!p->revents || !conn_has_request(polled[i]))
        continue;
      serve(&app, polled[i], true, slot);
    }
    if(stop_by || !fds[1].revents)
      continue;
    {
      FCGX_Request *fcgx = &spare;

      for(int i = 0; i < WORKER_KEPT_MAX; i++) {
        if(conns[i].ipcFd < 0) {
          fcgx = &conns[i];
          break;
        }
      }
      rc = serve(&app, fcgx, fcgx != &spare, slot);
    }
    if(rc < 0) {
      /* Another worker took the connection (EAGAIN), or it died before
       * it was read: neither is the listening socket's fault. */
      if(rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR)
        continue;
      log_warn("accept failed: %s", strerror(-rc));
      /* A broken listening socket would spin here: let the master start
       * a fresh worker instead. */
      if(++failures == 100)
        _exit(2);
      nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
      continue;
    }
    failures = 0;
  }
}
