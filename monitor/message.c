/*
 * message.c - rendering an outbox row into an RFC 5322 mail message; see
 * message.h.
 *
 * The kind (kinds.c) fills in a small document - a headline, an optional
 * paragraph, labelled rows, an optional closing note - and this file
 * writes the same document once as plain text and once as HTML, so the
 * two parts cannot drift apart, then wraps both in headers (the MIME
 * pieces are mime.c).  Every buffer is a dynbuf capped at MESSAGE_MAX
 * whose first failure sticks, so the writers append freely and the result
 * is checked once at the end.
 *
 * The Message-ID and the boundary are derived from the outbox id and a
 * hash of the row, so a retried row gets the same Message-ID (a duplicate
 * delivery after a crash is recognisable) while rows of a rebuilt
 * database, whose ids start again at 1, do not collide with mail already
 * sent.
 */
#include "message.h"

#include "document.h"
#include "dynbuf.h"
#include "maildate.h"
#include "mime.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *message_escape_html(const char *s)
{
  struct dynbuf b;

  if(!s)
    return NULL;
  dynbuf_init(&b, MESSAGE_MAX);
  for(const char *p = s; *p; p++) {
    switch(*p) {
    case '&':  dynbuf_addstr(&b, "&amp;");  break;
    case '<':  dynbuf_addstr(&b, "&lt;");   break;
    case '>':  dynbuf_addstr(&b, "&gt;");   break;
    case '"':  dynbuf_addstr(&b, "&quot;"); break;
    case '\'': dynbuf_addstr(&b, "&#39;");  break;
    default:   dynbuf_add(&b, p, 1);       break;
    }
  }
  return dynbuf_take(&b, NULL);
}

/* The host of PUBLIC_URL for the Message-ID, when it is a plain DNS name
 * (an IP literal or anything odd gives "trackly.invalid"). */
static void url_host(const char *url, char *out, size_t cap)
{
  const char *p = url, *end;
  size_t n;

  if(p && !strncasecmp(p, "https://", 8))
    p += 8;
  else if(p && !strncasecmp(p, "http://", 7))
    p += 7;
  else
    p = NULL;
  if(p) {
    end = p + strcspn(p, ":/?#");
    n = (size_t)(end - p);
    if(n && n < cap && n <= 253 && p[0] != '.' && end[-1] != '.' &&
       strspn(p, "abcdefghijklmnopqrstuvwxyz"
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") >= n) {
      for(size_t i = 0; i < n; i++)
        out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
      out[n] = '\0';
      return;
    }
  }
  snprintf(out, cap, "%s", "trackly.invalid");
}

static bool web_url(const char *s)
{
  return (!strncasecmp(s, "https://", 8) && s[8]) ||
         (!strncasecmp(s, "http://", 7) && s[7]);
}

/* --- Writing the parts ---------------------------------------------------- */

/* The headline, "" when it failed (the caller sees the failure). */
static const char *headline(const struct doc *d)
{
  const char *s = dynbuf_ptr(&d->headline);
  return s ? s : "";
}

static void write_text(struct dynbuf *b, const struct doc *d,
                       const struct facts *f)
{
  dynbuf_printf(b, "%s\r\n\r\n", headline(d));
  if(d->intro)
    dynbuf_printf(b, "%s\r\n\r\n", d->intro);
  for(size_t i = 0; i < d->nrows; i++) {
    if(d->rows[i].label)
      dynbuf_printf(b, "%s: ", d->rows[i].label);
    dynbuf_printf(b, "%s\r\n", d->rows[i].value);
  }
  if(d->nrows)
    dynbuf_addstr(b, "\r\n");
  if(d->note)
    dynbuf_printf(b, "%s\r\n\r\n", d->note);
  dynbuf_addstr(b, "-- \r\nTrackly");
  if(*f->public_url)
    dynbuf_printf(b, " - %s", f->public_url);
  dynbuf_addstr(b, "\r\n");
}

static void html_text(struct dynbuf *b, const char *s)
{
  char *esc = message_escape_html(s);

  if(!esc) {
    dynbuf_fail(b);
    return;
  }
  dynbuf_addstr(b, esc);
  free(esc);
}

/* A link when url is http(s); anything else (javascript:, data:, a
 * relative path) is shown as text and cannot be clicked. */
static void html_link(struct dynbuf *b, const char *url)
{
  char *esc;

  if(!web_url(url)) {
    html_text(b, url);
    return;
  }
  esc = message_escape_html(url);
  if(!esc) {
    dynbuf_fail(b);
    return;
  }
  dynbuf_printf(b, "<a href=\"%s\">%s</a>", esc, esc);
  free(esc);
}

static void write_html(struct dynbuf *b, const struct doc *d,
                       const struct facts *f, const char *subject)
{
  dynbuf_addstr(b, "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n"
              "<meta charset=\"utf-8\">\r\n<title>");
  html_text(b, subject);
  dynbuf_addstr(b, "</title>\r\n</head>\r\n"
              "<body style=\"font-family: sans-serif; line-height: 1.5\">"
              "\r\n<p><strong>");
  html_text(b, headline(d));
  dynbuf_addstr(b, "</strong></p>\r\n");
  if(d->intro) {
    dynbuf_addstr(b, "<p>");
    html_text(b, d->intro);
    dynbuf_addstr(b, "</p>\r\n");
  }
  if(d->nrows) {
    dynbuf_addstr(b, "<p>\r\n");
    for(size_t i = 0; i < d->nrows; i++) {
      if(d->rows[i].label) {
        html_text(b, d->rows[i].label);
        dynbuf_addstr(b, ": ");
      }
      if(d->rows[i].link)
        html_link(b, d->rows[i].value);
      else
        html_text(b, d->rows[i].value);
      dynbuf_addstr(b, i + 1 < d->nrows ? "<br>\r\n" : "\r\n");
    }
    dynbuf_addstr(b, "</p>\r\n");
  }
  if(d->note) {
    dynbuf_addstr(b, "<p>");
    html_text(b, d->note);
    dynbuf_addstr(b, "</p>\r\n");
  }
  dynbuf_addstr(b, "<p style=\"color: #666\">Trackly");
  if(*f->public_url) {
    dynbuf_addstr(b, " - ");
    html_link(b, f->public_url);
  }
  dynbuf_addstr(b, "</p>\r\n</body>\r\n</html>\r\n");
}

/* A mute link fit for List-Unsubscribe: http(s), nothing that would end
 * the <...> early, and short enough for one header line. */
static bool unsubscribe_ok(const char *url)
{
  return web_url(url) && !strpbrk(url, "<> \"") &&
         strlen(url) < HEADER_LINE_HARD - 40;
}

/* FNV-1a, for the row hash in the Message-ID and boundary. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

/* A hash of what identifies the row besides its id: kind, recipient and
 * payload.  0, or -1 when out of memory. */
static int row_hash(const struct message_input *in, uint64_t *out)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  char *payload = NULL;

  if(in->payload) {
    payload = cJSON_PrintUnformatted(in->payload);
    if(!payload)
      return -1;
  }
  h = fnv1a(h, in->kind, strlen(in->kind) + 1);
  h = fnv1a(h, in->to, strlen(in->to) + 1);
  if(payload)
    h = fnv1a(h, payload, strlen(payload));
  cJSON_free(payload);
  *out = h;
  return 0;
}

/* The headers, up to the empty line.  0, or -1 when out of memory or
 * when now is not a time the Date header can say. */
static int write_headers(struct dynbuf *b, const struct message_input *in,
                          const struct kind *kind, const struct facts *f,
                          const char *subject, const char *boundary,
                          uint64_t hash)
{
  char *from = mime_encode_address(in->from), *to = mime_clean_text(in->to);
  char *subj = mime_encode_header(subject);
  /* One-click unsubscribe POSTs to the API's mute URL; older payloads
   * only have the mute page. */
  const char *unsub = f->unsubscribe_url ? f->unsubscribe_url : f->mute_link;
  char date[64], host[256];
  int rc = -1;

  if(!from || !to || !subj ||
     maildate_format_rfc5322(in->now, date, sizeof(date)) < 0)
    goto out;
  url_host(in->public_url, host, sizeof(host));

  dynbuf_printf(b, "From: %s\r\n", from);
  dynbuf_printf(b, "To: %s\r\n", to);
  mime_add_header(b, "Subject", subj);
  dynbuf_printf(b, "Date: %s\r\n", date);
  dynbuf_printf(b, "Message-ID: <trackly.%" PRId64 ".%016" PRIx64
                "@%s>\r\n", in->outbox_id, hash, host);
  dynbuf_addstr(b, "MIME-Version: 1.0\r\n");
  dynbuf_addstr(b, "Auto-Submitted: auto-generated\r\n");
  if(kind->alert && unsub && unsubscribe_ok(unsub)) {
    /* RFC 8058 one-click unsubscribe needs an https URI. */
    dynbuf_printf(b, "List-Unsubscribe: <%s>\r\n", unsub);
    if(!strncasecmp(unsub, "https://", 8))
      dynbuf_addstr(b, "List-Unsubscribe-Post: "
                       "List-Unsubscribe=One-Click\r\n");
  }
  dynbuf_printf(b, "Content-Type: multipart/alternative;\r\n"
                   " boundary=\"%s\"\r\n", boundary);
  rc = 0;
out:
  free(from);
  free(to);
  free(subj);
  return rc;
}

/*
 * Reads the payload, lets the kind compose the document, writes it as text
 * and HTML, and wraps both in headers.  NULL for an unknown kind, for a
 * missing kind, From or To, and when out of memory.
 */
char *message_render(const struct message_input *in)
{
  const struct kind *kind;
  struct facts f = {0};
  struct doc d;
  struct dynbuf msg, text, html, subject;
  const char *subj;
  char boundary[64];
  uint64_t hash;
  char *rc = NULL;

  if(!in || !in->kind || !in->from || !in->to)
    return NULL;
  kind = kind_find(in->kind);
  if(!kind)
    return NULL;
  doc_init(&d);
  dynbuf_init(&msg, MESSAGE_MAX);
  dynbuf_init(&text, MESSAGE_MAX);
  dynbuf_init(&html, MESSAGE_MAX);
  dynbuf_init(&subject, MESSAGE_MAX);
  if(facts_gather(&f, in) < 0 || row_hash(in, &hash) < 0)
    goto out;

  kind->compose(&d, &f);
  dynbuf_addstr(&subject, d.subject ? d.subject : kind->subject);
  if(kind->alert)
    dynbuf_addstr(&subject, f.name);
  subj = dynbuf_ptr(&subject);
  write_text(&text, &d, &f);
  write_html(&html, &d, &f, subj ? subj : "");
  if(!subj || !dynbuf_ptr(&d.headline) || !dynbuf_ptr(&d.text) ||
     !dynbuf_ptr(&text) || !dynbuf_ptr(&html))
    goto out;

  snprintf(boundary, sizeof(boundary), "=_trackly_%" PRId64 "_%016" PRIx64,
           in->outbox_id, hash);
  if(write_headers(&msg, in, kind, &f, subj, boundary, hash) < 0)
    goto out;
  dynbuf_addstr(&msg, "\r\nThis is a multi-part message in MIME format."
                      "\r\n\r\n");
  mime_add_part(&msg, boundary, "text/plain", dynbuf_ptr(&text),
                dynbuf_len(&text));
  mime_add_part(&msg, boundary, "text/html", dynbuf_ptr(&html),
                dynbuf_len(&html));
  dynbuf_printf(&msg, "--%s--\r\n", boundary);
  rc = dynbuf_take(&msg, NULL);
out:
  dynbuf_free(&msg);
  dynbuf_free(&text);
  dynbuf_free(&html);
  dynbuf_free(&subject);
  doc_free(&d);
  facts_free(&f);
  return rc;
}
