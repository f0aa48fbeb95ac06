/*
 * kinds.c - the mail kinds: what each one says (verify, down, reminder,
 * recovered, flapping, digest, test), read from the outbox row into a
 * document (document.h) that message.c writes out.
 *
 * Every value comes from the payload cleaned of control characters and
 * malformed UTF-8; a missing field reads "unknown" rather than failing,
 * so an old or odd row still makes a useful mail.
 */
#include "document.h"

#include "maildate.h"
#include "mime.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN "unknown"

/* --- What the row says ---------------------------------------------------- */

static const char *field_string(const cJSON *payload, const char *name)
{
  const cJSON *item;

  if(!cJSON_IsObject(payload))
    return NULL;
  item = cJSON_GetObjectItemCaseSensitive(payload, name);
  if(!cJSON_IsString(item) || !item->valuestring || !*item->valuestring)
    return NULL;
  return item->valuestring;
}

/* An integral number, exactly representable in a double. */
static bool field_int(const cJSON *payload, const char *name, int64_t *out)
{
  const cJSON *item;
  double v;

  if(!cJSON_IsObject(payload))
    return false;
  item = cJSON_GetObjectItemCaseSensitive(payload, name);
  if(!cJSON_IsNumber(item))
    return false;
  v = item->valuedouble;
  if(!(v >= -9007199254740992.0 && v <= 9007199254740992.0) ||
     (double)(int64_t)v != v)
    return false;
  *out = (int64_t)v;
  return true;
}

/* The cleaned text of a field, "unknown" when it is missing.  NULL only
 * when out of memory. */
static char *text_field(const cJSON *payload, const char *name)
{
  const char *s = field_string(payload, name);
  return mime_clean_text(s ? s : UNKNOWN);
}

/* A timestamp as written in the row followed by a readable form:
 * "2026-11-27T08:21:03Z (Fri 27 Nov 2026, 08:21 UTC)".  The raw text alone
 * when it does not parse, "unknown" when missing; *t gets the time when it
 * parses and is left alone otherwise. */
static char *time_field(const cJSON *payload, const char *name, int64_t *t,
                        bool *parsed)
{
  struct dynbuf b;
  char *raw = text_field(payload, name), human[64];
  int64_t when;

  *parsed = false;
  if(!raw)
    return NULL;
  if(!maildate_parse_rfc3339(raw, &when) ||
     maildate_format_human(when, human, sizeof(human)) < 0)
    return raw;
  *t = when;
  *parsed = true;
  dynbuf_init(&b, MESSAGE_MAX);
  dynbuf_printf(&b, "%s (%s)", raw, human);
  free(raw);
  return dynbuf_take(&b, NULL);
}

void facts_free(struct facts *f)
{
  free(f->name);
  free(f->link);
  free(f->reason);
  free(f->since);
  free(f->until);
  free(f->mute_link);
  free(f->unsubscribe_url);
  free(f->project_url);
  free(f->public_url);
  free(f->status);
}

/* The mute page and the one-click URL for a token the mailer made for
 * this message (mute_tokens).
 * 0, or -1 when out of memory. */
static int mute_links(struct facts *f, const char *token)
{
  struct dynbuf b;

  dynbuf_init(&b, MESSAGE_MAX);
  dynbuf_printf(&b, "%s/mute?token=%s", f->public_url, token);
  f->mute_link = dynbuf_take(&b, NULL);
  dynbuf_printf(&b, "%s/project/mute?token=%s", f->public_url, token);
  f->unsubscribe_url = dynbuf_take(&b, NULL);
  return f->mute_link && f->unsubscribe_url ? 0 : -1;
}

/*
 * Reads the payload.  How long a project has been down comes from
 * down_seconds; a row without it falls back to since and until (or now),
 * and reads "unknown" only when neither is there.  Returns -1 only when
 * out of memory.
 */
int facts_gather(struct facts *f, const struct message_input *in)
{
  const cJSON *payload = in->payload;
  const char *mute = field_string(payload, "mute_link");
  const char *unsub = field_string(payload, "unsubscribe_url");
  int64_t id, since = 0, until = in->now, seconds;
  bool have_since, have_until;

  f->payload = payload;
  f->name = text_field(payload, "project_name");
  f->status = text_field(payload, "status");
  f->link = text_field(payload, "link");
  f->reason = text_field(payload, "reason");
  f->since = time_field(payload, "since", &since, &have_since);
  f->until = time_field(payload, "until", &until, &have_until);
  f->public_url = mime_clean_text(in->public_url ? in->public_url : "");
  if(!f->public_url)
    return -1;
  /* A token the mailer made for this message; rows queued before version
   * 4 may carry their links in the payload. */
  if(in->mute_token && *in->mute_token && *f->public_url) {
    if(mute_links(f, in->mute_token) < 0)
      return -1;
  }
  else {
    f->mute_link = mute ? mime_clean_text(mute) : NULL;
    f->unsubscribe_url = unsub ? mime_clean_text(unsub) : NULL;
    if((mute && !f->mute_link) || (unsub && !f->unsubscribe_url))
      return -1;
  }
  if(!f->name || !f->link || !f->reason || !f->since || !f->until ||
     !f->status)
    return -1;

  if(*f->public_url && field_int(payload, "project_id", &id) && id > 0) {
    struct dynbuf b;
    dynbuf_init(&b, MESSAGE_MAX);
    dynbuf_printf(&b, "%s/projects/%" PRId64, f->public_url, id);
    f->project_url = dynbuf_take(&b, NULL);
    if(!f->project_url)
      return -1;
  }

  if(field_int(payload, "down_seconds", &seconds))
    message_format_duration(seconds, f->duration, sizeof(f->duration));
  else if(have_since)
    message_format_duration(until - since, f->duration, sizeof(f->duration));
  else
    snprintf(f->duration, sizeof(f->duration), "%s", UNKNOWN);
  return 0;
}

/* --- Wording -------------------------------------------------------------- */

void doc_init(struct doc *d)
{
  memset(d, 0, sizeof(*d));
  dynbuf_init(&d->headline, MESSAGE_MAX);
  dynbuf_init(&d->text, MESSAGE_MAX);
}

void doc_free(struct doc *d)
{
  dynbuf_free(&d->headline);
  dynbuf_free(&d->text);
}

static void add_row(struct doc *d, const char *label, const char *value,
                    bool link)
{
  if(!value || d->nrows == ROWS_MAX)
    return;
  d->rows[d->nrows].label = label;
  d->rows[d->nrows].value = value;
  d->rows[d->nrows].link = link;
  d->nrows++;
}

/* The rows every alert ends with. */
static void add_project_rows(struct doc *d, const struct facts *f)
{
  add_row(d, "Checked link", f->link, true);
  add_row(d, "Project", f->project_url, true);
  add_row(d, "Mute alerts for this project", f->mute_link, true);
}

static void compose_verify(struct doc *d, const struct facts *f)
{
  dynbuf_addstr(&d->headline, "Please confirm your email address.");
  d->intro = "Someone, hopefully you, registered this address with "
             "Trackly. To confirm it, open this link:";
  add_row(d, NULL, f->link, true);
  d->note = "The link expires in 7 days. If you did not register, you can "
            "ignore this message.";
}

static void compose_down(struct doc *d, const struct facts *f)
{
  dynbuf_printf(&d->headline, "%s is DOWN.", f->name);
  add_row(d, "What failed", f->reason, false);
  add_row(d, "Since", f->since, false);
  add_project_rows(d, f);
}

static void compose_reminder(struct doc *d, const struct facts *f)
{
  dynbuf_printf(&d->headline, "%s is still DOWN.", f->name);
  add_row(d, "Down for", f->duration, false);
  add_row(d, "What failed", f->reason, false);
  add_row(d, "Since", f->since, false);
  add_project_rows(d, f);
}

static void compose_recovered(struct doc *d, const struct facts *f)
{
  dynbuf_printf(&d->headline, "%s is UP again.", f->name);
  add_row(d, "Down for", f->duration, false);
  add_row(d, "Down since", f->since, false);
  add_row(d, "Up since", f->until, false);
  add_project_rows(d, f);
}

/* Flapping (docs/monitoring.md): the mail that says a project flaps and
 * that its down and up mail is held back, and the one that says it has
 * been stable for a while, and how it is. */
static void compose_flapping(struct doc *d, const struct facts *f)
{
  const char *phase = field_string(f->payload, "phase");
  bool down = !strcmp(f->status, "DOWN");
  int64_t n;

  if(phase && !strcmp(phase, "ended")) {
    d->subject = down ? "Stable, DOWN: " : "Stable, UP: ";
    dynbuf_printf(&d->headline, "%s has stopped flapping and is %s.",
                  f->name, down ? "DOWN" : "UP");
    d->intro = "It has not changed state for a while, so Trackly sends its "
               "down and up mail again from now on.";
    add_row(d, "Status", f->status, false);
    add_row(d, "Since", f->since, false);
    if(down)
      add_row(d, "What failed", f->reason, false);
  }
  else {
    d->subject = "FLAPPING: ";
    if(field_int(f->payload, "transitions", &n) && n > 0)
      dynbuf_printf(&d->headline, "%s is flapping: it went down %" PRId64
                    " times within an hour.", f->name, n);
    else
      dynbuf_printf(&d->headline, "%s is flapping.", f->name);
    d->intro = "Trackly keeps checking it and recording its incidents, but "
               "holds back its down and up mail until it has been stable "
               "for a while; then one mail says how it is.";
    add_row(d, "Status", f->status, false);
    add_row(d, "What failed", f->reason, false);
    add_row(d, "Since", f->since, false);
  }
  add_project_rows(d, f);
}

/* The words for an alert kind in a digest's list. */
static const char *digest_word(const char *kind, const char *phase)
{
  if(!strcmp(kind, "down"))
    return "DOWN";
  if(!strcmp(kind, "recovered"))
    return "UP again";
  if(!strcmp(kind, "reminder"))
    return "Still DOWN";
  if(!strcmp(kind, "flapping"))
    return phase && !strcmp(phase, "ended") ? "Stable" : "FLAPPING";
  return "Alert";
}

/*
 * The alerts held back by the per-recipient cap, oldest first: payload
 * "items", each {kind, project_name, reason, at, phase, status}, and
 * "held" (how many in all).  Each line reads "DOWN: name (reason)" under
 * its time; the first DIGEST_ITEMS_MAX are listed.  The row texts are
 * written into d->text, NUL-separated, and pointed to once it has stopped
 * growing.
 */
static void compose_digest(struct doc *d, const struct facts *f)
{
  const cJSON *items = cJSON_IsObject(f->payload) ?
    cJSON_GetObjectItemCaseSensitive(f->payload, "items") : NULL;
  const cJSON *item;
  size_t offsets[2 * DIGEST_ITEMS_MAX + 1], n = 0, listed = 0, total;
  const char *text;
  int64_t held;

  total = (size_t)cJSON_GetArraySize(items);
  if(field_int(f->payload, "held", &held) && held > 0 &&
     (size_t)held > total)
    total = (size_t)held;
  snprintf(d->subject_text, sizeof(d->subject_text),
           "Trackly: %zu alert%s held back", total, total == 1 ? "" : "s");
  d->subject = d->subject_text;
  dynbuf_printf(&d->headline, "%zu alert%s held back.", total,
                total == 1 ? " was" : "s were");
  d->intro = "Trackly sends at most a set number of alert mails to an "
             "address in an hour. These came after that, oldest first:";
  cJSON_ArrayForEach(item, items) {
    const char *kind = field_string(item, "kind");
    const char *reason = field_string(item, "reason");
    char *name, *when;
    bool parsed;
    int64_t t;

    if(listed == DIGEST_ITEMS_MAX)
      break;
    name = text_field(item, "project_name");
    when = time_field(item, "at", &t, &parsed);
    if(name && when) {
      offsets[n++] = dynbuf_len(&d->text);
      dynbuf_add(&d->text, when, strlen(when) + 1);
      offsets[n++] = dynbuf_len(&d->text);
      dynbuf_printf(&d->text, "%s: %s", digest_word(kind ? kind : "",
                    field_string(item, "phase")), name);
      if(reason && kind && strcmp(kind, "recovered"))
        dynbuf_printf(&d->text, " (%s)", reason);
      dynbuf_add(&d->text, "", 1);
      listed++;
    }
    else
      dynbuf_fail(&d->text);
    free(name);
    free(when);
  }
  offsets[n] = dynbuf_len(&d->text);
  if(total > listed)
    dynbuf_printf(&d->text, "and %zu more: see your projects' pages.",
                  total - listed);
  dynbuf_add(&d->text, "", 1);
  dynbuf_printf(&d->text, "%s/projects", f->public_url);
  text = dynbuf_ptr(&d->text);
  if(!text)
    return;
  for(size_t i = 0; i < n; i += 2)
    add_row(d, text + offsets[i], text + offsets[i + 1],
            false);
  if(total > listed)
    d->note = text + offsets[n];
  if(*f->public_url)
    add_row(d, "Your projects", text + offsets[n] +
            strlen(text + offsets[n]) + 1, true);
}

static void compose_test(struct doc *d, const struct facts *f)
{
  (void)f;
  dynbuf_addstr(&d->headline, "This is a test message from Trackly.");
  d->intro = "If you can read it, Trackly can deliver mail to this "
             "address.";
}

static const struct kind kinds[] = {
  {"verify", "Confirm your email address for Trackly", false,
   compose_verify},
  {"down", "DOWN: ", true, compose_down},
  {"reminder", "Still DOWN: ", true, compose_reminder},
  {"recovered", "UP again: ", true, compose_recovered},
  {"test", "Trackly test message", false, compose_test},
  {"flapping", "FLAPPING: ", true, compose_flapping},
  {"digest", "Trackly: alerts held back", false, compose_digest},
};

const struct kind *kind_find(const char *name)
{
  for(size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if(!strcmp(kinds[i].name, name))
      return &kinds[i];
  return NULL;
}

/*
 * The largest unit and, when it is not zero, the next one: "45 seconds",
 * "1 minute 30 seconds", "2 hours 5 minutes", "1 day 4 hours".  Precision
 * beyond that means nothing to someone reading an alert.  Negative
 * durations (clock skew) read as "0 seconds".
 */
void message_format_duration(int64_t seconds, char *out, size_t cap)
{
  static const struct {
    int64_t size;
    const char *name;
  } units[] = {
    {86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"},
  };
  const size_t last = sizeof(units) / sizeof(units[0]) - 1;
  int64_t major, minor = 0;
  size_t i = 0;

  if(!out || !cap)
    return;
  if(seconds < 0)
    seconds = 0;
  while(i < last && seconds < units[i].size)
    i++;
  major = seconds / units[i].size;
  if(i < last)
    minor = seconds % units[i].size / units[i + 1].size;
  if(minor)
    snprintf(out, cap, "%" PRId64 " %s%s %" PRId64 " %s%s",
             major, units[i].name, major == 1 ? "" : "s",
             minor, units[i + 1].name, minor == 1 ? "" : "s");
  else
    snprintf(out, cap, "%" PRId64 " %s%s",
             major, units[i].name, major == 1 ? "" : "s");
}

