/*
 * request.c - reading a FastCGI request and writing its JSON response.
 */
#include "request.h"
#include "auth.h"
#include "input.h"
#include "json.h"
#include "log.h"
#include "parse.h"
#include "pgjson.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  int status;
  const char *reason;
  const char *message;
} statuses[] = {
  {200, "OK", NULL},
  {201, "Created", NULL},
  {202, "Accepted", NULL},
  {204, "No Content", NULL},
  {303, "See Other", NULL},
  {400, "Bad Request", "bad request"},
  {401, "Unauthorized", "authentication required"},
  {403, "Forbidden", "forbidden"},
  {404, "Not Found", "not found"},
  {405, "Method Not Allowed", "method not allowed"},
  {409, "Conflict", "conflict"},
  {413, "Content Too Large", "request body too large"},
  {414, "URI Too Long", "request path too long"},
  {422, "Unprocessable Content", "unprocessable request"},
  {429, "Too Many Requests", "too many requests"},
  {500, "Internal Server Error", "internal error"},
  {503, "Service Unavailable", "service unavailable"},
};

static int status_index(int status)
{
  for(size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
    if(statuses[i].status == status)
      return (int)i;
  return -1;
}

const char *http_reason(int status)
{
  int i = status_index(status);
  return i < 0 ? "Unknown" : statuses[i].reason;
}

static const char *default_message(int status)
{
  int i = status_index(status);
  return i < 0 || !statuses[i].message ? "error" : statuses[i].message;
}

/*
 * True when the query string, percent-decoded, is UTF-8 without a NUL.
 * Whatever parameter a handler reads goes to Postgres as text, which takes
 * nothing else: "?token=%FF" on the mute link was a 500.  Checking the
 * whole string once covers every parameter, since '&' and '=' are ASCII
 * and no multi-byte sequence can span them.  A '%' without two hex digits
 * stays as it is, for query_param to refuse if that parameter is read.
 */
static bool query_text_valid(const char *q, size_t len)
{
  char buf[REQUEST_QUERY_MAX];
  size_t i, n = 0;

  for(i = 0; i < len; i++) {
    int c = (unsigned char)q[i];

    if(c == '%' && i + 2 < len && hex_digit(q[i + 1]) >= 0 &&
       hex_digit(q[i + 2]) >= 0) {
      c = hex_digit(q[i + 1]) << 4 | hex_digit(q[i + 2]);
      i += 2;
    }
    buf[n++] = (char)c;
  }
  return utf8_valid(buf, n);
}

void format_rfc3339(int64_t t, char out[32])
{
  struct tm tm;
  time_t tt = (time_t)t;
  gmtime_r(&tt, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void request_id_copy(char id[REQUEST_ID_MAX + 1], const char *param)
{
  size_t len = param ? strspn(param, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz0123456789._-") : 0;

  if(!len || len > REQUEST_ID_MAX || param[len])
    len = 0;
  else
    memcpy(id, param, len);
  id[len] = '\0';
}

int request_init(struct request *req, struct app *app, FCGX_Request *fcgx)
{
  const char *uri, *q;
  size_t len;

  memset(req, 0, sizeof(*req));
  clock_gettime(CLOCK_MONOTONIC, &req->start);
  req->fcgx = fcgx;
  req->app = app;
  req->route = "-";
  /* Echoed so a client or a test can find its request in the logs. */
  request_id_copy(req->id, request_param(req, "REQUEST_ID"));
  if(req->id[0])
    request_add_header(req, "X-Request-Id", "%s", req->id);
  req->method = request_param(req, "REQUEST_METHOD");
  if(!req->method)
    req->method = "GET";
  req->query = request_param(req, "QUERY_STRING");
  if(!req->query)
    req->query = "";

  /* Route on the raw path: nginx's decoded $uri would turn "1%2F2" into
   * "1/2".  Nothing in our paths needs decoding, so anything encoded simply
   * fails to match. */
  uri = request_param(req, "REQUEST_URI");
  if(!uri)
    uri = request_param(req, "DOCUMENT_URI");
  if(!uri)
    uri = "/";
  q = strchr(uri, '?');
  len = q ? (size_t)(q - uri) : strlen(uri);
  if(len >= sizeof(req->path))
    return 414;
  memcpy(req->path, uri, len);
  req->path[len] = '\0';

  len = strlen(req->query);
  if(len >= REQUEST_QUERY_MAX)
    return 414;
  if(!query_text_valid(req->query, len))
    return reply_error(req, 400, "query string is not valid UTF-8");
  return 0;
}

const char *request_param(const struct request *req, const char *name)
{
  return FCGX_GetParam(name, req->fcgx->envp);
}

void request_add_header(struct request *req, const char *name,
                        const char *fmt, ...)
{
  size_t room = sizeof(req->extra) - req->extra_len;
  va_list ap;
  int n, m;

  n = snprintf(req->extra + req->extra_len, room, "%s: ", name);
  if(n < 0 || (size_t)n >= room)
    goto overflow;
  va_start(ap, fmt);
  m = vsnprintf(req->extra + req->extra_len + n, room - (size_t)n, fmt, ap);
  va_end(ap);
  if(m < 0 || (size_t)(n + m + 2) >= room)
    goto overflow;
  memcpy(req->extra + req->extra_len + n + m, "\r\n", 2);
  req->extra_len += (size_t)(n + m + 2);
  req->extra[req->extra_len] = '\0';
  return;
overflow:
  req->extra[req->extra_len] = '\0';
  log_error("response header %s dropped: no room", name);
}

/* Writes the status line and headers, CORS included, then body, except to
 * a HEAD: that gets the same head, Content-Length included (the length the
 * GET's body would have), and no body.  The head is formatted here rather
 * than with FCGX_FPrintF, whose printf knows no %zu. */
static int send_typed(struct request *req, int status, const char *ctype,
                      const char *body, size_t len)
{
  const struct config *cfg = &req->app->cfg;
  const char *origin = request_param(req, "HTTP_ORIGIN");
  char head[1024 + REQUEST_EXTRA_HEADERS];
  size_t n = 0;

  if(req->status) {
    log_error("second reply to %s %s suppressed", req->method, req->path);
    return req->status;
  }
  /* The safety net: a GET that answers without having read through
   * request_read_or_reply (a 400 for its query, a 404) has not checked
   * its token yet.  Check it now, so that a revoked token gets the 401
   * (or a 503 when that cannot be known) and never this answer. */
  if(req->token_unchecked) {
    int rc = auth_confirm_or_reply(req);
    if(rc)
      return rc;
  }
  req->status = status;
  n += (size_t)snprintf(head, sizeof(head), "Status: %d %s\r\n", status,
                        http_reason(status));
  if(body)
    n += (size_t)snprintf(head + n, sizeof(head) - n,
                          "Content-Type: %s\r\n"
                          "Content-Length: %zu\r\n", ctype, len);
  if(cfg->cors_any || cfg->cors_count) {
    n += (size_t)snprintf(head + n, sizeof(head) - n, "Vary: Origin\r\n");
    /* Only an origin from the configuration is ever echoed back. */
    if(config_origin_allowed(cfg, origin) && strlen(origin) < 300)
      n += (size_t)snprintf(head + n, sizeof(head) - n,
                            "Access-Control-Allow-Origin: %s\r\n"
                            "Access-Control-Expose-Headers: X-Total-Count, "
                            "Retry-After\r\n", origin);
  }
  n += (size_t)snprintf(head + n, sizeof(head) - n, "%s\r\n", req->extra);
  FCGX_PutStr(head, (int)n, req->fcgx->out);
  if(body && strcmp(req->method, "HEAD"))
    FCGX_PutStr(body, (int)len, req->fcgx->out);
  return status;
}

static int send_response(struct request *req, int status, const char *body,
                         size_t len)
{
  return send_typed(req, status, "application/json; charset=utf-8", body,
                    len);
}

int reply_body(struct request *req, int status, const char *content_type,
               const char *body, size_t len)
{
  return send_typed(req, status, content_type, body, len);
}

int reply_json(struct request *req, int status, const cJSON *body)
{
  char *text = cJSON_PrintUnformatted(body);
  int rc;

  if(!text) {
    log_error("out of memory printing a response");
    return send_response(req, 500, "{\"error\":\"internal error\"}", 26);
  }
  rc = send_response(req, status, text, strlen(text));
  cJSON_free(text);
  return rc;
}

int reply_raw_json(struct request *req, int status, const char *json,
                   size_t len)
{
  return send_response(req, status, json, len);
}

int reply_error(struct request *req, int status, const char *fmt, ...)
{
  char msg[512];
  cJSON *obj;
  va_list ap;
  int rc;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  obj = cJSON_CreateObject();
  if(!obj || !cJSON_AddStringToObject(obj, "error", msg)) {
    cJSON_Delete(obj);
    return send_response(req, status, "{\"error\":\"internal error\"}", 26);
  }
  rc = reply_json(req, status, obj);
  cJSON_Delete(obj);
  return rc;
}

int reply_empty(struct request *req, int status)
{
  return send_response(req, status, NULL, 0);
}

int reply_db_error(struct request *req, enum db_result rc)
{
  req->db_error = rc;
  switch(rc) {
  case DB_UNAVAILABLE:
    return reply_error(req, 503, "database unavailable");
  case DB_CONFLICT:
    return reply_error(req, 409, "conflict");
  case DB_BUSY:
    request_add_header(req, "Retry-After", "1");
    return reply_error(req, 503, "the record is busy with another request; "
                       "retry shortly");
  default:
    return reply_error(req, 500, "internal error");
  }
}

int request_finish(struct request *req, int status)
{
  if(req->status)
    return req->status;
  if(status < 400) {
    log_error("%s %s returned %d without replying", req->method, req->path,
              status);
    status = 500;
  }
  return reply_error(req, status, "%s", default_message(status));
}


int request_query_int_or_reply(struct request *req, const char *name,
                               int64_t min, int64_t max, int64_t *out)
{
  char buf[32];
  enum query_result qr = query_param(req->query, name, buf, sizeof(buf),
                                     NULL);

  if(qr == QUERY_ABSENT)
    return 0;
  if(qr != QUERY_OK || !parse_int(buf, min, max, out))
    return reply_error(req, 400, "query parameter '%s' must be an integer "
                       "from %lld to %lld", name, (long long)min,
                       (long long)max);
  return 0;
}

int request_read_or_reply(struct request *req, const char *stmt,
                          int nparams, const char *const *params,
                          PGresult **res)
{
  char uid[INT_TEXT_MAX];
  PGresult *ver = NULL;
  enum db_result dr;
  int rc;

  if(!req->token_unchecked) {
    dr = db_exec(&req->app->db, stmt, nparams, params, res);
    return dr == DB_OK ? 0 : reply_db_error(req, dr);
  }
  /* The check first: a failure of it aborts the read, not the reverse. */
  dr = db_exec_pair(&req->app->db, "auth_user", 1,
                    (const char *[]){int_text(uid, req->user_id)}, &ver,
                    stmt, nparams, params, res);
  if(dr != DB_OK) {
    /* A 503 says nothing about the account: it may leave unconfirmed. */
    req->token_unchecked = false;
    return reply_db_error(req, dr);
  }
  rc = auth_version_or_reply(req, ver);
  PQclear(ver);
  if(rc) {
    PQclear(*res);
    *res = NULL;
  }
  return rc;
}

int reply_db_read(struct request *req, const char *stmt, int nparams,
                  const char *const *params)
{
  PGresult *res = NULL;
  int rc = request_read_or_reply(req, stmt, nparams, params, &res);

  if(rc)
    return rc;
  rc = 404;
  if(PQntuples(res) == 1)
    rc = reply_raw_json(req, 200, PQgetvalue(res, 0, 0),
                        (size_t)PQgetlength(res, 0, 0));
  PQclear(res);
  return rc;
}

int reply_json_buffer(struct request *req, int status,
                      const struct dynbuf *b)
{
  const char *json = dynbuf_ptr(b);

  if(!json) {
    log_error("%s %s: the answer could not be written (over %d bytes, out "
              "of memory, or a value of an unexpected form)", req->method,
              req->path, PGJSON_MAX);
    return reply_error(req, 500, "internal error");
  }
  return send_response(req, status, json, dynbuf_len(b));
}

/* A page's result: (total, item columns...), one row per item, or a single
 * row whose item columns are NULL when the page is empty. */
static bool empty_page(const PGresult *res)
{
  return PQntuples(res) == 1 && PQnfields(res) > 1 && PQgetisnull(res, 0, 1);
}

enum rows_shape { ROWS_OBJECT, ROWS_ARRAY, ROWS_PAGE };

/* reply_rows_object, _array and _page. */
static int reply_rows(struct request *req, enum rows_shape shape,
                      const char *stmt, int nparams,
                      const char *const *params)
{
  PGresult *res = NULL;
  struct dynbuf b;
  int rc = request_read_or_reply(req, stmt, nparams, params, &res);

  if(rc)
    return rc;
  if((shape == ROWS_OBJECT && PQntuples(res) != 1) ||
     (shape == ROWS_PAGE && !PQntuples(res))) {
    PQclear(res);
    return 404;
  }
  dynbuf_init(&b, PGJSON_MAX);
  if(shape == ROWS_OBJECT)
    pgjson_object(&b, res, 0, 0);
  else if(shape == ROWS_ARRAY)
    pgjson_array(&b, res, 0, 0);
  else if(pgjson_array(&b, res, empty_page(res) ? 1 : 0, 1))
    request_add_header(req, "X-Total-Count", "%s", PQgetvalue(res, 0, 0));
  rc = reply_json_buffer(req, 200, &b);
  dynbuf_free(&b);
  PQclear(res);
  return rc;
}

int reply_rows_object(struct request *req, const char *stmt, int nparams,
                      const char *const *params)
{
  return reply_rows(req, ROWS_OBJECT, stmt, nparams, params);
}

int reply_rows_array(struct request *req, const char *stmt, int nparams,
                     const char *const *params)
{
  return reply_rows(req, ROWS_ARRAY, stmt, nparams, params);
}

int reply_rows_page(struct request *req, const char *stmt, int nparams,
                    const char *const *params)
{
  return reply_rows(req, ROWS_PAGE, stmt, nparams, params);
}

cJSON *request_json_or_reply(struct request *req, int *rc)
{
  const char *cl = request_param(req, "CONTENT_LENGTH");
  const char *why = NULL;
  int64_t len = 0;
  cJSON *obj;
  int got;

  if(cl && *cl && !parse_int(cl, 0, INT64_MAX, &len)) {
    *rc = reply_error(req, 400, "invalid Content-Length");
    return NULL;
  }
  if(len > API_BODY_MAX) {
    *rc = reply_error(req, 413, "request body too large (limit %d bytes)",
                      API_BODY_MAX);
    return NULL;
  }
  got = len ? FCGX_GetStr(req->app->body, (int)len, req->fcgx->in) : 0;
  if(got != len) {
    *rc = reply_error(req, 400, "request body is shorter than its "
                      "Content-Length");
    return NULL;
  }
  obj = json_parse_object(req->app->body, (size_t)len, &why);
  if(!obj) {
    /* Within the byte cap but too many values to hold: as much "too
     * large" as a long body, and the client's fix is the same. */
    *rc = reply_error(req, strcmp(why, JSON_TOO_BIG) ? 400 : 413, "%s", why);
    return NULL;
  }
  return obj;
}

cJSON *request_body_or_reply(struct request *req, request_body_check check,
                             void *in, int *rc)
{
  char err[INPUT_ERR_MAX];
  cJSON *body = request_json_or_reply(req, rc);

  if(body && check(body, in, err, sizeof(err))) {
    *rc = reply_error(req, 400, "%s", err);
    cJSON_Delete(body);
    body = NULL;
  }
  return body;
}
