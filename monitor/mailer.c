/*
 * mailer.c - the outbox delivery thread; see mailer.h.
 */
#include "mailer.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "message.h"
#include "parse.h"
#include "secret.h"
#include "stats.h"

#include <auth-client.h>
#include <libesmtp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IDLE_POLL_MS 1000
#define CONNECT_TIMEOUT_MS 10000
#define SMTP_TIMEOUT_MS 30000
#define PROBE_FIRST_MS 1000      /* server away: first look again after */
#define PROBE_MAX_MS 30000       /* ... doubling up to this */
#define AWAY_LOG_EVERY_MS 600000 /* "still away", at most this often */
/* How long a mute link works (SQL text); api/projects.c checks the same. */
#define MUTE_LINK_DAYS "30"
/* The alert mail that the per-recipient cap counts. */
#define CAPPED_KINDS "('down', 'recovered', 'reminder', 'flapping', 'digest')"

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
  NULL,
};

/* The address inside "Name <addr>", or the whole string. */
static void bare_address(const char *from, char *out, size_t cap)
{
  const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;

  if(lt && gt && gt > lt + 1)
    snprintf(out, cap, "%.*s", (int)(gt - lt - 1), lt + 1);
  else
    snprintf(out, cap, "%s", from);
}

/* libesmtp connects with a plain blocking connect(2), which can hang for
 * minutes on a host that drops packets.  A bounded connect first finds
 * such a server dead within CONNECT_TIMEOUT_MS. */
static int reachable(const char *host, int port, char *err, size_t errcap)
{
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL, *a;
  char service[8];
  int rc = -1, gai;

  snprintf(service, sizeof(service), "%d", port);
  gai = getaddrinfo(host, service, &hints, &ai);
  if(gai) {
    snprintf(err, errcap, "cannot resolve %s: %s", host, gai_strerror(gai));
    return -1;
  }
  snprintf(err, errcap, "cannot connect to %s:%d", host, port);
  for(a = ai; a && rc; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, a->ai_protocol);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if(fd < 0)
      continue;
    if(!connect(fd, a->ai_addr, a->ai_addrlen))
      rc = 0;
    else if(errno == EINPROGRESS && poll(&pfd, 1, CONNECT_TIMEOUT_MS) == 1 &&
            !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) && !soerr)
      rc = 0;
    else
      snprintf(err, errcap, "cannot connect to %s:%d: %s", host, port,
               soerr ? strerror(soerr) : errno == EINPROGRESS ? "timed out" :
               strerror(errno));
    close(fd);
  }
  freeaddrinfo(ai);
  return rc;
}

struct credentials {
  char *user, *pass;
};

static int auth_interact(auth_client_request_t request, char **result,
                         int fields, void *arg)
{
  struct credentials *cred = arg;

  for(int i = 0; i < fields; i++) {
    if(request[i].flags & AUTH_USER)
      result[i] = cred->user;
    else if(request[i].flags & AUTH_PASS)
      result[i] = cred->pass;
    else
      return 0;
  }
  return 1;
}

/* What became of one message. */
enum sent {
  SENT_OK,          /* the server took it */
  SENT_REFUSED,     /* the server answered, and refused this message */
  SENT_NO_SERVER,   /* no usable server: not reachable, or it hung up or
                     * failed before saying anything about this message */
};

/* One message on its way. */
struct sending {
  struct mailer *m;
  struct db *db;
  const char *id;               /* the outbox row */
  smtp_message_t message;
  bool recorded;                /* marked sent already */
};

static void record(struct mailer *m, struct db *db, const char *id,
                   enum sent outcome, const char *err, bool permanent);

/* The server has just said 250 to the message: it has the mail.  It is
 * marked sent now, before QUIT and its answer, so that a monitor killed
 * in between (or a server slow to say goodbye) leaves a sent row, not one
 * that would be sent again when its claim ends. */
static void message_taken(struct sending *s)
{
  const smtp_status_t *st = smtp_message_transfer_status(s->message);

  if(s->recorded || !st || st->code / 100 != 2)
    return;
  record(s->m, s->db, s->id, SENT_OK, NULL, false);
  s->recorded = true;
}

/* TLS events: a server certificate that does not verify ends the session
 * (the mail is retried later), as does a weak cipher.  And the message
 * taken (message_taken). */
static void on_event(smtp_session_t session, int event, void *arg, ...)
{
  va_list ap;
  int *ok;

  (void)session;
  va_start(ap, arg);
  switch(event) {
  case SMTP_EV_MESSAGESENT:
    message_taken(arg);
    break;
  case SMTP_EV_WEAK_CIPHER:
    (void)va_arg(ap, long);
    ok = va_arg(ap, int *);
    *ok = 0;
    break;
  case SMTP_EV_INVALID_PEER_CERTIFICATE:
    (void)va_arg(ap, long);
    ok = va_arg(ap, int *);
    *ok = 0;
    break;
  case SMTP_EV_NO_PEER_CERTIFICATE:
  case SMTP_EV_WRONG_PEER_CERTIFICATE:
    ok = va_arg(ap, int *);
    *ok = 0;
    break;
  case SMTP_EV_NO_CLIENT_CERTIFICATE:
    ok = va_arg(ap, int *);
    *ok = 1;
    break;
  default:
    break;
  }
  va_end(ap);
}


/* Sends one rendered message; on failure, a reason in err.
 *
 * The message's own status decides, not the session's: a server that
 * said 250 to the message and then dropped the connection (or timed out
 * on QUIT) has the mail, and sending it again would deliver it twice. */
static enum sent smtp_send(struct sending *s, const char *to, char *text,
                           char *err, size_t errcap)
{
  const struct config *cfg = s->m->cfg;
  struct credentials cred = {cfg->email_user, cfg->email_pass};
  smtp_session_t session = NULL;
  smtp_message_t message;
  smtp_recipient_t rcpt = NULL;
  auth_context_t auth = NULL;
  const smtp_status_t *st, *rst;
  char server[300], from[256], buf[128];
  enum sent rc = SENT_NO_SERVER;
  int started;

  if(reachable(cfg->email_host, cfg->email_port, err, errcap))
    return SENT_NO_SERVER;
  session = smtp_create_session();
  if(!session)
    goto fail;
  message = smtp_add_message(session);
  snprintf(server, sizeof(server), "%s:%d", cfg->email_host,
           cfg->email_port);
  bare_address(cfg->email_from, from, sizeof(from));
  if(!message || !smtp_set_server(session, server) ||
     !smtp_set_reverse_path(message, from) ||
     !(rcpt = smtp_add_recipient(message, to)) ||
     !smtp_set_message_str(message, text))
    goto fail;
  for(int which = Timeout_GREETING; which <= Timeout_DATA2; which++)
    smtp_set_timeout(session, which | Timeout_OVERRIDE_RFC2822_MINIMUM,
                     SMTP_TIMEOUT_MS);
  smtp_starttls_enable(session, cfg->email_tls == EMAIL_TLS_NONE ?
                       Starttls_DISABLED : cfg->email_tls == EMAIL_TLS_TLS ?
                       Starttls_REQUIRED : Starttls_ENABLED);
  s->message = message;
  smtp_set_eventcb(session, on_event, s);
  if(cfg->email_user && cfg->email_pass) {
    auth = auth_create_context();
    if(!auth)
      goto fail;
    auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
    auth_set_interact_cb(auth, auth_interact, &cred);
    smtp_auth_set_context(session, auth);
  }

  started = smtp_start_session(session);
  st = smtp_message_transfer_status(message);
  if(st && st->code / 100 == 2) {
    rc = SENT_OK;
    goto out;
  }
  /* A reply about its recipient or this message (MAIL, DATA) refuses it,
   * the recipient's first, as the one that says why; anything else is the
   * server's trouble, not the message's. */
  rst = smtp_recipient_status(rcpt);
  if(rst && rst->code && rst->code / 100 != 2)
    st = rst;
  if(st && st->code) {
    snprintf(err, errcap, "SMTP server answered %d %s", st->code,
             st->text ? st->text : "");
    err[strcspn(err, "\r\n")] = '\0';
    rc = SENT_REFUSED;
  }
  else if(!started)
    snprintf(err, errcap, "SMTP: %s",
             smtp_strerror(smtp_errno(), buf, sizeof(buf)));
  else
    snprintf(err, errcap, "SMTP: the server did not take the message");
  goto out;
fail:
  snprintf(err, errcap, "SMTP: cannot set up the session");
out:
  if(session)
    smtp_destroy_session(session);
  if(auth)
    auth_destroy_context(auth);
  return rc;
}

/* Records the outcome of one row.  "Sent" is retried until the database
 * takes it: a sent message recorded as unsent would be sent again.  A
 * failure that is not written leaves the row claimed until its lease ends,
 * which only delays it. */
static void record(struct mailer *m, struct db *db, const char *id,
                   enum sent outcome, const char *err, bool permanent)
{
  for(int tries = 0;; tries++) {
    PGresult *res = NULL;
    char delay[16];
    enum db_result dr;
    struct pollfd pfd = {.fd = m->wake_fd, .events = POLLIN};

    if(outcome == SENT_OK)
      dr = db_exec(db, "mail_sent", 1, (const char *[]){id}, &res);
    else if(outcome == SENT_NO_SERVER) {
      snprintf(delay, sizeof(delay), "%d", m->probe_delay_ms);
      dr = db_exec(db, "mail_deferred", 3, (const char *[]){id, err, delay},
                   &res);
    }
    else
      dr = db_exec(db, "mail_failed", 3, (const char *[]){
                     id, err, permanent ? "true" : "false"}, &res);
    PQclear(res);
    if(dr == DB_OK || outcome != SENT_OK || tries == 600)
      return;
    /* Once a second for ten minutes (the claim's lease), or until told to
     * stop. */
    if(poll(&pfd, 1, 1000) > 0)
      return;
  }
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

/* What the cap decided for a row. */
enum gate {
  GATE_SEND,        /* send it now */
  GATE_HELD,        /* held back (an alert), or waiting (a digest) */
  GATE_FAILED,      /* the database failed; the row stays claimed */
};

static bool capped_kind(const char *kind)
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
static enum gate gate(struct mailer *m, struct db *db, const char *id,
                      const char *kind, const char *to, cJSON **payload)
{
  char cap[24];
  PGresult *res = NULL;
  const char *free_at;
  enum gate rc = GATE_FAILED;
  bool admit;

  snprintf(cap, sizeof(cap), "%lld", (long long)m->cfg->alert_mail_per_hour);
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
      record(m, db, id, SENT_REFUSED, "nothing to send: the alerts it held "
             "went with their projects", true);
      rc = GATE_HELD;
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
  rc = admit ? GATE_SEND : GATE_HELD;
  if(!admit)
    log_info("mail %s (%s) held back: %s alert mails to its recipient in "
             "the last hour, or a digest waiting", id, kind, cap);
out:
  PQclear(res);
  if(rc == GATE_FAILED)
    db_rollback(db);
  return rc;
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
  enum sent outcome;

  if(!parse_id(id, strlen(id), &in.outbox_id) || !payload) {
    record(m, db, id, SENT_REFUSED, "unreadable outbox row", true);
    goto out;
  }
  /* Retries of a row that has its place already pass. */
  if(m->cfg->alert_mail_per_hour > 0 && !counted && capped_kind(kind)) {
    enum gate g = gate(m, db, id, kind, to, &payload);
    if(g != GATE_SEND)
      goto out;
  }
  if(about_project && strcmp(kind, "verify") && strcmp(kind, "test")) {
    if(mute_token(db, PQgetvalue(res, row, 4), token)) {
      record(m, db, id, SENT_REFUSED, "cannot store the mute link", false);
      goto out;
    }
    in.mute_token = token;
  }
  in.payload = payload;
  text = message_render(&in);
  if(!text) {
    record(m, db, id, SENT_REFUSED, "cannot render this kind of mail", true);
    goto out;
  }
  outcome = smtp_send(&sending, to, text, err, sizeof(err));
  free(text);
  switch(outcome) {
  case SENT_OK:
    log_info("mail %s (%s) sent", id, kind);
    atomic_fetch_add(&m->stats->mail_sent, 1);
    if(!sending.recorded)
      record(m, db, id, SENT_OK, NULL, false);
    if(m->away_since)
      server_back(m, db);
    break;
  case SENT_REFUSED:
    log_warn("mail %s (%s) not sent: %s", id, kind, err);
    atomic_fetch_add(&m->stats->mail_failed, 1);
    record(m, db, id, SENT_REFUSED, err, false);
    break;
  case SENT_NO_SERVER:
    atomic_fetch_add(&m->stats->mail_failed, 1);
    server_away(m, err);
    record(m, db, id, SENT_NO_SERVER, err, false);
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
  if(!reachable(m->cfg->email_host, m->cfg->email_port, err, sizeof(err)))
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
  auth_client_init();
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
  auth_client_exit();
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
