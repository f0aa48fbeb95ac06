/*
 * mime.c - encoded-words, folding, addresses and base64 parts; see mime.h.
 *
 * Both parts of a message are base64: it keeps every line at 76
 * characters whatever the user typed, and the boundary contains "=_",
 * which base64 never produces, so it cannot occur inside a part.
 */
#include "mime.h"

#include "base64.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* UTF-8 bytes per RFC 2047 encoded-word: 39 bytes are 52 base64 characters,
 * 64 with "=?UTF-8?B?" and "?=", so even "Subject: " and the first word
 * stay within the 76 characters RFC 2047 allows on a line. */
#define WORD_BYTES 39

/* Input bytes per line of a base64 body: 76 characters. */
#define BASE64_LINE_BYTES 57

char *mime_clean_text(const char *s)
{
  struct dynbuf b;
  const char *p = s;
  size_t n = strlen(s);

  dynbuf_init(&b, MESSAGE_MAX);
  while(n) {
    uint32_t cp;
    size_t len = utf8_seq(p, n, &cp);
    if(!len) {
      dynbuf_addstr(&b, "\xEF\xBF\xBD");
      len = 1;
    }
    else if(!(cp < 0x20 || (cp >= 0x7F && cp < 0xA0)))
      dynbuf_add(&b, p, len);
    p += len;
    n -= len;
  }
  return dynbuf_take(&b, NULL);
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

/* Appends the standard base64 of p[0..n). */
static void add_base64(struct dynbuf *b, const void *p, size_t n)
{
  size_t need = base64_encoded_len(n);
  long w;

  if(!dynbuf_reserve(b, need))
    return;
  w = base64_encode(p, n, dynbuf_tail(b), need);
  if(w < 0) {
    dynbuf_fail(b);
    return;
  }
  dynbuf_commit(b, (size_t)w);
}

char *mime_encode_header(const char *s)
{
  struct dynbuf b;
  char *clean = NULL, *rc = NULL;
  size_t n, i = 0;

  if(!s)
    return NULL;
  dynbuf_init(&b, MESSAGE_MAX);
  clean = mime_clean_text(s);
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
      dynbuf_addstr(&b, "\r\n ");
    dynbuf_addstr(&b, "=?UTF-8?B?");
    add_base64(&b, clean + start, i - start);
    dynbuf_addstr(&b, "?=");
  }
  rc = dynbuf_take(&b, NULL);
out:
  dynbuf_free(&b);
  free(clean);
  return rc;
}

/*
 * From comes from configuration, so it is trusted to be an address, but it
 * may carry a display name in any language: a name that is not plain
 * ASCII is encoded and the address kept as it is.
 */
char *mime_encode_address(const char *from)
{
  struct dynbuf b;
  char *clean = mime_clean_text(from), *name = NULL, *word = NULL;
  char *rc = NULL;
  const char *lt, *start, *end;

  dynbuf_init(&b, MESSAGE_MAX);
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
  word = mime_encode_header(name);
  if(!word)
    goto out;
  dynbuf_printf(&b, "%s %s", word, lt);
  rc = dynbuf_take(&b, NULL);
out:
  dynbuf_free(&b);
  free(clean);
  free(name);
  free(word);
  return rc;
}

/* A fold goes only before a space that follows a non-space, so no line is
 * blank and unfolding gives the value back. */
void mime_add_header(struct dynbuf *b, const char *name, const char *value)
{
  size_t col = strlen(name) + 2;
  const char *p = value;

  dynbuf_printf(b, "%s: ", name);
  if(strstr(value, "\r\n")) {
    dynbuf_printf(b, "%s\r\n", value);
    return;
  }
  while(*p) {
    const char *q = p + 1;
    while(*q && !(*q == ' ' && q[-1] != ' '))
      q++;
    if(p != value && col + (size_t)(q - p) > HEADER_LINE_SOFT) {
      dynbuf_addstr(b, "\r\n");
      col = 0;
    }
    dynbuf_add(b, p, (size_t)(q - p));
    col += (size_t)(q - p);
    p = q;
  }
  dynbuf_addstr(b, "\r\n");
}

void mime_add_part(struct dynbuf *b, const char *boundary, const char *type,
                   const char *body, size_t len)
{
  dynbuf_printf(b, "--%s\r\n"
                   "Content-Type: %s; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: base64\r\n"
                   "\r\n", boundary, type);
  for(size_t i = 0; i < len; i += BASE64_LINE_BYTES) {
    size_t chunk = len - i < BASE64_LINE_BYTES ? len - i : BASE64_LINE_BYTES;
    add_base64(b, body + i, chunk);
    dynbuf_addstr(b, "\r\n");
  }
}
