/*
 * fuzz_fcgi.c - what the API makes of the FastCGI parameters nginx sends:
 * request_init (method, path, query), the route lookup, the query
 * parameters handlers read, the bearer token and the CORS origin check.
 * No socket and no database: the harness builds the parameter block
 * ("NAME=value" strings, as libfcgi hands them over) itself and stops
 * before anything would be sent.
 *
 * Input: lines "NAME=value" separated by '\n', then, after an empty line,
 * the request body.  A line without '=' gives its text to the next
 * parameter of a fixed list (REQUEST_METHOD, REQUEST_URI, QUERY_STRING,
 * HTTP_AUTHORIZATION, HTTP_ORIGIN, CONTENT_LENGTH, DOCUMENT_URI, HTTP_COOKIE,
 * HTTP_X_REQUESTED_WITH, HTTP_SEC_FETCH_SITE), so short inputs already
 * reach the router.
 *
 * The request then runs for real up to the first point that would need
 * the database: the streams are memory buffers, so the replies of
 * request_init (414; 400 for a query that is not UTF-8), router_dispatch
 * (404, 405, 204 preflight) and request_json_or_reply (400, 413:
 * Content-Length and body rules) are
 * written and checked: a status line, CRLF header lines, a Content-Length
 * that is the body's length, a JSON {"error": ...} body for errors.
 *
 * Checked: request_init either refuses (414, or 400 already answered) or
 * leaves a path shorter than REQUEST_PATH_MAX with no '?' and no NUL before its end; the route
 * found matches the method and the path, its ids are positive; a 405 or
 * 204 lists methods that each find a route for the same path, and never
 * the method asked; query_param results are exactly as long as they say,
 * and a mail link's token that passes is of its alphabet (valid UTF-8 for
 * the database, safe in the verification redirect's Location);
 * a bearer token is a suffix of the header with no leading space; a session
 * cookie is a run of cookie-octets after its exact name.
 */
#include "fuzz.h"

#include <strings.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "input.h"
#include "json.h"
#include "parse.h"
#include "request.h"
#include "router.h"

#define MAX_PARAMS 32
#define OUT_MAX (256 * 1024)

static const char *const positional[] = {
  "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "HTTP_AUTHORIZATION",
  "HTTP_ORIGIN", "CONTENT_LENGTH", "DOCUMENT_URI", "HTTP_COOKIE",
  "HTTP_X_REQUESTED_WITH", "HTTP_SEC_FETCH_SITE",
};

static const char *const methods[] = {
  "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD",
};

/* The worker's state; only cfg (CORS) is read on these paths. */
static struct app app;

static void setup(void)
{
  static char origin[] = "http://allowed.test";
  static bool done;

  if(done)
    return;
  app.cfg.cors_origins[0] = origin;
  app.cfg.cors_count = 1;
  app.cfg.monitor_min_interval = 60;
  done = true;
}

/* Splits the input into "NAME=value" strings in envp (NULL-terminated);
 * each string is its own allocation.  What follows the first empty line is
 * the body (*body, *bodylen).  Returns how many parameters there are. */
static size_t build_env(const uint8_t *data, size_t size, char **envp,
                        const uint8_t **body, size_t *bodylen)
{
  size_t n = 0, next = 0;

  *body = data + size;
  *bodylen = 0;
  while(size && n < MAX_PARAMS) {
    const uint8_t *rest;
    size_t restlen, len = fuzz_split(data, size, '\n', &rest, &restlen);
    char *line;

    if(!len) {
      *body = rest;
      *bodylen = restlen;
      break;
    }
    line = fuzz_strndup(data, len);

    /* Positional lines, and lines cut by a NUL, get a name. */
    if(!strchr(line, '=') && next < sizeof(positional) / sizeof(*positional)) {
      size_t nlen = strlen(positional[next]), vlen = strlen(line);
      char *named = malloc(nlen + 1 + vlen + 1);
      FUZZ_CHECK(named);
      memcpy(named, positional[next], nlen);
      named[nlen] = '=';
      memcpy(named + nlen + 1, line, vlen + 1);
      free(line);
      line = named;
      next++;
    }
    envp[n++] = line;
    data = rest;
    size = restlen;
  }
  envp[n] = NULL;
  return n;
}

static void check_query(const char *query)
{
  static const char *const names[] = {"limit", "offset", "token", "range",
                                      "recent"};
  char small[32], big[128];

  for(size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    size_t alen, blen;
    enum query_result a = query_param(query, names[i], small, sizeof(small),
                                      &alen);
    enum query_result b = query_param(query, names[i], big, sizeof(big),
                                      &blen);
    int64_t v;

    FUZZ_CHECK(a <= QUERY_INVALID && b <= QUERY_INVALID);
    if(a == QUERY_OK) {
      FUZZ_CHECK(alen < sizeof(small) && strlen(small) == alen);
      /* What fits the small buffer reads the same in the big one. */
      FUZZ_CHECK(b == QUERY_OK && blen == alen && !strcmp(small, big));
      if(parse_int(small, 0, INT32_MAX, &v))
        FUZZ_CHECK(v >= 0);
    }
    else
      FUZZ_CHECK(small[0] == '\0' && !alen);
    if(b == QUERY_OK)
      FUZZ_CHECK(blen < sizeof(big) && strlen(big) == blen);
    /* Absent is absent whatever the buffer. */
    FUZZ_CHECK((a == QUERY_ABSENT) == (b == QUERY_ABSENT));
  }

  /* A link token goes to Postgres as text, and into a Location header:
   * only its alphabet passes. */
  {
    long len = input_link_token(query, big, sizeof(big));
    FUZZ_CHECK(len == -1 || (len > 0 && (size_t)len == strlen(big)));
    for(long i = 0; i < len; i++)
      FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789-_", big[i]));
  }
}

/* Looks the request up; leaves the Allow list of a 204 or 405 in allow. */
static void check_route(const struct request *req,
                        char allow[ROUTER_ALLOW_MAX])
{
  char allow2[ROUTER_ALLOW_MAX];
  int64_t ids[REQUEST_MAX_IDS] = {0};
  const struct route *route = NULL, *other;
  size_t nids = 0;
  int status;

  allow[0] = '\0';
  status = router_lookup(req->method, req->path, ids, &route, allow,
                         ROUTER_ALLOW_MAX);
  switch(status) {
  case 0:
    /* HEAD is answered by the GET route. */
    FUZZ_CHECK(route && !strcmp(route->method, strcmp(req->method, "HEAD") ?
                                               req->method : "GET"));
    FUZZ_CHECK(router_match(route->pattern, req->path, ids));
    for(const char *p = route->pattern; (p = strstr(p, "{id}")); p += 4)
      FUZZ_CHECK(ids[nids++] > 0);
    break;
  case 204:
  case 405:
    FUZZ_CHECK(!route && allow[0]);
    FUZZ_CHECK((status == 204) == !strcmp(req->method, "OPTIONS"));
    /* Every method listed finds its route; the one asked is not listed. */
    for(size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++) {
      size_t mlen = strlen(methods[i]);
      bool listed = false;
      for(const char *p = allow; (p = strstr(p, methods[i])); p += mlen)
        if((p == allow || p[-1] == ' ') && (!p[mlen] || p[mlen] == ','))
          listed = true;
      FUZZ_CHECK(listed == !router_lookup(methods[i], req->path, ids,
                                          &other, allow2, sizeof(allow2)));
    }
    break;
  default:
    FUZZ_CHECK(status == 404 && !route);
    break;
  }
}

/* The session cookie is a run of cookie-octets right after its exact name
 * (at the start of the header or of a pair), no longer than a token; the
 * CSRF marks pass only with X-Requested-With exactly "trackly". */
static void check_cookie(const struct request *req)
{
  const char *h = request_param(req, "HTTP_COOKIE");
  const char *xrw = request_param(req, "HTTP_X_REQUESTED_WITH");
  const char *value = NULL;
  size_t n = strlen(AUTH_COOKIE "="), len = 0;
  enum auth_cookie rc = auth_cookie_find(h, AUTH_COOKIE, &value, &len);

  if(auth_same_origin(xrw, request_param(req, "HTTP_SEC_FETCH_SITE")))
    FUZZ_CHECK(xrw && !strcmp(xrw, "trackly"));
  if(rc != AUTH_COOKIE_FOUND) {
    FUZZ_CHECK(rc == AUTH_COOKIE_ABSENT || (h && rc == AUTH_COOKIE_INVALID));
    FUZZ_CHECK(!value && !len);
    return;
  }
  FUZZ_CHECK(h && value >= h + n && len >= 1 && len <= JWT_MAX_TOKEN);
  FUZZ_CHECK(value + len <= h + strlen(h));
  FUZZ_CHECK(!memcmp(value - n, AUTH_COOKIE "=", n));
  FUZZ_CHECK(value - n == h || strchr("; \t", value[-(long)n - 1]));
  FUZZ_CHECK(!value[len] || value[len] == ';');
  for(size_t i = 0; i < len; i++)
    FUZZ_CHECK(value[i] > 0x20 && value[i] < 0x7f &&
               !strchr("\",;\\", value[i]));
}

static void check_bearer(const struct request *req)
{
  const char *h = request_param(req, "HTTP_AUTHORIZATION");
  size_t len;
  const char *token = auth_bearer(h, &len);

  if(!token) {
    FUZZ_CHECK(len == 0);
    return;
  }
  FUZZ_CHECK(h && !strncasecmp(h, "Bearer ", 7));
  FUZZ_CHECK(token >= h + 7 && token[0] != ' ' && len > 0);
  FUZZ_CHECK(strlen(token) == len && token + len == h + strlen(h));
}

/* The request body: read once, then closed. */
static void fill_closed(FCGX_Stream *stream)
{
  stream->isClosed = 1;
}

/* Every reply fits the output buffer; needing more is a finding. */
static void out_full(FCGX_Stream *stream, int doClose)
{
  (void)stream;
  (void)doClose;
  fprintf(stderr, "response larger than %d bytes\n", OUT_MAX);
  abort();
}

/* Checks one response: "Status: NNN Reason", header lines "Name: value"
 * ending in CRLF, an empty line, then exactly Content-Length bytes of a
 * JSON object with an "error" string for statuses >= 400; for a HEAD
 * (head), the same head and no body at all. */
static void check_response(const unsigned char *out, size_t len, int status,
                           bool head)
{
  char *text = fuzz_strndup(out, len);
  const char *end = strstr(text, "\r\n\r\n"), *line, *cl;
  size_t body_len;
  char want[32];

  FUZZ_CHECK(strlen(text) == len);
  snprintf(want, sizeof(want), "Status: %d ", status);
  FUZZ_CHECK(!strncmp(text, want, strlen(want)));
  FUZZ_CHECK(end);
  for(line = text; line < end + 2; line = strstr(line, "\r\n") + 2) {
    const char *eol = strstr(line, "\r\n");
    const char *colon = memchr(line, ':', (size_t)(eol - line));
    FUZZ_CHECK(colon && colon > line && colon[1] == ' ');
    FUZZ_CHECK(!memchr(line, '\n', (size_t)(eol - line)));
    FUZZ_CHECK(!memchr(line, '\r', (size_t)(eol - line)));
  }
  body_len = len - (size_t)(end + 4 - text);
  cl = strstr(text, "\r\nContent-Length: ");
  if(cl && cl < end) {
    int64_t n;
    char num[24];
    size_t k = strcspn(cl + 18, "\r");
    FUZZ_CHECK(k < sizeof(num));
    memcpy(num, cl + 18, k);
    num[k] = '\0';
    FUZZ_CHECK(parse_int(num, 0, INT64_MAX, &n) &&
               (size_t)n == (head ? (size_t)n : body_len));
  }
  if(head || !cl || cl > end)
    FUZZ_CHECK(body_len == 0);
  if(status >= 400 && !head) {
    const char *why = NULL;
    cJSON *obj = json_parse_object(end + 4, body_len, &why);
    FUZZ_CHECK(obj);
    FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj,
                                                               "error")));
    cJSON_Delete(obj);
  }
  free(text);
}

/* Runs the request as the worker would, as far as it gets without a
 * database, and checks what it sent. */
static void run_request(char **envp, const uint8_t *body, size_t bodylen)
{
  static unsigned char out_buf[OUT_MAX];
  unsigned char *in_buf = (unsigned char *)fuzz_memdup(body, bodylen);
  FCGX_Stream in = {0}, out = {0};
  const struct route *route;
  FCGX_Request fcgx;
  struct request req;
  char allow[ROUTER_ALLOW_MAX];
  int64_t ids[REQUEST_MAX_IDS];
  cJSON *obj;
  int rc;

  in.rdNext = in.stopUnget = in_buf;
  in.stop = in.wrNext = in_buf + bodylen;
  in.isReader = 1;
  in.fillBuffProc = fill_closed;
  out.wrNext = out_buf;
  out.stop = out.rdNext = out_buf + sizeof(out_buf);
  out.emptyBuffProc = out_full;
  memset(&fcgx, 0, sizeof(fcgx));
  fcgx.envp = envp;
  fcgx.in = &in;
  fcgx.out = &out;

  rc = request_init(&req, &app, &fcgx);
  if(rc)
    rc = request_finish(&req, rc);
  else if(router_lookup(req.method, req.path, ids, &route, allow,
                        sizeof(allow)))
    rc = router_dispatch(&req);       /* 404, 405, 204: no handler runs */
  else {
    obj = request_json_or_reply(&req, &rc);
    if(obj) {
      FUZZ_CHECK(cJSON_IsObject(obj) && !req.status);
      cJSON_Delete(obj);
      rc = request_finish(&req, 422);
    }
    else
      FUZZ_CHECK(rc == 400 || rc == 413);
  }
  FUZZ_CHECK(rc == req.status);
  check_response(out_buf, (size_t)(out.wrNext - out_buf), rc,
                 !strcmp(req.method, "HEAD"));
  free(in_buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static unsigned char sink[OUT_MAX];
  FCGX_Stream out = {0};
  char *envp[MAX_PARAMS + 1], allow[ROUTER_ALLOW_MAX];
  const uint8_t *body;
  size_t bodylen;
  FCGX_Request fcgx;
  struct request req;
  const char *origin;
  size_t n;
  int rc;

  setup();
  n = build_env(data, size, envp, &body, &bodylen);
  memset(&fcgx, 0, sizeof(fcgx));
  fcgx.envp = envp;
  /* request_init answers a query that is not UTF-8 itself (400); that
   * answer is checked in run_request, here it only needs somewhere to go. */
  out.wrNext = sink;
  out.stop = out.rdNext = sink + sizeof(sink);
  out.emptyBuffProc = out_full;
  fcgx.out = &out;

  rc = request_init(&req, &app, &fcgx);
  if(rc) {
    FUZZ_CHECK(rc == 414 || (rc == 400 && req.status == 400));
    goto out;
  }
  FUZZ_CHECK(req.method && req.query);
  FUZZ_CHECK(strnlen(req.path, sizeof(req.path)) < sizeof(req.path));
  FUZZ_CHECK(!strchr(req.path, '?'));

  check_route(&req, allow);
  check_query(req.query);
  check_bearer(&req);
  check_cookie(&req);

  origin = request_param(&req, "HTTP_ORIGIN");
  FUZZ_CHECK(config_origin_allowed(&app.cfg, origin) ==
             (origin && !strcmp(origin, "http://allowed.test")));
  /* A preflight's headers go to a fixed buffer; they must stay in it. */
  request_add_header(&req, "Allow", "%s, OPTIONS", allow);
  FUZZ_CHECK(req.extra_len < sizeof(req.extra));
  FUZZ_CHECK(strlen(req.extra) == req.extra_len);
out:
  run_request(envp, body, bodylen);
  for(size_t i = 0; i < n; i++)
    free(envp[i]);
  return 0;
}
