/*
 * scheduler.h - which projects are due, and who checks them.
 *
 * Work is shared through Postgres alone (DESIGN §1, §7): a daemon claims a
 * batch of due projects with FOR UPDATE SKIP LOCKED and marks each with a
 * short lease (its name and an expiry) in the same statement, commits, and
 * only then probes - no lock is held during a probe.  A lease that expires
 * (its daemon died) makes the project claimable again.  Results are
 * written only while the lease is still ours (results.c), so each check
 * happens once.
 *
 * Slots are shared fairly between users (issue 12, fairshare.h): a claim
 * takes due checks round-robin by user (every user's first in flight
 * before anyone's second, counting what each already has in flight here),
 * and keeps a reserve of slots for users with nothing in flight.  So
 * checks that hang until their timeout (a tarpit) hold at most their
 * owner's fair share: they delay that owner's other checks, not other
 * users'.  Each monitor shares its own slots.
 */
#ifndef TRACKLY_SCHEDULER_H
#define TRACKLY_SCHEDULER_H

#include "check.h"
#include "db.h"
#include "fairshare.h"

extern const struct db_statement scheduler_statements[];

/* Extra time a lease lasts beyond the project's timeout: room for the
 * result to be written. */
#define LEASE_GRACE_MS 30000

/* At most this many of the oldest due projects are looked at per claim
 * (those of users left out by fairshare_skip not counted), so that a claim
 * costs the same with a backlog of 100,000; round-robin holds within them. */
#define CLAIM_WINDOW 500

/* Claims up to max due projects for owner, shared between users as above;
 * flying is the list of the in_flight checks this monitor holds (linked
 * by fly_next).  The claim is sent without waiting for it (db_send): the
 * caller polls db's socket, and once db_result_ready takes the claimed
 * checks with scheduler_claim_take.  Returns 0 when sent, -1 when the
 * database failed. */
int scheduler_claim_send(struct db *db, const char *owner, int max,
                         const struct fairshare_slots *slots,
                         const struct check *flying, int in_flight);

/* The claim sent last: returns the number claimed (the checks are
 * prepended to *out; *taken_over of them were another monitor's expired
 * leases), or -1 when the database failed. */
int scheduler_claim_take(struct db *db, struct check **out, int *taken_over);

/* Milliseconds since the epoch at which the next project falls due (or a
 * lease expires), or -1 when nothing is scheduled or the database failed. */
int64_t scheduler_next_due(struct db *db);

/* Gives back the leases of checks that will not be written (shutdown). */
void scheduler_release(struct db *db, const char *owner,
                       const struct check *list);

/* Takes back, at start, the leases an earlier run of this monitor (owner
 * "name:pid" with the same name, its process gone) left when it was
 * killed: on projects, so they are checked now instead of when those
 * leases expire, and on outbox rows its mailer had claimed, so that mail
 * goes out now rather than when the 10-minute claim runs out.  Returns how
 * many project leases were released (*mails: how many claims), or -1 when
 * the database failed. */
int scheduler_take_back(struct db *db, const char *name, const char *owner,
                        int *mails);

/* Deletes expired housekeeping rows: mail sent more than days ago (at
 * most batch), login throttles and verification-mail counts past their
 * day.  Returns -1 when the database failed.  (The checks' own ages are
 * retention.h's.) */
int64_t scheduler_prune(struct db *db, int64_t days, int batch);

/* Deletes accounts whose address is still unverified days after they
 * registered, with everything they own (projects, checks, mail), at most
 * batch accounts per call.  Returns accounts deleted, or -1. */
int64_t scheduler_purge_unverified(struct db *db, int64_t days, int batch);

#endif
