/*
 * mailtest.h - helpers for the mail writer's unit tests (test_message.c,
 * test_mime.c): the rows they render, one renderer, and a reader that
 * takes a message apart and fails the test when it is not well formed.
 *
 * Memory: functions returning char * return a malloc'd string the test
 * frees; a failed check fails the running cmocka test.
 */
#ifndef TRACKLY_MAILTEST_H
#define TRACKLY_MAILTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "message.h"

#define FROM       "Trackly <trackly@example.com>"
#define TO         "owner@example.org"
#define PUBLIC_URL "https://trackly.example.com"
#define NOW        1795767663   /* Fri, 27 Nov 2026 08:21:03 +0000 */
#define MUTE       "https://trackly.example.com/mute?token=abc123"

#define DOWN_PAYLOAD \
  "{\"project_id\": 7, \"project_name\": \"My Site\"," \
  " \"link\": \"https://site.example/health\"," \
  " \"reason\": \"connection refused\"," \
  " \"since\": \"2026-11-27T08:21:03Z\", \"mute_link\": \"" MUTE "\"}"

#define REMINDER_PAYLOAD \
  "{\"project_id\": 7, \"project_name\": \"My Site\"," \
  " \"link\": \"https://site.example/health\"," \
  " \"reason\": \"status 503\", \"down_seconds\": 100800," \
  " \"since\": \"2026-11-26T04:21:03Z\", \"mute_link\": \"" MUTE "\"}"

#define RECOVERED_PAYLOAD \
  "{\"project_id\": 7, \"project_name\": \"My Site\"," \
  " \"link\": \"https://site.example/health\"," \
  " \"since\": \"2026-11-27T06:16:03Z\"," \
  " \"until\": \"2026-11-27T08:21:03Z\", \"down_seconds\": 7500," \
  " \"mute_link\": \"" MUTE "\"}"

#define VERIFY_PAYLOAD \
  "{\"link\": \"https://trackly.example.com/verify?token=t0k3n\"}"

#define FLAP_STARTED \
  "{\"project_id\": 7, \"project_name\": \"My Site\"," \
  " \"link\": \"https://site.example/health\", \"reason\": \"status 503\"," \
  " \"phase\": \"started\", \"status\": \"DOWN\", \"transitions\": 3," \
  " \"since\": \"2026-11-27T08:21:03Z\"}"

#define FLAP_ENDED \
  "{\"project_id\": 7, \"project_name\": \"My Site\"," \
  " \"link\": \"https://site.example/health\", \"reason\": null," \
  " \"phase\": \"ended\", \"status\": \"UP\"," \
  " \"since\": \"2026-11-27T07:51:03Z\"}"

/* --- Rendering ------------------------------------------------------------ */

/* Renders json (NULL: no payload) as the row of the given kind. */
char *render_with(const char *kind, const char *json, int64_t id,
                  const char *from, const char *to, const char *public_url,
                  int64_t now, const char *token);
/* The same without a mute token. */
char *render_full(const char *kind, const char *json, int64_t id,
                  const char *from, const char *to, const char *public_url,
                  int64_t now);
/* With the fixed installation (FROM, TO, PUBLIC_URL, NOW). */
char *render(const char *kind, const char *json);
char *render_token(const char *kind, const char *json, const char *token);
char *render_tree(const char *kind, const cJSON *payload);
/* A down alert for a project with the given name. */
char *render_down_named(const char *name);

/* --- Taking a message apart ----------------------------------------------- */

/* The unfolded value of the one header called name, or NULL. */
char *header(const char *msg, const char *name);
int header_count(const char *msg, const char *name);
/* A header value of encoded-words and text, decoded. */
char *decode_2047(const char *folded);
/* The boundary declared in Content-Type. */
char *boundary_of(const char *msg);
/* The decoded body of the part of the given type ("text/plain"). */
char *part(const char *msg, const char *type);

/* A rendered message and its two parts, decoded. */
struct mail {
  char *msg;
  char *text;
  char *html;
};

/* Takes msg over: checks it rendered and is well formed, and decodes its
 * parts.  mail_close frees all three. */
void mail_open(struct mail *m, char *msg);
void mail_close(struct mail *m);

/* --- Checks (each fails the test) ----------------------------------------- */

void assert_contains(const char *haystack, const char *needle);
/* text has line as a whole CRLF-terminated line. */
void assert_has_line(const char *text, const char *line);
/* CRLF, ASCII, line lengths, the required headers once, both parts. */
void check_wellformed(const char *msg);
/* Subject decodes to want. */
void assert_subject(const char *msg, const char *want);
/* The header is exactly want, as written. */
void assert_header(const char *msg, const char *name, const char *want);
/* Takes msg over: well formed, and its text part has each line given, up
 * to a NULL. */
void assert_text_lines(char *msg, ...);
/* A down alert for name is well formed and its Subject decodes to
 * "DOWN: " and the name. */
void assert_down_subject(const char *name);

#endif
