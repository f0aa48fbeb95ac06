/*
 * retention.h - keeping the stored history to its bounds.
 *
 * What a project leaves behind (schema.sql, docs/monitoring.md "Keeping
 * the history"): its raw checks, in one partition of the checks table per
 * UTC day, kept CHECK_RETENTION_DAYS; its hourly totals (check_hours),
 * kept RETENTION_HOURS_DAYS; its daily totals (check_days), rolled up from
 * the hourly ones and kept RETENTION_DAYS_DAYS.  The writer thread
 * (writer.c) runs these once a minute on its connection: the partitions of
 * the days ahead are made before a check needs them, a day past the
 * retention goes as one DROP of its partition (no row-by-row delete, no
 * vacuum after it), and the totals past their age go a batch of
 * projects at a time.
 *
 * Each function returns what it did (a count) or -1 when the database
 * failed (logged by db.c); nothing here holds a lock for long: the DDL
 * waits at most DB_LOCK_TIMEOUT_MS for its lock and is tried again the
 * next minute.
 */
#ifndef TRACKLY_RETENTION_H
#define TRACKLY_RETENTION_H

#include <stdint.h>

#include "db.h"

extern const struct db_statement retention_statements[];

#define RETENTION_DAYS_AHEAD 2      /* partitions made beyond today */
#define RETENTION_HOURS_DAYS 90     /* hourly totals kept, in days */
#define RETENTION_DAYS_DAYS 730     /* daily totals kept, in days */

/* Makes the partitions of today (UTC) and the RETENTION_DAYS_AHEAD days
 * after it that are missing.  Returns how many it made. */
int retention_add_days(struct db *db);

/* Drops the partitions of the days that ended more than days ago.
 * Returns how many it dropped. */
int retention_drop_days(struct db *db, int64_t days);

/* Deletes the hourly and daily totals past their age of the batch
 * projects whose ids follow *after, and sets *after to the last of them
 * (0 once past the last project, so that calls sweep the projects round
 * and round).  Returns the rows deleted. */
int64_t retention_prune_totals(struct db *db, int64_t *after, int batch);

/* Rolls the hourly totals of yesterday and today (UTC) up into the daily
 * ones, for the batch projects whose ids follow *after, moving *after on
 * as retention_prune_totals does.  Returns the daily rows written. */
int64_t retention_roll_up(struct db *db, int64_t *after, int batch);

#endif
