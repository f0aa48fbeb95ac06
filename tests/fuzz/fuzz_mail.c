/*
 * fuzz_mail.c - alert mail built from text strangers control: project
 * names, links and reasons (monitor/message.c).
 *
 * Input: "kind-byte payload-json \n to \n from \n public_url \n escape-text".
 * The first byte picks the kind (verify, down, reminder, recovered, test,
 * or an unknown one); the payload is parsed with cJSON as the mailer reads
 * the outbox row; missing trailing parts get fixed, ordinary values.
 *
 * Checked on every rendered message:
 *   - no bare CR or LF anywhere: every line ends with CRLF;
 *   - the header block holds only the headers message.c writes, each at
 *     most once, and every other header line is a folded continuation -
 *     so nothing a user typed can start a header of its own;
 *   - header lines stay within RFC 5322's 998 characters when the inputs
 *     are within the API's own limits (a project name of 200 characters);
 *   - the MIME boundary closes the message;
 *   - the HTML part, decoded, holds only the tags message.c writes: user
 *     text cannot open a tag or leave an attribute.
 * mime_encode_header: no CR, LF or other control character except its
 * own CRLF SPACE folds; encoded-words at most 75 characters.
 * message_escape_html: none of < > " ' left, and every & starts an entity.
 */
#include "fuzz.h"

#include "json.h"
#include "message.h"
#include "mime.h"

static const char *const kinds[] = {
  "verify", "down", "reminder", "recovered", "test", "flapping", "digest",
  "bogus",
};

static const char *const headers[] = {
  "From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
  "Auto-Submitted", "List-Unsubscribe", "List-Unsubscribe-Post",
  "Content-Type",
};

#define NHEADERS (sizeof(headers) / sizeof(*headers))

/* True when the payload's project_name is one the API could have stored,
 * and to, from and public_url are of sane length: then header lines must
 * also keep to RFC 5322's length limit. */
static bool within_api_limits(const cJSON *payload, const char *to,
                              const char *from, const char *public_url)
{
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(payload, "project_name");
  const char *s;

  if(strlen(to) > 254 || strlen(from) > 300 || strlen(public_url) > 500)
    return false;
  if(!cJSON_IsString(name))
    return true;
  s = name->valuestring;
  return utf8_valid(s, strlen(s)) && utf8_chars(s, strlen(s)) <= 200;
}

static void check_lines(const char *msg)
{
  for(const char *p = msg; *p; p++) {
    if(*p == '\r')
      FUZZ_CHECK(p[1] == '\n');
    if(*p == '\n')
      FUZZ_CHECK(p > msg && p[-1] == '\r');
  }
}

static void check_headers(const char *msg, bool limits)
{
  const char *end = strstr(msg, "\r\n\r\n");
  int seen[NHEADERS] = {0};
  const char *line = msg;

  FUZZ_CHECK(end);
  while(line < end + 2) {
    const char *eol = strstr(line, "\r\n");
    size_t len = (size_t)(eol - line);

    FUZZ_CHECK(eol && len > 0);
    if(limits)
      FUZZ_CHECK(len <= 998);
    if(line[0] == ' ' || line[0] == '\t') {
      FUZZ_CHECK(line != msg);      /* a continuation of something */
    }
    else {
      const char *colon = memchr(line, ':', len);
      size_t i;
      FUZZ_CHECK(colon);
      for(i = 0; i < NHEADERS; i++)
        if(strlen(headers[i]) == (size_t)(colon - line) &&
           !memcmp(headers[i], line, (size_t)(colon - line)))
          break;
      if(i == NHEADERS) {
        fprintf(stderr, "unexpected header line: %.*s\n", (int)len, line);
        abort();
      }
      FUZZ_CHECK(!seen[i]++);
    }
    for(size_t k = 0; k < len; k++)
      FUZZ_CHECK((unsigned char)line[k] >= 0x20 || line[k] == '\t');
    line = eol + 2;
  }
  for(size_t i = 0; i < 6; i++)   /* From .. MIME-Version always */
    FUZZ_CHECK(seen[i] == 1);
}

static int b64_value(char c)
{
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *p = c ? strchr(alphabet, c) : NULL;
  return p ? (int)(p - alphabet) : -1;
}

/* Decodes the base64 lines of the part with the given MIME type, up to
 * the next boundary line.  The search starts after the message headers,
 * where user text (say, a From of "Content-Type: text/html") cannot be.
 * Returns a malloc'd string. */
static char *decode_part(const char *msg, const char *type)
{
  char head[160];
  const char *p = strstr(msg, "\r\n\r\n"), *end;
  char *out;
  size_t n = 0;
  unsigned long acc = 0;
  int bits = 0;

  snprintf(head, sizeof(head), "\r\nContent-Type: %s; charset=utf-8\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n", type);
  FUZZ_CHECK(p);
  p = strstr(p, head);
  FUZZ_CHECK(p);
  p += strlen(head);
  end = strstr(p, "\r\n--");
  FUZZ_CHECK(end);
  out = malloc((size_t)(end - p) + 1);
  FUZZ_CHECK(out);
  for(; p < end; p++) {
    int v;
    if(*p == '\r' || *p == '\n' || *p == '=')
      continue;
    v = b64_value(*p);
    FUZZ_CHECK(v >= 0);
    acc = (acc << 6 | (unsigned long)v) & 0xffffff;
    bits += 6;
    if(bits >= 8) {
      bits -= 8;
      out[n++] = (char)(acc >> bits & 0xff);
    }
  }
  out[n] = '\0';
  return out;
}

/* Every tag of the HTML part is one message.c writes; an href is quoted
 * and holds no quote of its own. */
static void check_html(const char *msg)
{
  static const char *const tags[] = {
    "<!DOCTYPE html>", "<html>", "</html>", "<head>", "</head>",
    "<meta charset=\"utf-8\">", "<title>", "</title>",
    "<body style=\"font-family: sans-serif; line-height: 1.5\">",
    "</body>", "<p>", "</p>", "<p style=\"color: #666\">", "<strong>",
    "</strong>", "<br>", "</a>",
  };
  char *html = decode_part(msg, "text/html");

  for(const char *p = html; (p = strchr(p, '<')); p++) {
    size_t i;
    for(i = 0; i < sizeof(tags) / sizeof(*tags); i++)
      if(!strncmp(p, tags[i], strlen(tags[i])))
        break;
    if(i == sizeof(tags) / sizeof(*tags)) {
      const char *close;
      FUZZ_CHECK(!strncmp(p, "<a href=\"", 9));
      close = strchr(p + 9, '"');
      FUZZ_CHECK(close && close[1] == '>');
      FUZZ_CHECK(!memchr(p + 9, '<', (size_t)(close - p - 9)));
      FUZZ_CHECK(!memchr(p + 9, '>', (size_t)(close - p - 9)));
    }
  }
  free(html);
}

static void check_render(const char *kind, const cJSON *payload,
                         const char *to, const char *from,
                         const char *public_url)
{
  struct message_input in = {
    .kind = kind, .payload = payload, .from = from, .to = to,
    .public_url = public_url, .outbox_id = 42, .now = 1795767663,
  };
  char *msg = message_render(&in);
  size_t len;

  if(!msg) {
    FUZZ_CHECK(!strcmp(kind, "bogus"));
    return;
  }
  FUZZ_CHECK(strcmp(kind, "bogus"));
  check_lines(msg);
  check_headers(msg, within_api_limits(payload, to, from, public_url));
  len = strlen(msg);
  FUZZ_CHECK(len > 4 && !strcmp(msg + len - 4, "--\r\n"));
  check_html(msg);
  free(msg);
}

static void check_encode(const char *s)
{
  char *h = mime_encode_header(s);

  FUZZ_CHECK(h);
  for(const char *p = h; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if(c == '\r') {
      FUZZ_CHECK(p[1] == '\n' && p[2] == ' ');
      p += 2;
      continue;
    }
    FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  }
  if(strstr(h, "=?UTF-8?B?")) {
    /* Words separated by CRLF SPACE, each "=?UTF-8?B?...?=" <= 75. */
    const char *w = h;
    for(;;) {
      const char *next = strstr(w, "\r\n ");
      size_t wlen = next ? (size_t)(next - w) : strlen(w);
      FUZZ_CHECK(wlen <= 75 && wlen > 12);
      FUZZ_CHECK(!strncmp(w, "=?UTF-8?B?", 10));
      FUZZ_CHECK(!strncmp(w + wlen - 2, "?=", 2));
      if(!next)
        break;
      w = next + 3;
    }
  }
  free(h);
}

static void check_escape(const char *s)
{
  char *h = message_escape_html(s);

  FUZZ_CHECK(h);
  FUZZ_CHECK(!strpbrk(h, "<>\"'"));
  for(const char *p = h; (p = strchr(p, '&')); p++)
    FUZZ_CHECK(!strncmp(p, "&amp;", 5) || !strncmp(p, "&lt;", 4) ||
               !strncmp(p, "&gt;", 4) || !strncmp(p, "&quot;", 6) ||
               !strncmp(p, "&#39;", 5));
  free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *parts[5] = {
    "{}", "owner@example.org", "Trackly <trackly@example.com>",
    "https://trackly.example.com", "",
  };
  char *owned[5] = {NULL};
  const char *kind;
  cJSON *payload;

  if(!size)
    return 0;
  kind = kinds[data[0] % (sizeof(kinds) / sizeof(*kinds))];
  data++;
  size--;
  for(size_t i = 0; i < 5 && size; i++) {
    const uint8_t *rest;
    size_t restlen, len = fuzz_split(data, size, '\n', &rest, &restlen);
    owned[i] = fuzz_strndup(data, len);
    parts[i] = owned[i];
    data = rest;
    size = restlen;
  }

  payload = cJSON_Parse(parts[0]);
  check_render(kind, payload, parts[1], parts[2], parts[3]);
  check_encode(parts[1]);
  check_encode(parts[4]);
  check_escape(parts[4]);
  cJSON_Delete(payload);
  for(size_t i = 0; i < 5; i++)
    free(owned[i]);
  return 0;
}
