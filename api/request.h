/*
 * request.h - one FastCGI request and its response.
 *
 * A handler reads its input through these helpers and answers with one of
 * the reply functions, which also add the CORS headers the configuration
 * allows.  Handlers return the HTTP status they answered with; a handler
 * may instead return an error status without replying, and the router then
 * sends the standard JSON error for that status.
 *
 * The *_or_reply helpers have already answered when they fail, so the
 * caller just returns their status:
 *
 *     cJSON *body = request_json_or_reply(req, &rc);
 *     if(!body)
 *       return rc;
 *
 * Memory: nothing here needs freeing by the handler except cJSON trees it
 * builds or parses itself.
 */
#ifndef TRACKLY_REQUEST_H
#define TRACKLY_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <cJSON.h>
#include <fcgiapp.h>

#include "app.h"
#include "dynbuf.h"
#include "parse.h"   /* int_text, INT_TEXT_MAX: ids as SQL text */

#define REQUEST_PATH_MAX 1024
#define REQUEST_QUERY_MAX 8192
#define REQUEST_MAX_IDS 2
/* Room for the extra response headers: a Set-Cookie with a token, a
 * Location with a link token, X-Request-Id, Retry-After, ... */
#define REQUEST_EXTRA_HEADERS 1024
#define REQUEST_ID_MAX 64

struct request {
  FCGX_Request *fcgx;
  struct app *app;
  const char *method;
  char path[REQUEST_PATH_MAX];  /* raw path, without the query */
  const char *query;            /* "" when none */
  const char *route;            /* the matched pattern, for logs */
  size_t route_index;           /* its row in the table + 1; 0: none */
  char id[REQUEST_ID_MAX + 1];  /* nginx's $request_id, "" when none */
  int64_t ids[REQUEST_MAX_IDS]; /* {id} segments of the path, in order */
  int64_t user_id;              /* set once the token is checked (or,
                                   for a GET, verified: token_unchecked) */
  int64_t token_ver;            /* the token's version claim */
  bool token_unchecked;         /* a GET's token, signature verified, whose
                                   version is not compared yet: it travels
                                   with the first read
                                   (request_read_or_reply), or send_typed
                                   compares it before any answer leaves */
  size_t token_extra_len;       /* extra_len when the token was read: a 401
                                   in place of the handler's answer drops
                                   what it added after */
  int status;                   /* 0 until a reply is sent */
  enum db_result db_error;      /* the database failure answered, or DB_OK;
                                   worker.c counts it in the metrics */
  struct timespec start;
  char extra[REQUEST_EXTRA_HEADERS];
  size_t extra_len;
};

/* Fills req from fcgx.  Returns 0, or an HTTP status when the request is
 * unusable: 414 for a path or query string too long (nothing is sent; the
 * caller answers with request_finish), 400 for a query string that is not
 * UTF-8 once percent-decoded (already answered). */
int request_init(struct request *req, struct app *app, FCGX_Request *fcgx);

/* Copies the REQUEST_ID parameter into id when it is 1 to REQUEST_ID_MAX
 * characters of [A-Za-z0-9._-] (nginx's are 32 hex digits); otherwise id
 * is "".  Anything else would not be safe to echo in a header or a log. */
void request_id_copy(char id[REQUEST_ID_MAX + 1], const char *param);

/* A FastCGI parameter ("HTTP_AUTHORIZATION", "REQUEST_ID") or NULL. */
const char *request_param(const struct request *req, const char *name);

/* Adds "Name: value" to the response headers (values must not hold CR/LF). */
void request_add_header(struct request *req, const char *name,
                        const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Reads and parses the body as a JSON object.  On failure it has replied
 * (400, 413) and returns NULL with the status in *rc. */
cJSON *request_json_or_reply(struct request *req, int *rc);

/* One of input.h's checks of a route's body, behind a uniform signature:
 * fills *in, or writes the 400's sentence into err and returns -1. */
typedef int (*request_body_check)(const cJSON *body, void *in, char *err,
                                  size_t errcap);

/* The prologue of a handler that takes a body: reads it as a JSON object
 * and checks it with check.  Returns the tree (the caller deletes it; the
 * strings check put in *in point into it), or NULL once it has replied
 * (400 with check's sentence, or as request_json_or_reply) with the status
 * in *rc. */
cJSON *request_body_or_reply(struct request *req, request_body_check check,
                             void *in, int *rc);

int reply_json(struct request *req, int status, const cJSON *body);
/* Replies with JSON text that is already serialised (a fixed message, or
 * text Postgres built). */
int reply_raw_json(struct request *req, int status, const char *json,
                   size_t len);
/* A reply whose body is not JSON (the metrics' text). */
int reply_body(struct request *req, int status, const char *content_type,
               const char *body, size_t len);
int reply_error(struct request *req, int status, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
/* A reply with no body (204). */
int reply_empty(struct request *req, int status);
/* The answer to a failed database call: 503 when the database is away or
 * the row is busy, 409 for a conflict, 500 otherwise.  Notes rc in
 * req->db_error for the metrics.  Returns the status. */
int reply_db_error(struct request *req, enum db_result rc);


/* Reads the query parameter name as an integer in [min, max] into *out;
 * when it is absent *out is untouched, so the caller sets the default (or
 * a value outside [min, max] that means "absent") first.  Returns 0 to go
 * on, or the status after replying 400 naming it. */
int request_query_int_or_reply(struct request *req, const char *name,
                               int64_t min, int64_t max, int64_t *out);

/* Runs a read of the handler's: prepared statement stmt, as db_exec does.
 * Every read of a GET handler goes through here: while the request's
 * token is unchecked (req->token_unchecked), its version check and this
 * read go to PostgreSQL in one pipelined round trip (db_exec_pair), and a
 * revoked token's read is dropped for a 401.  Returns 0 with *res for the
 * caller to PQclear, or the status answered (401, a database failure's)
 * with *res NULL. */
int request_read_or_reply(struct request *req, const char *stmt,
                          int nparams, const char *const *params,
                          PGresult **res);

/*
 * The read routes' answers, written by the worker from the plain columns
 * of a read statement (common/pgjson.h says how each type is written):
 * each runs prepared statement stmt through request_read_or_reply and
 * replies 200, or returns the status answered (a database failure), or
 * 404 without replying when the statement found nothing of the caller's
 * (for the router to answer).  An answer pgjson cannot write is a 500.
 *
 * reply_rows_object: the single row as an object; no row: 404.
 * reply_rows_array:  all the rows as an array ([] when none).
 * reply_rows_page:   a page of a list.  The rows are (total, the item's
 *                    columns...): the total goes into X-Total-Count and the
 *                    items make the array.  SQL_PAGE (app.h) writes such a
 *                    statement; it gives one row with NULL item columns
 *                    for an empty page, and none for a missing parent
 *                    (404).
 */
int reply_rows_object(struct request *req, const char *stmt, int nparams,
                      const char *const *params);
int reply_rows_array(struct request *req, const char *stmt, int nparams,
                     const char *const *params);
int reply_rows_page(struct request *req, const char *stmt, int nparams,
                    const char *const *params);

/* Replies with the JSON b holds, or 500 (logged) when b failed: for a
 * handler that writes an answer of its own shape with pgjson. */
int reply_json_buffer(struct request *req, int status,
                      const struct dynbuf *b);

/* Runs a read statement whose single row holds the answer's JSON text in
 * its first column (Postgres builds it: the chart's series) and replies
 * 200 with it.  With no row it replies nothing and returns 404. */
int reply_db_read(struct request *req, const char *stmt, int nparams,
                  const char *const *params);

/* Sends the standard JSON error for status unless a reply was already sent;
 * the router calls it after every handler.  Returns the status sent. */
int request_finish(struct request *req, int status);

/* The reason phrase and the default error message for a status. */
const char *http_reason(int status);

/* Writes t (seconds since the epoch) as RFC 3339 UTC into out[32]. */
void format_rfc3339(int64_t t, char out[32]);

#endif
