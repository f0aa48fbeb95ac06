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

/* SQL for a JSON array of the rows of query, in the given order of its
 * columns (t.id, ...); "[]" when there are none.  row_to_json of a
 * sub-select is several times cheaper in Postgres than json_build_object,
 * and its output is compact. */
#define SQL_JSON_ARRAY(query, order) \
  "coalesce('[' || (SELECT string_agg(row_to_json(t)::text, ',' ORDER BY " \
  order ") FROM (" query ") t) || ']', '[]')"

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
