/*
 * prober.h - running checks concurrently with the libcurl multi interface.
 *
 * Every check is an HTTP(S) GET over a fresh connection with the project's
 * timeout, TLS verification, at most 5 redirects, only http and https, no
 * proxy from the environment, and at most 64 KiB of body read (DESIGN §4).
 * Unless private targets are allowed, every connection curl opens - after
 * DNS, and again on each redirect hop - is checked against netaddr's rules
 * in the open-socket callback, and refused ones end as "blocked address".
 * When the refused host was a name, the reason is PROBER_NAME_REFUSED, the
 * same as for a name that does not resolve at all: a tenant must not learn
 * from the answer which names the operator's resolver knows (split-horizon
 * DNS) and that they are private (docs/security.md).
 */
#ifndef TRACKLY_PROBER_H
#define TRACKLY_PROBER_H

#include <poll.h>
#include <stdbool.h>

#include "check.h"
#include "netaddr.h"

#define PROBER_NAME_REFUSED "unknown or blocked host"

struct prober {
  CURLM *multi;
  int in_flight;
  int max_in_flight;
  bool allow_private;
  const struct netaddr_cidr *allowed;   /* private ranges allowed anyway */
  size_t nallowed;
  char user_agent[160];
  struct check *flying;                 /* in flight, for cleanup */
  struct check *done;                   /* finished, not yet taken */
  struct check *done_tail;
};

/* Returns 0, or -1 when libcurl cannot be set up. */
int prober_init(struct prober *p, int max_in_flight, bool allow_private,
                const struct netaddr_cidr *allowed, size_t nallowed,
                const char *public_url);
void prober_cleanup(struct prober *p);

/* Starts c; the prober owns it until it comes back from prober_take_done.
 * A check that cannot start finishes at once with an error. */
void prober_start(struct prober *p, struct check *c);

/* Waits up to timeout_ms for network activity or for one of the extra file
 * descriptors (whose revents are filled in), moves transfers along and
 * collects the finished ones. */
void prober_wait(struct prober *p, struct pollfd *extra, int nextra,
                 int timeout_ms);

/* The finished checks, oldest first; the caller owns them now. */
struct check *prober_take_done(struct prober *p);

/* Sorts a finished transfer into ok or a short reason (exposed for the unit
 * tests): status, keyword and expected ranges decide. */
void prober_judge(struct check *c, CURLcode rc);

#endif
