/*
 * prober.c - concurrent HTTP(S) checks with libcurl's multi interface; see
 * prober.h.
 */
#include "prober.h"
#include "clock.h"
#include "log.h"
#include "trackly_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_REDIRECTS 5L

int prober_init(struct prober *p, int max_in_flight, bool allow_private,
                const struct netaddr_cidr *allowed, size_t nallowed,
                const char *public_url)
{
  memset(p, 0, sizeof(*p));
  p->multi = curl_multi_init();
  if(!p->multi)
    return -1;
  p->max_in_flight = max_in_flight;
  p->allow_private = allow_private;
  p->allowed = allowed;
  p->nallowed = nallowed;
  snprintf(p->user_agent, sizeof(p->user_agent),
           "Trackly/%s (uptime monitor; +%s)", TRACKLY_VERSION, public_url);
  /* Never more connections than checks in flight. */
  curl_multi_setopt(p->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    (long)max_in_flight);
  return 0;
}

static void fly_add(struct prober *p, struct check *c)
{
  c->fly_prev = NULL;
  c->fly_next = p->flying;
  if(p->flying)
    p->flying->fly_prev = c;
  p->flying = c;
}

static void fly_remove(struct prober *p, struct check *c)
{
  if(c->fly_prev)
    c->fly_prev->fly_next = c->fly_next;
  else
    p->flying = c->fly_next;
  if(c->fly_next)
    c->fly_next->fly_prev = c->fly_prev;
  c->fly_prev = c->fly_next = NULL;
}

void prober_cleanup(struct prober *p)
{
  if(!p->multi)
    return;
  while(p->flying) {
    struct check *c = p->flying;
    fly_remove(p, c);
    curl_multi_remove_handle(p->multi, c->easy);
    curl_easy_cleanup(c->easy);
    check_free(c);
  }
  check_free_list(p->done);
  curl_multi_cleanup(p->multi);
  memset(p, 0, sizeof(*p));
}

/* Data for the open-socket callback: the check and the rules. */
struct guard {
  struct check *check;
  const struct prober *prober;
};

static bool address_allowed(const struct prober *p,
                            const struct sockaddr *sa, socklen_t len)
{
  if(p->allow_private || !netaddr_blocked(sa, len))
    return true;
  for(size_t i = 0; i < p->nallowed; i++)
    if(netaddr_in_cidr(sa, len, &p->allowed[i]))
      return true;
  return false;
}

/* Called by libcurl for every connection it opens, with the address it
 * resolved: the one place where a link that resolves (or redirects, or
 * rebinds) to a private address is stopped. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *addr)
{
  struct check *c = clientp;
  const struct prober *p = (const struct prober *)c->easy_owner;

  if(purpose != CURLSOCKTYPE_IPCXN)
    return CURL_SOCKET_BAD;
  if(!address_allowed(p, &addr->addr, addr->addrlen)) {
    c->blocked = true;
    return CURL_SOCKET_BAD;
  }
  return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Keeps at most CHECK_BODY_MAX bytes (only when there is a keyword to look
 * for) and stops the transfer there: enough to judge, bounded memory. */
static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
  struct check *c = userdata;
  size_t len = size * n, room = CHECK_BODY_MAX - c->received;
  size_t take = len < room ? len : room;

  if(c->keyword && take) {
    if(!c->body) {
      c->body = malloc(CHECK_BODY_MAX);
      if(!c->body)
        return 0;
    }
    memcpy(c->body + c->body_len, data, take);
    c->body_len += take;
  }
  c->received += take;
  if(take < len) {
    c->body_capped = true;
    return 0;                   /* ends the transfer with CURLE_WRITE_ERROR */
  }
  return len;
}

/* Queues a finished check for prober_take_done, oldest first. */
static void done_append(struct prober *p, struct check *c)
{
  c->next = NULL;
  if(p->done_tail)
    p->done_tail->next = c;
  else
    p->done = c;
  p->done_tail = c;
}

static void finish_now(struct prober *p, struct check *c, const char *why)
{
  c->ok = false;
  snprintf(c->error, sizeof(c->error), "%s", why);
  done_append(p, c);
}

void prober_start(struct prober *p, struct check *c)
{
  CURL *e = curl_easy_init();

  c->checked_ms = wall_ms();
  if(!e) {
    finish_now(p, c, "out of memory");
    return;
  }
  c->easy = e;
  c->easy_owner = p;
  curl_easy_setopt(e, CURLOPT_URL, c->link);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)c);
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* An empty proxy means none, whatever http_proxy says. */
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, p->user_agent);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
  if(curl_multi_add_handle(p->multi, e) != CURLM_OK) {
    curl_easy_cleanup(e);
    c->easy = NULL;
    finish_now(p, c, "out of memory");
    return;
  }
  p->in_flight++;
  fly_add(p, c);
}

/* True unless url's host is an IPv4 or IPv6 address (curl's URL parser
 * has already turned "127.1" or "2130706433" into "127.0.0.1"); a URL that
 * does not parse counts as a name, the side that says less. */
static bool url_host_is_name(const char *url)
{
  CURLU *u = curl_url();
  char *host = NULL;
  unsigned char addr[sizeof(struct in6_addr)];
  bool name = true;

  if(u && url && !curl_url_set(u, CURLUPART_URL, url, 0) &&
     !curl_url_get(u, CURLUPART_HOST, &host, 0))
    name = host[0] != '[' && inet_pton(AF_INET, host, addr) != 1;
  curl_free(host);
  curl_url_cleanup(u);
  return name;
}

/* The short reason a transfer failed, as people read it in mail.  A name
 * refused after resolving and a name that does not resolve read the same
 * while private addresses are refused (prober.h). */
static const char *failure_reason(const struct check *c, CURLcode rc)
{
  switch(rc) {
  case CURLE_OPERATION_TIMEDOUT:
    return "timeout";
  case CURLE_COULDNT_RESOLVE_HOST:
    return c->guarded && c->host_is_name ? PROBER_NAME_REFUSED
                                         : "could not resolve host";
  case CURLE_COULDNT_CONNECT:
    if(c->blocked)
      return c->host_is_name ? PROBER_NAME_REFUSED : "blocked address";
    if(c->os_errno == ECONNREFUSED)
      return "connection refused";
    if(c->os_errno == ENETUNREACH || c->os_errno == EHOSTUNREACH)
      return "network unreachable";
    return "could not connect";
  case CURLE_TOO_MANY_REDIRECTS:
    return "too many redirects";
  case CURLE_UNSUPPORTED_PROTOCOL:
    return "redirect to an unsupported scheme";
  case CURLE_URL_MALFORMAT:
    return "invalid link";
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
    return "tls error";
  case CURLE_GOT_NOTHING:
    return "empty reply";
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    return "connection reset";
  default:
    return curl_easy_strerror(rc);
  }
}

void prober_judge(struct check *c, CURLcode rc)
{
  /* Stopping at the body cap is our doing, not the site's. */
  if(rc == CURLE_WRITE_ERROR && c->body_capped)
    rc = CURLE_OK;

  c->ok = false;
  if(rc != CURLE_OK)
    snprintf(c->error, sizeof(c->error), "%s", failure_reason(c, rc));
  else if(!status_ranges_match(&c->expect, (int)c->status_code))
    snprintf(c->error, sizeof(c->error), "status %ld", c->status_code);
  else if(c->keyword && (!c->body ||
                         !memmem(c->body, c->body_len, c->keyword,
                                 strlen(c->keyword))))
    snprintf(c->error, sizeof(c->error), "keyword not found");
  else {
    c->ok = true;
    c->error[0] = '\0';
  }
}

static void collect(struct prober *p)
{
  CURLMsg *msg;
  int queued;

  while((msg = curl_multi_info_read(p->multi, &queued))) {
    struct check *c = NULL;
    curl_off_t total = 0;
    CURL *e = msg->easy_handle;

    if(msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status_code);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &c->os_errno);
    c->latency_ms = (long)(total / 1000);
    if(msg->data.result == CURLE_COULDNT_RESOLVE_HOST || c->blocked) {
      char *url = NULL;     /* the hop that failed: redirects update it */

      curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url);
      c->host_is_name = url_host_is_name(url);
      c->guarded = !p->allow_private;
    }
    prober_judge(c, msg->data.result);
    free(c->body);                /* judged; no need to keep 64 KiB */
    c->body = NULL;
    curl_multi_remove_handle(p->multi, e);
    curl_easy_cleanup(e);
    c->easy = NULL;
    fly_remove(p, c);
    p->in_flight--;
    done_append(p, c);
  }
}

void prober_wait(struct prober *p, struct pollfd *extra, int nextra,
                 int timeout_ms)
{
  struct curl_waitfd waits[4];
  int running;

  for(int i = 0; i < nextra && i < 4; i++) {
    waits[i].fd = extra[i].fd;
    waits[i].events = CURL_WAIT_POLLIN;
    waits[i].revents = 0;
  }
  curl_multi_perform(p->multi, &running);
  collect(p);
  /* Finished checks are waiting: return at once so they get written. */
  if(p->done)
    timeout_ms = 0;
  curl_multi_poll(p->multi, waits, (unsigned)(nextra < 4 ? nextra : 4),
                  timeout_ms, NULL);
  for(int i = 0; i < nextra && i < 4; i++)
    extra[i].revents = waits[i].revents ? POLLIN : 0;
  curl_multi_perform(p->multi, &running);
  collect(p);
}

struct check *prober_take_done(struct prober *p)
{
  struct check *list = p->done;
  p->done = p->done_tail = NULL;
  return list;
}
