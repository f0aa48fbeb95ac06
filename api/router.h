/*
 * router.h - matching a request to its handler.
 */
#ifndef TRACKLY_ROUTER_H
#define TRACKLY_ROUTER_H

#include "request.h"

/* Finds the route for req, checks its token when the route needs one, runs
 * the handler and makes sure exactly one response is sent: 404 for an
 * unknown path, 405 (with Allow) for a known path and another method, 204
 * for a CORS preflight.  Returns the status sent. */
int router_dispatch(struct request *req);

/* Matches path against pattern ("/project/{id}/checks"), storing each {id}
 * segment in ids.  True on a match.  Exposed for the unit tests. */
bool router_match(const char *pattern, const char *path,
                  int64_t ids[REQUEST_MAX_IDS]);

#endif
