/*
 * fuzz_fcgi.c - what the API makes of the FastCGI parameters nginx sends:
 * request_init (method, path, query), the route lookup, the query
 * parameters handlers read, the bearer token and the CORS origin check.
 * No socket and no database: the harness builds the parameter block
 * ("NAME=value" strings, as libfcgi hands them over) itself and stops
 * before anything would be sent.
 *
 * Input: lines "NAME=value" separated by '\n'.  A line without '=' gives
 * its text to the next parameter of a fixed list (REQUEST_METHOD,
 * REQUEST_URI, QUERY_STRING, HTTP_AUTHORIZATION, HTTP_ORIGIN,
 * CONTENT_LENGTH, DOCUMENT_URI), so short inputs already reach the router.
 *
 * Checked: request_init either refuses with 414 or leaves a path shorter
 * than REQUEST_PATH_MAX with no '?' and no NUL before its end; the route
 * found matches the method and the path, its ids are positive; a 405 or
 * 204 lists methods that each find a route for the same path, and never
 * the method asked; query_param results are exactly as long as they say,
 * and a mute token that passes is of its alphabet (valid UTF-8 for the
 * database);
 * a bearer token is a suffix of the header with no leading space.
 */
#include "fuzz.h"

#include <strings.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "input.h"
#include "parse.h"
#include "request.h"
#include "router.h"

#define MAX_PARAMS 32

static const char *const positional[] = {
  "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "HTTP_AUTHORIZATION",
  "HTTP_ORIGIN", "CONTENT_LENGTH", "DOCUMENT_URI",
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
 * each string is its own allocation.  Returns how many. */
static size_t build_env(const uint8_t *data, size_t size, char **envp)
{
  size_t n = 0, next = 0;

  while(size && n < MAX_PARAMS) {
    const uint8_t *rest;
    size_t restlen, len = fuzz_split(data, size, '\n', &rest, &restlen);
    char *line = fuzz_strndup(data, len);

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
  static const char *const names[] = {"limit", "offset", "token"};
  char small[32], big[128];

  for(size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    long a = query_param(query, names[i], small, sizeof(small));
    long b = query_param(query, names[i], big, sizeof(big));
    int64_t v;

    FUZZ_CHECK(a >= -2 && b >= -2);
    if(a >= 0) {
      FUZZ_CHECK((size_t)a < sizeof(small) && strlen(small) == (size_t)a);
      /* What fits the small buffer reads the same in the big one. */
      FUZZ_CHECK(b == a && !strcmp(small, big));
      if(parse_int(small, 0, INT32_MAX, &v))
        FUZZ_CHECK(v >= 0);
    }
    else
      FUZZ_CHECK(small[0] == '\0');
    if(b >= 0)
      FUZZ_CHECK((size_t)b < sizeof(big) && strlen(big) == (size_t)b);
    /* Absent is absent whatever the buffer. */
    FUZZ_CHECK((a == -1) == (b == -1));
  }

  /* The mute token goes to Postgres as text: only its alphabet passes. */
  {
    long len = input_mute_token(query, big, sizeof(big));
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
    FUZZ_CHECK(route && !strcmp(route->method, req->method));
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *envp[MAX_PARAMS + 1], allow[ROUTER_ALLOW_MAX];
  FCGX_Request fcgx;
  struct request req;
  const char *origin;
  size_t n;
  int rc;

  setup();
  n = build_env(data, size, envp);
  memset(&fcgx, 0, sizeof(fcgx));
  fcgx.envp = envp;

  rc = request_init(&req, &app, &fcgx);
  if(rc) {
    FUZZ_CHECK(rc == 414);
    goto out;
  }
  FUZZ_CHECK(req.method && req.query);
  FUZZ_CHECK(strnlen(req.path, sizeof(req.path)) < sizeof(req.path));
  FUZZ_CHECK(!strchr(req.path, '?'));

  check_route(&req, allow);
  check_query(req.query);
  check_bearer(&req);

  origin = request_param(&req, "HTTP_ORIGIN");
  FUZZ_CHECK(config_origin_allowed(&app.cfg, origin) ==
             (origin && !strcmp(origin, "http://allowed.test")));
  /* A preflight's headers go to a fixed buffer; they must stay in it. */
  request_add_header(&req, "Allow", "%s, OPTIONS", allow);
  FUZZ_CHECK(req.extra_len < sizeof(req.extra));
  FUZZ_CHECK(strlen(req.extra) == req.extra_len);
out:
  for(size_t i = 0; i < n; i++)
    free(envp[i]);
  return 0;
}
