/*
 * db.h - one PostgreSQL connection that heals itself.
 *
 * Each API worker and each monitor thread owns a struct db.  It connects on
 * first use (never before fork), checks the schema version, prepares every
 * statement of the program, and notices a dead connection before using it,
 * so a database restart costs the requests made while it is down a 503 and
 * nothing else.  Failed connection attempts are spaced out so a database
 * that is away is not hammered, and requests fail fast meanwhile.
 *
 * All SQL goes through prepared statements with text parameters: values are
 * never spliced into SQL.
 *
 * Memory: the caller owns struct db (db_init/db_close) and every PGresult it
 * gets from db_exec and db_exec_pair (PQclear).
 */
#ifndef TRACKLY_DB_H
#define TRACKLY_DB_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <libpq-fe.h>

/* SQL for a timestamptz column (a string literal naming it) as RFC 3339
 * text in UTC, "2024-05-01T12:00:00Z": the one timestamp form the API's
 * JSON and the monitor's mail show. */
#define DB_RFC3339(col) \
  "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A named statement; lists end with {NULL, NULL}. */
struct db_statement {
  const char *name;
  const char *sql;
};

enum db_result {
  DB_OK = 0,
  DB_UNAVAILABLE = -1,   /* no connection, lost it, or statement timeout */
  DB_ERROR = -2,         /* the statement failed; logged */
  DB_CONFLICT = -3,      /* unique violation (SQLSTATE 23505) */
  DB_BUSY = -4,          /* a row or table lock was not granted within
                            DB_LOCK_TIMEOUT_MS (SQLSTATE 55P03); the
                            connection stays usable */
};

/* Bounds of every session with a statement timeout (db_init's
 * statement_timeout_ms > 0): the API's, the monitor's, the mailer's and
 * trackly-admin's.  A statement waits for a lock at most
 * DB_LOCK_TIMEOUT_MS (or its statement timeout, if shorter), so a session
 * holding a lock (a stopped process in mid-transaction) costs the others
 * a quick DB_BUSY, not a full statement timeout; and a session that sits
 * in an open transaction without sending anything for
 * DB_IDLE_IN_TRANSACTION_MS is ended by the server, which releases its
 * locks. */
#define DB_LOCK_TIMEOUT_MS 2000
#define DB_IDLE_IN_TRANSACTION_MS 10000

struct db {
  PGconn *conn;
  const char *url;                          /* borrowed */
  const char *app_name;                     /* borrowed */
  int statement_timeout_ms;
  const struct db_statement *const *lists;  /* NULL-terminated, borrowed */
  int64_t last_failure_ms;   /* clock_ms() of the last connect attempt */
  int64_t down_since_ms;     /* clock_ms() of the first failure of an outage */
  unsigned long refused;                    /* calls failed in this outage */
  bool failed_before;
  bool in_tx;                               /* between db_begin and the end */
  const char *on_connect;                   /* SQL run after each connect,
                                               e.g. "LISTEN x"; may be NULL */
  unsigned connects;                        /* successful connects so far */
  const char *pending;                      /* sent by db_send, its result
                                               not yet taken; or NULL */
};

/* Sets up db without connecting.  lists is a NULL-terminated array of
 * statement lists to prepare on every new connection. */
void db_init(struct db *db, const char *url, const char *app_name,
             int statement_timeout_ms,
             const struct db_statement *const *lists);

/* Makes sure db has a live, prepared connection.  Returns DB_OK or
 * DB_UNAVAILABLE. */
enum db_result db_ensure(struct db *db);

/* Runs prepared statement name with nparams text parameters (NULL entries
 * are SQL NULL).  On DB_OK, *res holds the result (command or tuples) for
 * the caller to PQclear; on failure *res is NULL. */
enum db_result db_exec(struct db *db, const char *name, int nparams,
                       const char *const *params, PGresult **res);

/* Runs two prepared statements in one round trip (libpq's pipeline mode)
 * with db_exec's semantics: a dead connection is replaced and the pair
 * sent again once, and a failure of either is classified and logged as
 * db_exec does (the first failure counts; once one fails the server skips
 * the rest).  They run in one implicit transaction ended by the pipeline's
 * Sync, so only outside db_begin (DB_ERROR inside one).  On DB_OK *r1 and
 * *r2 hold the results for the caller to PQclear; on failure both are
 * NULL.  The connection is left out of pipeline mode with nothing
 * pending, or closed. */
enum db_result db_exec_pair(struct db *db, const char *first, int n1,
                            const char *const *p1, PGresult **r1,
                            const char *second, int n2,
                            const char *const *p2, PGresult **r2);

/* A statement sent without waiting for it: db_send sends prepared statement
 * name (db_exec's parameters; db_ensure first, so a dead connection is
 * replaced before) and returns; the caller goes on with its own work and
 * polls PQsocket(db->conn) for reading.  db_result_ready reads what has
 * arrived and says whether db_receive would return without waiting (also
 * when the connection broke: db_receive says so).  db_receive takes the
 * result, with db_exec's outcomes, *res for the caller to PQclear on
 * DB_OK.  One statement at a time, outside transactions: meanwhile every
 * other call on db fails with DB_ERROR.  A statement lost with its
 * connection is not sent again (it may have run). */
enum db_result db_send(struct db *db, const char *name, int nparams,
                       const char *const *params);
bool db_result_ready(struct db *db);
enum db_result db_receive(struct db *db, PGresult **res);

/* Runs a parameterless command such as "SET ...". */
enum db_result db_command(struct db *db, const char *sql);

/* Transactions.  Inside one, a lost connection is never silently replaced
 * (the rest of the transaction would run outside it): every later call
 * fails with DB_UNAVAILABLE until db_rollback.  db_rollback is safe to call
 * at any time, and does nothing outside a transaction. */
enum db_result db_begin(struct db *db);
enum db_result db_commit(struct db *db);
void db_rollback(struct db *db);

void db_close(struct db *db);

/* Connects to url once and checks the schema version, for start-up.
 * Returns DB_OK when it matches, DB_UNAVAILABLE when the database cannot be
 * reached, DB_ERROR when the schema is missing or of another version; err
 * gets one line. */
enum db_result db_check_startup(const char *url, char *err, size_t errcap);

/* db_check_startup for a daemon, which starts whether or not the database
 * is up yet: a missing or other schema is printed to stderr as
 * "program: reason" and returns -1 (the caller exits); an unreachable
 * database is logged as a warning, "reason; then", and returns 0. */
int db_startup_check(const char *program, const char *url, const char *then);

#endif
