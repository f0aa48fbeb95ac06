/*
 * test_message.c - rendering outbox rows into mail (monitor/message.c).
 *
 * The messages are taken apart the way a mail reader would: headers split
 * from the body at the first empty line and unfolded, encoded-words and
 * base64 parts decoded by a decoder written here, independent of the one
 * under test.
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

static char *render_full(const char *kind, const char *json, int64_t id,
                         const char *from, const char *to,
                         const char *public_url, int64_t now)
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
  msg = message_render(&in);
  cJSON_Delete(payload);
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
  char *json, *msg;

  assert_non_null(payload);
  cJSON_ReplaceItemInObjectCaseSensitive(payload, "project_name",
                                         cJSON_CreateString(name));
  json = cJSON_PrintUnformatted(payload);
  assert_non_null(json);
  msg = render("down", json);
  cJSON_free(json);
  cJSON_Delete(payload);
  return msg;
}

/* --- Taking a message apart ----------------------------------------------- */

static int b64_value(char c)
{
  if(c >= 'A' && c <= 'Z')
    return c - 'A';
  if(c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if(c >= '0' && c <= '9')
    return c - '0' + 52;
  if(c == '+')
    return 62;
  if(c == '/')
    return 63;
  return -1;
}

/* Decodes base64 s[0..n), skipping line breaks.  Returns a malloc'd
 * NUL-terminated string (*outlen bytes before the NUL), or fails the
 * test. */
static char *b64_decode(const char *s, size_t n, size_t *outlen)
{
  char *out = malloc(n / 4 * 3 + 4);
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0, i;

  assert_non_null(out);
  for(i = 0; i < n; i++) {
    int v;
    if(s[i] == '\r' || s[i] == '\n')
      continue;
    if(s[i] == '=')
      break;
    v = b64_value(s[i]);
    if(v < 0) {
      print_error("bad base64 character 0x%02x\n", (unsigned char)s[i]);
      fail();
    }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if(bits >= 8) {
      bits -= 8;
      out[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  for(; i < n; i++)   /* only padding and line breaks after '=' */
    assert_true(s[i] == '=' || s[i] == '\r' || s[i] == '\n');
  out[o] = '\0';
  if(outlen)
    *outlen = o;
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

static void assert_contains(const char *haystack, const char *needle)
{
  if(haystack && strstr(haystack, needle))
    return;
  print_error("expected to find \"%s\" in:\n%s\n", needle,
              haystack ? haystack : "(nothing)");
  fail();
}

static void assert_has_line(const char *text, const char *line)
{
  if(text && has_line(text, line))
    return;
  print_error("expected the line \"%s\" in:\n%s\n", line,
              text ? text : "(nothing)");
  fail();
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

/* --- Tests ---------------------------------------------------------------- */

static void every_kind_renders(void **state)
{
  static const struct {
    const char *kind;
    const char *payload;
    const char *subject;
  } cases[] = {
    {"verify", VERIFY_PAYLOAD, "Confirm your email address for Trackly"},
    {"down", DOWN_PAYLOAD, "DOWN: My Site"},
    {"reminder", REMINDER_PAYLOAD, "Still DOWN: My Site"},
    {"recovered", RECOVERED_PAYLOAD, "UP again: My Site"},
    {"test", "{}", "Trackly test message"},
    {"flapping", FLAP_STARTED, "FLAPPING: My Site"},
    {"flapping", FLAP_ENDED, "Stable, UP: My Site"},
    {"digest", "{\"items\": []}", "Trackly: 0 alerts held back"},
  };
  (void)state;

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *msg = render(cases[i].kind, cases[i].payload), *v;
    assert_non_null(msg);
    check_wellformed(msg);
    v = header(msg, "Subject");
    assert_string_equal(v, cases[i].subject);   /* plain ASCII: as is */
    free(v);
    v = header(msg, "From");
    assert_string_equal(v, FROM);
    free(v);
    v = header(msg, "To");
    assert_string_equal(v, TO);
    free(v);
    v = header(msg, "MIME-Version");
    assert_string_equal(v, "1.0");
    free(v);
    v = header(msg, "Auto-Submitted");
    assert_string_equal(v, "auto-generated");
    free(v);
    free(msg);
  }
}

static void down_body(void **state)
{
  char *msg = render("down", DOWN_PAYLOAD), *text, *html;
  (void)state;

  assert_non_null(msg);
  text = part(msg, "text/plain");
  assert_has_line(text, "My Site is DOWN.");
  assert_has_line(text, "What failed: connection refused");
  assert_has_line(text,
                  "Since: 2026-11-27T08:21:03Z (Fri 27 Nov 2026, 08:21 UTC)");
  assert_has_line(text, "Checked link: https://site.example/health");
  assert_has_line(text, "Project: https://trackly.example.com/projects/7");
  assert_has_line(text, "Mute alerts for this project: " MUTE);
  html = part(msg, "text/html");
  assert_contains(html, "<strong>My Site is DOWN.</strong>");
  assert_contains(html, "<a href=\"https://trackly.example.com/projects/7\">");
  assert_contains(html, "<a href=\"" MUTE "\">");
  assert_contains(html, "connection refused");
  free(text);
  free(html);
  free(msg);
}

static void reminder_body(void **state)
{
  char *msg = render("reminder", REMINDER_PAYLOAD), *text;
  (void)state;

  assert_non_null(msg);
  text = part(msg, "text/plain");
  assert_has_line(text, "My Site is still DOWN.");
  assert_has_line(text, "Down for: 1 day 4 hours");
  assert_has_line(text, "What failed: status 503");
  assert_has_line(text, "Mute alerts for this project: " MUTE);
  free(text);
  free(msg);
}

static void recovered_body(void **state)
{
  char *msg = render("recovered", RECOVERED_PAYLOAD), *text;
  (void)state;

  assert_non_null(msg);
  text = part(msg, "text/plain");
  assert_has_line(text, "My Site is UP again.");
  assert_has_line(text, "Down for: 2 hours 5 minutes");
  assert_has_line(text, "Down since: 2026-11-27T06:16:03Z "
                        "(Fri 27 Nov 2026, 06:16 UTC)");
  assert_has_line(text, "Up since: 2026-11-27T08:21:03Z "
                        "(Fri 27 Nov 2026, 08:21 UTC)");
  assert_has_line(text, "Project: https://trackly.example.com/projects/7");
  free(text);
  free(msg);
}

static void verify_and_test_bodies(void **state)
{
  char *msg = render("verify", VERIFY_PAYLOAD), *text, *html;
  (void)state;

  assert_non_null(msg);
  text = part(msg, "text/plain");
  assert_has_line(text, "https://trackly.example.com/verify?token=t0k3n");
  assert_contains(text, "7 days");
  assert_contains(text, "did not register");
  html = part(msg, "text/html");
  assert_contains(html, "<a href=\"https://trackly.example.com/verify"
                        "?token=t0k3n\">");
  free(text);
  free(html);
  free(msg);

  msg = render("test", NULL);
  assert_non_null(msg);
  text = part(msg, "text/plain");
  assert_contains(text, "test message");
  free(text);
  free(msg);
}

/* Without down_seconds the duration comes from since (and until or now). */
static void duration_fallback(void **state)
{
  char *msg, *text;
  (void)state;

  msg = render("reminder", "{\"project_name\": \"A\","
                           " \"since\": \"2026-11-27T07:21:03Z\"}");
  assert_non_null(msg);
  text = part(msg, "text/plain");
  assert_has_line(text, "Down for: 1 hour");
  free(text);
  free(msg);

  msg = render("recovered", "{\"since\": \"2026-11-27T07:00:00Z\","
                            " \"until\": \"2026-11-27T07:01:30Z\"}");
  assert_non_null(msg);
  text = part(msg, "text/plain");
  assert_has_line(text, "Down for: 1 minute 30 seconds");
  free(text);
  free(msg);
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
    char *json, *msg, *text;
    assert_non_null(payload);
    assert_non_null(cJSON_AddStringToObject(payload, "since",
                                            cases[i].since));
    json = cJSON_PrintUnformatted(payload);
    assert_non_null(json);
    msg = render("down", json);
    assert_non_null(msg);
    text = part(msg, "text/plain");
    assert_has_line(text, cases[i].line);
    free(text);
    free(msg);
    cJSON_free(json);
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
    char *msg = render_down_named(names[i]), *raw, want[256];
    assert_non_null(msg);
    check_wellformed(msg);
    raw = header(msg, "Subject");
    assert_true(!strncmp(raw, "=?UTF-8?B?", 10));
    snprintf(want, sizeof(want), "DOWN: %s", names[i]);
    assert_subject(msg, want);
    free(raw);
    free(msg);
  }
}

/* A 200-character name of four-byte characters needs many encoded-words;
 * each stays within 75 characters and holds whole characters. */
static void subject_long_utf8(void **state)
{
  char name[200 * 4 + 1], want[sizeof(name) + 16], *msg;
  (void)state;

  for(size_t i = 0; i < 200; i++)
    memcpy(name + i * 4, i % 2 ? "\xf0\x9f\x9a\x80" : "\xf0\x9f\x98\x80", 4);
  name[200 * 4] = '\0';
  msg = render_down_named(name);
  assert_non_null(msg);
  check_wellformed(msg);
  snprintf(want, sizeof(want), "DOWN: %s", name);
  assert_subject(msg, want);
  free(msg);

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
  msg = render_down_named(name);
  assert_non_null(msg);
  check_wellformed(msg);
  snprintf(want, sizeof(want), "DOWN: %s", name);
  assert_subject(msg, want);
  free(msg);
}

/* A long ASCII name is folded at spaces, and unfolds to itself. */
static void subject_long_ascii(void **state)
{
  char name[201], want[256], *msg, *v;
  (void)state;

  for(size_t i = 0; i < 200; i++)
    name[i] = i % 10 == 9 ? ' ' : (char)('a' + i % 26);
  name[199] = 'z';
  name[200] = '\0';
  msg = render_down_named(name);
  assert_non_null(msg);
  check_wellformed(msg);
  snprintf(want, sizeof(want), "DOWN: %s", name);
  v = header(msg, "Subject");
  assert_string_equal(v, want);
  free(v);
  free(msg);
}

static void header_injection(void **state)
{
  const char *evil = "<script>\"\r\nBcc: x@y";
  char *msg, *html, *text;
  (void)state;

  msg = render_down_named(evil);
  assert_non_null(msg);
  check_wellformed(msg);
  assert_int_equal(header_count(msg, "Bcc"), 0);
  assert_subject(msg, "DOWN: <script>\"Bcc: x@y");
  html = part(msg, "text/html");
  assert_contains(html, "&lt;script&gt;&quot;Bcc: x@y is DOWN.");
  assert_null(strstr(html, "<script"));
  text = part(msg, "text/plain");
  assert_has_line(text, "<script>\"Bcc: x@y is DOWN.");
  free(text);
  free(html);
  free(msg);

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
  char *msg, *html, *text;
  (void)state;

  msg = render("down", "{\"link\": \"javascript:alert(1)\","
                       " \"mute_link\": \"data:text/html,<b>x</b>\"}");
  assert_non_null(msg);
  html = part(msg, "text/html");
  assert_contains(html, "Checked link: javascript:alert(1)");
  assert_contains(html, "data:text/html,&lt;b&gt;x&lt;/b&gt;");
  assert_null(strstr(html, "href=\"javascript"));
  assert_null(strstr(html, "href=\"data"));
  assert_null(strstr(html, "<b>"));
  free(html);
  text = part(msg, "text/plain");
  assert_has_line(text, "Checked link: javascript:alert(1)");
  free(text);
  assert_int_equal(header_count(msg, "List-Unsubscribe"), 0);
  free(msg);

  msg = render("down", "{\"link\": \"https://e.example/?a=1&b=\\\"x'\"}");
  assert_non_null(msg);
  html = part(msg, "text/html");
  assert_contains(html, "<a href=\"https://e.example/?a=1&amp;b=&quot;x&#39;\">");
  free(html);
  free(msg);

  msg = render("down", "{\"link\": \"HTTP://E.EXAMPLE/\"}");
  assert_non_null(msg);
  html = part(msg, "text/html");
  assert_contains(html, "<a href=\"HTTP://E.EXAMPLE/\">");
  free(html);
  free(msg);
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
    char *v;
    assert_non_null(msg);
    v = header(msg, "Date");
    assert_string_equal(v, cases[i].date);
    free(v);
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
  char *msg, *v;
  (void)state;

  for(size_t i = 0; i < 3; i++) {
    msg = render(alerts[i], DOWN_PAYLOAD);
    assert_non_null(msg);
    v = header(msg, "List-Unsubscribe");
    assert_string_equal(v, "<" MUTE ">");
    free(v);
    v = header(msg, "List-Unsubscribe-Post");
    assert_string_equal(v, "List-Unsubscribe=One-Click");
    free(v);
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
  v = header(msg, "List-Unsubscribe");
  assert_string_equal(v, "<http://t.example/mute?t=1>");
  free(v);
  assert_int_equal(header_count(msg, "List-Unsubscribe-Post"), 0);
  free(msg);
}

static char *render_token(const char *kind, const char *json,
                          const char *token)
{
  cJSON *payload = cJSON_Parse(json);
  struct message_input in;
  char *msg;

  assert_non_null(payload);
  memset(&in, 0, sizeof(in));
  in.kind = kind;
  in.payload = payload;
  in.from = FROM;
  in.to = TO;
  in.public_url = PUBLIC_URL;
  in.outbox_id = 9;
  in.now = NOW;
  in.mute_token = token;
  msg = message_render(&in);
  cJSON_Delete(payload);
  return msg;
}

/* The mailer's token for this mail makes the mute page's link and the
 * one-click URL, and wins over links a pre-4 payload carries. */
static void mute_token_links(void **state)
{
  char *msg = render_token("down", DOWN_PAYLOAD, "Tok_en-43"), *text, *v;
  (void)state;

  assert_non_null(msg);
  check_wellformed(msg);
  text = part(msg, "text/plain");
  assert_has_line(text, "Mute alerts for this project: " PUBLIC_URL
                  "/mute?token=Tok_en-43");
  assert_null(strstr(text, "abc123"));
  v = header(msg, "List-Unsubscribe");
  assert_string_equal(v, "<" PUBLIC_URL "/project/mute?token=Tok_en-43>");
  free(v);
  free(text);
  free(msg);
}

static void flapping_bodies(void **state)
{
  char *msg = render_token("flapping", FLAP_STARTED, "t1"), *text;
  (void)state;

  assert_non_null(msg);
  check_wellformed(msg);
  assert_subject(msg, "FLAPPING: My Site");
  text = part(msg, "text/plain");
  assert_has_line(text,
                  "My Site is flapping: it went down 3 times within an hour.");
  assert_has_line(text, "Status: DOWN");
  assert_has_line(text, "What failed: status 503");
  assert_has_line(text, "Mute alerts for this project: " PUBLIC_URL
                  "/mute?token=t1");
  free(text);
  free(msg);

  msg = render_token("flapping", FLAP_ENDED, "t2");
  assert_non_null(msg);
  check_wellformed(msg);
  assert_subject(msg, "Stable, UP: My Site");
  text = part(msg, "text/plain");
  assert_has_line(text, "My Site has stopped flapping and is UP.");
  assert_has_line(text, "Status: UP");
  assert_has_line(text,
                  "Since: 2026-11-27T07:51:03Z (Fri 27 Nov 2026, 07:51 UTC)");
  assert_null(strstr(text, "What failed"));
  free(text);
  free(msg);
}

/* A digest lists what was held back, oldest first, with no mute link of
 * its own (it is about several projects); past DIGEST_ITEMS_MAX (50) it
 * says how many more. */
static void digest_body(void **state)
{
  char *msg, *text, *html;
  cJSON *payload, *items;
  struct message_input in;
  (void)state;

  msg = render("digest",
               "{\"held\": 2, \"items\": ["
               "{\"kind\": \"down\", \"project_name\": \"A <b>\","
               " \"reason\": \"status 503\", \"at\": \"2026-11-27T08:21:03Z\"},"
               "{\"kind\": \"recovered\", \"project_name\": \"B\","
               " \"reason\": null, \"at\": \"2026-11-27T08:22:03Z\"}]}");
  assert_non_null(msg);
  check_wellformed(msg);
  assert_subject(msg, "Trackly: 2 alerts held back");
  assert_int_equal(header_count(msg, "List-Unsubscribe"), 0);
  text = part(msg, "text/plain");
  assert_has_line(text, "2 alerts were held back.");
  assert_has_line(text, "2026-11-27T08:21:03Z (Fri 27 Nov 2026, 08:21 UTC):"
                  " DOWN: A <b> (status 503)");
  assert_has_line(text, "2026-11-27T08:22:03Z (Fri 27 Nov 2026, 08:22 UTC):"
                  " UP again: B");
  assert_has_line(text, "Your projects: " PUBLIC_URL "/projects");
  html = part(msg, "text/html");
  assert_contains(html, "DOWN: A &lt;b&gt; (status 503)");
  free(text);
  free(html);
  free(msg);

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
  memset(&in, 0, sizeof(in));
  in.kind = "digest";
  in.payload = payload;
  in.from = FROM;
  in.to = TO;
  in.public_url = PUBLIC_URL;
  in.outbox_id = 1;
  in.now = NOW;
  msg = message_render(&in);
  cJSON_Delete(payload);
  assert_non_null(msg);
  check_wellformed(msg);
  assert_subject(msg, "Trackly: 60 alerts held back");
  text = part(msg, "text/plain");
  assert_contains(text, ": DOWN: site 49\r\n");
  assert_null(strstr(text, "site 50"));
  assert_has_line(text, "and 10 more: see your projects' pages.");
  free(text);
  free(msg);
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
  v = header(msg, "From");
  assert_string_equal(v, "bare@example.com");
  free(v);
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
    cmocka_unit_test(every_kind_renders),
    cmocka_unit_test(down_body),
    cmocka_unit_test(reminder_body),
    cmocka_unit_test(recovered_body),
    cmocka_unit_test(verify_and_test_bodies),
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
    cmocka_unit_test(flapping_bodies),
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
