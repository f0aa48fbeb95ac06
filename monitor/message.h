/*
 * message.h - rendering an outbox row into an RFC 5322 mail message.
 *
 * The outbox stores what happened (kind and a JSON payload); the mailer
 * turns it into text only when it sends, so the wording and format live in
 * one place.  Every message has From, To, Date, Message-ID, MIME-Version,
 * an RFC 2047-encoded Subject when it is not plain ASCII, CRLF line ends,
 * and a multipart/alternative body with a text/plain and a text/html part
 * (both UTF-8, quoted-printable or base64, lines at most 78 characters).
 * User text (project names, links, reasons) is HTML-escaped in the HTML
 * part and has CR, LF and other control characters removed wherever it
 * appears in a header, so a project named "x\r\nBcc: y" cannot add a header.
 *
 * Memory: message_render returns a malloc'd NUL-terminated string the
 * caller frees.
 */
#ifndef TRACKLY_MESSAGE_H
#define TRACKLY_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

/* What the mailer knows about the row and the installation. */
struct message_input {
  const char *kind;        /* "verify", "down", "recovered", "reminder",
                            * "flapping", "digest", "test" */
  const cJSON *payload;    /* the row's payload object (see below) */
  const char *from;        /* EMAIL_FROM, e.g. "Trackly <trackly@example.com>" */
  const char *to;          /* recipient address */
  const char *public_url;  /* PUBLIC_URL, no trailing slash */
  int64_t outbox_id;       /* makes the Message-ID unique and stable */
  int64_t now;             /* seconds since the epoch, for Date */
  const char *mute_token;  /* the mute link's token for this mail, or NULL:
                            * PUBLIC_URL/mute?token= and, for
                            * List-Unsubscribe, PUBLIC_URL/project/mute?token= */
};

/*
 * Payload fields by kind (all strings unless noted; missing ones are
 * rendered as "unknown" rather than failing):
 *   verify:    link (the web client's verify page, PUBLIC_URL/verify?token=)
 *   down:      project_id (number), project_name, link, reason, since
 *              (RFC 3339)
 *   reminder:  as down, plus down_seconds (number)
 *   recovered: project_id, project_name, link, since, until (RFC 3339),
 *              down_seconds (number)
 *   flapping:  project_id, project_name, link, reason, status ("UP",
 *              "DOWN"), phase ("started": it flaps, its down/up mail is
 *              held back; "ended": stable again, status is how it is),
 *              since (RFC 3339: flapping since, or the last change),
 *              transitions (number, for started)
 *   digest:    items (array, oldest first, of {kind, project_id,
 *              project_name, reason, at (RFC 3339), phase, status}: the
 *              alerts the per-recipient cap held back), held (number)
 *   test:      nothing
 * Alert kinds (down, reminder, recovered, flapping) get their mute links
 * from mute_token; rows queued before schema version 4 may instead carry
 * mute_link (the web client's page where a person confirms,
 * PUBLIC_URL/mute?token=) and unsubscribe_url (the API URL that mutes on
 * POST) in the payload.
 * The message links to the project's page in the web client as
 * public_url + "/projects/" + project_id where there is one.
 */

/* Renders the whole message (headers and body).  Returns NULL on an unknown
 * kind or when out of memory. */
char *message_render(const struct message_input *in);

/* Building blocks, exposed for the unit tests and the fuzzer (the MIME
 * ones, mime_encode_header among them, are in mime.h). */

/* Escapes &, <, >, " and ' for HTML.  Returns a malloc'd string or NULL. */
char *message_escape_html(const char *s);

/* "3 minutes", "2 hours 5 minutes", "1 day 4 hours": a duration for people. */
void message_format_duration(int64_t seconds, char *out, size_t cap);

#endif
