/*
 * mailtest.c - what the mail writer's tests share: rendering an outbox row
 * with the test's fixed installation, and taking the message apart the
 * way a mail reader would (see mailtest.h).
 *
 * Headers are split from the body at the first empty line and unfolded;
 * encoded-words and base64 parts are decoded with common/base64's strict
 * decoder (tested on its own against OpenSSL).  check_mail.py reads the
 * same kinds of message with Python's standard email parser, independent
 * of all of it.
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
#include "mailtest.h"

/* --- Rendering ------------------------------------------------------------ */

/* Renders json (NULL: no payload) as the row of the given kind; the
 * one place a struct message_input is filled. */
char *render_with(const char *kind, const char *json, int64_t id,
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

char *render_full(const char *kind, const char *json, int64_t id,
                  const char *from, const char *to,
                  const char *public_url, int64_t now)
{
  return render_with(kind, json, id, from, to, public_url, now, NULL);
}

char *render_token(const char *kind, const char *json,
                   const char *token)
{
  return render_with(kind, json, 9, FROM, TO, PUBLIC_URL, NOW, token);
}

/* Renders a payload built as a tree. */
char *render_tree(const char *kind, const cJSON *payload)
{
  char *json = cJSON_PrintUnformatted(payload), *msg;

  assert_non_null(json);
  msg = render_full(kind, json, 1, FROM, TO, PUBLIC_URL, NOW);
  cJSON_free(json);
  return msg;
}

char *render(const char *kind, const char *json)
{
  return render_full(kind, json, 42, FROM, TO, PUBLIC_URL, NOW);
}

/* A down alert for a project with the given name. */
char *render_down_named(const char *name)
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
char *header(const char *msg, const char *name)
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

int header_count(const char *msg, const char *name)
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
char *decode_2047(const char *folded)
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
char *boundary_of(const char *msg)
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
char *part(const char *msg, const char *type)
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

void assert_contains(const char *haystack, const char *needle)
{
  assert_found(haystack, needle, false);
}

void assert_has_line(const char *text, const char *line)
{
  assert_found(text, line, true);
}

/* Checks what every message must satisfy: CRLF everywhere, ASCII only,
 * lines of at most 78 characters, headers that are "Name: value" or
 * continuation lines, the required headers once each, and a multipart
 * body with both parts and a closing delimiter. */
void check_wellformed(const char *msg)
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

void assert_subject(const char *msg, const char *want)
{
  char *raw = header(msg, "Subject"), *decoded;

  assert_non_null(raw);
  decoded = decode_2047(raw);
  assert_string_equal(decoded, want);
  free(decoded);
  free(raw);
}

/* The header name of msg is exactly want (as written, not decoded). */
void assert_header(const char *msg, const char *name,
                   const char *want)
{
  char *v = header(msg, name);

  assert_non_null(v);
  assert_string_equal(v, want);
  free(v);
}

/* Takes msg over: checks it rendered and is well formed, and decodes its
 * parts.  mail_close frees all three. */
void mail_open(struct mail *m, char *msg)
{
  assert_non_null(msg);
  check_wellformed(msg);
  m->msg = msg;
  m->text = part(msg, "text/plain");
  m->html = part(msg, "text/html");
}

void mail_close(struct mail *m)
{
  free(m->msg);
  free(m->text);
  free(m->html);
}

/* msg rendered, is well formed, and its text part has each of the lines
 * given, up to a NULL.  Takes msg over: it is freed. */
void assert_text_lines(char *msg, ...)
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
void assert_down_subject(const char *name)
{
  char *msg = render_down_named(name), *want;

  assert_non_null(msg);
  check_wellformed(msg);
  assert_true(asprintf(&want, "DOWN: %s", name) > 0);
  assert_subject(msg, want);
  free(want);
  free(msg);
}
