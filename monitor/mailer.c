/*
 * mailer.c - the outbox delivery thread; see mailer.h.  It claims rows,
 * passes alert mail through the per-recipient cap (mailcap.c), adds the mute
 * link token, renders (message.c), sends (smtp.c) and records the outcome.
 * It owns its database connection and each row's payload and rendered
 * text, freed before the next row.
 */
#include "mailer.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "mailcap.h"
#include "message.h"
#include "parse.h"
#include "secret.h"
#include "smtp.h"
#include "stats.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define IDLE_POLL_MS 1000
#define PROBE_FIRST_MS 1000      /* server away: first look again after */
#define PROBE_MAX_MS 30000       /* ... doubling up to this */
#define AWAY_LOG_EVERY_MS 600000 /* "still away", at most this often */
/* How long a mute link works (SQL text); api/projects.c checks the same. */
#define MUTE_LINK_DAYS "30"

static const struct db_statement mailer_statements[] = {
  /* One row at a time: the lease (claimed_until) outlasts any SMTP
   * exchange, so a row is never sent by two daemons at once, and a daemon
   * killed in the middle leaves only the message in hand waiting for it -
   * until the lease runs out, or until that daemon is back (claimed_by is
   * its "name:pid", taken back at start; scheduler_take_back). */
  {"mail_claim",
   "WITH d AS MATERIALIZED ("
   "  SELECT id FROM mail_outbox"
   "  WHERE sent_at IS NULL AND next_attempt_at <= now()"
   "    AND (claimed_until IS NULL OR claimed_until < now())"
   "  ORDER BY next_attempt_at LIMIT 1"
   "  FOR UPDATE SKIP LOCKED)"
   " UPDATE mail_outbox o SET claimed_until = now() + interval '10 minutes',"
   "   claimed_by = $1, attempts = o.attempts + 1"
   " FROM d WHERE o.id = d.id"
   " RETURNING o.id, o.kind, o.recipient, o.payload::text, o.project_id,"
   "   o.counted_at IS NOT NULL"},
  /* A digest's sent_at is also that of the alerts it carries. */
  {"mail_sent",
   "UPDATE mail_outbox SET sent_at = now(), claimed_until = NULL,"
   "   claimed_by = NULL, last_error = NULL"
   " WHERE id = $1 OR (digest_id = $1 AND sent_at IS NULL)"},

  /* The mute link of one alert mail: a fresh token whose digest ($1, hex)
   * is stored with the project's mute generation; expired ones go. */
  {"mail_mute_token",
   "WITH old AS (DELETE FROM mute_tokens"
   "   WHERE created_at < now() - interval '" MUTE_LINK_DAYS " days')"
   " INSERT INTO mute_tokens (token_hash, project_id, generation)"
   " SELECT decode($1, 'hex'), id, mute_generation FROM projects"
   " WHERE id = $2"},
  /* Backoff: 30 s, 1 min, 2 min, ... 1 h; after 48 h, never again. */
  {"mail_failed",
   "UPDATE mail_outbox SET claimed_until = NULL, claimed_by = NULL,"
   "   last_error = $2,"
   "   next_attempt_at = CASE"
   "     WHEN $3::boolean OR created_at < now() - interval '48 hours'"
   "       THEN 'infinity'"
   "     ELSE now() + least(interval '1 hour',"
   "                        interval '30 seconds' * 2 ^ least(attempts - 1, 12))"
   "   END"
   " WHERE id = $1"},
  /* The server could not be reached: not this message's fault, so no
   * backoff of its own; it is due again when the mailer next looks ($3
   * ms, its probe delay).  The 48 hours still count. */
  {"mail_deferred",
   "UPDATE mail_outbox SET claimed_until = NULL, claimed_by = NULL,"
   "   last_error = $2,"
   "   next_attempt_at = CASE"
   "     WHEN created_at < now() - interval '48 hours' THEN 'infinity'"
   "     ELSE now() + $3::int * interval '1 millisecond'"
   "   END"
   " WHERE id = $1"},
  /* The server is back: whatever waits in a backoff (up to the longest
   * one, 1 h, so rows set aside for good or on purpose stay put) is due
   * now, so the backlog goes out at once rather than over the next hour. */
  {"mail_due_now",
   "UPDATE mail_outbox SET next_attempt_at = now()"
   " WHERE sent_at IS NULL AND attempts > 0"
   "   AND next_attempt_at > now()"
   "   AND next_attempt_at <= now() + interval '1 hour'"},
  {NULL, NULL},
};

static const struct db_statement *const mailer_lists[] = {
  mailer_statements,
  mailcap_statements,
  NULL,
};

/* Records the outcome of one row.  "Sent" is retried until the database
 * takes it: a sent message recorded as unsent would be sent again.  A
 * failure that is not written leaves the row claimed until its lease ends,
 * which only delays it. */
static void record(struct mailer *m, struct db *db, const char *id,
                   enum smtp_result outcome, const char *err, bool permanent)
{
  for(int tries = 0;; tries++) {
    PGresult *res = NULL;
    char delay[16];
    enum db_result dr;
    struct pollfd pfd = {.fd = m->wake_fd, .events = POLLIN};

    if(outcome == SMTP_SENT)
      dr = db_exec(db, "mail_sent", 1, (const char *[]){id}, &res);
    else if(outcome == SMTP_NO_SERVER) {
      snprintf(delay, sizeof(delay), "%d", m->probe_delay_ms);
      dr = db_exec(db, "mail_deferred", 3, (const char *[]){id, err, delay},
                   &res);
    }
    else
      dr = db_exec(db, "mail_failed", 3, (const char *[]){
                     id, err, permanent ? "true" : "false"}, &res);
    PQclear(res);
    if(dr == DB_OK || outcome != SMTP_SENT || tries == 600)
      return;
    /* Once a second for ten minutes (the claim's lease), or until told to
     * stop. */
    if(poll(&pfd, 1, 1000) > 0)
      return;
  }
}

/* One message on its way. */
struct sending {
  struct mailer *m;
  struct db *db;
  const char *id;               /* the outbox row */
  bool recorded;                /* marked sent already */
};

/* The server has just said 250 to the message (smtp.h): it is marked sent
 * now, before QUIT and its answer, so that a monitor killed in between (or
 * a server slow to say goodbye) leaves a sent row, not one that would be
 * sent again when its claim ends. */
static void message_taken(void *arg)
{
  struct sending *s = arg;

  record(s->m, s->db, s->id, SMTP_SENT, NULL, false);
  s->recorded = true;
}

/* The server could not be used: from now on the mailer claims nothing and
 * only tries to connect, 1 s later, then 2 s, 4 s ... every 30 s, so an
 * outage costs neither a storm of attempts nor a backoff per message. */
static void server_away(struct mailer *m, const char *err)
{
  int64_t now = clock_ms();

  if(!m->away_since) {
    m->away_since = now;
    m->probe_delay_ms = PROBE_FIRST_MS;
    m->away_logged = now;
    log_warn("mail server %s:%d unusable (%s): holding mail until it "
             "answers", m->cfg->email_host, m->cfg->email_port, err);
  }
  else {
    m->probe_delay_ms = m->probe_delay_ms * 2 > PROBE_MAX_MS ?
                        PROBE_MAX_MS : m->probe_delay_ms * 2;
    if(now - m->away_logged >= AWAY_LOG_EVERY_MS) {
      m->away_logged = now;
      log_warn("mail server still unusable after %lld s: %s",
               (long long)(now - m->away_since) / 1000, err);
    }
  }
  m->probe_at = now + m->probe_delay_ms;
}

/* A message went through after the server had been away: what waits in a
 * backoff goes out now. */
static void server_back(struct mailer *m, struct db *db)
{
  PGresult *res = NULL;
  const char *n = "0";

  if(db_exec(db, "mail_due_now", 0, NULL, &res) == DB_OK)
    n = PQcmdTuples(res);
  log_info("mail server back after %lld s; %s waiting mails made due now",
           (long long)(clock_ms() - m->away_since) / 1000, n);
  PQclear(res);
  m->away_since = 0;
}

/* A fresh mute link token for a mail about project_id, its digest stored
 * (mute_tokens).  Returns 0, or -1 with nothing stored. */
static int mute_token(struct db *db, const char *project_id,
                      char token[SECRET_TOKEN_LEN])
{
  unsigned char digest[SECRET_DIGEST_LEN];
  char hex[2 * SECRET_DIGEST_LEN + 1];
  PGresult *res = NULL;
  enum db_result dr;

  if(secret_token(token) ||
     secret_digest(token, strlen(token), digest))
    return -1;
  secret_hex(digest, hex);
  dr = db_exec(db, "mail_mute_token", 2, (const char *[]){hex, project_id},
               &res);
  PQclear(res);
  return dr == DB_OK ? 0 : -1;
}

static void deliver(struct mailer *m, struct db *db, const PGresult *res,
                    int row)
{
  const char *id = PQgetvalue(res, row, 0);
  const char *kind = PQgetvalue(res, row, 1);
  const char *to = PQgetvalue(res, row, 2);
  cJSON *payload = cJSON_Parse(PQgetvalue(res, row, 3));
  bool about_project = !PQgetisnull(res, row, 4);
  bool counted = PQgetvalue(res, row, 5)[0] == 't';
  struct message_input in = {
    .kind = kind, .from = m->cfg->email_from, .to = to,
    .public_url = m->cfg->public_url, .now = (int64_t)time(NULL),
  };
  struct sending sending = {.m = m, .db = db, .id = id};
  char err[256], token[SECRET_TOKEN_LEN];
  char *text;
  enum smtp_result outcome;

  if(!parse_id(id, strlen(id), &in.outbox_id) || !payload) {
    record(m, db, id, SMTP_REFUSED, "unreadable outbox row", true);
    goto out;
  }
  /* Retries of a row that has its place already pass. */
  if(m->cfg->alert_mail_per_hour > 0 && !counted && mailcap_counts(kind)) {
    enum mailcap_result g = mailcap_gate(db, m->cfg->alert_mail_per_hour,
                                         id, kind, to, &payload);
    /* The alerts it was for went with their projects: nothing to say. */
    if(g == MAILCAP_EMPTY)
      record(m, db, id, SMTP_REFUSED, "nothing to send: the alerts it held "
             "went with their projects", true);
    if(g != MAILCAP_SEND)
      goto out;
  }
  if(about_project && strcmp(kind, "verify") && strcmp(kind, "test")) {
    if(mute_token(db, PQgetvalue(res, row, 4), token)) {
      record(m, db, id, SMTP_REFUSED, "cannot store the mute link", false);
      goto out;
    }
    in.mute_token = token;
  }
  in.payload = payload;
  text = message_render(&in);
  if(!text) {
    record(m, db, id, SMTP_REFUSED, "cannot render this kind of mail", true);
    goto out;
  }
  outcome = smtp_send(m->cfg, to, text, message_taken, &sending, err,
                      sizeof(err));
  free(text);
  switch(outcome) {
  case SMTP_SENT:
    log_info("mail %s (%s) sent", id, kind);
    atomic_fetch_add(&m->stats->mail_sent, 1);
    if(!sending.recorded)
      record(m, db, id, SMTP_SENT, NULL, false);
    if(m->away_since)
      server_back(m, db);
    break;
  case SMTP_REFUSED:
    log_warn("mail %s (%s) not sent: %s", id, kind, err);
    atomic_fetch_add(&m->stats->mail_failed, 1);
    record(m, db, id, SMTP_REFUSED, err, false);
    break;
  case SMTP_NO_SERVER:
    atomic_fetch_add(&m->stats->mail_failed, 1);
    server_away(m, err);
    record(m, db, id, SMTP_NO_SERVER, err, false);
    break;
  }
out:
  explicit_bzero(token, sizeof(token));
  cJSON_Delete(payload);
}

/* While the server is away: waits for the next probe (or a stop), then
 * tries to connect.  Returns true when it answers (mail may be claimed
 * again), false to keep waiting; sets *stop on a stop request. */
static bool probe(struct mailer *m, bool *stop)
{
  struct pollfd pfd = {.fd = m->wake_fd, .events = POLLIN};
  int64_t wait = m->probe_at - clock_ms();
  char err[256];

  if(poll(&pfd, 1, wait > 0 ? (int)wait : 0) > 0) {
    *stop = true;
    return false;
  }
  if(!smtp_reachable(m->cfg->email_host, m->cfg->email_port, err, sizeof(err)))
    return true;
  server_away(m, err);
  return false;
}

static void *run(void *arg)
{
  struct mailer *m = arg;
  struct db db;
  bool stop = false;

  db_init(&db, m->cfg->db_url, "trackly-mailer", 10000, mailer_lists);
  while(!stop) {
    struct pollfd pfd = {.fd = m->wake_fd, .events = POLLIN};
    PGresult *res = NULL;
    int n = 0;

    /* Away: nothing is claimed until the server accepts a connection
     * again (a --once pass just ends). */
    if(m->away_since && clock_ms() < m->probe_at) {
      if(m->once)
        break;
      if(!probe(m, &stop))
        continue;
    }
    if(db_exec(&db, "mail_claim", 1, (const char *[]){m->owner}, &res) ==
       DB_OK) {
      n = PQntuples(res);
      for(int i = 0; i < n; i++)
        deliver(m, &db, res, i);
      PQclear(res);
    }
    if(m->once && (!n || m->away_since))
      break;
    /* A row sent means more may be due: look again at once. */
    if(poll(&pfd, 1, n && !m->away_since ? 0 : IDLE_POLL_MS) > 0)
      break;
  }
  db_close(&db);
  return NULL;
}

int mailer_start(struct mailer *m, const struct config *cfg,
                 const char *owner, struct stats *stats, bool once)
{
  memset(m, 0, sizeof(*m));
  m->cfg = cfg;
  m->owner = owner;
  m->stats = stats;
  m->once = once;
  m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if(m->wake_fd < 0)
    return -1;
  smtp_init();
  if(pthread_create(&m->thread, NULL, run, m)) {
    close(m->wake_fd);
    return -1;
  }
  m->running = true;
  return 0;
}

void mailer_join(struct mailer *m)
{
  if(!m->running)
    return;
  pthread_join(m->thread, NULL);
  m->running = false;
  close(m->wake_fd);
  smtp_cleanup();
}

void mailer_stop(struct mailer *m)
{
  uint64_t one = 1;

  if(!m->running)
    return;
  if(write(m->wake_fd, &one, sizeof(one)) < 0)
    log_warn("cannot wake the mailer: %s", strerror(errno));
  mailer_join(m);
}
