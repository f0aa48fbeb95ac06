/*
 * message.c - rendering an outbox row into an RFC 5322 mail message; see
 * message.h.
 *
 * A message is assembled in growable buffers whose first failure (out of
 * memory, or growing past MESSAGE_MAX) sticks, so the renderers append
 * freely and the result is checked once at the end.  Each kind fills in a
 * small document - a headline, an optional paragraph, labelled rows, an
 * optional closing note - and the same document is written out once as
 * plain text and once as HTML, so the two parts cannot drift apart.
 *
 * Both parts are base64: it keeps every line at 76 characters whatever the
 * user typed, and the boundary contains "=_", which base64 never produces,
 * so it cannot occur inside a part.  The Message-ID and the boundary are
 * derived from the outbox id and a hash of the row, so a retried row gets
 * the same Message-ID (a duplicate delivery after a crash is recognisable)
 * while rows of a rebuilt database, whose ids start again at 1, do not
 * collide with mail already sent.
 */
#include "message.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Cap on any buffer built here: the inputs are a few kilobytes at most. */
#define MESSAGE_MAX (1024 * 1024)

/* UTF-8 bytes per RFC 2047 encoded-word: 39 bytes are 52 base64 characters,
 * 64 with "=?UTF-8?B?" and "?=", so even "Subject: " and the first word
 * stay within the 76 characters RFC 2047 allows on a line. */
#define WORD_BYTES 39

/* Input bytes per line of a base64 body: 76 characters. */
#define BASE64_LINE_BYTES 57

/* Folding point for plain header values, and the hard limit of RFC 5322. */
#define HEADER_LINE_SOFT 78
#define HEADER_LINE_HARD 998

#define UNKNOWN "unknown"

/* --- Growable buffer ------------------------------------------------------ */

struct buf {
  char *data;     /* NUL-terminated once anything was added */
  size_t len;
  size_t cap;
  bool failed;    /* out of memory or over MESSAGE_MAX; sticks */
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
  if(b->failed)
    return;
  if(n > MESSAGE_MAX - b->len) {
    b->failed = true;
    return;
  }
  if(b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    while(cap < b->len + n + 1)
      cap *= 2;
    p = realloc(b->data, cap);
    if(!p) {
      b->failed = true;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
  buf_add(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
  char small[256];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if(n < 0) {
    b->failed = true;
    return;
  }
  if((size_t)n < sizeof(small)) {
    buf_add(b, small, (size_t)n);
    return;
  }
  {
    char *big = malloc((size_t)n + 1);
    if(!big) {
      b->failed = true;
      return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_add(b, big, (size_t)n);
    free(big);
  }
}

/* Hands the string over to the caller (an empty buffer gives ""), or frees
 * it and returns NULL when anything failed.  The buffer is empty after. */
static char *buf_take(struct buf *b)
{
  char *rc = NULL;

  if(!b->failed)
    rc = b->data ? b->data : strdup("");
  else
    free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  return rc;
}

static void buf_free(struct buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* --- Text ----------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (n bytes available), 0 when
 * there is none there; *cp gets the code point. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
  size_t len;
  uint32_t min;

  if(p[0] < 0x80) {
    *cp = p[0];
    return 1;
  }
  if(p[0] >= 0xC2 && p[0] <= 0xDF) {
    len = 2;
    *cp = p[0] & 0x1F;
    min = 0x80;
  }
  else if(p[0] >= 0xE0 && p[0] <= 0xEF) {
    len = 3;
    *cp = p[0] & 0x0F;
    min = 0x800;
  }
  else if(p[0] >= 0xF0 && p[0] <= 0xF4) {
    len = 4;
    *cp = p[0] & 0x07;
    min = 0x10000;
  }
  else
    return 0;
  if(n < len)
    return 0;
  for(size_t i = 1; i < len; i++) {
    if((p[i] & 0xC0) != 0x80)
      return 0;
    *cp = (*cp << 6) | (p[i] & 0x3F);
  }
  if(*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
    return 0;
  return len;
}

/*
 * A copy of s fit to put anywhere in a message: C0 and C1 control
 * characters and DEL (CR and LF among them) are dropped, and bytes that are
 * not well-formed UTF-8 become U+FFFD, so an encoded-word or a text part
 * never carries a broken sequence.  Returns a malloc'd string or NULL.
 */
static char *clean_text(const char *s)
{
  struct buf b = {0};
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);

  while(n) {
    uint32_t cp;
    size_t len = utf8_seq(p, n, &cp);
    if(!len) {
      buf_puts(&b, "\xEF\xBF\xBD");
      len = 1;
    }
    else if(!(cp < 0x20 || (cp >= 0x7F && cp < 0xA0)))
      buf_add(&b, (const char *)p, len);
    p += len;
    n -= len;
  }
  return buf_take(&b);
}

/* Printable ASCII that a mail reader will show as it is.  "=?" would be
 * taken for the start of an encoded-word, so text containing it is
 * encoded too. */
static bool header_plain(const char *s)
{
  for(const char *p = s; *p; p++)
    if(*p < 0x20 || *p > 0x7E)
      return false;
  return !strstr(s, "=?");
}

static void base64_add(struct buf *b, const unsigned char *p, size_t n)
{
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  for(size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    char out[4];
    if(i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    if(i + 2 < n)
      v |= p[i + 2];
    out[0] = alphabet[(v >> 18) & 63];
    out[1] = alphabet[(v >> 12) & 63];
    out[2] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    out[3] = i + 2 < n ? alphabet[v & 63] : '=';
    buf_add(b, out, 4);
  }
}

/* The body of a MIME part in base64 lines of 76 characters. */
static void base64_lines(struct buf *b, const char *s, size_t n)
{
  for(size_t i = 0; i < n; i += BASE64_LINE_BYTES) {
    size_t chunk = n - i < BASE64_LINE_BYTES ? n - i : BASE64_LINE_BYTES;
    base64_add(b, (const unsigned char *)s + i, chunk);
    buf_puts(b, "\r\n");
  }
}

char *message_encode_header(const char *s)
{
  struct buf b = {0};
  char *clean = NULL, *rc = NULL;
  size_t n, i = 0;

  if(!s)
    return NULL;
  clean = clean_text(s);
  if(!clean)
    goto out;
  if(header_plain(clean)) {
    rc = clean;
    clean = NULL;
    goto out;
  }
  /* clean is well-formed UTF-8, so the lead byte gives each length. */
  n = strlen(clean);
  while(i < n) {
    size_t start = i;
    while(i < n) {
      unsigned char c = (unsigned char)clean[i];
      size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      if(i + len - start > WORD_BYTES)
        break;
      i += len;
    }
    if(start)
      buf_puts(&b, "\r\n ");
    buf_puts(&b, "=?UTF-8?B?");
    base64_add(&b, (const unsigned char *)clean + start, i - start);
    buf_puts(&b, "?=");
  }
  rc = buf_take(&b);
out:
  buf_free(&b);
  free(clean);
  return rc;
}

char *message_escape_html(const char *s)
{
  struct buf b = {0};

  if(!s)
    return NULL;
  for(const char *p = s; *p; p++) {
    switch(*p) {
    case '&':  buf_puts(&b, "&amp;");  break;
    case '<':  buf_puts(&b, "&lt;");   break;
    case '>':  buf_puts(&b, "&gt;");   break;
    case '"':  buf_puts(&b, "&quot;"); break;
    case '\'': buf_puts(&b, "&#39;");  break;
    default:   buf_add(&b, p, 1);      break;
    }
  }
  return buf_take(&b);
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

/* --- Time ----------------------------------------------------------------- */

static const char *const day_names[] = {
  "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const month_names[] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun",
  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool utc(int64_t t, struct tm *tm)
{
  time_t tt = (time_t)t;

  if((int64_t)tt != t || !gmtime_r(&tt, tm))
    return false;
  return tm->tm_wday >= 0 && tm->tm_wday < 7 && tm->tm_mon >= 0 &&
         tm->tm_mon < 12;
}

/* RFC 5322 date, "Fri, 27 Nov 2026 08:21:03 +0000", without the locale. */
static bool format_date(int64_t t, char *out, size_t cap)
{
  struct tm tm;

  if(!utc(t, &tm))
    return false;
  snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000",
           day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return true;
}

/* For people: "Fri 27 Nov 2026, 08:21 UTC". */
static bool format_human(int64_t t, char *out, size_t cap)
{
  struct tm tm;

  if(!utc(t, &tm))
    return false;
  snprintf(out, cap, "%s %d %s %04d, %02d:%02d UTC",
           day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
           tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
  return true;
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, size_t n)
{
  int v = 0;

  for(size_t i = 0; i < n; i++) {
    if(s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/*
 * An RFC 3339 timestamp ("2026-11-27T08:21:03Z", "...03.5+01:00"; a space
 * may stand for the T, as PostgreSQL writes it) as seconds since the epoch.
 */
static bool parse_rfc3339(const char *s, int64_t *out)
{
  struct tm tm;
  int year, mon, day, hour, min, sec, offset = 0;
  const char *p;
  time_t t;

  if(strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
     (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
     s[16] != ':')
    return false;
  year = digits(s, 4);
  mon = digits(s + 5, 2);
  day = digits(s + 8, 2);
  hour = digits(s + 11, 2);
  min = digits(s + 14, 2);
  sec = digits(s + 17, 2);
  if(year < 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 ||
     hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
    return false;
  p = s + 19;
  if(*p == '.') {
    p++;
    if(*p < '0' || *p > '9')
      return false;
    while(*p >= '0' && *p <= '9')
      p++;
  }
  if((*p == 'Z' || *p == 'z') && !p[1])
    offset = 0;
  else if((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
    int oh = digits(p + 1, 2), om = digits(p + 4, 2);
    if(oh < 0 || oh > 23 || om < 0 || om > 59)
      return false;
    offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
  }
  else
    return false;

  memset(&tm, 0, sizeof(tm));
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  t = timegm(&tm);
  if(t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31))
    return false;
  *out = (int64_t)t - offset;
  return true;
}

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
  return clean_text(s ? s : UNKNOWN);
}

/* A timestamp as written in the row followed by a readable form:
 * "2026-11-27T08:21:03Z (Fri 27 Nov 2026, 08:21 UTC)".  The raw text alone
 * when it does not parse, "unknown" when missing; *t gets the time when it
 * parses and is left alone otherwise. */
static char *time_field(const cJSON *payload, const char *name, int64_t *t,
                        bool *parsed)
{
  struct buf b = {0};
  char *raw = text_field(payload, name), human[64];
  int64_t when;

  *parsed = false;
  if(!raw)
    return NULL;
  if(!parse_rfc3339(raw, &when) || !format_human(when, human, sizeof(human)))
    return raw;
  *t = when;
  *parsed = true;
  buf_printf(&b, "%s (%s)", raw, human);
  free(raw);
  return buf_take(&b);
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

/* Everything the wording needs, cleaned; only mute_link and project_url
 * may be NULL (not in the row). */
struct facts {
  char *name;
  char *link;
  char *reason;
  char *since;
  char *until;
  char *mute_link;
  char *unsubscribe_url;
  char *project_url;
  char *public_url;
  char *status;           /* flapping: the state now */
  char duration[64];
  const cJSON *payload;   /* for what only one kind reads (digest) */
};

static void facts_free(struct facts *f)
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
 * this message (mute_tokens). */
static bool mute_links(struct facts *f, const char *token)
{
  struct buf b = {0};

  buf_printf(&b, "%s/mute?token=%s", f->public_url, token);
  f->mute_link = buf_take(&b);
  buf_printf(&b, "%s/project/mute?token=%s", f->public_url, token);
  f->unsubscribe_url = buf_take(&b);
  return f->mute_link && f->unsubscribe_url;
}

/*
 * Reads the payload.  How long a project has been down comes from
 * down_seconds; a row without it falls back to since and until (or now),
 * and reads "unknown" only when neither is there.  Returns false only when
 * out of memory.
 */
static bool facts_gather(struct facts *f, const struct message_input *in)
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
  f->public_url = clean_text(in->public_url ? in->public_url : "");
  if(!f->public_url)
    return false;
  /* A token the mailer made for this message; rows queued before version
   * 4 may carry their links in the payload. */
  if(in->mute_token && *in->mute_token && *f->public_url) {
    if(!mute_links(f, in->mute_token))
      return false;
  }
  else {
    f->mute_link = mute ? clean_text(mute) : NULL;
    f->unsubscribe_url = unsub ? clean_text(unsub) : NULL;
    if((mute && !f->mute_link) || (unsub && !f->unsubscribe_url))
      return false;
  }
  if(!f->name || !f->link || !f->reason || !f->since || !f->until ||
     !f->status)
    return false;

  if(*f->public_url && field_int(payload, "project_id", &id) && id > 0) {
    struct buf b = {0};
    buf_printf(&b, "%s/projects/%" PRId64, f->public_url, id);
    f->project_url = buf_take(&b);
    if(!f->project_url)
      return false;
  }

  if(field_int(payload, "down_seconds", &seconds))
    message_format_duration(seconds, f->duration, sizeof(f->duration));
  else if(have_since)
    message_format_duration(until - since, f->duration, sizeof(f->duration));
  else
    snprintf(f->duration, sizeof(f->duration), "%s", UNKNOWN);
  return true;
}

/* --- Wording -------------------------------------------------------------- */

struct row {
  const char *label;    /* NULL: the value stands alone */
  const char *value;
  bool link;            /* an http(s) URL becomes a link in the HTML part */
};

/* Rows of a message; a digest lists at most DIGEST_ITEMS_MAX alerts. */
#define ROWS_MAX 64
#define DIGEST_ITEMS_MAX 50

/* What a message says, before it is written as text or HTML. */
struct doc {
  struct buf headline;  /* may include the project name */
  const char *subject;  /* instead of the kind's, when set */
  const char *intro;    /* a paragraph after the headline, or NULL */
  struct row rows[ROWS_MAX];
  size_t nrows;
  const char *note;     /* a closing paragraph, or NULL */
  struct buf text;      /* storage for what the rows and note point to */
  char subject_text[96];
};

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
  buf_puts(&d->headline, "Please confirm your email address.");
  d->intro = "Someone, hopefully you, registered this address with "
             "Trackly. To confirm it, open this link:";
  add_row(d, NULL, f->link, true);
  d->note = "The link expires in 7 days. If you did not register, you can "
            "ignore this message.";
}

static void compose_down(struct doc *d, const struct facts *f)
{
  buf_printf(&d->headline, "%s is DOWN.", f->name);
  add_row(d, "What failed", f->reason, false);
  add_row(d, "Since", f->since, false);
  add_project_rows(d, f);
}

static void compose_reminder(struct doc *d, const struct facts *f)
{
  buf_printf(&d->headline, "%s is still DOWN.", f->name);
  add_row(d, "Down for", f->duration, false);
  add_row(d, "What failed", f->reason, false);
  add_row(d, "Since", f->since, false);
  add_project_rows(d, f);
}

static void compose_recovered(struct doc *d, const struct facts *f)
{
  buf_printf(&d->headline, "%s is UP again.", f->name);
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
    buf_printf(&d->headline, "%s has stopped flapping and is %s.", f->name,
               down ? "DOWN" : "UP");
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
      buf_printf(&d->headline, "%s is flapping: it went down %" PRId64
                 " times within an hour.", f->name, n);
    else
      buf_printf(&d->headline, "%s is flapping.", f->name);
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
  int64_t held;

  total = (size_t)cJSON_GetArraySize(items);
  if(field_int(f->payload, "held", &held) && held > 0 &&
     (size_t)held > total)
    total = (size_t)held;
  snprintf(d->subject_text, sizeof(d->subject_text),
           "Trackly: %zu alert%s held back", total, total == 1 ? "" : "s");
  d->subject = d->subject_text;
  buf_printf(&d->headline, "%zu alert%s held back.", total,
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
      offsets[n++] = d->text.len;
      buf_add(&d->text, when, strlen(when) + 1);
      offsets[n++] = d->text.len;
      buf_printf(&d->text, "%s: %s", digest_word(kind ? kind : "",
                 field_string(item, "phase")), name);
      if(reason && kind && strcmp(kind, "recovered"))
        buf_printf(&d->text, " (%s)", reason);
      buf_add(&d->text, "", 1);
      listed++;
    }
    else
      d->text.failed = true;
    free(name);
    free(when);
  }
  offsets[n] = d->text.len;
  if(total > listed)
    buf_printf(&d->text, "and %zu more: see your projects' pages.",
               total - listed);
  buf_add(&d->text, "", 1);
  buf_printf(&d->text, "%s/projects", f->public_url);
  if(d->text.failed)
    return;
  for(size_t i = 0; i < n; i += 2)
    add_row(d, d->text.data + offsets[i], d->text.data + offsets[i + 1],
            false);
  if(total > listed)
    d->note = d->text.data + offsets[n];
  if(*f->public_url)
    add_row(d, "Your projects", d->text.data + offsets[n] +
            strlen(d->text.data + offsets[n]) + 1, true);
}

static void compose_test(struct doc *d, const struct facts *f)
{
  (void)f;
  buf_puts(&d->headline, "This is a test message from Trackly.");
  d->intro = "If you can read it, Trackly can deliver mail to this "
             "address.";
}

struct kind {
  const char *name;
  const char *subject;  /* the subject, or for alerts its prefix */
  bool alert;           /* about a project: named in the subject, mutable */
  void (*compose)(struct doc *d, const struct facts *f);
};

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

static const struct kind *find_kind(const char *name)
{
  for(size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if(!strcmp(kinds[i].name, name))
      return &kinds[i];
  return NULL;
}

/* --- Writing the parts ---------------------------------------------------- */

static void write_text(struct buf *b, const struct doc *d,
                       const struct facts *f)
{
  buf_printf(b, "%s\r\n\r\n", d->headline.data ? d->headline.data : "");
  if(d->intro)
    buf_printf(b, "%s\r\n\r\n", d->intro);
  for(size_t i = 0; i < d->nrows; i++) {
    if(d->rows[i].label)
      buf_printf(b, "%s: ", d->rows[i].label);
    buf_printf(b, "%s\r\n", d->rows[i].value);
  }
  if(d->nrows)
    buf_puts(b, "\r\n");
  if(d->note)
    buf_printf(b, "%s\r\n\r\n", d->note);
  buf_puts(b, "-- \r\nTrackly");
  if(*f->public_url)
    buf_printf(b, " - %s", f->public_url);
  buf_puts(b, "\r\n");
}

static void html_text(struct buf *b, const char *s)
{
  char *esc = message_escape_html(s);

  if(!esc) {
    b->failed = true;
    return;
  }
  buf_puts(b, esc);
  free(esc);
}

/* A link when url is http(s); anything else (javascript:, data:, a
 * relative path) is shown as text and cannot be clicked. */
static void html_link(struct buf *b, const char *url)
{
  char *esc;

  if(!web_url(url)) {
    html_text(b, url);
    return;
  }
  esc = message_escape_html(url);
  if(!esc) {
    b->failed = true;
    return;
  }
  buf_printf(b, "<a href=\"%s\">%s</a>", esc, esc);
  free(esc);
}

static void write_html(struct buf *b, const struct doc *d,
                       const struct facts *f, const char *subject)
{
  buf_puts(b, "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n"
              "<meta charset=\"utf-8\">\r\n<title>");
  html_text(b, subject);
  buf_puts(b, "</title>\r\n</head>\r\n"
              "<body style=\"font-family: sans-serif; line-height: 1.5\">"
              "\r\n<p><strong>");
  html_text(b, d->headline.data ? d->headline.data : "");
  buf_puts(b, "</strong></p>\r\n");
  if(d->intro) {
    buf_puts(b, "<p>");
    html_text(b, d->intro);
    buf_puts(b, "</p>\r\n");
  }
  if(d->nrows) {
    buf_puts(b, "<p>\r\n");
    for(size_t i = 0; i < d->nrows; i++) {
      if(d->rows[i].label) {
        html_text(b, d->rows[i].label);
        buf_puts(b, ": ");
      }
      if(d->rows[i].link)
        html_link(b, d->rows[i].value);
      else
        html_text(b, d->rows[i].value);
      buf_puts(b, i + 1 < d->nrows ? "<br>\r\n" : "\r\n");
    }
    buf_puts(b, "</p>\r\n");
  }
  if(d->note) {
    buf_puts(b, "<p>");
    html_text(b, d->note);
    buf_puts(b, "</p>\r\n");
  }
  buf_puts(b, "<p style=\"color: #666\">Trackly");
  if(*f->public_url) {
    buf_puts(b, " - ");
    html_link(b, f->public_url);
  }
  buf_puts(b, "</p>\r\n</body>\r\n</html>\r\n");
}

/* --- Writing the headers -------------------------------------------------- */

/*
 * "Name: value" with value folded before spaces so lines stay within 78
 * characters where the text allows it.  A fold goes only before a space
 * that follows a non-space, so no line is blank and unfolding gives the
 * value back.  A value already folded (encoded-words) is written as it is.
 */
static void add_header(struct buf *b, const char *name, const char *value)
{
  size_t col = strlen(name) + 2;
  const char *p = value;

  buf_printf(b, "%s: ", name);
  if(strstr(value, "\r\n")) {
    buf_printf(b, "%s\r\n", value);
    return;
  }
  while(*p) {
    const char *q = p + 1;
    while(*q && !(*q == ' ' && q[-1] != ' '))
      q++;
    if(p != value && col + (size_t)(q - p) > HEADER_LINE_SOFT) {
      buf_puts(b, "\r\n");
      col = 0;
    }
    buf_add(b, p, (size_t)(q - p));
    col += (size_t)(q - p);
    p = q;
  }
  buf_puts(b, "\r\n");
}

/*
 * From comes from configuration, so it is trusted to be an address, but it
 * may carry a display name in any language ("Trackly Überwachung
 * <t@example.com>"): a name that is not plain ASCII is encoded and the
 * address kept as it is.  Returns a malloc'd value or NULL.
 */
static char *from_value(const char *from)
{
  struct buf b = {0};
  char *clean = clean_text(from), *name = NULL, *word = NULL, *rc = NULL;
  const char *lt, *start, *end;

  if(!clean || header_plain(clean)) {
    rc = clean;
    clean = NULL;
    goto out;
  }
  lt = strrchr(clean, '<');
  if(!lt || !header_plain(lt) || lt[strlen(lt) - 1] != '>') {
    rc = clean;
    clean = NULL;
    goto out;
  }
  start = clean;
  end = lt;
  while(start < end && *start == ' ')
    start++;
  while(end > start && end[-1] == ' ')
    end--;
  if(end - start >= 2 && *start == '"' && end[-1] == '"') {
    start++;
    end--;
  }
  name = strndup(start, (size_t)(end - start));
  if(!name)
    goto out;
  word = message_encode_header(name);
  if(!word)
    goto out;
  buf_printf(&b, "%s %s", word, lt);
  rc = buf_take(&b);
out:
  buf_free(&b);
  free(clean);
  free(name);
  free(word);
  return rc;
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
 * payload.  Returns false when out of memory. */
static bool row_hash(const struct message_input *in, uint64_t *out)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  char *payload = NULL;

  if(in->payload) {
    payload = cJSON_PrintUnformatted(in->payload);
    if(!payload)
      return false;
  }
  h = fnv1a(h, in->kind, strlen(in->kind) + 1);
  h = fnv1a(h, in->to, strlen(in->to) + 1);
  if(payload)
    h = fnv1a(h, payload, strlen(payload));
  cJSON_free(payload);
  *out = h;
  return true;
}

static bool write_headers(struct buf *b, const struct message_input *in,
                          const struct kind *kind, const struct facts *f,
                          const char *subject, const char *boundary,
                          uint64_t hash)
{
  char *from = from_value(in->from), *to = clean_text(in->to);
  char *subj = message_encode_header(subject);
  /* One-click unsubscribe POSTs to the API's mute URL; older payloads
   * only have the mute page. */
  const char *unsub = f->unsubscribe_url ? f->unsubscribe_url : f->mute_link;
  char date[64], host[256];
  bool rc = false;

  if(!from || !to || !subj || !format_date(in->now, date, sizeof(date)))
    goto out;
  url_host(in->public_url, host, sizeof(host));

  buf_printf(b, "From: %s\r\n", from);
  buf_printf(b, "To: %s\r\n", to);
  add_header(b, "Subject", subj);
  buf_printf(b, "Date: %s\r\n", date);
  buf_printf(b, "Message-ID: <trackly.%" PRId64 ".%016" PRIx64 "@%s>\r\n",
             in->outbox_id, hash, host);
  buf_puts(b, "MIME-Version: 1.0\r\n");
  buf_puts(b, "Auto-Submitted: auto-generated\r\n");
  if(kind->alert && unsub && unsubscribe_ok(unsub)) {
    /* RFC 8058 one-click unsubscribe needs an https URI. */
    buf_printf(b, "List-Unsubscribe: <%s>\r\n", unsub);
    if(!strncasecmp(unsub, "https://", 8))
      buf_puts(b, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
  }
  buf_printf(b, "Content-Type: multipart/alternative;\r\n"
                " boundary=\"%s\"\r\n", boundary);
  rc = true;
out:
  free(from);
  free(to);
  free(subj);
  return rc;
}

static void write_part(struct buf *b, const char *boundary, const char *type,
                       const struct buf *body)
{
  buf_printf(b, "--%s\r\n"
                "Content-Type: %s; charset=utf-8\r\n"
                "Content-Transfer-Encoding: base64\r\n"
                "\r\n", boundary, type);
  base64_lines(b, body->data ? body->data : "", body->len);
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
  struct doc d = {0};
  struct buf msg = {0}, text = {0}, html = {0}, subject = {0};
  char boundary[64];
  uint64_t hash;
  char *rc = NULL;

  if(!in || !in->kind || !in->from || !in->to)
    return NULL;
  kind = find_kind(in->kind);
  if(!kind)
    return NULL;
  if(!facts_gather(&f, in) || !row_hash(in, &hash))
    goto out;

  kind->compose(&d, &f);
  buf_puts(&subject, d.subject ? d.subject : kind->subject);
  if(kind->alert)
    buf_puts(&subject, f.name);
  write_text(&text, &d, &f);
  write_html(&html, &d, &f, subject.data ? subject.data : "");
  if(d.headline.failed || d.text.failed || subject.failed || text.failed ||
     html.failed)
    goto out;

  snprintf(boundary, sizeof(boundary), "=_trackly_%" PRId64 "_%016" PRIx64,
           in->outbox_id, hash);
  if(!write_headers(&msg, in, kind, &f, subject.data, boundary, hash))
    goto out;
  buf_puts(&msg, "\r\nThis is a multi-part message in MIME format.\r\n\r\n");
  write_part(&msg, boundary, "text/plain", &text);
  write_part(&msg, boundary, "text/html", &html);
  buf_printf(&msg, "--%s--\r\n", boundary);
  rc = buf_take(&msg);
out:
  buf_free(&msg);
  buf_free(&text);
  buf_free(&html);
  buf_free(&subject);
  buf_free(&d.headline);
  buf_free(&d.text);
  facts_free(&f);
  return rc;
}
