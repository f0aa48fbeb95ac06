/*
 * smtp.c - one SMTP session with libesmtp (bounded connect probe, AUTH
 * PLAIN, STARTTLS policy, timeouts, and reading the message's status);
 * see smtp.h.  The session and its auth context are owned and freed here.
 */
#include "smtp.h"

#include <auth-client.h>
#include <libesmtp.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 10000
#define SMTP_TIMEOUT_MS 30000

void smtp_init(void)
{
  auth_client_init();
}

void smtp_cleanup(void)
{
  auth_client_exit();
}

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
int smtp_reachable(const char *host, int port, char *err, size_t errcap)
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

/* One message on its way. */
struct sending {
  smtp_message_t message;
  smtp_taken_fn taken;
  void *arg;
  bool told;                    /* taken called already */
};

/* The server has just said 250 to the message: it has the mail.  The
 * caller hears it now, before QUIT and its answer, so that a monitor
 * killed in between (or a server slow to say goodbye) leaves a sent row,
 * not one that would be sent again when its claim ends. */
static void message_taken(struct sending *s)
{
  const smtp_status_t *st = smtp_message_transfer_status(s->message);

  if(s->told || !s->taken || !st || st->code / 100 != 2)
    return;
  s->taken(s->arg);
  s->told = true;
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
enum smtp_result smtp_send(const struct config *cfg, const char *to,
                           char *text, smtp_taken_fn taken, void *arg,
                           char *err, size_t errcap)
{
  struct sending sending = {.taken = taken, .arg = arg};
  struct credentials cred = {cfg->email_user, cfg->email_pass};
  smtp_session_t session = NULL;
  smtp_message_t message;
  smtp_recipient_t rcpt = NULL;
  auth_context_t auth = NULL;
  const smtp_status_t *st, *rst;
  char server[300], from[256], buf[128];
  enum smtp_result rc = SMTP_NO_SERVER;
  int started;

  if(smtp_reachable(cfg->email_host, cfg->email_port, err, errcap))
    return SMTP_NO_SERVER;
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
  sending.message = message;
  smtp_set_eventcb(session, on_event, &sending);
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
    rc = SMTP_SENT;
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
    rc = SMTP_REFUSED;
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
