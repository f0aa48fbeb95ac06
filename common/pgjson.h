/*
 * pgjson.h - JSON written from the plain columns of a PGresult.
 *
 * PostgreSQL is the API's most expensive step when it builds the answer's
 * JSON itself (row_to_json, json_build_object: bench/results-api.md), and
 * the worker is idle meanwhile, so the read statements return plain
 * columns and the worker writes the JSON here.  The output is what
 * PostgreSQL's own row_to_json would give for the same columns, with two
 * exceptions chosen for the API: timestamps are RFC 3339 UTC
 * ("2024-05-01T12:00:00Z", the fraction dropped, as common/db.h's
 * DB_RFC3339 writes them), and no whitespace is added anywhere.
 *
 * A value is written by its column's type (PQftype):
 *   NULL                              null
 *   int2, int4, int8, oid, numeric,
 *   float4, float8                    the text as a number; NaN and the
 *                                     infinities, which JSON has no number
 *                                     for, as strings ("NaN"), as
 *                                     PostgreSQL's row_to_json does
 *   bool                              true / false
 *   json, jsonb                       the text as it is (the database wrote
 *                                     it, so it is JSON)
 *   timestamp, timestamptz            "YYYY-MM-DDTHH:MM:SSZ" in UTC; null
 *                                     for infinity and for years BC, which
 *                                     RFC 3339 cannot write
 *   anything else (text, name, ...)   a string, escaped as PostgreSQL's
 *                                     escape_json does
 * Timestamps are read in the ISO DateStyle ("2024-05-01 12:00:00.5+00"),
 * which the connection must use (common/db.c pins it).  A value in any
 * other form fails the buffer rather than being guessed at.
 *
 * Every writer appends to a capped dynbuf and, like dynbuf's own, returns
 * false once the buffer has failed (over its cap, out of memory, or a
 * value it cannot write), so a caller writes freely and checks once.
 */
#ifndef TRACKLY_PGJSON_H
#define TRACKLY_PGJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "dynbuf.h"

/* The cap for a buffer holding one answer.  The largest legitimate one,
 * /project/status?recent=100 over a thousand projects with long errors,
 * is a few MiB; the cap only stops a runaway answer from taking the
 * worker's memory (the PGresult it comes from is already in memory, and
 * JSON escaping at most sextuples a byte). */
#define PGJSON_MAX (64 * 1024 * 1024)

/* Appends s[0..len) as a JSON string, quotes included. */
bool pgjson_string(struct dynbuf *b, const char *s, size_t len);

/* Appends the value of row, col as its type says (above). */
bool pgjson_value(struct dynbuf *b, const PGresult *res, int row, int col);

/* Appends row as an object of columns first_col..last (keys are the
 * column names, in column order). */
bool pgjson_object(struct dynbuf *b, const PGresult *res, int row,
                   int first_col);

/* Appends rows first_row..last as an array of such objects ("[]" when
 * there are none). */
bool pgjson_array(struct dynbuf *b, const PGresult *res, int first_row,
                  int first_col);

#endif
