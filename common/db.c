/*
 * db.c - a self-healing PostgreSQL connection; see db.h.
 */
#include "db.h"
#include "clock.h"
#include "log.h"
#include "parse.h"
#include "trackly_build.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

/* Smallest pause between two failed connection attempts.  Meanwhile calls
 * fail at once, so this is also how long a worker may go on refusing after
 * the database is back: 250 ms showed as 503s for up to 0.2 s after a
 * restart under load (bench/fault-pg-restart).  A failed attempt costs the
 * server a forked backend at most, so ten a second per connection is
 * still no hammering. */
#define DB_RETRY_MS 100
#define DB_CONNECT_TIMEOUT "3"

void db_init(struct db *db, const char *url, const char *app_name,
             int statement_timeout_ms,
             const struct db_statement *const *lists)
{
  memset(db, 0, sizeof(*db));
  db->url = url;
  db->app_name = app_name;
  db->statement_timeout_ms = statement_timeout_ms;
  db->lists = lists;
}

void db_close(struct db *db)
{
  if(db->conn) {
    PQfinish(db->conn);
    db->conn = NULL;
  }
  db->pending = NULL;
}

/* Notices and the FATAL a server sends to an idle connection before it
 * shuts down would reach stderr raw from libpq's default receiver, a line
 * outside the log format.  Log them as ours instead; the primary message
 * only, as DETAIL can quote user data. */
static void notice_to_log(void *arg, const PGresult *res)
{
  const char *severity = PQresultErrorField(res,
                                            PG_DIAG_SEVERITY_NONLOCALIZED);
  const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

  (void)arg;
  log_warn("database: %s: %s", severity ? severity : "NOTICE",
           msg ? msg : "(no message)");
}

static PGconn *connect_to(const char *url, const char *app_name,
                          int statement_timeout_ms)
{
  PGconn *conn;
  char options[160];
  const char *keys[] = {"dbname", "connect_timeout", "application_name",
                        "options", "client_encoding", NULL};
  const char *values[] = {url, DB_CONNECT_TIMEOUT, app_name, options, "UTF8",
                          NULL};

  /* UTC sessions: hourly buckets and formatted times must not depend on
   * the server's time zone; and ISO dates, the one form common/pgjson.c
   * reads timestamps in, whatever the server's DateStyle. */
  if(statement_timeout_ms > 0)
    snprintf(options, sizeof(options), "-c TimeZone=UTC -c DateStyle=ISO "
             "-c statement_timeout=%d -c lock_timeout=%d "
             "-c idle_in_transaction_session_timeout=%d",
             statement_timeout_ms,
             statement_timeout_ms < DB_LOCK_TIMEOUT_MS ?
               statement_timeout_ms : DB_LOCK_TIMEOUT_MS,
             DB_IDLE_IN_TRANSACTION_MS);
  else
    snprintf(options, sizeof(options), "-c TimeZone=UTC -c DateStyle=ISO");
  conn = PQconnectdbParams(keys, values, 1);
  if(conn)
    PQsetNoticeReceiver(conn, notice_to_log, NULL);
  return conn;
}

/* Reads the schema version.  Returns DB_OK when it is ours (err empty),
 * DB_UNAVAILABLE when it cannot be read, DB_ERROR when it is missing or
 * another. */
static enum db_result check_schema(PGconn *conn, char *err, size_t errcap)
{
  PGresult *res = PQexec(conn, "SELECT version FROM schema_version");
  int64_t version = 0;
  enum db_result rc = DB_ERROR;

  err[0] = '\0';   /* a string on every path: it is cut at '\n' below */
  if(PQresultStatus(res) != PGRES_TUPLES_OK) {
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if(state && !strcmp(state, "42P01"))
      snprintf(err, errcap, "the database has no Trackly schema; apply "
               "schema.sql first");
    else {
      snprintf(err, errcap, "cannot read the schema version: %s",
               PQerrorMessage(conn));
      rc = DB_UNAVAILABLE;
    }
  }
  else if(PQntuples(res) != 1 ||
          !parse_int(PQgetvalue(res, 0, 0), 0, 1000000, &version))
    snprintf(err, errcap, "the schema_version table is damaged");
  else if(version != TRACKLY_SCHEMA_VERSION)
    snprintf(err, errcap, "database schema version %lld, but this build of "
             "Trackly needs version %d", (long long)version,
             TRACKLY_SCHEMA_VERSION);
  else
    rc = DB_OK;
  PQclear(res);
  /* libpq messages end in a newline; one line is promised. */
  err[strcspn(err, "\n")] = '\0';
  return rc;
}

enum db_result db_check_startup(const char *url, char *err, size_t errcap)
{
  PGconn *conn = connect_to(url, "trackly-startup", 0);
  enum db_result rc;

  err[0] = '\0';
  if(PQstatus(conn) != CONNECTION_OK) {
    snprintf(err, errcap, "cannot connect to the database: %s",
             PQerrorMessage(conn));
    err[strcspn(err, "\n")] = '\0';
    PQfinish(conn);
    return DB_UNAVAILABLE;
  }
  rc = check_schema(conn, err, errcap);
  PQfinish(conn);
  return rc;
}

/* An idle connection has nothing to read.  If the socket is readable, the
 * server has closed it or sent a FATAL (a restart, an idle timeout); either
 * way the next query would fail, so find out now. */
static bool connection_alive(PGconn *conn)
{
  struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

  if(PQstatus(conn) != CONNECTION_OK || pfd.fd < 0)
    return false;
  if(poll(&pfd, 1, 0) == 0)
    return true;
  if(!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
    return false;
  /* Readable but healthy: a notification or notice.  Leave it queued. */
  return true;
}

static int prepare_all(struct db *db)
{
  for(const struct db_statement *const *list = db->lists; list && *list;
      list++) {
    for(const struct db_statement *s = *list; s->name; s++) {
      PGresult *res = PQprepare(db->conn, s->name, s->sql, 0, NULL);
      if(PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("database: cannot prepare %s: %s", s->name,
                  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        PQclear(res);
        return -1;
      }
      PQclear(res);
    }
  }
  return 0;
}

enum db_result db_ensure(struct db *db)
{
  char err[256];

  if(db->conn) {
    if(connection_alive(db->conn))
      return DB_OK;
    if(db->in_tx) {
      db_close(db);
      return DB_UNAVAILABLE;
    }
    log_warn("database: connection lost, reconnecting");
    db_close(db);
  }
  if(db->in_tx)
    return DB_UNAVAILABLE;    /* the transaction died with its connection */
  if(db->failed_before && clock_ms() - db->last_failure_ms < DB_RETRY_MS) {
    db->refused++;
    return DB_UNAVAILABLE;
  }

  db->conn = connect_to(db->url, db->app_name, db->statement_timeout_ms);
  if(PQstatus(db->conn) != CONNECTION_OK) {
    if(!db->failed_before) {
      snprintf(err, sizeof(err), "%s", PQerrorMessage(db->conn));
      err[strcspn(err, "\n")] = '\0';
      log_error("database: cannot connect: %s", err);
    }
    goto fail;
  }
  if(check_schema(db->conn, err, sizeof(err))) {
    log_error("database: %s", err);
    goto fail;
  }
  if(prepare_all(db))
    goto fail;
  if(db->on_connect) {
    PGresult *res = PQexec(db->conn, db->on_connect);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if(!ok)
      log_error("database: %s failed: %s", db->on_connect,
                PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    PQclear(res);
    if(!ok)
      goto fail;
  }
  db->connects++;
  /* One line for the whole outage: callers need not log each refusal (an
   * API worker would otherwise log thousands of 503s a second). */
  if(db->failed_before)
    log_info("database: connected again after %lld ms away; %lu calls "
             "refused meanwhile", (long long)(clock_ms() - db->down_since_ms),
             db->refused);
  db->failed_before = false;
  db->refused = 0;
  return DB_OK;

fail:
  db_close(db);
  if(!db->failed_before)
    db->down_since_ms = clock_ms();
  db->failed_before = true;
  db->refused++;
  db->last_failure_ms = clock_ms();
  return DB_UNAVAILABLE;
}

/* Sorts a failed result into the few outcomes callers act on. */
static enum db_result classify(struct db *db, PGresult *res,
                               const char *what)
{
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

  if(PQstatus(db->conn) != CONNECTION_OK || !state) {
    log_warn("database: connection lost during %s", what);
    db_close(db);
    return DB_UNAVAILABLE;
  }
  if(!strcmp(state, "23505"))
    return DB_CONFLICT;
  /* Someone else holds the lock: not the database's fault, and the
   * connection (outside the aborted transaction) is fine. */
  if(!strcmp(state, "55P03")) {
    log_warn("database: %s waited too long for a lock (55P03)", what);
    return DB_BUSY;
  }
  /* Class 08 is connection trouble, 57 an operator intervention (shutdown,
   * statement timeout); 26000 means our prepared statements are gone. */
  if(!strncmp(state, "08", 2) || !strncmp(state, "57", 2) ||
     !strcmp(state, "26000")) {
    log_warn("database: %s failed (%s): %s", what, state,
             PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    if(strcmp(state, "57014")) /* a timeout leaves the connection usable */
      db_close(db);
    return DB_UNAVAILABLE;
  }
  /* The primary message only: DETAIL can quote user data. */
  log_error("database: %s failed (%s): %s", what, state,
            PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
  return DB_ERROR;
}

/* True when a failed result says the connection was already gone when the
 * statement was sent: the server was shut down or restarted (57P01-57P03),
 * or the socket was closed under us.  Such a statement never ran. */
static bool connection_was_dead(struct db *db, const PGresult *r)
{
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

  if(PQstatus(db->conn) != CONNECTION_OK)
    return true;
  return state && (!strcmp(state, "57P01") || !strcmp(state, "57P02") ||
                   !strcmp(state, "57P03"));
}

/* One statement of db_exec or db_exec_pair, and its result. */
struct call {
  const char *name;
  int nparams;
  const char *const *params;
  PGresult *res;
};

static void clear_calls(struct call *calls, int n)
{
  for(int i = 0; i < n; i++) {
    PQclear(calls[i].res);
    calls[i].res = NULL;
  }
}

static bool succeeded(const PGresult *r)
{
  ExecStatusType st = PQresultStatus(r);
  return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* Reads what is left of the current query's results up to its NULL.  A
 * query we sent has one result, so more is unexpected; the bound keeps a
 * confused connection from looping. */
static void drain_query(PGconn *conn)
{
  PGresult *r;

  for(int i = 0; i < 8 && (r = PQgetResult(conn)); i++)
    PQclear(r);
}

/*
 * Sends n statements in one pipeline (libpq's pipeline mode: one write,
 * one Sync, one round trip) and collects one result per statement into
 * calls[i].res (NULL when none came).  The statements run in the implicit
 * transaction the Sync ends: once one fails, the server skips the rest
 * (PGRES_PIPELINE_ABORTED).  Whatever happens, the connection is left out
 * of pipeline mode with nothing pending, or closed when it cannot be.
 * Returns the index of the first statement that failed, or -1.
 */
static int run_pipeline(struct db *db, struct call *calls, int n)
{
  PGconn *conn = db->conn;
  int i, sent = 0, failed = -1;

  if(!PQenterPipelineMode(conn))
    return 0;
  while(sent < n && PQsendQueryPrepared(conn, calls[sent].name,
                                        calls[sent].nparams,
                                        calls[sent].params, NULL, NULL, 0))
    sent++;
  if(sent == n && PQpipelineSync(conn)) {
    for(i = 0; i < n; i++) {
      calls[i].res = PQgetResult(conn);
      if(!calls[i].res)
        break;
      drain_query(conn);
    }
    /* The Sync's own result; after it the pipeline is idle. */
    if(i == n)
      PQclear(PQgetResult(conn));
  }
  for(i = 0; i < n && failed < 0; i++)
    if(!calls[i].res || !succeeded(calls[i].res))
      failed = i;
  /* Refused while anything is still pending (a send or a read that
   * failed): nothing on that connection can be trusted then, and a new
   * one costs one connect. */
  if(!PQexitPipelineMode(conn)) {
    log_warn("database: cannot leave pipeline mode; reconnecting");
    db_close(db);
    if(failed < 0)
      failed = 0;
  }
  return failed;
}

/* The one way statements reach the server: db_exec's single statement,
 * or db_exec_pair's pipeline.  On DB_OK every calls[i].res holds a result
 * for the caller; on failure all are cleared. */
static enum db_result exec_calls(struct db *db, struct call *calls, int n)
{
  enum db_result rc;
  const PGresult *r;
  int failed;

  if(db->pending) {
    log_error("database: %s while %s is in flight", calls[0].name,
              db->pending);
    return DB_ERROR;
  }
  for(int attempt = 0;; attempt++) {
    rc = db_ensure(db);
    if(rc != DB_OK)
      return rc;
    if(n == 1) {
      calls[0].res = PQexecPrepared(db->conn, calls[0].name,
                                    calls[0].nparams, calls[0].params, NULL,
                                    NULL, 0);
      failed = succeeded(calls[0].res) ? -1 : 0;
    }
    else
      failed = run_pipeline(db, calls, n);
    if(failed < 0)
      return DB_OK;
    r = calls[failed].res;
    /* A database restart kills every idle connection, and the first
     * statement on each is where that shows.  Outside a transaction, try
     * once more on a fresh connection rather than fail that request. */
    if(attempt == 0 && !db->in_tx && connection_was_dead(db, r)) {
      log_warn("database: connection lost; reconnecting to run %s",
               calls[failed].name);
      clear_calls(calls, n);
      db_close(db);
      db->failed_before = false;
      continue;
    }
    rc = classify(db, calls[failed].res, calls[failed].name);
    clear_calls(calls, n);
    return rc;
  }
}

enum db_result db_exec(struct db *db, const char *name, int nparams,
                       const char *const *params, PGresult **res)
{
  struct call call = {name, nparams, params, NULL};
  enum db_result rc = exec_calls(db, &call, 1);

  *res = call.res;
  return rc;
}

enum db_result db_exec_pair(struct db *db, const char *first, int n1,
                            const char *const *p1, PGresult **r1,
                            const char *second, int n2,
                            const char *const *p2, PGresult **r2)
{
  struct call calls[2] = {{first, n1, p1, NULL}, {second, n2, p2, NULL}};
  enum db_result rc;

  *r1 = *r2 = NULL;
  /* Inside a transaction the pair would not end at its own Sync, and a
   * failure could not be retried; no caller needs that. */
  if(db->in_tx) {
    log_error("database: %s and %s pipelined inside a transaction", first,
              second);
    return DB_ERROR;
  }
  rc = exec_calls(db, calls, 2);
  *r1 = calls[0].res;
  *r2 = calls[1].res;
  return rc;
}

enum db_result db_send(struct db *db, const char *name, int nparams,
                       const char *const *params)
{
  char err[256];

  if(db->pending || db->in_tx) {
    log_error("database: %s sent while %s", name,
              db->pending ? db->pending : "in a transaction");
    return DB_ERROR;
  }
  if(db_ensure(db) != DB_OK)
    return DB_UNAVAILABLE;
  if(!PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0)) {
    snprintf(err, sizeof(err), "%s", PQerrorMessage(db->conn));
    err[strcspn(err, "\n")] = '\0';
    log_warn("database: cannot send %s: %s", name, err);
    db_close(db);
    return DB_UNAVAILABLE;
  }
  db->pending = name;
  return DB_OK;
}

bool db_result_ready(struct db *db)
{
  if(!db->pending || !db->conn)
    return true;
  /* A broken connection is "ready": db_receive gets its error at once. */
  return !PQconsumeInput(db->conn) || !PQisBusy(db->conn);
}

enum db_result db_receive(struct db *db, PGresult **res)
{
  const char *name = db->pending;
  enum db_result rc;
  PGresult *r;

  *res = NULL;
  if(!name) {
    log_error("database: a result taken that nothing was sent for");
    return DB_ERROR;
  }
  db->pending = NULL;
  if(!db->conn)
    return DB_UNAVAILABLE;
  r = PQgetResult(db->conn);
  if(r && succeeded(r)) {
    drain_query(db->conn);
    *res = r;
    return DB_OK;
  }
  rc = classify(db, r, name);
  PQclear(r);
  if(db->conn)
    drain_query(db->conn);
  return rc;
}

enum db_result db_command(struct db *db, const char *sql)
{
  enum db_result rc;
  PGresult *r;

  if(db->pending) {
    log_error("database: %s while %s is in flight", sql, db->pending);
    return DB_ERROR;
  }
  rc = db_ensure(db);
  if(rc != DB_OK)
    return rc;
  r = PQexec(db->conn, sql);
  if(PQresultStatus(r) == PGRES_COMMAND_OK)
    rc = DB_OK;
  else
    rc = classify(db, r, sql);
  PQclear(r);
  return rc;
}

enum db_result db_begin(struct db *db)
{
  enum db_result rc = db_command(db, "BEGIN");
  if(rc == DB_OK)
    db->in_tx = true;
  return rc;
}

enum db_result db_commit(struct db *db)
{
  enum db_result rc = db_command(db, "COMMIT");
  db->in_tx = false;
  return rc;
}

void db_rollback(struct db *db)
{
  if(db->conn && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
    PQclear(PQexec(db->conn, "ROLLBACK"));
  db->in_tx = false;
}

int db_startup_check(const char *program, const char *url, const char *then)
{
  char err[256];

  switch(db_check_startup(url, err, sizeof(err))) {
  case DB_OK:
    return 0;
  case DB_UNAVAILABLE:
    log_warn("%s; %s", err, then);
    return 0;
  default:
    fprintf(stderr, "%s: %s\n", program, err);
    return -1;
  }
}
