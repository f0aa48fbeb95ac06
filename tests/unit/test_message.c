/*
 * test_message.c - rendering outbox rows into mail (monitor/message.c).
 *
 * The messages are taken apart the way a mail reader would: headers split
 * from the body at the first empty line and unfolded, encoded-words and
 * base64 parts decoded with common/base64's strict decoder (tested on its
 * own against OpenSSL).  check_mail.py reads the same kinds of message
 * with Python's standard email parser, independent of all of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "json.h"
#include "message.h"
#include "mime.h"

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

/* Renders json (NULL: no payload) as the row of the given kind; the
 * one place a struct message_input is filled. */
static char *render_with(const char *kind, const char *json, int64_t id,
                         const char *from, const char *to,
                         const char *public_url, int64_t now,
                         const char *token)
{
  cJSON *payload = NULL;
  struct message_input in;
  char *msg;

  if(json) {
    payload = cJSON_Parse(json);
    assert_non_null(payload);
  }
  memset(&in, 0, sizeof(in));
  in.kind = kind;
  in.payload = payload;
  in.from = from;
  in.to = to;
  in.public_url = public_url;
  in.outbox_id = id;
  in.now = now;
  in.mute_token = token;
  msg = message_render(&in);
  cJSON_Delete(payload);
  return msg;
}

static char *render_full(const char *kind, const char *json, int64_t id,
                         const char *from, const char *to,
                         const char *public_url, int64_t now)
{
  return render_with(kind, json, id, from, to, public_url, now, NULL);
}

static char *render_token(const char *kind, const char *json,
                          const char *token)
{
  return render_with(kind, json, 9, FROM, TO, PUBLIC_URL, NOW, token);
}

/* Renders a payload built as a tree. */
static char *render_tree(const char *kind, const cJSON *payload)
{
  char *json = cJSON_PrintUnformatted(payload), *msg;

  assert_non_null(json);
  msg = render_full(kind, json, 1, FROM, TO, PUBLIC_URL, NOW);
  cJSON_free(json);
  return msg;
}

static char *render(const char *kind, const char *json)
{
  return render_full(kind, json, 42, FROM, TO, PUBLIC_URL, NOW);
}

/* A down alert for a project with the given name. */
static char *render_down_named(const char *name)
{
  cJSON *payload = cJSON_Parse(DOWN_PAYLOAD);
  char *msg;

  assert_non_null(payload);
  cJSON_ReplaceItemInObjectCaseSensitive(payload, "project_name",
                                         cJSON_CreateString(name));
  msg = render_tree("down", payload);
  cJSON_Delete(payload);
  return msg;
}

/* --- Taking a message apart ----------------------------------------------- */

/* Decodes base64 s[0..n), skipping line breaks, with common/base64's
 * strict decoder (itself checked against OpenSSL in test_base64).
 * Returns a malloc'd NUL-terminated string (*outlen bytes before the
 * NUL), or fails the test. */
static char *b64_decode(const char *s, size_t n, size_t *outlen)
{
  char *flat = malloc(n + 1), *out = malloc(n / 4 * 3 + 4);
  size_t m = 0;
  long got;

  assert_non_null(flat);
  assert_non_null(out);
  for(size_t i = 0; i < n; i++)
    if(s[i] != '\r' && s[i] != '\n')
      flat[m++] = s[i];
  got = base64_decode(flat, m, (unsigned char *)out, n / 4 * 3 + 3);
  free(flat);
  if(got < 0) {
    print_error("not base64: %.*s\n", (int)n, s);
    fail();
  }
  out[got] = '\0';
  if(outlen)
    *outlen = (size_t)got;
  return out;
}

static const char *headers_end(const char *msg)
{
  const char *end = strstr(msg, "\r\n\r\n");
  assert_non_null(end);
  return end + 2;   /* just past the last header line's CRLF */
}

/* The unfolded value of the first header called name, or NULL. */
static char *header(const char *msg, const char *name)
{
  const char *end = headers_end(msg), *p = msg;
  size_t nlen = strlen(name);

  while(p < end) {
    const char *eol = strstr(p, "\r\n");
    if(!strncasecmp(p, name, nlen) && p[nlen] == ':') {
      char *value = malloc((size_t)(end - p) + 1);
      size_t n = 0;
      const char *v = p + nlen + 1;
      assert_non_null(value);
      while(*v == ' ')
        v++;
      for(;;) {
        memcpy(value + n, v, (size_t)(eol - v));
        n += (size_t)(eol - v);
        v = eol + 2;
        if(v >= end || *v != ' ')
          break;
        eol = strstr(v, "\r\n");
      }
      value[n] = '\0';
      return value;
    }
    p = eol + 2;
  }
  return NULL;
}

static int header_count(const char *msg, const char *name)
{
  const char *end = headers_end(msg), *p = msg;
  size_t nlen = strlen(name);
  int count = 0;

  while(p < end) {
    if(!strncasecmp(p, name, nlen) && p[nlen] == ':')
      count++;
    p = strstr(p, "\r\n") + 2;
  }
  return count;
}

/* Decodes a header value made of RFC 2047 encoded-words and plain text;
 * white space between two encoded-words is dropped, as RFC 2047 says.
 * Checks each word is at most 75 characters and holds whole UTF-8
 * sequences. */
static char *decode_2047(const char *folded)
{
  char *value = strdup(folded), *out = calloc(1, strlen(folded) + 1);
  size_t n = 0;
  const char *p = value;
  bool last_encoded = false;

  assert_non_null(value);
  assert_non_null(out);
  /* Unfold: drop each CRLF that is followed by white space. */
  for(char *r = value, *w = value; ; r++) {
    if(r[0] == '\r' && r[1] == '\n' && (r[2] == ' ' || r[2] == '\t'))
      r++;
    else if(!(*w++ = *r))
      break;
  }
  while(*p) {
    const char *sp = p;
    while(*p == ' ')
      p++;
    if(!strncmp(p, "=?UTF-8?B?", 10)) {
      const char *close = strstr(p + 10, "?=");
      char *bytes;
      size_t len;
      assert_non_null(close);
      assert_true(close + 2 - p <= 75);
      bytes = b64_decode(p + 10, (size_t)(close - p - 10), &len);
      assert_true(utf8_valid(bytes, len));
      if(!last_encoded) {
        memcpy(out + n, sp, (size_t)(p - sp));
        n += (size_t)(p - sp);
      }
      memcpy(out + n, bytes, len);
      n += len;
      free(bytes);
      p = close + 2;
      last_encoded = true;
    }
    else {
      const char *e = p;
      while(*e && *e != ' ')
        e++;
      memcpy(out + n, sp, (size_t)(e - sp));
      n += (size_t)(e - sp);
      p = e;
      last_encoded = false;
    }
  }
  out[n] = '\0';
  free(value);
  return out;
}

/* The boundary declared in Content-Type. */
static char *boundary_of(const char *msg)
{
  char *ct = header(msg, "Content-Type"), *b, *q, *rc;

  assert_non_null(ct);
  assert_non_null(strstr(ct, "multipart/alternative;"));
  b = strstr(ct, "boundary=\"");
  assert_non_null(b);
  b += strlen("boundary=\"");
  q = strchr(b, '"');
  assert_non_null(q);
  rc = strndup(b, (size_t)(q - b));
  assert_non_null(rc);
  free(ct);
  return rc;
}

/* The decoded body of the part of the given type ("text/plain"). */
static char *part(const char *msg, const char *type)
{
  char *boundary = boundary_of(msg), head[256], close[128], *body;
  const char *start, *end;

  snprintf(head, sizeof(head),
           "\r\n--%s\r\nContent-Type: %s; charset=utf-8\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n", boundary, type);
  start = strstr(msg, head);
  assert_non_null(start);
  start += strlen(head);
  snprintf(close, sizeof(close), "\r\n--%s", boundary);
  end = strstr(start, close);
  assert_non_null(end);
  body = b64_decode(start, (size_t)(end - start), NULL);
  free(boundary);
  return body;
}

static bool has_line(const char *text, const char *line)
{
  size_t n = strlen(line);

  for(const char *p = text; (p = strstr(p, line)); p++)
    if((p == text || p[-1] == '\n') && !strncmp(p + n, "\r\n", 2))
      return true;
  return false;
}

/* Fails the test, showing text, when it does not hold s (as a whole line
 * when line is true). */
static void assert_found(const char *text, const char *s, bool line)
{
  if(text && (line ? has_line(text, s) : strstr(text, s) != NULL))
    return;
  print_error("expected %s \"%s\" in:\n%s\n", line ? "the line" : "to find",
              s, text ? text : "(nothing)");
  fail();
}

static void assert_contains(const char *haystack, const char *needle)
{
  assert_found(haystack, needle, false);
}

static void assert_has_line(const char *text, const char *line)
{
  assert_found(text, line, true);
}

/* Checks what every message must satisfy: CRLF everywhere, ASCII only,
 * lines of at most 78 characters, headers that are "Name: value" or
 * continuation lines, the required headers once each, and a multipart
 * body with both parts and a closing delimiter. */
static void check_wellformed(const char *msg)
{
  static const char *const once[] = {
    "From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
    "Content-Type",
  };
  const char *end = headers_end(msg), *line = msg;
  char *boundary, *closing, *text, *html;
  size_t len = strlen(msg), col = 0;

  assert_true(len > 0);
  for(size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)msg[i];
    if(c == '\n')
      assert_true(i > 0 && msg[i - 1] == '\r');
    if(c == '\r')
      assert_true(msg[i + 1] == '\n');
    assert_true(c < 0x80);
    if(c == '\r' || c == '\n')
      col = 0;
    else if(++col > 78) {
      print_error("line longer than 78 characters at offset %zu\n", i);
      fail();
    }
  }
  assert_string_equal(msg + len - 2, "\r\n");

  assert_true(line < end);
  assert_true(*line != ' ' && *line != '\t');   /* no continuation first */
  while(line < end) {
    const char *eol = strstr(line, "\r\n");
    if(*line == ' ') {
      /* A continuation line has something besides white space. */
      assert_true((size_t)(eol - line) > strspn(line, " \t"));
    }
    else {
      const char *colon = memchr(line, ':', (size_t)(eol - line));
      assert_non_null(colon);
      assert_true(colon > line);
      for(const char *p = line; p < colon; p++)
        assert_true(*p > 0x20 && *p < 0x7f);
    }
    line = eol + 2;
  }
  for(size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
    assert_int_equal(header_count(msg, once[i]), 1);

  boundary = boundary_of(msg);
  assert_true(strlen(boundary) >= 1 && strlen(boundary) <= 70);
  closing = malloc(strlen(boundary) + 9);
  assert_non_null(closing);
  snprintf(closing, strlen(boundary) + 9, "\r\n--%s--\r\n", boundary);
  assert_string_equal(msg + len - strlen(closing), closing);
  text = part(msg, "text/plain");
  html = part(msg, "text/html");
  assert_true(utf8_valid(text, strlen(text)));
  assert_true(utf8_valid(html, strlen(html)));
  assert_null(strstr(text, boundary));
  assert_null(strstr(html, boundary));
  /* Text parts use CRLF line ends too (the canonical form). */
  for(const char *p = text; (p = strchr(p, '\n')); p++)
    assert_true(p > text && p[-1] == '\r');
  free(text);
  free(html);
  free(closing);
  free(boundary);
}

static void assert_subject(const char *msg, const char *want)
{
  char *raw = header(msg, "Subject"), *decoded;

  assert_non_null(raw);
  decoded = decode_2047(raw);
  assert_string_equal(decoded, want);
  free(decoded);
  free(raw);
}

/* The header name of msg is exactly want (as written, not decoded). */
static void assert_header(const char *msg, const char *name,
                          const char *want)
{
  char *v = header(msg, name);

  assert_non_null(v);
  assert_string_equal(v, want);
  free(v);
}

/* A rendered message and its two parts, decoded. */
struct mail {
  char *msg;
  char *text;
  char *html;
};

/* Takes msg over: checks it rendered and is well formed, and decodes its
 * parts.  mail_close frees all three. */
static void mail_open(struct mail *m, char *msg)
{
  assert_non_null(msg);
  check_wellformed(msg);
  m->msg = msg;
  m->text = part(msg, "text/plain");
  m->html = part(msg, "text/html");
}

static void mail_close(struct mail *m)
{
  free(m->msg);
  free(m->text);
  free(m->html);
}

/* msg rendered, is well formed, and its text part has each of the lines
 * given, up to a NULL.  Takes msg over: it is freed. */
static void assert_text_lines(char *msg, ...)
{
  const char *line;
  char *text;
  va_list ap;

  assert_non_null(msg);
  check_wellformed(msg);
  text = part(msg, "text/plain");
  va_start(ap, msg);
  while((line = va_arg(ap, const char *)))
    assert_has_line(text, line);
  va_end(ap);
  free(text);
  free(msg);
}

/* A down alert for a project called name is well formed and its Subject
 * decodes to "DOWN: " and the name. */
static void assert_down_subject(const char *name)
{
  char *msg = render_down_named(name), *want;

  assert_non_null(msg);
  check_wellformed(msg);
  assert_true(asprintf(&want, "DOWN: %s", name) > 0);
  assert_subject(msg, want);
  free(want);
  free(msg);
}

/* --- Tests ---------------------------------------------------------------- */

/*
 * Every kind renders, with the headers every message has, and says what
 * it should: in the text part line by line and in the HTML part, and not
 * what it must not.  Each row is rendered (with its mute token when it
 * has one) and checked for well-formedness first.
 */
static void bodies(void **state)
{
  static const struct {
    const char *kind;
    const char *payload;
    const char *token;
    const char *subject;      /* plain ASCII: written as it is */
    const char *lines[8];     /* in the text part, each a whole line */
    const char *html[4];      /* in the HTML part */
    const char *absent;       /* in neither part, or NULL */
  } cases[] = {
    {"down", DOWN_PAYLOAD, NULL, "DOWN: My Site",
     {"My Site is DOWN.", "What failed: connection refused",
      "Since: 2026-11-27T08:21:03Z (Fri 27 Nov 2026, 08:21 UTC)",
      "Checked link: https://site.example/health",
      "Project: https://trackly.example.com/projects/7",
      "Mute alerts for this project: " MUTE},
     {"<strong>My Site is DOWN.</strong>",
      "<a href=\"https://trackly.example.com/projects/7\">",
      "<a href=\"" MUTE "\">", "connection refused"}, NULL},
    {"reminder", REMINDER_PAYLOAD, NULL, "Still DOWN: My Site",
     {"My Site is still DOWN.", "Down for: 1 day 4 hours",
      "What failed: status 503", "Mute alerts for this project: " MUTE},
     {"My Site is still DOWN."}, NULL},
    {"recovered", RECOVERED_PAYLOAD, NULL, "UP again: My Site",
     {"My Site is UP again.", "Down for: 2 hours 5 minutes",
      "Down since: 2026-11-27T06:16:03Z (Fri 27 Nov 2026, 06:16 UTC)",
      "Up since: 2026-11-27T08:21:03Z (Fri 27 Nov 2026, 08:21 UTC)",
      "Project: https://trackly.example.com/projects/7"},
     {"My Site is UP again."}, NULL},
    {"verify", VERIFY_PAYLOAD, NULL,
     "Confirm your email address for Trackly",
     {"https://trackly.example.com/verify?token=t0k3n",
      "The link expires in 7 days. If you did not register, you can ignore "
      "this message."},
     {"<a href=\"https://trackly.example.com/verify?token=t0k3n\">"},
     NULL},
    {"test", NULL, NULL, "Trackly test message",
     {"This is a test message from Trackly."},
     {"This is a test message from Trackly."}, NULL},
    {"flapping", FLAP_STARTED, "t1", "FLAPPING: My Site",
     {"My Site is flapping: it went down 3 times within an hour.",
      "Status: DOWN", "What failed: status 503",
      "Mute alerts for this project: " PUBLIC_URL "/mute?token=t1"},
     {"My Site is flapping"}, NULL},
    {"flapping", FLAP_ENDED, "t2", "Stable, UP: My Site",
     {"My Site has stopped flapping and is UP.", "Status: UP",
      "Since: 2026-11-27T07:51:03Z (Fri 27 Nov 2026, 07:51 UTC)"},
     {"has stopped flapping"}, "What failed"},
    {"digest", "{\"items\": []}", NULL, "Trackly: 0 alerts held back",
     {"0 alerts were held back."}, {"0 alerts were held back."}, NULL},
    /* The mailer's token for this mail makes the mute page's link and
     * wins over links a pre-4 payload carries. */
    {"down", DOWN_PAYLOAD, "Tok_en-43", "DOWN: My Site",
     {"Mute alerts for this project: " PUBLIC_URL "/mute?token=Tok_en-43"},
     {"<a href=\"" PUBLIC_URL "/mute?token=Tok_en-43\">"}, "abc123"},
  };
  (void)state;

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct mail m;
    mail_open(&m, render_token(cases[i].kind, cases[i].payload,
                               cases[i].token));
    assert_header(m.msg, "Subject", cases[i].subject);
    assert_header(m.msg, "From", FROM);
    assert_header(m.msg, "To", TO);
    assert_header(m.msg, "MIME-Version", "1.0");
    assert_header(m.msg, "Auto-Submitted", "auto-generated");
    for(size_t l = 0; l < 8 && cases[i].lines[l]; l++)
      assert_has_line(m.text, cases[i].lines[l]);
    for(size_t h = 0; h < 4 && cases[i].html[h]; h++)
      assert_contains(m.html, cases[i].html[h]);
    if(cases[i].absent) {
      assert_null(strstr(m.text, cases[i].absent));
      assert_null(strstr(m.html, cases[i].absent));
    }
    mail_close(&m);
  }
}

/* Without down_seconds the duration comes from since (and until or now). */
static void duration_fallback(void **state)
{
  (void)state;

  assert_text_lines(render("reminder",
                           "{\"project_name\": \"A\","
                           " \"since\": \"2026-11-27T07:21:03Z\"}"),
                    "Down for: 1 hour", NULL);
  assert_text_lines(render("recovered",
                           "{\"since\": \"2026-11-27T07:00:00Z\","
                           " \"until\": \"2026-11-27T07:01:30Z\"}"),
                    "Down for: 1 minute 30 seconds", NULL);
}

static void timestamps(void **state)
{
  static const struct {
    const char *since;
    const char *line;
  } cases[] = {
    {"2026-11-27T08:21:03.123456Z",
     "Since: 2026-11-27T08:21:03.123456Z (Fri 27 Nov 2026, 08:21 UTC)"},
    {"2026-11-27 09:21:03+01:00",
     "Since: 2026-11-27 09:21:03+01:00 (Fri 27 Nov 2026, 08:21 UTC)"},
    {"2026-11-27T02:51:03-05:30",
     "Since: 2026-11-27T02:51:03-05:30 (Fri 27 Nov 2026, 08:21 UTC)"},
    {"2026-03-02T00:00:00Z",
     "Since: 2026-03-02T00:00:00Z (Mon 2 Mar 2026, 00:00 UTC)"},
    {"yesterday", "Since: yesterday"},
    {"2026-11-27T08:21:03", "Since: 2026-11-27T08:21:03"},
    {"2026-13-27T08:21:03Z", "Since: 2026-13-27T08:21:03Z"},
    {"2026-11-27T08:21:03Zjunk", "Since: 2026-11-27T08:21:03Zjunk"},
  };
  (void)state;

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cJSON *payload = cJSON_CreateObject();
    assert_non_null(payload);
    assert_non_null(cJSON_AddStringToObject(payload, "since",
                                            cases[i].since));
    assert_text_lines(render_tree("down", payload), cases[i].line, NULL);
    cJSON_Delete(payload);
  }
}

static void subject_utf8(void **state)
{
  static const char *const names[] = {
    "Caf\xc3\xa9 Stra\xc3\x9f" "e",                        /* Café Straße */
    "\xf0\x9f\x9a\x80 launch \xe2\x98\x95",                 /* 🚀 launch ☕ */
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae"
    "\xe3\x82\xb5\xe3\x82\xa4\xe3\x83\x88",                 /* 日本語のサイト */
  };
  (void)state;

  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char *msg = render_down_named(names[i]), *raw;
    assert_non_null(msg);
    raw = header(msg, "Subject");
    assert_true(!strncmp(raw, "=?UTF-8?B?", 10));
    free(raw);
    free(msg);
    assert_down_subject(names[i]);
  }
}

/* A 200-character name of four-byte characters needs many encoded-words;
 * each stays within 75 characters and holds whole characters. */
static void subject_long_utf8(void **state)
{
  char name[200 * 4 + 1];
  (void)state;

  for(size_t i = 0; i < 200; i++)
    memcpy(name + i * 4, i % 2 ? "\xf0\x9f\x9a\x80" : "\xf0\x9f\x98\x80", 4);
  name[200 * 4] = '\0';
  assert_down_subject(name);

  /* Mixed widths, so word ends fall in every position of a sequence. */
  {
    static const char *const chars[] = {
      "a", "\xc3\xa9", "\xe2\x98\x95", "\xf0\x9f\x9a\x80",
    };
    size_t n = 0;
    for(size_t i = 0; i < 60; i++) {
      memcpy(name + n, chars[i % 4], strlen(chars[i % 4]));
      n += strlen(chars[i % 4]);
    }
    name[n] = '\0';
  }
  assert_down_subject(name);
}

/* A long ASCII name is folded at spaces, and unfolds to itself. */
static void subject_long_ascii(void **state)
{
  char name[201], want[256], *msg;
  (void)state;

  for(size_t i = 0; i < 200; i++)
    name[i] = i % 10 == 9 ? ' ' : (char)('a' + i % 26);
  name[199] = 'z';
  name[200] = '\0';
  msg = render_down_named(name);
  assert_non_null(msg);
  check_wellformed(msg);
  snprintf(want, sizeof(want), "DOWN: %s", name);
  assert_header(msg, "Subject", want);
  free(msg);
}

static void header_injection(void **state)
{
  const char *evil = "<script>\"\r\nBcc: x@y";
  struct mail m;
  char *msg;
  (void)state;

  mail_open(&m, render_down_named(evil));
  assert_int_equal(header_count(m.msg, "Bcc"), 0);
  assert_subject(m.msg, "DOWN: <script>\"Bcc: x@y");
  assert_contains(m.html, "&lt;script&gt;&quot;Bcc: x@y is DOWN.");
  assert_null(strstr(m.html, "<script"));
  assert_has_line(m.text, "<script>\"Bcc: x@y is DOWN.");
  mail_close(&m);

  /* The recipient, the sender and the mute link cannot add headers
   * either. */
  msg = render_full("down",
                    "{\"mute_link\": \"https://t.example/m?t=1\\r\\nBcc: x@y\"}",
                    1, "Trackly <t@example.com>\r\nBcc: a@b",
                    "o@example.org\r\nBcc: c@d", PUBLIC_URL, NOW);
  assert_non_null(msg);
  check_wellformed(msg);
  assert_int_equal(header_count(msg, "Bcc"), 0);
  /* "https://t.example/m?t=1Bcc: x@y" is not a usable URL any more. */
  assert_int_equal(header_count(msg, "List-Unsubscribe"), 0);
  free(msg);
}

static void html_links(void **state)
{
  struct mail m;
  (void)state;

  mail_open(&m, render("down", "{\"link\": \"javascript:alert(1)\","
                       " \"mute_link\": \"data:text/html,<b>x</b>\"}"));
  assert_contains(m.html, "Checked link: javascript:alert(1)");
  assert_contains(m.html, "data:text/html,&lt;b&gt;x&lt;/b&gt;");
  assert_null(strstr(m.html, "href=\"javascript"));
  assert_null(strstr(m.html, "href=\"data"));
  assert_null(strstr(m.html, "<b>"));
  assert_has_line(m.text, "Checked link: javascript:alert(1)");
  assert_int_equal(header_count(m.msg, "List-Unsubscribe"), 0);
  mail_close(&m);

  mail_open(&m, render("down",
                       "{\"link\": \"https://e.example/?a=1&b=\\\"x'\"}"));
  assert_contains(m.html,
                  "<a href=\"https://e.example/?a=1&amp;b=&quot;x&#39;\">");
  mail_close(&m);

  mail_open(&m, render("down", "{\"link\": \"HTTP://E.EXAMPLE/\"}"));
  assert_contains(m.html, "<a href=\"HTTP://E.EXAMPLE/\">");
  mail_close(&m);
}

static void date_header(void **state)
{
  static const struct {
    int64_t now;
    const char *date;
  } cases[] = {
    {NOW, "Fri, 27 Nov 2026 08:21:03 +0000"},
    {0, "Thu, 01 Jan 1970 00:00:00 +0000"},
    {1772409599, "Sun, 01 Mar 2026 23:59:59 +0000"},
    {4102444800, "Fri, 01 Jan 2100 00:00:00 +0000"},
  };
  (void)state;

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *msg = render_full("test", NULL, 1, FROM, TO, PUBLIC_URL,
                            cases[i].now);
    assert_non_null(msg);
    assert_header(msg, "Date", cases[i].date);
    free(msg);
  }
}

static void message_id(void **state)
{
  char *a, *b, *c, *ida, *idb, *idc;
  (void)state;

  /* The same row rendered again (a retry, a minute later) keeps its id. */
  a = render_full("down", DOWN_PAYLOAD, 42, FROM, TO, PUBLIC_URL, NOW);
  b = render_full("down", DOWN_PAYLOAD, 42, FROM, TO, PUBLIC_URL, NOW + 60);
  c = render_full("down", DOWN_PAYLOAD, 43, FROM, TO, PUBLIC_URL, NOW);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  ida = header(a, "Message-ID");
  idb = header(b, "Message-ID");
  idc = header(c, "Message-ID");
  assert_string_equal(ida, idb);
  assert_string_not_equal(ida, idc);
  assert_true(!strncmp(ida, "<trackly.42.", 12));
  assert_true(!strncmp(idc, "<trackly.43.", 12));
  assert_non_null(strstr(ida, "@trackly.example.com>"));
  assert_int_equal(ida[strlen(ida) - 1], '>');
  assert_null(strchr(ida, ' '));
  free(ida);
  free(idb);
  free(idc);
  free(a);
  free(b);
  free(c);

  /* A rebuilt database reuses ids; other rows give other ids. */
  a = render_full("down", DOWN_PAYLOAD, 42, FROM, TO, PUBLIC_URL, NOW);
  b = render_full("recovered", RECOVERED_PAYLOAD, 42, FROM, TO, PUBLIC_URL,
                  NOW);
  ida = header(a, "Message-ID");
  idb = header(b, "Message-ID");
  assert_string_not_equal(ida, idb);
  free(ida);
  free(idb);
  free(a);
  free(b);

  {
    static const struct {
      const char *url;
      const char *host;
    } hosts[] = {
      {"https://Trackly.Example.COM:8443/base", "@trackly.example.com>"},
      {"http://status.example.org", "@status.example.org>"},
      {"http://[::1]:8080", "@trackly.invalid>"},
      {"ftp://x.example", "@trackly.invalid>"},
      {"", "@trackly.invalid>"},
      {NULL, "@trackly.invalid>"},
    };
    for(size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
      char *msg = render_full("test", NULL, 5, FROM, TO, hosts[i].url, NOW);
      char *id;
      assert_non_null(msg);
      check_wellformed(msg);
      id = header(msg, "Message-ID");
      assert_non_null(strstr(id, hosts[i].host));
      free(id);
      free(msg);
    }
  }
}

static void list_unsubscribe(void **state)
{
  static const char *const alerts[] = {"down", "reminder", "recovered"};
  char *msg;
  (void)state;

  for(size_t i = 0; i < 3; i++) {
    msg = render(alerts[i], DOWN_PAYLOAD);
    assert_non_null(msg);
    assert_header(msg, "List-Unsubscribe", "<" MUTE ">");
    assert_header(msg, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
    free(msg);
  }

  /* Not for mail that is not an alert, even with a mute_link. */
  msg = render("verify", "{\"mute_link\": \"" MUTE "\"}");
  assert_int_equal(header_count(msg, "List-Unsubscribe"), 0);
  assert_int_equal(header_count(msg, "List-Unsubscribe-Post"), 0);
  free(msg);

  /* Not without a mute link. */
  msg = render("down", "{\"project_name\": \"x\"}");
  assert_int_equal(header_count(msg, "List-Unsubscribe"), 0);
  free(msg);

  /* One-click (RFC 8058) only over https. */
  msg = render("down", "{\"mute_link\": \"http://t.example/mute?t=1\"}");
  assert_header(msg, "List-Unsubscribe", "<http://t.example/mute?t=1>");
  assert_int_equal(header_count(msg, "List-Unsubscribe-Post"), 0);
  free(msg);
}

/* The mailer's token for this mail makes the one-click URL too. */
static void mute_token_links(void **state)
{
  char *msg = render_token("down", DOWN_PAYLOAD, "Tok_en-43");
  (void)state;

  assert_non_null(msg);
  assert_header(msg, "List-Unsubscribe",
                "<" PUBLIC_URL "/project/mute?token=Tok_en-43>");
  free(msg);
}

/* A digest lists what was held back, oldest first, with no mute link of
 * its own (it is about several projects); past DIGEST_ITEMS_MAX (50) it
 * says how many more. */
static void digest_body(void **state)
{
  struct mail m;
  cJSON *payload, *items;
  (void)state;

  mail_open(&m, render("digest",
               "{\"held\": 2, \"items\": ["
               "{\"kind\": \"down\", \"project_name\": \"A <b>\","
               " \"reason\": \"status 503\", \"at\": \"2026-11-27T08:21:03Z\"},"
               "{\"kind\": \"recovered\", \"project_name\": \"B\","
               " \"reason\": null, \"at\": \"2026-11-27T08:22:03Z\"}]}"));
  assert_subject(m.msg, "Trackly: 2 alerts held back");
  assert_int_equal(header_count(m.msg, "List-Unsubscribe"), 0);
  assert_has_line(m.text, "2 alerts were held back.");
  assert_has_line(m.text, "2026-11-27T08:21:03Z (Fri 27 Nov 2026, 08:21 UTC):"
                  " DOWN: A <b> (status 503)");
  assert_has_line(m.text, "2026-11-27T08:22:03Z (Fri 27 Nov 2026, 08:22 UTC):"
                  " UP again: B");
  assert_has_line(m.text, "Your projects: " PUBLIC_URL "/projects");
  assert_contains(m.html, "DOWN: A &lt;b&gt; (status 503)");
  mail_close(&m);

  payload = cJSON_CreateObject();
  items = cJSON_AddArrayToObject(payload, "items");
  for(int i = 0; i < 60; i++) {
    cJSON *item = cJSON_CreateObject();
    char name[32];
    snprintf(name, sizeof(name), "site %d", i);
    cJSON_AddStringToObject(item, "kind", "down");
    cJSON_AddStringToObject(item, "project_name", name);
    cJSON_AddStringToObject(item, "at", "2026-11-27T08:21:03Z");
    cJSON_AddItemToArray(items, item);
  }
  cJSON_AddNumberToObject(payload, "held", 60);
  mail_open(&m, render_tree("digest", payload));
  cJSON_Delete(payload);
  assert_subject(m.msg, "Trackly: 60 alerts held back");
  assert_contains(m.text, ": DOWN: site 49\r\n");
  assert_null(strstr(m.text, "site 50"));
  assert_has_line(m.text, "and 10 more: see your projects' pages.");
  mail_close(&m);
}

static void boundary_and_parts(void **state)
{
  char *msg = render("down", DOWN_PAYLOAD), *boundary, *ct, line[128];
  int delimiters = 0;
  (void)state;

  assert_non_null(msg);
  boundary = boundary_of(msg);
  ct = header(msg, "Content-Type");
  assert_true(!strncmp(ct, "multipart/alternative;", 22));
  snprintf(line, sizeof(line), "\r\n--%s\r\n", boundary);
  for(const char *p = msg; (p = strstr(p, line)); p++)
    delimiters++;
  assert_int_equal(delimiters, 2);
  assert_int_equal(strstr(msg, "Content-Type: text/plain") <
                   strstr(msg, "Content-Type: text/html"), 1);
  /* Two rows never share a boundary. */
  {
    char *other = render_full("down", DOWN_PAYLOAD, 43, FROM, TO, PUBLIC_URL,
                              NOW);
    char *b2 = boundary_of(other);
    assert_string_not_equal(boundary, b2);
    free(b2);
    free(other);
  }
  free(ct);
  free(boundary);
  free(msg);
}

static void from_with_display_name(void **state)
{
  char *msg, *v, *decoded;
  (void)state;

  msg = render_full("test", NULL, 1,
                    "Trackly \xc3\x9c" "berwachung <t@example.com>", TO,
                    PUBLIC_URL, NOW);
  assert_non_null(msg);
  check_wellformed(msg);
  v = header(msg, "From");
  assert_true(!strncmp(v, "=?UTF-8?B?", 10));
  assert_non_null(strstr(v, "?= <t@example.com>"));
  decoded = decode_2047(v);
  assert_string_equal(decoded, "Trackly \xc3\x9c" "berwachung <t@example.com>");
  free(decoded);
  free(v);
  free(msg);

  msg = render_full("test", NULL, 1, "\"J\xc3\xb6rg\" <j@example.com>", TO,
                    PUBLIC_URL, NOW);
  assert_non_null(msg);
  v = header(msg, "From");
  decoded = decode_2047(v);
  assert_string_equal(decoded, "J\xc3\xb6rg <j@example.com>");
  free(decoded);
  free(v);
  free(msg);

  msg = render_full("test", NULL, 1, "bare@example.com", TO, PUBLIC_URL,
                    NOW);
  assert_header(msg, "From", "bare@example.com");
  free(msg);
}

static void missing_fields(void **state)
{
  static const char *const kinds[] = {
    "verify", "down", "reminder", "recovered", "test",
  };
  static const char *const payloads[] = {
    NULL,
    "{}",
    "[]",
    "\"a string\"",
    "{\"project_name\": 5, \"project_id\": \"7\", \"down_seconds\": \"x\","
    " \"since\": 3, \"until\": null, \"link\": [], \"reason\": {},"
    " \"mute_link\": true}",
    "{\"project_name\": \"\", \"project_id\": 1.5, \"down_seconds\": 1e300}",
    "{\"project_id\": -3, \"down_seconds\": -10}",
  };
  (void)state;

  for(size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
    for(size_t p = 0; p < sizeof(payloads) / sizeof(payloads[0]); p++) {
      char *msg = render(kinds[k], payloads[p]), *text;
      assert_non_null(msg);
      check_wellformed(msg);
      text = part(msg, "text/plain");
      assert_null(strstr(text, "/projects/"));
      if(strcmp(kinds[k], "test")) {
        assert_contains(text, "unknown");
      }
      if(!strcmp(kinds[k], "down"))
        assert_subject(msg, "DOWN: unknown");
      free(text);
      free(msg);
    }
  }
  /* No project page without PUBLIC_URL. */
  {
    char *msg = render_full("down", DOWN_PAYLOAD, 1, FROM, TO, NULL, NOW);
    char *text;
    assert_non_null(msg);
    check_wellformed(msg);
    text = part(msg, "text/plain");
    assert_null(strstr(text, "Project:"));
    free(text);
    free(msg);
  }
}

static void bad_input(void **state)
{
  struct message_input in;
  (void)state;

  assert_null(render("alert", "{}"));
  assert_null(render("", "{}"));
  assert_null(render("DOWN", "{}"));
  assert_null(render("down ", "{}"));
  assert_null(render(NULL, "{}"));
  assert_null(message_render(NULL));
  assert_null(render_full("down", "{}", 1, NULL, TO, PUBLIC_URL, NOW));
  assert_null(render_full("down", "{}", 1, FROM, NULL, PUBLIC_URL, NOW));
  memset(&in, 0, sizeof(in));
  assert_null(message_render(&in));
}

static void durations(void **state)
{
  static const struct {
    int64_t seconds;
    const char *text;
  } cases[] = {
    {-5, "0 seconds"},
    {0, "0 seconds"},
    {1, "1 second"},
    {59, "59 seconds"},
    {60, "1 minute"},
    {61, "1 minute 1 second"},
    {90, "1 minute 30 seconds"},
    {120, "2 minutes"},
    {180, "3 minutes"},
    {3599, "59 minutes 59 seconds"},
    {3600, "1 hour"},
    {3660, "1 hour 1 minute"},
    {3661, "1 hour 1 minute"},
    {7500, "2 hours 5 minutes"},
    {86399, "23 hours 59 minutes"},
    {86400, "1 day"},
    {86460, "1 day"},
    {90061, "1 day 1 hour"},
    {100800, "1 day 4 hours"},
    {172800, "2 days"},
    {31536000, "365 days"},
    {INT64_MAX, "106751991167300 days 15 hours"},
  };
  char out[64];
  (void)state;

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    message_format_duration(cases[i].seconds, out, sizeof(out));
    assert_string_equal(out, cases[i].text);
  }
  /* Truncated, always terminated; a zero capacity writes nothing. */
  message_format_duration(7500, out, 6);
  assert_string_equal(out, "2 hou");
  out[0] = 'x';
  message_format_duration(7500, out, 0);
  assert_int_equal(out[0], 'x');
}

static void escape_html(void **state)
{
  static const struct {
    const char *in;
    const char *out;
  } cases[] = {
    {"", ""},
    {"plain text", "plain text"},
    {"<script>alert('x')</script>",
     "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"},
    {"a & b \"c\"", "a &amp; b &quot;c&quot;"},
    {"&amp;", "&amp;amp;"},
    {"caf\xc3\xa9 \xf0\x9f\x9a\x80", "caf\xc3\xa9 \xf0\x9f\x9a\x80"},
  };
  (void)state;

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *s = message_escape_html(cases[i].in);
    assert_non_null(s);
    assert_string_equal(s, cases[i].out);
    free(s);
  }
  assert_null(message_escape_html(NULL));
}

static void encode_header(void **state)
{
  static const struct {
    const char *in;
    const char *decoded;
    bool plain;
  } cases[] = {
    {"", "", true},
    {"Hello, world", "Hello, world", true},
    {"a\r\nb\tc\x7f" "d", "abcd", true},         /* controls dropped */
    {"a\xc2\x85" "b", "ab", true},               /* C1 NEL too */
    {"=?UTF-8?B?QmNjOiB4?=", "=?UTF-8?B?QmNjOiB4?=", false},
    {"caf\xc3\xa9", "caf\xc3\xa9", false},
    {"bad \xff byte", "bad \xef\xbf\xbd byte", false},
    {"cut \xe2\x98", "cut \xef\xbf\xbd\xef\xbf\xbd", false},
    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", false},
  };
  (void)state;

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *s = mime_encode_header(cases[i].in), *d;
    assert_non_null(s);
    if(cases[i].plain)
      assert_string_equal(s, cases[i].decoded);
    else
      assert_true(!strncmp(s, "=?UTF-8?B?", 10));
    d = decode_2047(s);
    assert_string_equal(d, cases[i].decoded);
    free(d);
    free(s);
  }
  assert_null(mime_encode_header(NULL));

  /* Words are separated by CRLF SPACE and never exceed 75 characters. */
  {
    char in[400], *s, *d;
    size_t n = 0;
    for(size_t i = 0; i < 70; i++) {                /* x€€x€€... */
      const char *c = i % 3 ? "\xe2\x82\xac" : "x";
      memcpy(in + n, c, strlen(c));
      n += strlen(c);
    }
    in[n] = '\0';
    s = mime_encode_header(in);
    assert_non_null(s);
    for(char *p = s, *word = s; ; p++) {
      if(!*p || *p == '\r') {
        assert_true(p - word <= 75);
        if(!*p)
          break;
        assert_int_equal(p[1], '\n');
        assert_int_equal(p[2], ' ');
        word = p + 3;
      }
    }
    d = decode_2047(s);
    assert_string_equal(d, in);
    free(d);
    free(s);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(bodies),
    cmocka_unit_test(duration_fallback),
    cmocka_unit_test(timestamps),
    cmocka_unit_test(subject_utf8),
    cmocka_unit_test(subject_long_utf8),
    cmocka_unit_test(subject_long_ascii),
    cmocka_unit_test(header_injection),
    cmocka_unit_test(html_links),
    cmocka_unit_test(date_header),
    cmocka_unit_test(message_id),
    cmocka_unit_test(list_unsubscribe),
    cmocka_unit_test(mute_token_links),
    cmocka_unit_test(digest_body),
    cmocka_unit_test(boundary_and_parts),
    cmocka_unit_test(from_with_display_name),
    cmocka_unit_test(missing_fields),
    cmocka_unit_test(bad_input),
    cmocka_unit_test(durations),
    cmocka_unit_test(escape_html),
    cmocka_unit_test(encode_header),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
