/*
 * retention.c - the history's partitions, ages and daily totals; see
 * retention.h.  The DDL itself is in schema.sql (checks_add_day,
 * checks_drop_days, check_days_roll_up), so an operator can run the same
 * from psql.
 */
#include "retention.h"
#include "parse.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const struct db_statement retention_statements[] = {
  {"retention_add_days",
   "SELECT count(*) FILTER (WHERE checks_add_day("
   "  (now() AT TIME ZONE 'UTC')::date + i))"
   " FROM generate_series(0, " STR(RETENTION_DAYS_AHEAD) ") AS i"},
  {"retention_drop_days",
   "SELECT checks_drop_days(now() - $1::int * interval '1 day')"},
  /* The $2 projects after id $1, and their expired totals, each found
   * through the primary key (project_id, time): a short range at the
   * start of each project's.  Returns the last id (NULL past the end)
   * and the rows deleted. */
  {"retention_prune_totals",
   "WITH p AS MATERIALIZED ("
   "  SELECT id FROM projects WHERE id > $1::bigint ORDER BY id"
   "  LIMIT $2::int),"
   " h AS ("
   "  DELETE FROM check_hours h USING p WHERE h.project_id = p.id"
   "    AND h.hour < now() - interval '" STR(RETENTION_HOURS_DAYS) " days'"
   "  RETURNING 1),"
   " d AS ("
   "  DELETE FROM check_days d USING p WHERE d.project_id = p.id"
   "    AND d.day < (now() AT TIME ZONE 'UTC')::date"
   "                - " STR(RETENTION_DAYS_DAYS)
   "  RETURNING 1)"
   " SELECT (SELECT max(id) FROM p),"
   "        (SELECT count(*) FROM h) + (SELECT count(*) FROM d)"},
  /* Yesterday's and today's days of the $2 projects after id $1: the
   * last id (NULL past the end) and the daily rows written. */
  {"retention_roll_up",
   "WITH p AS MATERIALIZED ("
   "  SELECT id FROM projects WHERE id > $1::bigint ORDER BY id"
   "  LIMIT $2::int)"
   " SELECT (SELECT max(id) FROM p),"
   "  check_days_roll_up((now() AT TIME ZONE 'UTC')::date - 1,"
   "                     (now() AT TIME ZONE 'UTC')::date, $1::bigint,"
   "                     coalesce((SELECT max(id) FROM p), $1::bigint))"},
  {NULL, NULL},
};

/* Runs a statement whose one value is a count. */
static int64_t count_of(struct db *db, const char *statement, int nparams,
                        const char *const *params)
{
  PGresult *res = NULL;
  int64_t n = -1;

  if(db_exec(db, statement, nparams, params, &res) != DB_OK)
    return -1;
  if(PQntuples(res) != 1 ||
     !parse_int(PQgetvalue(res, 0, 0), 0, INT64_MAX, &n))
    n = -1;
  PQclear(res);
  return n;
}

int retention_add_days(struct db *db)
{
  return (int)count_of(db, "retention_add_days", 0, NULL);
}

int retention_drop_days(struct db *db, int64_t days)
{
  char d[INT_TEXT_MAX];

  return (int)count_of(db, "retention_drop_days", 1,
                       (const char *[]){int_text(d, days)});
}

/* Runs a statement over the batch projects after *after ($1, $2) that
 * returns (the last id or NULL, a count), moving *after on (0 past the
 * last project).  Returns the count, or -1. */
static int64_t sweep(struct db *db, const char *statement, int64_t *after,
                     int batch)
{
  char a[INT_TEXT_MAX], b[INT_TEXT_MAX];
  PGresult *res = NULL;
  int64_t n = -1, last = 0;

  if(db_exec(db, statement, 2,
             (const char *[]){int_text(a, *after), int_text(b, batch)},
             &res) != DB_OK)
    return -1;
  if(PQntuples(res) == 1 &&
     parse_int(PQgetvalue(res, 0, 1), 0, INT64_MAX, &n)) {
    /* Past the last project: the next sweep starts from the first. */
    if(PQgetisnull(res, 0, 0) ||
       !parse_int(PQgetvalue(res, 0, 0), 1, INT64_MAX, &last))
      last = 0;
    *after = last;
  }
  else
    n = -1;
  PQclear(res);
  return n;
}

int64_t retention_prune_totals(struct db *db, int64_t *after, int batch)
{
  return sweep(db, "retention_prune_totals", after, batch);
}

int64_t retention_roll_up(struct db *db, int64_t *after, int batch)
{
  return sweep(db, "retention_roll_up", after, batch);
}
