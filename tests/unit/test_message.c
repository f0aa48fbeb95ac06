/*
 * test_message.c - what each kind of mail says (monitor/kinds.c) and how
 * it is written as text and HTML (monitor/message.c): bodies, times,
 * durations, links, digests, missing fields and bad input.  The headers
 * and MIME structure are test_mime.c's; the helpers are mailtest.c's.
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

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(bodies),
    cmocka_unit_test(duration_fallback),
    cmocka_unit_test(timestamps),
    cmocka_unit_test(html_links),
    cmocka_unit_test(digest_body),
    cmocka_unit_test(missing_fields),
    cmocka_unit_test(bad_input),
    cmocka_unit_test(durations),
    cmocka_unit_test(escape_html),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
