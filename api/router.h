/*
 * router.h - matching a request to its handler.
 */
#ifndef TRACKLY_ROUTER_H
#define TRACKLY_ROUTER_H

#include "request.h"

/* Room for the Allow list of any path ("GET, HEAD, PUT, DELETE"). */
#define ROUTER_ALLOW_MAX 128

/* One row of the route table: method, path pattern, whether a bearer token
 * is required, and the handler. */
struct route {
  const char *method;
  const char *pattern;
  bool auth;
  int (*handler)(struct request *req);
};

/* Finds the route for req, checks its token when the route needs one, runs
 * the handler and makes sure exactly one response is sent: 404 for an
 * unknown path, 405 (with Allow) for a known path and another method, 204
 * for a CORS preflight.  Returns the status sent. */
int router_dispatch(struct request *req);

/* The route table and its length (for the metrics' labels); a request's
 * route_index is its row plus one. */
const struct route *router_table(size_t *n);

/* The pure half of router_dispatch: looks method and path up in the route
 * table.  Returns 0 with *route set and the path's {id} segments in ids;
 * otherwise *route is NULL and it returns 404 (no route has this path), 204
 * (an OPTIONS preflight on a known path) or 405 (a known path, another
 * method).  HEAD finds the GET route.  For 204 and 405, allow (cap bytes)
 * lists the path's methods, "GET, HEAD, PUT, DELETE".  Exposed for the unit
 * tests and the fuzzer. */
int router_lookup(const char *method, const char *path,
                  int64_t ids[REQUEST_MAX_IDS], const struct route **route,
                  char *allow, size_t cap);

/* Matches path against pattern ("/project/{id}/checks"), storing each {id}
 * segment in ids.  True on a match.  Exposed for the unit tests. */
bool router_match(const char *pattern, const char *path,
                  int64_t ids[REQUEST_MAX_IDS]);

#endif
