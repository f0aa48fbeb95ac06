/*
 * mail_samples.c - writes one rendered message of each kind (and the hard
 * cases: a non-ASCII and a very long subject, a display name in From,
 * hostile text) into a directory, for tests/unit/check_mail.py to parse
 * with Python's standard email parser.
 *
 * Usage: mail_samples DIR.  Each sample is DIR/NAME.eml; DIR/NAME.json
 * beside it says what the parser must find (subject, and lines the text
 * and HTML parts must contain).  Exits non-zero when a message does not
 * render or a file cannot be written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "message.h"

#define LONG_NAME "Ünïcödé prödüct döwnload sérvice with a rather long " \
  "name, in a language that is not English: 日本語のサービス名"

struct sample {
  const char *file;
  const char *kind;
  const char *payload;
  const char *subject;      /* what Subject must decode to */
  const char *text;         /* a line the text part must contain */
  const char *html;         /* a string the HTML part must contain */
  const char *from;         /* NULL: the default */
  const char *token;        /* mute token, or NULL */
};

static const struct sample samples[] = {
  {"verify", "verify",
   "{\"link\": \"https://trackly.example.com/verify?token=t0k3n\"}",
   "Confirm your email address for Trackly",
   "https://trackly.example.com/verify?token=t0k3n",
   "<a href=\"https://trackly.example.com/verify?token=t0k3n\">", NULL, NULL},
  {"down", "down",
   "{\"project_id\": 7, \"project_name\": \"My Site\", \"link\": "
   "\"https://site.example/health\", \"reason\": \"connection refused\", "
   "\"since\": \"2026-11-27T08:21:03Z\"}",
   "DOWN: My Site", "What failed: connection refused",
   "<strong>My Site is DOWN.</strong>", NULL, "abc123"},
  {"reminder", "reminder",
   "{\"project_id\": 7, \"project_name\": \"My Site\", \"link\": "
   "\"https://site.example/health\", \"reason\": \"status 503\", "
   "\"down_seconds\": 100800, \"since\": \"2026-11-26T04:21:03Z\"}",
   "Still DOWN: My Site", "Down for: 1 day 4 hours",
   "My Site is still DOWN.", NULL, "abc123"},
  {"recovered", "recovered",
   "{\"project_id\": 7, \"project_name\": \"My Site\", \"link\": "
   "\"https://site.example/health\", \"since\": \"2026-11-27T06:16:03Z\", "
   "\"until\": \"2026-11-27T08:21:03Z\", \"down_seconds\": 7500}",
   "UP again: My Site", "Down for: 2 hours 5 minutes",
   "My Site is UP again.", NULL, "abc123"},
  {"test", "test", NULL, "Trackly test message",
   "This is a test message from Trackly.",
   "This is a test message from Trackly.", NULL, NULL},
  {"flapping", "flapping",
   "{\"project_id\": 7, \"project_name\": \"My Site\", \"link\": "
   "\"https://site.example/health\", \"reason\": \"status 503\", "
   "\"phase\": \"started\", \"status\": \"DOWN\", \"transitions\": 3, "
   "\"since\": \"2026-11-27T08:21:03Z\"}",
   "FLAPPING: My Site",
   "My Site is flapping: it went down 3 times within an hour.",
   "My Site is flapping", NULL, "abc123"},
  {"stable", "flapping",
   "{\"project_id\": 7, \"project_name\": \"My Site\", \"link\": "
   "\"https://site.example/health\", \"phase\": \"ended\", "
   "\"status\": \"UP\", \"since\": \"2026-11-27T07:51:03Z\"}",
   "Stable, UP: My Site", "My Site has stopped flapping and is UP.",
   "has stopped flapping", NULL, NULL},
  {"digest", "digest",
   "{\"held\": 3, \"items\": [{\"kind\": \"down\", \"project_name\": "
   "\"Café\", \"reason\": \"timeout\", \"at\": \"2026-11-27T08:21:03Z\"}, "
   "{\"kind\": \"recovered\", \"project_name\": \"Café\", "
   "\"at\": \"2026-11-27T08:31:03Z\"}]}",
   "Trackly: 3 alerts held back",
   "2026-11-27T08:21:03Z (Fri 27 Nov 2026, 08:21 UTC): "
   "DOWN: Café (timeout)",
   "UP again: Café", NULL, NULL},
  {"utf8", "down",
   "{\"project_id\": 8, \"project_name\": \"Crème brûlée ☕\", \"link\": "
   "\"https://site.example/\", \"reason\": \"<script>\", "
   "\"since\": \"2026-11-27T08:21:03Z\"}",
   "DOWN: Crème brûlée ☕", "What failed: <script>",
   "What failed: &lt;script&gt;", "Trackly Überwachung <t@example.com>",
   NULL},
  {"long", "down",
   "{\"project_id\": 9, \"project_name\": \"" LONG_NAME "\", \"link\": "
   "\"https://site.example/\", \"reason\": \"x\", "
   "\"since\": \"2026-11-27T08:21:03Z\"}",
   "DOWN: " LONG_NAME, LONG_NAME " is DOWN.", "is DOWN.", NULL, NULL},
  {"long_ascii", "down",
   "{\"project_id\": 10, \"project_name\": \"A plain ASCII project name "
   "that goes on and on well past the seventy eight characters a header "
   "line should keep to\", \"link\": \"https://site.example/\", "
   "\"reason\": \"x\", \"since\": \"2026-11-27T08:21:03Z\"}",
   "DOWN: A plain ASCII project name that goes on and on well past the "
   "seventy eight characters a header line should keep to",
   "What failed: x", "is DOWN.", NULL, NULL},
  {"injection", "down",
   "{\"project_id\": 11, \"project_name\": \"x\\r\\nBcc: evil@example.com\","
   " \"link\": \"javascript:alert(1)\", \"reason\": \"=?UTF-8?B?QQ==?=\", "
   "\"since\": \"not a time\"}",
   "DOWN: xBcc: evil@example.com", "Since: not a time",
   "javascript:alert(1)", NULL, NULL},
};

static int write_file(const char *dir, const char *name, const char *ext,
                      const char *text)
{
  char path[4096];
  FILE *f;
  int rc = 0;

  snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
  f = fopen(path, "wb");
  if(!f)
    return -1;
  if(fputs(text, f) == EOF)
    rc = -1;
  if(fclose(f))
    rc = -1;
  return rc;
}

/* The expectations, as JSON, for check_mail.py. */
static char *expectations(const struct sample *s)
{
  cJSON *o = cJSON_CreateObject();
  char *rc = NULL;

  if(o && cJSON_AddStringToObject(o, "subject", s->subject) &&
     cJSON_AddStringToObject(o, "text", s->text) &&
     cJSON_AddStringToObject(o, "html", s->html))
    rc = cJSON_Print(o);
  cJSON_Delete(o);
  return rc;
}

static int write_sample(const char *dir, const struct sample *s, int64_t id)
{
  struct message_input in = {0};
  cJSON *payload = s->payload ? cJSON_Parse(s->payload) : NULL;
  char *msg = NULL, *want = NULL;
  int rc = -1;

  if(s->payload && !payload) {
    fprintf(stderr, "%s: payload does not parse\n", s->file);
    goto out;
  }
  in.kind = s->kind;
  in.payload = payload;
  in.from = s->from ? s->from : "Trackly <trackly@example.com>";
  in.to = "owner@example.org";
  in.public_url = "https://trackly.example.com";
  in.outbox_id = id;
  in.now = 1795767663;
  in.mute_token = s->token;
  msg = message_render(&in);
  want = expectations(s);
  if(!msg || !want) {
    fprintf(stderr, "%s: does not render\n", s->file);
    goto out;
  }
  if(write_file(dir, s->file, "eml", msg) ||
     write_file(dir, s->file, "json", want)) {
    fprintf(stderr, "%s: cannot write into %s\n", s->file, dir);
    goto out;
  }
  rc = 0;
out:
  cJSON_Delete(payload);
  free(msg);
  cJSON_free(want);
  return rc;
}

int main(int argc, char **argv)
{
  int rc = 0;

  if(argc != 2) {
    fprintf(stderr, "usage: mail_samples DIR\n");
    return 2;
  }
  for(size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
    if(write_sample(argv[1], &samples[i], (int64_t)i + 1))
      rc = 1;
  return rc;
}
