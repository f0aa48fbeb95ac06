/*
 * test_mime.c - the headers and MIME structure of rendered mail
 * (monitor/mime.c, and how monitor/message.c uses it): encoded-word
 * subjects short and long, folding, header injection, Date, Message-ID,
 * List-Unsubscribe, the boundary and parts, From with a display name.
 * The helpers are mailtest.c's.
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

#include "mailtest.h"
#include "mime.h"

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
    cmocka_unit_test(subject_utf8),
    cmocka_unit_test(subject_long_utf8),
    cmocka_unit_test(subject_long_ascii),
    cmocka_unit_test(header_injection),
    cmocka_unit_test(date_header),
    cmocka_unit_test(message_id),
    cmocka_unit_test(list_unsubscribe),
    cmocka_unit_test(mute_token_links),
    cmocka_unit_test(boundary_and_parts),
    cmocka_unit_test(from_with_display_name),
    cmocka_unit_test(encode_header),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
