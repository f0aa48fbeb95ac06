/*
 * router.c - the route table and the dispatcher; see router.h.
 *
 * Paths are those of the original Trackly service (DESIGN §2).  An {id}
 * segment matches only a positive decimal integer (parse_id), so
 * "/project/dashboard" can never be taken for a project id and "/project/0"
 * or "/project/1e3" is simply not found.
 *
 * HEAD is answered wherever GET is, by the GET's row (RFC 9110 §9.3.2):
 * load balancers probe /healthcheck with HEAD.  request.c then sends the
 * GET's status and headers and leaves the body out.
 */
#include "router.h"
#include "auth.h"
#include "handlers.h"
#include "parse.h"

#include <string.h>

static const struct route routes[] = {
  {"GET",    "/healthcheck",    false, health_get},
  /* nginx answers it to loopback only (trackly-common.conf). */
  {"GET",    "/metrics",        false, metrics_get},

  {"POST",   "/user/register",  false, users_register},
  {"POST",   "/user/login",     false, users_login},
  {"POST",   "/user/logout",    true,  users_logout},
  /* Clears the browser's cookie; checks the CSRF marks itself. */
  {"POST",   "/user/signout",   false, users_signout},
  {"GET",    "/user/me",        true,  users_me},
  {"PUT",    "/user/password",  true,  users_change_password},
  {"DELETE", "/user",           true,  users_delete},
  {"POST",   "/user/verify",    false, verify_confirm},
  /* The link of older mail: a redirect to the web client's verify page. */
  {"GET",    "/user/verify",    false, verify_redirect},
  {"POST",   "/user/verify/resend", true, verify_resend},

  {"POST",   "/project",                 true, projects_create},
  {"GET",    "/project",                 true, projects_list},
  {"GET",    "/project/dashboard",       true, projects_dashboard},
  {"GET",    "/project/status",          true, projects_status},
  {"GET",    "/project/mute",            false, mute_link},
  {"POST",   "/project/mute",            false, mute_link},
  {"GET",    "/project/{id}",            true, projects_get},
  {"PUT",    "/project/{id}",            true, projects_update},
  {"DELETE", "/project/{id}",            true, projects_delete},
  {"POST",   "/project/{id}/check",      true, projects_check_now},
  {"GET",    "/project/{id}/checks",     true, history_checks},
  {"GET",    "/project/{id}/uptime",     true, history_uptime},
  {"GET",    "/project/{id}/incidents",  true, history_incidents},
  {"GET",    "/project/{id}/series",     true, history_series},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

bool router_match(const char *pattern, const char *path,
                  int64_t ids[REQUEST_MAX_IDS])
{
  int nids = 0;

  while(*pattern && *path) {
    if(!strncmp(pattern, "{id}", 4)) {
      size_t len = strcspn(path, "/");
      if(nids == REQUEST_MAX_IDS || !parse_id(path, len, &ids[nids]))
        return false;
      nids++;
      pattern += 4;
      path += len;
    }
    else if(*pattern++ != *path++)
      return false;
  }
  return !*pattern && !*path;
}

/* Appends ", method" (or just method when allow is empty) to allow, if it
 * fits. */
static void allow_add(char *allow, size_t *len, size_t cap, const char *method)
{
  size_t mlen = strlen(method);

  if(*len + mlen + 3 >= cap)
    return;
  if(*len) {
    memcpy(allow + *len, ", ", 2);
    *len += 2;
  }
  memcpy(allow + *len, method, mlen + 1);
  *len += mlen;
}

/* Lists the methods of every route matching path into allow, HEAD right
 * after GET; returns how many routes there are. */
static int allowed_methods(const char *path, char *allow, size_t cap)
{
  int64_t ids[REQUEST_MAX_IDS];
  size_t len = 0;
  int n = 0;

  allow[0] = '\0';
  for(size_t i = 0; i < NROUTES; i++) {
    if(!router_match(routes[i].pattern, path, ids))
      continue;
    n++;
    allow_add(allow, &len, cap, routes[i].method);
    if(!strcmp(routes[i].method, "GET"))
      allow_add(allow, &len, cap, "HEAD");
  }
  return n;
}

int router_lookup(const char *method, const char *path,
                  int64_t ids[REQUEST_MAX_IDS], const struct route **route,
                  char *allow, size_t cap)
{
  *route = NULL;
  if(!strcmp(method, "HEAD"))
    method = "GET";
  for(size_t i = 0; i < NROUTES; i++) {
    if(!strcmp(routes[i].method, method) &&
       router_match(routes[i].pattern, path, ids)) {
      *route = &routes[i];
      return 0;
    }
  }
  if(!allowed_methods(path, allow, cap))
    return 404;
  return strcmp(method, "OPTIONS") ? 405 : 204;
}

static int preflight(struct request *req, const char *allow)
{
  request_add_header(req, "Allow", "%s, OPTIONS", allow);
  if(config_origin_allowed(&req->app->cfg,
                           request_param(req, "HTTP_ORIGIN"))) {
    request_add_header(req, "Access-Control-Allow-Methods", "%s, OPTIONS",
                       allow);
    request_add_header(req, "Access-Control-Allow-Headers",
                       "Authorization, Content-Type");
    request_add_header(req, "Access-Control-Max-Age", "600");
  }
  return reply_empty(req, 204);
}

const struct route *router_table(size_t *n)
{
  *n = NROUTES;
  return routes;
}

int router_dispatch(struct request *req)
{
  char allow[ROUTER_ALLOW_MAX];
  const struct route *r;
  int rc;

  switch(router_lookup(req->method, req->path, req->ids, &r, allow,
                       sizeof(allow))) {
  case 0:
    break;
  case 204:
    return preflight(req, allow);
  case 405:
    request_add_header(req, "Allow", "%s, OPTIONS", allow);
    return request_finish(req, 405);
  default:
    return request_finish(req, 404);
  }

  req->route = r->pattern;
  req->route_index = (size_t)(r - routes) + 1;
  if(r->auth) {
    rc = auth_or_reply(req);
    if(rc)
      return rc;
  }
  return request_finish(req, r->handler(req));
}
