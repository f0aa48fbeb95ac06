/*
 * json.c - checking request bodies and reading typed fields out of them.
 *
 * cJSON 1.7.15 is lenient where Trackly wants to be strict, so the raw text
 * is scanned before cJSON sees it.  The scan rejects what cJSON would let
 * through: control characters inside strings and between tokens (cJSON
 * treats every byte <= 0x20 as whitespace), numbers outside the JSON grammar
 * ("01", "1.", "-01.e5" all parse), and "\u0000" or a "\u" escape without
 * four hex digits, which cJSON turns into a NUL that silently cuts the
 * string.  It also caps nesting before cJSON recurses.  Trailing text is
 * checked here too, because cJSON's require_null_terminated flag wants a
 * NUL inside the given length, which a request body does not have.
 */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest field name quoted in an error message, in bytes. */
#define FIELD_NAME_MAX 64

#define MSG_NOMEM     "server is out of memory"
#define MSG_TOO_BIG   JSON_TOO_BIG

/*
 * cJSON's memory, counted.  json_memory_init routes every cJSON allocation
 * through these two functions, which prefix each block with its size so the
 * free can subtract it.  Plain globals: only the API workers install the
 * hooks, and each is single-threaded (the monitor, with its mailer thread,
 * never calls json_memory_init and is not counted).
 */
union block_head {
  size_t size;
  max_align_t align;        /* keep the caller's block aligned */
};

static bool mem_counting;
static size_t mem_used;     /* live bytes, heads included */
static size_t mem_cap;      /* 0: no cap */
static bool mem_refused;    /* an allocation hit mem_cap since the last check */

static void *counted_malloc(size_t n)
{
  union block_head *head;
  size_t total;

  if(n > SIZE_MAX - sizeof(*head))
    return NULL;
  total = n + sizeof(*head);
  if(mem_cap && (mem_used > mem_cap || total > mem_cap - mem_used)) {
    mem_refused = true;
    return NULL;
  }
  head = malloc(total);
  if(!head)
    return NULL;
  head->size = total;
  mem_used += total;
  return head + 1;
}

static void counted_free(void *p)
{
  union block_head *head;

  if(!p)
    return;
  head = (union block_head *)p - 1;
  mem_used -= head->size;
  free(head);
}

void json_memory_init(void)
{
  cJSON_Hooks hooks = {.malloc_fn = counted_malloc, .free_fn = counted_free};

  cJSON_InitHooks(&hooks);
  mem_counting = true;
}

size_t json_memory_used(void)
{
  return mem_used;
}

/* Memory for temporary arrays during a parse: counted like cJSON's own
 * when the hooks are in place, so the cap covers them too. */
static void *scratch_alloc(size_t n)
{
  return mem_counting ? counted_malloc(n) : malloc(n);
}

static void scratch_free(void *p)
{
  if(mem_counting)
    counted_free(p);
  else
    free(p);
}

static bool is_digit(unsigned char c)
{
  return c >= '0' && c <= '9';
}

/*
 * Checks the number starting at s[i] against the JSON grammar
 *   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
 * and returns the index just past it, or 0 when it does not match.  A number
 * followed directly by another number character ("01", "1.", "1e") fails:
 * cJSON would read a prefix of it with strtod.
 */
static size_t number_end(const unsigned char *s, size_t len, size_t i)
{
  if(i < len && s[i] == '-')
    i++;
  if(i >= len || !is_digit(s[i]))
    return 0;
  if(s[i] == '0')
    i++;
  else
    while(i < len && is_digit(s[i]))
      i++;
  if(i < len && s[i] == '.') {
    i++;
    if(i >= len || !is_digit(s[i]))
      return 0;
    while(i < len && is_digit(s[i]))
      i++;
  }
  if(i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if(i < len && (s[i] == '+' || s[i] == '-'))
      i++;
    if(i >= len || !is_digit(s[i]))
      return 0;
    while(i < len && is_digit(s[i]))
      i++;
  }
  if(i < len && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' ||
                 s[i] == 'E' || s[i] == '+' || s[i] == '-'))
    return 0;
  return i;
}

static bool is_hex(unsigned char c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Checks the four characters after "\u".  cJSON 1.7.15 reads a non-hex
 * digit as the end of the number and decodes "\uZZZZ" to U+0000, so both a
 * bad escape and a real "\u0000" would cut the string short.
 */
static const char *unicode_escape(const unsigned char *s, size_t len)
{
  size_t i;

  if(len < 4)
    return JSON_MSG_SYNTAX;
  for(i = 0; i < 4; i++)
    if(!is_hex(s[i]))
      return JSON_MSG_SYNTAX;
  if(!memcmp(s, "0000", 4))
    return JSON_MSG_NUL;
  return NULL;
}

/*
 * One pass over the raw text, tracking only whether we are inside a string
 * and how deep the brackets go.  Returns a message for the first problem it
 * meets, or NULL when the rest can be left to cJSON.  Brackets inside
 * strings do not count, and an escaped backslash ("\\u0000") is text, not
 * the start of an escape.  Unbalanced brackets are cJSON's to report.
 */
static const char *scan(const unsigned char *s, size_t len)
{
  bool in_string = false;
  size_t depth = 0;
  size_t i = 0;

  while(i < len) {
    unsigned char c = s[i];

    if(in_string) {
      if(c == '"')
        in_string = false;
      else if(c == '\\') {
        if(i + 1 < len && s[i + 1] == 'u') {
          const char *rc = unicode_escape(s + i + 2, len - i - 2);
          if(rc)
            return rc;
          i += 4;
        }
        i++;  /* the escaped character cannot end the string */
      }
      else if(c < 0x20)
        return JSON_MSG_SYNTAX;
      i++;
      continue;
    }

    switch(c) {
    case '"':
      in_string = true;
      break;
    case '[':
    case '{':
      if(++depth > JSON_MAX_DEPTH)
        return JSON_MSG_DEEP;
      break;
    case ']':
    case '}':
      if(depth)
        depth--;
      break;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      i = number_end(s, len, i);
      if(!i)
        return JSON_MSG_SYNTAX;
      continue;
    case ' ':
    case '\t':
    case '\n':
    case '\r':
      break;
    default:
      if(c < 0x20)
        return JSON_MSG_SYNTAX;
      break;
    }
    i++;
  }
  return NULL;
}

static int compare_keys(const void *a, const void *b)
{
  const char *const *ka = a;
  const char *const *kb = b;
  return strcmp(*ka, *kb);
}

/*
 * Looks for two top-level members with the same name.  cJSON keeps both and
 * its lookups return the first, so "role" could say one thing to us and
 * another to whatever proxy or log read the body before us.  Sorting keeps
 * a 64 KiB body of short keys from costing a quadratic number of compares.
 * Returns NULL, JSON_MSG_DUPLICATE or MSG_NOMEM.
 */
static const char *find_duplicate(const cJSON *obj)
{
  const cJSON *item;
  const char **keys = NULL;
  const char *rc = NULL;
  size_t n = 0, i;

  for(item = obj->child; item; item = item->next)
    n++;
  if(n < 2)
    goto out;

  keys = scratch_alloc(n * sizeof(*keys));
  if(!keys) {
    rc = mem_refused ? MSG_TOO_BIG : MSG_NOMEM;
    goto out;
  }
  i = 0;
  for(item = obj->child; item; item = item->next)
    keys[i++] = item->string;
  qsort(keys, n, sizeof(*keys), compare_keys);
  for(i = 1; i < n; i++) {
    if(!strcmp(keys[i - 1], keys[i])) {
      rc = JSON_MSG_DUPLICATE;
      goto out;
    }
  }

out:
  scratch_free(keys);
  return rc;
}

/*
 * Runs the checks in the order a client would want them explained: an
 * empty body, a NUL byte, bad UTF-8, then what the scan finds (a "\u0000"
 * escape, too much nesting, syntax cJSON would have forgiven), then cJSON's
 * own verdict, trailing text, the type of the top value and duplicate keys.
 * A raw NUL byte is reported as a NUL rather than as bad UTF-8: it is valid
 * UTF-8, just not something we accept.
 *
 * With json_memory_init in effect, the tree and the duplicate check may
 * hold at most JSON_PARSE_MEMORY_MAX bytes between them: beyond that cJSON
 * gets NULL from the allocator, gives up and frees what it built, and the
 * body is refused as too big rather than as broken.  The 64 KiB body cap
 * alone would allow a tree of about 3 MiB ("[0,0,0,...]": a 64-byte node
 * per two bytes of text).
 */
cJSON *json_parse_object(const char *body, size_t len, const char **why)
{
  const unsigned char *text = (const unsigned char *)body;
  cJSON *root = NULL;
  const char *end = NULL;
  const char *rc = NULL;
  size_t off;

  if(!body || !len) {
    rc = JSON_MSG_EMPTY;
    goto out;
  }
  if(memchr(body, '\0', len)) {
    rc = JSON_MSG_NUL;
    goto out;
  }
  if(!utf8_valid(body, len)) {
    rc = JSON_MSG_UTF8;
    goto out;
  }
  rc = scan(text, len);
  if(rc)
    goto out;

  if(mem_counting) {
    mem_cap = mem_used + JSON_PARSE_MEMORY_MAX;
    mem_refused = false;
  }
  root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if(!root || !end) {
    rc = mem_refused ? MSG_TOO_BIG : JSON_MSG_SYNTAX;
    goto out;
  }
  for(off = (size_t)(end - body); off < len; off++) {
    if(text[off] != ' ' && text[off] != '\t' && text[off] != '\n' &&
       text[off] != '\r') {
      rc = JSON_MSG_SYNTAX;
      goto out;
    }
  }
  if(!cJSON_IsObject(root)) {
    rc = JSON_MSG_NOT_OBJ;
    goto out;
  }
  rc = find_duplicate(root);

out:
  mem_cap = 0;
  if(rc) {
    cJSON_Delete(root);
    root = NULL;
  }
  if(why)
    *why = rc;
  return root;
}

/* The member called name, or NULL when it is missing or JSON null.
 * Lookups are case-sensitive: cJSON_GetObjectItem is not. */
static const cJSON *member(const cJSON *obj, const char *name)
{
  const cJSON *item;

  if(!cJSON_IsObject(obj) || !name)
    return NULL;
  item = cJSON_GetObjectItemCaseSensitive(obj, name);
  if(!item || cJSON_IsNull(item))
    return NULL;
  return item;
}

/* How many bytes of name to quote: at most FIELD_NAME_MAX, cut on a code
 * point boundary so the message stays valid UTF-8 in the JSON reply. */
static int name_width(const char *name)
{
  return (int)utf8_cut(name, FIELD_NAME_MAX);
}

static void field_error(char *err, size_t errcap, const char *name,
                        const char *what)
{
  if(err && errcap)
    snprintf(err, errcap, "field '%.*s' %s", name_width(name), name, what);
}

static void range_error(char *err, size_t errcap, const char *name,
                        int64_t min, int64_t max)
{
  if(err && errcap)
    snprintf(err, errcap, "field '%.*s' must be between %" PRId64
             " and %" PRId64, name_width(name), name, min, max);
}

enum json_field json_get_string(const cJSON *obj, const char *name,
                                const char **out, size_t *len,
                                char *err, size_t errcap)
{
  const cJSON *item = member(obj, name);

  if(!item)
    return JSON_FIELD_ABSENT;
  if(!cJSON_IsString(item) || !item->valuestring) {
    field_error(err, errcap, name, "must be a string");
    return JSON_FIELD_INVALID;
  }
  if(out)
    *out = item->valuestring;
  if(len)
    *len = strlen(item->valuestring);
  return JSON_FIELD_OK;
}

/*
 * cJSON keeps every number as a double, so integrality and range are
 * decided on the double.  The test against +-2^63 comes before the
 * conversion: converting a double outside int64_t is undefined behaviour,
 * and (double)INT64_MAX rounds up to 2^63, so comparing with it would let
 * 2^63 through.  Every double that large is integral, so it is reported as
 * out of range rather than as not an integer.  Integers above 2^53 have
 * already lost precision inside cJSON; Trackly's fields are far smaller.
 */
enum json_field json_get_int(const cJSON *obj, const char *name,
                             int64_t min, int64_t max, int64_t *out,
                             char *err, size_t errcap)
{
  const cJSON *item = member(obj, name);
  double d;
  int64_t v;

  if(!item)
    return JSON_FIELD_ABSENT;
  if(!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
    field_error(err, errcap, name, "must be an integer");
    return JSON_FIELD_INVALID;
  }
  d = item->valuedouble;
  if(d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
    range_error(err, errcap, name, min, max);
    return JSON_FIELD_INVALID;
  }
  v = (int64_t)d;
  if((double)v != d) {
    field_error(err, errcap, name, "must be an integer");
    return JSON_FIELD_INVALID;
  }
  if(v < min || v > max) {
    range_error(err, errcap, name, min, max);
    return JSON_FIELD_INVALID;
  }
  if(out)
    *out = v;
  return JSON_FIELD_OK;
}

enum json_field json_get_bool(const cJSON *obj, const char *name, bool *out,
                              char *err, size_t errcap)
{
  const cJSON *item = member(obj, name);

  if(!item)
    return JSON_FIELD_ABSENT;
  if(!cJSON_IsBool(item)) {
    field_error(err, errcap, name, "must be a boolean");
    return JSON_FIELD_INVALID;
  }
  if(out)
    *out = cJSON_IsTrue(item);
  return JSON_FIELD_OK;
}
