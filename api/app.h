/*
 * app.h - what one API worker holds for its whole life.
 *
 * Each worker is a single-threaded process handling one request at a time,
 * so the worker's state is one struct app: the configuration it was forked
 * with, its own database connection, the JWT keys, and a body buffer that
 * every request reuses.
 */
#ifndef TRACKLY_APP_H
#define TRACKLY_APP_H

#include "config.h"
#include "db.h"
#include "jwt.h"

/* Largest request body read; nginx enforces the same cap first. */
#define API_BODY_MAX (64 * 1024)
/* Database statement timeout for API queries. */
#define API_STATEMENT_TIMEOUT_MS 5000
/* Token issuer and the clock leeway for nbf/iat/exp (DESIGN §3). */
#define API_JWT_ISSUER "trackly"
#define API_JWT_LEEWAY 30

/* SQL for a timestamptz column as RFC 3339 UTC, the API's timestamp form:
 * common/db.h's, under the name the resource files use. */
#define SQL_RFC3339(col) DB_RFC3339(col)

/* SQL for a page of a list, as reply_rows_page (request.h) reads it:
 * (total, the page's columns...), one row per item in the given order
 * (of the page's columns: t.id, ...).  counted is a SELECT of one column,
 * total, and one row (none for a missing parent: a 404); page is the
 * sub-select of the items, LEFT JOINed to it so that an empty page is one
 * row of NULLs.  counted is MATERIALIZED so that Postgres counts once:
 * pulled up into the join, a count sub-select would run once per item.
 * The rows are plain columns: the worker writes the JSON
 * (common/pgjson.h), which costs Postgres less than row_to_json. */
#define SQL_PAGE(counted, page, order) \
  "WITH n AS MATERIALIZED (" counted ")" \
  " SELECT n.total, t.* FROM n LEFT JOIN LATERAL (" page ") t ON true" \
  " ORDER BY " order

/* The upper bound of a read of a project's latest checks: with it,
 * PostgreSQL leaves out the partitions of the days ahead (schema.sql)
 * and reads the days newest first, stopping at the LIMIT.  A check stamped
 * more than an hour ahead of the database's clock is not shown. */
#define SQL_CHECKS_UNTIL "now() + interval '1 hour'"

/* The projects row p's current hour's total of column ("checks", "up",
 * "latency_sum") when that hour starts at or after since (SQL), else 0:
 * what readers of check_hours add (schema.sql, projects.hour_*); a sum()
 * over no hourly rows is NULL, so they coalesce it first. */
#define SQL_HOUR_NOW(column, since) \
  "CASE WHEN p.hour_start >= " since " THEN p.hour_" column " ELSE 0 END"

struct app {
  struct config cfg;
  struct db db;
  struct jwt_key keys[2];       /* current, then previous when rotating */
  size_t nkeys;
  char body[API_BODY_MAX + 1];
};

/* Every statement the API prepares, per resource, each ending {NULL}. */
extern const struct db_statement health_statements[];
extern const struct db_statement auth_statements[];
extern const struct db_statement users_statements[];
extern const struct db_statement guard_statements[];
extern const struct db_statement verify_statements[];
extern const struct db_statement projects_statements[];
extern const struct db_statement mute_statements[];
extern const struct db_statement history_statements[];

#endif
