/*
 * mailcap.c - the per-recipient cap on alert mail, at send time
 * (ALERT_MAIL_PER_HOUR, docs/monitoring.md): places in the rolling hour,
 * alerts held back, and the digest that gathers them; see mailcap.h.
 * Its SQL is prepared on the mailer's connection (mailer_lists).
 */
#include "mailcap.h"
#include "log.h"
#include "parse.h"

#include <stdio.h>
#include <string.h>

const struct db_statement mailcap_statements[] = {
  /* The per-recipient cap (ALERT_MAIL_PER_HOUR, docs/monitoring.md), in
   * one transaction per capped row: the recipient's advisory lock makes
   * the monitors that share the database decide one at a time, and each
   * statement after it sees what the one before committed. */
  {"mail_lock_recipient",
   "SELECT pg_advisory_xact_lock(72861332, hashtext(lower($1)))"},
  /* May row $1 go out now?  Not when $2 mails to its recipient took a
   * place in the last hour, nor (but for the digest itself) while alerts
   * held back wait for their digest, so that mail keeps its order.  Also
   * when the first place frees. */
  {"mail_admit",
   "WITH me AS (SELECT kind, lower(recipient) AS r FROM mail_outbox"
   "            WHERE id = $1),"
   " w AS (SELECT count(*) AS n, min(o.counted_at) AS first"
   "       FROM mail_outbox o, me WHERE lower(o.recipient) = me.r"
   "         AND o.counted_at > now() - interval '1 hour'),"
   " held AS (SELECT count(*) AS n FROM mail_outbox o, me"
   "          WHERE lower(o.recipient) = me.r AND o.sent_at IS NULL"
   "            AND o.held_at IS NOT NULL AND o.digest_id IS NULL)"
   " SELECT w.n < $2::int AND (me.kind = 'digest' OR held.n = 0),"
   "        w.first + interval '1 hour'"
   " FROM me, w, held"},
  {"mail_count_in",
   "UPDATE mail_outbox SET counted_at = now() WHERE id = $1"},
  /* Holds row $1 back for a digest, and makes sure a digest is waiting:
   * due when a place frees ($2), and at most one digest an hour. */
  {"mail_hold",
   "WITH h AS (UPDATE mail_outbox SET held_at = now(),"
   "             next_attempt_at = 'infinity', claimed_until = NULL,"
   "             claimed_by = NULL"
   "           WHERE id = $1 RETURNING user_id, recipient)"
   " INSERT INTO mail_outbox (user_id, kind, recipient, next_attempt_at)"
   " SELECT h.user_id, 'digest', h.recipient,"
   "   greatest(now(), $2::timestamptz,"
   "            (SELECT max(o.counted_at) + interval '1 hour'"
   "             FROM mail_outbox o WHERE lower(o.recipient) ="
   "               lower(h.recipient) AND o.counted_at IS NOT NULL"
   "               AND o.kind = 'digest'))"
   " FROM h WHERE NOT EXISTS (SELECT 1 FROM mail_outbox o"
   "   WHERE lower(o.recipient) = lower(h.recipient) AND o.sent_at IS NULL"
   "     AND o.kind = 'digest' AND o.counted_at IS NULL)"},
  /* A digest whose time has come gathers every alert held back for its
   * recipient so far (oldest first) and takes a place. */
  {"mail_digest_build",
   "WITH items AS (UPDATE mail_outbox o SET digest_id = $1"
   "   FROM (SELECT lower(recipient) AS r FROM mail_outbox WHERE id = $1) me"
   "   WHERE lower(o.recipient) = me.r AND o.sent_at IS NULL"
   "     AND o.held_at IS NOT NULL AND o.digest_id IS NULL"
   "   RETURNING o.id, o.kind, o.project_id, o.payload, o.created_at)"
   " UPDATE mail_outbox d SET counted_at = now(), payload ="
   "   jsonb_build_object('held', (SELECT count(*) FROM items),"
   "     'items', coalesce((SELECT jsonb_agg(jsonb_build_object("
   "        'kind', i.kind, 'project_id', i.project_id,"
   "        'project_name', i.payload->'project_name',"
   "        'reason', i.payload->'reason', 'phase', i.payload->'phase',"
   "        'status', i.payload->'status',"
   "        'at', " DB_RFC3339("i.created_at") ")"
   "        ORDER BY i.created_at, i.id) FROM items i), '[]'::jsonb))"
   " WHERE d.id = $1"
   " RETURNING d.payload::text, (SELECT count(*) FROM items)"},
  /* A digest that finds no free place waits for one ($2). */
  {"mail_digest_later",
   "UPDATE mail_outbox SET claimed_until = NULL, claimed_by = NULL,"
   "   next_attempt_at = greatest(now() + interval '1 minute',"
   "                              $2::timestamptz)"
   " WHERE id = $1"},
  {NULL, NULL},
};

bool mailcap_counts(const char *kind)
{
  static const char *const kinds[] = {
    "down", "recovered", "reminder", "flapping", "digest",
  };

  for(size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if(!strcmp(kind, kinds[i]))
      return true;
  return false;
}

/*
 * The per-recipient cap, at send time (docs/monitoring.md): an alert mail
 * takes one of its recipient's ALERT_MAIL_PER_HOUR places in the rolling
 * hour, or is held back for a digest; a digest due takes a place and
 * gathers what was held, its new payload in *payload.  All under the
 * recipient's advisory lock, so monitors sharing the database count
 * alike.
 */
enum mailcap_result mailcap_gate(struct db *db, int64_t per_hour,
                                 const char *id, const char *kind,
                                 const char *to, cJSON **payload)
{
  char cap[INT_TEXT_MAX];
  PGresult *res = NULL;
  const char *free_at;
  enum mailcap_result rc = MAILCAP_FAILED;
  bool admit;

  int_text(cap, per_hour);
  if(db_begin(db) != DB_OK ||
     db_exec(db, "mail_lock_recipient", 1, (const char *[]){to}, &res) !=
     DB_OK)
    goto out;
  PQclear(res);
  res = NULL;
  if(db_exec(db, "mail_admit", 2, (const char *[]){id, cap}, &res) !=
     DB_OK || PQntuples(res) != 1)
    goto out;
  admit = PQgetvalue(res, 0, 0)[0] == 't';
  free_at = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
  if(admit && !strcmp(kind, "digest")) {
    PGresult *built = NULL;
    if(db_exec(db, "mail_digest_build", 1, (const char *[]){id}, &built) !=
       DB_OK || PQntuples(built) != 1) {
      PQclear(built);
      goto out;
    }
    /* The alerts it was for went with their projects: nothing to say. */
    if(!strcmp(PQgetvalue(built, 0, 1), "0")) {
      PQclear(built);
      db_rollback(db);
      rc = MAILCAP_EMPTY;
      goto out;
    }
    cJSON_Delete(*payload);
    *payload = cJSON_Parse(PQgetvalue(built, 0, 0));
    PQclear(built);
    if(!*payload)
      goto out;
  }
  else {
    PGresult *done = NULL;
    enum db_result dr =
      admit ? db_exec(db, "mail_count_in", 1, (const char *[]){id}, &done) :
      db_exec(db, strcmp(kind, "digest") ? "mail_hold" : "mail_digest_later",
              2, (const char *[]){id, free_at}, &done);
    PQclear(done);
    if(dr != DB_OK)
      goto out;
  }
  if(db_commit(db) != DB_OK)
    goto out;
  rc = admit ? MAILCAP_SEND : MAILCAP_HELD;
  if(!admit)
    log_info("mail %s (%s) held back: %s alert mails to its recipient in "
             "the last hour, or a digest waiting", id, kind, cap);
out:
  PQclear(res);
  if(rc == MAILCAP_FAILED)
    db_rollback(db);
  return rc;
}
